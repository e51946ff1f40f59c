"""BGL and Thunderbird: labels are per line (first token ``-`` = normal, else an alert category)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

from logbert.datasets._text import read_lines
from logbert.datasets.labels import parse_line_labels
from logbert.records import KeySequence


def read_line_labels(path: str | Path) -> dict[int, int]:
    """``line_no (1-based) -> 0 | 1`` for a BGL / Thunderbird log (lines of another shape are left out).

    Raises:
        InputDataError: missing/empty file, or no line with the BGL/Thunderbird shape.
    """
    lines, _ = read_lines(path, what="BGL/Thunderbird log")
    labels = parse_line_labels(lines, str(path))
    return {int(k): v for k, v in labels.by_id.items()}


def label_by_lines(sequences: Iterable[KeySequence], line_labels: Mapping[int, int]) -> int:
    """Set each window's label to 1 when any of its lines is an alert, else 0 (in place).

    A window none of whose lines is in ``line_labels`` gets ``None``.

    Returns:
        How many windows got ``None``.
    """
    n_unknown = 0
    for seq in sequences:
        known = [line_labels[n] for n in seq.line_nos if n in line_labels]
        seq.label = max(known) if known else None
        n_unknown += not known
    return n_unknown
