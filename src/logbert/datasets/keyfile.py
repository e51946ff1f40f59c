"""Key-sequence files: one session per line as ``[session_id,]k1 k2 k3 ...`` (DeepLog ``hdfs_train``).

A line without an id prefix gets the session id ``"<file name>:<line_no>"``. Keys are integer
key ids (``-1`` = ``UNK_KEY`` allowed). A line with a token that is not a key id is counted as
malformed in the :class:`ReadReport` and left out whole: a session with a key silently removed
would be a different session.
"""

from __future__ import annotations

import re
from pathlib import Path

from logbert.datasets._text import read_lines
from logbert.errors import InputDataError
from logbert.records import UNK_KEY, InputKind, KeySequence, ReadReport

_MAX_EXAMPLES = 5  # malformed lines quoted in the report
_EXAMPLE_CHARS = 200
_KEY_LINE = re.compile(r"^\s*(?:[^,\s][^,]*,)?\s*-?\d+(?:\s+-?\d+)*\s*$")
_SNIFF_LINES = 50  # non-blank lines looked at by detect_input_kind
_SNIFF_BYTES = 1 << 16  # head of the file read by detect_input_kind (logs can be GBs)
_SNIFF_SHARE = 0.9  # share of them that must be key lines (a stray header or bad line is tolerated)


def _parse_keys(text: str) -> list[int] | None:
    keys: list[int] = []
    for token in text.split():
        try:
            key = int(token)
        except ValueError:
            return None
        if key < UNK_KEY:
            return None
        keys.append(key)
    return keys or None


def read_key_sequences(path: str | Path, label: int | None = None) -> tuple[list[KeySequence], ReadReport]:
    """Read a key-sequence file.

    Args:
        path: the file; one session per line, ``k1 k2 ...`` or ``session_id,k1 k2 ...``.
        label: label given to every sequence (e.g. 1 for DeepLog ``hdfs_test_abnormal``).

    Returns:
        The sequences in file order (``line_nos`` empty, ``start_time`` None) and a report counting
        lines, parsed lines, blank lines, non-UTF-8 lines and malformed lines (with examples).

    Raises:
        InputDataError: the file is missing, a directory, empty, or holds no valid line.
    """
    p = Path(path)
    lines, _ = read_lines(p, what="key-sequence file")
    report = ReadReport()
    sequences: list[KeySequence] = []
    for line_no, line in enumerate(lines, start=1):
        report.n_lines += 1
        if "\ufffd" in line or "\x00" in line:
            report.n_binary += 1
        if not line.strip():
            report.n_empty += 1
            continue
        session_id, sep, body = line.partition(",")
        if not sep:
            session_id, body = f"{p.name}:{line_no}", line
        session_id = session_id.strip()
        keys = _parse_keys(body) if session_id else None
        if keys is None:
            report.n_malformed += 1
            if len(report.malformed_examples) < _MAX_EXAMPLES:
                report.malformed_examples.append(f"{line_no}: {line[:_EXAMPLE_CHARS]}")
            continue
        report.n_parsed += 1
        sequences.append(KeySequence(session_id=session_id, key_ids=keys, label=label))
    if not sequences:
        raise InputDataError(
            f"{p}: no valid key-sequence line (expected '[id,]k1 k2 ...' with integer keys); "
            f"{report.n_malformed} malformed, e.g. {report.malformed_examples[:2]}"
        )
    return sequences, report


def detect_input_kind(path: str | Path) -> InputKind:
    """``"keys"`` when the file is a key-sequence file, ``"raw"`` for a raw log.

    Looks at the first non-blank lines: a key file has (almost) only ``[id,]k1 k2 ...`` lines.

    Raises:
        InputDataError: the file is missing, a directory or empty.
    """
    lines, _ = read_lines(path, what="input file", max_bytes=_SNIFF_BYTES)
    head = [line for line in lines if line.strip()][:_SNIFF_LINES]
    n_key_lines = sum(bool(_KEY_LINE.match(line)) for line in head)
    return "keys" if head and n_key_lines >= _SNIFF_SHARE * len(head) else "raw"
