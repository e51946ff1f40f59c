"""Ground-truth labels of the public log sets, in one schema: ``session_id -> 0 (normal) | 1 (anomalous)``.

Three shapes exist upstream and :func:`read_labels` sniffs which one a file has:

* ``session_csv``: a CSV with a header naming an id column and a ``Label`` column (or ``is_anomaly``,
  ``anomaly`` ...: :data:`_LABEL_COLUMNS`), e.g. OpenStack
  kalaki ``instance_id,Label,lines_with_instance_id`` (``normal``/``Anomaly``/``unlabeled``),
  the composite ``BlockId,Label`` (ids written ``instance: <uuid>``), HDFS ``BlockId,Label``
  (``Normal``/``Anomaly``). Ids absent from the file are *unknown*.
* ``id_list``: one anomalous id per line, optionally below a free-text header: loghub OpenStack
  ``anomaly_labels.txt``, HDFS ``anomalous_block_ids.txt``, or ids of any one-token shape (``req-00050``). Ids
  absent from the file are *normal*.
* ``line_labels``: a BGL / Thunderbird log, labelled per line by its first token (``-`` = normal,
  anything else is an alert category). Keys are 1-based line numbers as strings.

``Labels.absent_label`` says what an id missing from the file is (0 for id lists, None otherwise).
"""

from __future__ import annotations

import csv
import logging
import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from logbert.datasets._text import read_lines
from logbert.errors import InputDataError

logger = logging.getLogger(__name__)

LabelFormat = Literal["session_csv", "id_list", "line_labels"]

_NORMAL = frozenset({"normal", "0", "false", "-", "benign"})
_ANOMALY = frozenset({"anomaly", "anomalous", "abnormal", "1", "true", "attack"})
_UNLABELLED = frozenset({"", "unlabeled", "unlabelled", "unknown", "none", "?"})
#: header names that hold the session id, lower-cased, most specific first
_ID_COLUMNS = ("instance_id", "blockid", "block_id", "session_id", "sessionid", "instance", "id")

_UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_ID_TOKEN = re.compile(rf"(?:instance:\s*)?({_UUID}|blk_-?\d+)")
#: any other id a list may hold, one per line (req-00050, job_17, a host name): one token, no separator in it
_ANY_ID = re.compile(r"(?:instance:\s*)?([^\s,;\"']+)")
#: label column names besides ``label_column`` (the default's): a 0/1 or true/false flag under its usual names
_LABEL_COLUMNS = ("label", "is_anomaly", "is_anomalous", "anomaly", "anomalous", "is_abnormal", "abnormal")
_INSTANCE_PREFIX = re.compile(r"^instance:\s*")
#: BGL / Thunderbird: "<label> <epoch seconds> <yyyy.mm.dd> ..."
_LINE_LABELLED = re.compile(r"^(\S+) \d{9,11} \d{4}\.\d{2}\.\d{2} ")
_SNIFF_LINES = 20  # non-blank lines looked at to recognise a format


@dataclass(frozen=True, slots=True)
class Labels:
    """Labels read from one file.

    ``by_id`` maps a session id (bare uuid, ``blk_...``, or line number for ``line_labels``) to
    1 (anomalous) or 0 (normal).
    """

    by_id: dict[str, int]
    format: LabelFormat
    absent_label: int | None  # label of an id the file does not name: 0 for id lists, None = unknown
    n_unlabelled: int = 0  # rows naming an id with an "unlabeled"/empty label (left out of by_id)
    source: str = ""
    notes: list[str] = field(default_factory=list)  # e.g. conflicting duplicate rows

    def get(self, session_id: str) -> int | None:
        """The label of ``session_id``, or ``absent_label`` when the file does not name it."""
        return self.by_id.get(session_id, self.absent_label)

    @property
    def n_anomalous(self) -> int:
        return sum(self.by_id.values())


def session_label_from_lines(line_labels: Iterable[int | None]) -> int | None:
    """The one rule that turns line labels into a session's: 1 when any line is anomalous, 0 when
    every labelled line is normal, None when no line carries a label.

    >>> session_label_from_lines([0, None, 1]), session_label_from_lines([0, 0]), session_label_from_lines([None])
    (1, 0, None)
    """
    known = [v for v in line_labels if v is not None]
    return max(known) if known else None


def normalize_session_id(raw: str) -> str:
    """``"instance: <uuid>"`` -> ``"<uuid>"``; surrounding blanks and quotes removed."""
    return _INSTANCE_PREFIX.sub("", raw.strip().strip("\"'").strip())


def parse_label_value(raw: str) -> int | None:
    """``normal``/``Normal``/``0``/``-`` -> 0, ``Anomaly``/``abnormal``/``1`` -> 1, ``unlabeled``/empty -> None.

    Raises:
        ValueError: any other value.
    """
    value = raw.strip().strip("\"'").lower()
    if value in _NORMAL:
        return 0
    if value in _ANOMALY:
        return 1
    if value in _UNLABELLED:
        return None
    raise ValueError(f"unknown label value {raw!r}")


def _put(by_id: dict[str, int], session_id: str, label: int, notes: list[str]) -> None:
    old = by_id.get(session_id)
    if old is not None and old != label:
        notes.append(f"{session_id}: conflicting labels {old} and {label}, kept 1 (anomalous)")
        label = 1
    by_id[session_id] = label


def _label_at(line: str, label_column: str) -> int | None:
    """Where a CSV header names the label column: ``label_column``, or (the default "Label" asked) one of the usual
    names of an anomaly flag; None when the line is no such header."""
    cells = [c.strip().lower() for c in next(csv.reader([line]), [])]
    if len(cells) < 2:
        return None
    names = (label_column.lower(),) + (_LABEL_COLUMNS if label_column == "Label" else ())
    return next((cells.index(name) for name in names if name in cells), None)


def _is_label_header(line: str, label_column: str) -> bool:
    return _label_at(line, label_column) is not None


def parse_session_csv(lines: list[str], source: str, *, label_column: str = "Label") -> Labels:
    """Labels from a CSV whose header names an id column and ``label_column``.

    Raises:
        InputDataError: no such header, a row with too few cells, an empty id or an unknown label value.
    """
    rows = [(i, line) for i, line in enumerate(lines, start=1) if line.strip()]
    if not rows or not _is_label_header(rows[0][1], label_column):
        raise InputDataError(f"{source}: expected a CSV header with an id column and a {label_column!r} column")
    header = [c.strip().lower() for c in next(csv.reader([rows[0][1]]))]
    label_at = _label_at(rows[0][1], label_column)
    assert label_at is not None  # _is_label_header above
    named = [name for name in _ID_COLUMNS if name in header] + [c for c in header if c.endswith("id")]  # request_id
    id_at = header.index(named[0]) if named else 0 if label_at != 0 else 1
    by_id: dict[str, int] = {}
    notes: list[str] = []
    n_unlabelled = 0
    for line_no, cells in zip((i for i, _ in rows[1:]), csv.reader(line for _, line in rows[1:]), strict=True):
        if len(cells) <= max(label_at, id_at):
            raise InputDataError(f"{source}:{line_no}: expected at least {max(label_at, id_at) + 1} cells, got {cells}")
        session_id = normalize_session_id(cells[id_at])
        if not session_id:
            raise InputDataError(f"{source}:{line_no}: empty session id")
        try:
            label = parse_label_value(cells[label_at])
        except ValueError as exc:
            raise InputDataError(f"{source}:{line_no}: {exc}") from None
        if label is None:
            n_unlabelled += 1
        else:
            _put(by_id, session_id, label, notes)
    if not by_id and not n_unlabelled:
        raise InputDataError(f"{source}: a label header but no rows")
    for note in notes:
        logger.warning("%s: %s", source, note)
    return Labels(by_id, "session_csv", None, n_unlabelled, source, notes)


def parse_id_list(lines: list[str], source: str) -> Labels:
    """Anomalous ids, one per line; free-text lines before the first id are a header. Where some line is an
    instance uuid or an HDFS ``blk_`` id, only those are ids; otherwise any one-token line is (``req-00050``), a first
    line naming an id column (``id``, ``request_id``) is the header.

    Raises:
        InputDataError: no id at all, or a line after the first id that is not an id.
    """
    texts = [line.strip() for line in lines]
    token = _ID_TOKEN if any(_ID_TOKEN.fullmatch(t) for t in texts) else _ANY_ID
    first = next((i for i, t in enumerate(texts, start=1) if t and not t.startswith("#")), 0)
    by_id: dict[str, int] = {}
    for line_no, line in enumerate(lines, start=1):
        text = line.strip()
        if not text or text.startswith("#") or (line_no == first and token is _ANY_ID and _names_an_id(text)):
            continue
        match = token.fullmatch(text)
        if match:
            by_id[match.group(1)] = 1
        elif by_id:
            raise InputDataError(f"{source}:{line_no}: expected one session id per line, got {text[:80]!r}")
    if not by_id:
        raise InputDataError(f"{source}: no session id found (one id per line)")
    return Labels(by_id, "id_list", 0, 0, source)


def _names_an_id(text: str) -> bool:
    """A one-word header of an id list: ``id``, ``ids``, ``session_id``, ``request_id`` ..., or a camel-case column
    name ending in Id or ID, as Windows exports write them (``LogonId``, ``SessionID``: letters only, where ids hold
    digits).

    >>> [_names_an_id(t) for t in ("request_id", "LogonId", "SessionID", "0x5b9c9c", "req-00050", "paid")]
    [True, True, True, False, False, False]
    """
    word = text.lower().strip("\"'")
    camel = text.strip("\"'")
    return (
        word in _ID_COLUMNS
        or word in ("ids", "session", "sessions")
        or word.endswith("_id")
        or (camel.isalpha() and camel.endswith(("Id", "ID")))
    )


def parse_line_labels(lines: list[str], source: str) -> Labels:
    """BGL / Thunderbird: the first token of each line is its label (``-`` = normal).

    Lines that do not look like a labelled log line are counted in ``n_unlabelled``.

    Raises:
        InputDataError: no line has the BGL / Thunderbird shape.
    """
    by_id: dict[str, int] = {}
    n_unlabelled = 0
    for line_no, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        match = _LINE_LABELLED.match(line)
        if match is None:
            n_unlabelled += 1
            continue
        by_id[str(line_no)] = 0 if match.group(1) == "-" else 1
    if not by_id:
        raise InputDataError(f"{source}: no BGL/Thunderbird line ('<label> <epoch> <yyyy.mm.dd> ...') found")
    return Labels(by_id, "line_labels", None, n_unlabelled, source)


def sniff_label_format(lines: list[str], *, label_column: str = "Label") -> LabelFormat | None:
    """Which label format ``lines`` hold, or None when none fits."""
    head = [line for line in lines if line.strip()][:_SNIFF_LINES]
    if not head:
        return None
    if _is_label_header(head[0], label_column):
        return "session_csv"
    if sum(bool(_LINE_LABELLED.match(line)) for line in head) >= max(1, len(head) // 2):
        return "line_labels"
    if any(_ID_TOKEN.fullmatch(line.strip()) for line in head):
        return "id_list"
    ids = [line.strip() for line in head if not line.strip().startswith("#")]
    if ids and not _ANY_ID.fullmatch(ids[0]):  # a free-text header line
        ids = ids[1:]
    if ids and all(_ANY_ID.fullmatch(text) for text in ids):  # one token a line: ids of another shape
        return "id_list"
    return None


#: What the library takes as labels: a labels file, :class:`Labels`, a mapping of session id to its label (1 / True
#: anomalous, 0 / False normal; ids it does not name are unknown and left out, as a CSV's), or a collection of the
#: anomalous ids (every other session normal, as an id list's)
LabelsLike = str | Path | Labels | Mapping[str, int] | Collection[str]


def as_labels(labels: object) -> Labels | None:
    """``labels`` as :class:`Labels` (None stays None): a path is read (:func:`read_labels`), a mapping is read as a
    session CSV, any other collection of texts as a list of anomalous ids.

    Raises:
        InputDataError: a mapping whose labels are not 0/1, or a collection that is not of texts, or another type.

    >>> as_labels({"vm-1": 1, "vm-2": False}).by_id, as_labels(["vm-3"]).get("vm-9")
    ({'vm-1': 1, 'vm-2': 0}, 0)
    """
    if labels is None or isinstance(labels, Labels):
        return labels
    if isinstance(labels, str | Path):
        return read_labels(labels)
    if isinstance(labels, Mapping):
        bad = [(k, v) for k, v in labels.items() if not isinstance(k, str) or v not in (0, 1)]
        if bad:
            raise InputDataError(
                f"labels as a mapping take session ids (text) to 1 (anomalous) or 0 (normal); got {bad[0]!r}"
                + (f" and {len(bad) - 1} more" if len(bad) > 1 else "")
            )
        return Labels({k: int(v) for k, v in labels.items()}, "session_csv", None, source="a mapping")
    if isinstance(labels, Collection) and all(isinstance(x, str) for x in labels):
        return Labels(dict.fromkeys(labels, 1), "id_list", 0, source="a collection of anomalous ids")
    raise InputDataError(
        "labels must be a labels file (path), a mapping of session id to 1/0, or a collection of the anomalous "
        f"session ids (text), got {type(labels).__name__}"
    )


def read_labels(path: str | Path, *, label_column: str = "Label") -> Labels:
    """Read any supported label file (format sniffed, see the module docstring).

    Raises:
        InputDataError: missing, empty or binary file, a format not recognised, or a bad row.
    """
    try:
        lines, n_binary = read_lines(path, what="label file")
    except InputDataError as exc:
        if Path(path).is_file() and Path(path).stat().st_size == 0:  # an empty list of anomalous ids: all normal?
            raise InputDataError(
                f"{exc}. A log none of whose sessions is anomalous goes to evaluate as --normal LOG (no labels file)"
            ) from None
        raise
    source = str(path)
    if n_binary:
        raise InputDataError(
            f"{source}: {n_binary} of {len(lines)} lines are not text (invalid UTF-8 or NUL bytes); not a label file"
        )
    kind = sniff_label_format(lines, label_column=label_column)
    if kind == "session_csv":
        return parse_session_csv(lines, source, label_column=label_column)
    if kind == "line_labels":
        return parse_line_labels(lines, source)
    if kind == "id_list":
        return parse_id_list(lines, source)
    raise InputDataError(
        f"{source}: not a label file I know. Expected a CSV whose header names the session id column and a "
        f"{label_column!r} column (or is_anomaly, anomaly ...; values normal/anomaly, 0/1, true/false), a list of "
        "anomalous ids (one per line), or a BGL/Thunderbird log"
    )
