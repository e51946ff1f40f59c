"""Reading one input into labelled units (sessions, or windows when the log has no session id).

A raw log becomes :class:`LineSession` records: rows of the corpus' lines, because key ids come
later, from a parser mined on the training lines only (:mod:`logbert.pipeline.split`). A key-sequence
file becomes :class:`~logbert.records.KeySequence` records directly. Records are never changed in
place once made: labels are set while they are built.
"""

from __future__ import annotations

import logging
import os
import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Final, TypeVar, get_args

from logbert.config import LogBertConfig, WindowConfig, quoted
from logbert.datasets.keyfile import detect_input_kind, read_key_sequences
from logbert.datasets.labels import Labels, LabelsLike, as_labels, session_label_from_lines
from logbert.errors import InputDataError, NoSessionIds
from logbert.files import input_file
from logbert.parsing._gc import gc_paused
from logbert.parsing.headers import line_text_for_sessions
from logbert.parsing.reader import LogStream, binary_hint, format_mismatch_hint
from logbert.pipeline.parse import matched_text, template_parser
from logbert.records import InputKind, KeySequence, LogLine, ReadReport
from logbert.windowing.windows import find_session_ids, part_session_id, session_id_pattern, unit_rows

logger = logging.getLogger(__name__)

#: The header field of BGL / Thunderbird lines that carries a per-line label ("-" = normal).
LABEL_FIELD = "Label"


@dataclass(frozen=True, slots=True)
class LineSession:
    """A session (or window) of a raw log as rows of its corpus' ``lines``, before keys are assigned."""

    session_id: str
    rows: tuple[int, ...]  # indices into Corpus.lines, in log order
    label: int | None = None  # 1 anomalous, 0 normal, None unknown
    start_time: float | None = None  # first timestamp, when the format has one


_Unit = TypeVar("_Unit", LineSession, KeySequence)


@dataclass(frozen=True, slots=True)
class Corpus:
    """What one input holds, before the split: raw lines with their sessions, or key sequences."""

    kind: InputKind
    report: ReadReport
    # raw logs only: each line's number, content and time; its header fields are read as it is (its sessions, a
    # Label field) and not kept (read_log gives them)
    lines: tuple[LogLine, ...] = ()
    line_sessions: tuple[LineSession, ...] = ()  # raw logs only
    key_sequences: tuple[KeySequence, ...] = ()  # key-sequence files only
    n_unlabelled: int = 0  # sessions a labels file did not name (left out of training and evaluation)
    notes: list[str] = field(default_factory=list)

    @property
    def units(self) -> Sequence[LineSession] | Sequence[KeySequence]:
        """The sessions (or windows) of the input, whichever kind it holds."""
        return self.line_sessions if self.kind == "raw" else self.key_sequences


def input_kind(path: str | Path, config: LogBertConfig | None = None, given: InputKind | None = None) -> InputKind:
    """What ``path`` holds: ``given`` when the user said, else sniffed from its first lines.

    Sniffing says ``"keys"`` only when that fits the settings: key-sequence files are read as one
    session per line, so a config asking for sliding or time windows, or giving a custom header
    format, means a raw log even when its lines happen to be numbers.

    Raises:
        InputDataError: the file does not exist or is a directory (:func:`~logbert.files.input_file`'s words), or
            ``given`` is neither ``"raw"`` nor ``"keys"``.
    """
    if not isinstance(path, str | os.PathLike):
        raise TypeError(
            f"the input must be a path to a log or key file (str or Path), got {type(path).__name__} (score takes a "
            "list of lines too)"
        )
    if given is not None and given not in get_args(InputKind):
        raise InputDataError(f"kind must be one of {', '.join(get_args(InputKind))} (or None to sniff), got {given!r}")
    p = input_file(Path(path), "input file")
    if not p.is_file():  # a FIFO or a device: sniffing would consume what it reads
        raise InputDataError(f"expected a regular input file: {p}")
    if given is not None:
        return given
    sniffed = detect_input_kind(p)
    if sniffed == "keys" and config is not None:
        if config.window.mode != "session" or config.parser.log_format is not None:
            return "raw"
    return sniffed


def read_corpus(
    path: str | Path,
    config: LogBertConfig,
    *,
    labels: LabelsLike | None = None,
    label: int | None = None,
    kind: InputKind | None = None,
) -> Corpus:
    """Read a raw log or a key-sequence file into labelled units (one per session or window).

    Labels come from one source, first that applies: ``label`` (every unit gets it, e.g. a file
    of abnormal sessions), then ``labels`` (a session CSV, an id list, or per-line labels), then
    the per-line ``Label`` header field of BGL / Thunderbird lines. A unit a session labels file
    does not name is left out and counted (``n_unlabelled``).

    ``kind`` says what the file holds (``"raw"`` or ``"keys"``); None sniffs it (:func:`input_kind`).

    Raises:
        InputDataError: missing, empty, or unusable input; no unit named in the labels file.
    """
    kind = input_kind(path, config, kind)
    loaded = as_labels(labels)
    if label is not None:
        loaded = None
    if kind == "keys":
        sequences, report = read_key_sequences(path, label=label)
        keyed = [replace(s, label=_label(s.session_id, s.line_nos, loaded, label)) for s in sequences]
        kept, n_missing = _drop_unlabelled(keyed, loaded, None)  # a key file's lines are sessions
        return Corpus("keys", report, key_sequences=tuple(kept), n_unlabelled=n_missing)
    lines, ids, header_labels, head, unnamed, report = _read_lean(
        path, config, header_labels=loaded is None and label is None
    )
    # the reader's warnings that say the lines are not read right (not text; most of them another format's, which
    # the format then misreads): said first where no session id is found, the likeliest reason. Not for CR-only
    # line ends: binary_hint says those only when the reader did
    first = [w for w in (binary_hint(report), format_mismatch_hint(report, config.parser)) if w in report.warnings]
    hints = [w for w in report.warnings if w not in first]  # a header format that looks wrong: why no id is found?
    units, without_session = _units(path, lines, ids, head, config, "; ".join(first), hints)
    del ids
    left_out = without_session_warning(lines, without_session, config, unnamed)
    if left_out is not None:  # train, score and evaluate all print the reader's warnings
        report.warnings.append(left_out)
    labelled = [
        replace(
            u,
            label=_label(u.session_id, [lines[i].line_no for i in u.rows], loaded, label,
                         parts=config.window.session_gap_s is not None)
            if header_labels is None
            else session_label_from_lines(header_labels[i] for i in u.rows),
        )
        for u in units
    ]
    kept_units, n_missing = _drop_unlabelled(labelled, loaded, config.window)
    report.n_without_session = len(without_session)
    # where the capture begins (its first timestamped line): in every report of a raw log, train's included, where
    # only Detector.read set it, and capture_edge looked it up again
    report.first_time = next((ln.timestamp for ln in lines if ln.timestamp is not None), None)
    return Corpus("raw", report, tuple(lines), tuple(kept_units), n_unlabelled=n_missing)


#: Lines the session-id hints read (the first so many of those they are given)
HINT_LINES: Final = 1000
#: What a line of ``Corpus.lines`` keeps of its header fields: none (each read, then dropped: ``_read_lean``)
NO_FIELDS: Final[Mapping[str, str]] = MappingProxyType({})


def _read_lean(
    path: str | Path, config: LogBertConfig, *, header_labels: bool
) -> tuple[
    list[LogLine], list[tuple[str, ...]], list[int] | None, tuple[LogLine, ...], list[LogLine], ReadReport
]:
    """Read a raw log block by block, keeping of each line only what the stages after the read use: its number,
    content and time. What its header fields (and a continuation's message) decide is read as the line is: its
    session ids (mode ``session``; else none) and its ``Label`` field (``header_labels``, where the format has
    one; else None). Also, whole, the first lines (``LogStream.sample``) and the first :data:`HINT_LINES` lines
    that name no session id, which the hints read.

    Header fields held for every line were two thirds of a parsed line's memory (HDFS: 551 of 826 bytes), and
    ``score`` held every line of its input at once.

    Raises:
        InputDataError: the reader's (``LogStream``): missing, empty, or no line in the format.
    """
    pattern = session_id_pattern(config.window) if config.window.mode == "session" else None
    stream = LogStream(path, config.parser)
    lines: list[LogLine] = []
    ids: list[tuple[str, ...]] = []
    labels: list[int] | None = None
    unnamed: list[LogLine] = []
    same: dict[tuple[str, ...], tuple[str, ...]] = {}
    with gc_paused():  # many long-lived records, no cycles (as read_log)
        for block in stream.lines():
            if not block:
                continue
            if pattern is not None:
                # one tuple for each set of ids: a session's lines share it (HDFS: 120 of a line's bytes while read)
                found = [same.setdefault(f, f) for f in [find_session_ids(line_text_for_sessions(ln), pattern)
                                                         for ln in block]]
                if len(unnamed) < HINT_LINES:
                    unnamed += [ln for ln, f in zip(block, found, strict=True) if not f][: HINT_LINES - len(unnamed)]
                ids.extend(found)
            if header_labels and labels is None and not lines and LABEL_FIELD in block[0].fields:
                labels = []  # the first parsed line says whether the format has the field
            if labels is not None:
                labels.extend([int(ln.fields.get(LABEL_FIELD, "-") != "-") for ln in block])
            lines.extend([LogLine(ln.line_no, ln.content, ln.timestamp, NO_FIELDS) for ln in block])
    if pattern is None:
        ids = [()] * len(lines)
    return lines, ids, labels, stream.sample, unnamed, stream.report


def _units(
    path: str | Path,
    lines: Sequence[LogLine],
    ids: Sequence[tuple[str, ...]],
    head: Sequence[LogLine],
    config: LogBertConfig,
    first: str = "",
    hints: Sequence[str] = (),
) -> tuple[list[LineSession], list[int]]:
    """Sessions by id (mode ``session``), or sliding / time windows, each its own unit; and the rows of the lines
    that name no session id (mode ``session``: counted, in no unit). ``ids``: each line's session ids, read with
    its header fields (:func:`_read_lean`); ``head``: the first lines whole, which the hints read. ``first``: the
    reader's word on a file that is not text or on lines of another format, said first when no session is found;
    ``hints``: its warnings on the header format, said after it (JSON lines read as text, a header left in the
    content)."""
    window = config.window
    stamps = [ln.timestamp for ln in lines]
    pattern = session_id_pattern(window) if window.mode == "session" else None
    try:
        units, n_without = unit_rows(ids, stamps, window)
    except InputDataError as exc:  # time windows of lines without time: the reader's word on why, if it has one
        if hints:  # times the header format left in the content: that first, not "use sliding windows"
            raise InputDataError(
                f"{path}: time windows need timestamps, and no line has one as the header format reads them: "
                + "; ".join(hints)
                + " (a log without times: --set window.mode=sliding)"
            ) from None
        raise InputDataError(f"{path}: {exc}") from None
    if pattern is not None and not units:
        seen = matched_text(head)  # a pattern written for the raw line never matches ("sshd\[(\d+)\]")
        clues = (f". The pattern is {seen}" if seen else "") + session_id_hint(head)
        clues += "".join(f". Also: {hint}" for hint in hints)
        raise NoSessionIds(
            f"{path}: "
            + (f"{first}; " if first else "")
            + f"no line names a session id (pattern {quoted(pattern.pattern)}); "
            "give the pattern of your session ids (--set 'window.session_pattern=REGEX', its first group the id), "
            "or read the log in windows of consecutive lines (--set window.mode=sliding) or of time "
            "(--set window.mode=time)"
            + clues,
            path=f"{path}: " + (f"{first}; " if first else ""),
            pattern=pattern.pattern,
            clues=clues,
        )
    without = [i for i, found in enumerate(ids) if not found] if pattern is not None else []
    assert len(without) == n_without  # the lines unit_rows counted
    return [LineSession(uid, tuple(rows), None, _first_time(stamps, rows)) for uid, rows in units], without


#: Share of the parsed lines that may name no session id before train, score and evaluate warn
#: (:func:`without_session_warning`). Such lines are in no session: nothing in them is learnt or flagged. Shares
#: measured: HDFS (every line names its block) and the DeepLog OpenStack files 0 %; the DevStack nova logs 12 and 19 %
#: (16 and 24 % before the preset's rule read "Deleted allocation for instance <uuid>"); the demo's simulated nova
#: log 57 % (API requests and periodic tasks, which are no instance's); an auditd log read by ses= 57 % (the EXECVE,
#: CWD, PATH and PROCTITLE records of an event, whose SYSCALL record alone names the session; the planted attack's
#: template among them). A tenth is more than a service's own work (start-up,
#: periodic tasks) usually writes beside its sessions, and a kind of line found only outside the sessions is then
#: among the templates the warning names.
WITHOUT_SESSION_SHARE = 0.10
#: Lines without a session id whose templates the warning counts (spread evenly over them), and how many it names
WITHOUT_SESSION_SAMPLE = 2000
WITHOUT_SESSION_TEMPLATES = 3
#: Characters of a template the warning shows
SHOWN_TEMPLATE_CHARS = 80


def without_session_warning(
    lines: Sequence[LogLine], rows: Sequence[int], config: LogBertConfig, whole: Sequence[LogLine] | None = None
) -> str | None:
    """What to say when more than :data:`WITHOUT_SESSION_SHARE` of the parsed ``lines`` (those at ``rows``) name no
    session id *and* the hint code finds how they could name one (:func:`session_id_hint`, on ``whole``: the first
    of them with their header fields, where ``lines`` keep none, as ``read_corpus``' do; default: those at
    ``rows``): their share, the
    templates most of them have (mined on a sample of them by the parser train mines with) and the hint. None below
    the share, and None without a hint: a service's own lines (nova's API requests, 55 % of the demo's log; periodic
    tasks) name no session because they belong to none, and the count among the line counts says it. Before, train
    said "4132 without a session id" among its line counts and trained on the other 43 % of an auditd log, its
    attack's template left out, where every record of an event shares the event's serial."""
    if not lines or len(rows) <= WITHOUT_SESSION_SHARE * len(lines):
        return None
    without = [lines[i] for i in rows]
    hint = session_id_hint(without if whole is None else whole)  # '. Its lines have the fields ...: --set ...', or ''
    if not hint:
        return None
    sample = without[:: max(1, len(without) // WITHOUT_SESSION_SAMPLE)]
    parser = template_parser(config)
    counts = Counter(parser.fit_transform([line.content for line in sample]))
    most = ", ".join(
        f"{_shortened(parser.templates_[key])!r} ({n / len(sample):.0%})"
        for key, n in counts.most_common(WITHOUT_SESSION_TEMPLATES)
    )
    window = config.window
    rule = (
        f"window.session_pattern {quoted(window.session_pattern)}" if window.session_pattern
        else f"window.session_id '{window.session_id}'"
    )
    return (
        f"{len(rows) / len(lines):.0%} of the parsed lines ({len(rows)} of {len(lines)}) name no session id by "
        f"{rule}: they are in no session, so nothing in them is learnt or flagged. Most often: {most}. If these lines "
        "belong to no session, train with windows, which read every line (--set window.mode=sliding or time); if "
        "they belong to sessions that they name otherwise, with a session pattern that reads them too"
        + hint
    )


def _shortened(template: str) -> str:
    return template if len(template) <= SHOWN_TEMPLATE_CHARS else template[: SHOWN_TEMPLATE_CHARS - 3] + "..."


def session_id_hint(lines: Sequence[LogLine]) -> str:
    """'. Their contents hold ...: --set ...' by the first hint that finds how ``lines`` could name their sessions (a
    key=value pair, an id among their words, a header field), else ''."""
    return _content_key_hint(lines) or _content_id_hint(lines) or _field_hint(lines)


_NOT_SESSION_FIELDS = frozenset(
    {"datetime", "date", "time", "timestamp", "ts", "month", "day", "monthnum", "daynum", "zone", "level", "severity"}
)


#: field names :func:`_field_hint` looks at (the first seen), and names it lists
MAX_HINT_FIELDS = 64
SHOWN_FIELDS = 8


def _field_hint(lines: Sequence[LogLine], sample: int = HINT_LINES) -> str:
    """'. Its lines have the fields ...' with a session pattern that reads one (JSON lines, custom formats), else ''.

    Only a field whose values vary as a session id's do (:func:`_values_like_session_ids`): the program name
    update-alternatives writes on every line of its log would make the whole log one session. Every field of the
    lines (up to :data:`MAX_HINT_FIELDS` names), a name with "id" in it first: only the first line's first 8 were
    looked at, and journalctl -o json's _PID is its 11th key (the hint said nothing)."""
    head = lines[:sample]
    seen = dict.fromkeys(name for line in head for name in line.fields if name.isidentifier())
    names = list(seen)[:MAX_HINT_FIELDS]
    # a time or a level names no session
    usable = [n for n in names if n.lower() not in _NOT_SESSION_FIELDS]

    def counts(name: str) -> tuple[dict[str, int], int]:
        r"""What the suggested pattern reads of each line: the value's first word (``\S+``), not the whole value
        (a field "job J00000" is the word "job" on every line: one session); and in how many runs of lines the
        values come (a value that comes back after another counts again)."""
        seen: dict[str, int] = {}
        runs, last = 0, None
        for line in head:
            if (value := line.fields.get(name)) is not None and (words := value.split()):
                seen[words[0]] = seen.get(words[0], 0) + 1
                runs += words[0] != last
                last = words[0]
        return seen, runs

    usable = [n for n in usable if _values_like_session_ids(*counts(n), n_lines=len(head))]
    if not usable:
        return ""
    pick = next((n for n in usable if "id" in n.lower()), usable[0])
    shown = names[:SHOWN_FIELDS] if pick in names[:SHOWN_FIELDS] else [*names[: SHOWN_FIELDS - 1], "...", pick]
    listed = ", ".join(shown) + (f" ({len(seen)} in all)" if len(seen) > SHOWN_FIELDS else "")
    return (
        rf". Its lines have the fields {listed}: --set 'window.session_pattern={pick}=(\S+)' reads its values as "
        "session ids"
    )


def _values_like_session_ids(counts: dict[str, int], runs: int | None = None, *, n_lines: int) -> bool:
    """Whether a field or key with these value counts, over ``n_lines`` lines, could be a session id: on most lines,
    many values (at least 2, and one per 50 lines), each on a few lines (2.5 on average: not a duration, not a
    line number), none on half of them (Redis's pid: the server's own, 1, writes nearly every line, and the
    children it forks to save write two each), nor on a quarter of them where the values are few (under one per 10
    lines): such a value is a constant, not one unit of work's name (a Windows logon failure's status 0xC000006D, the
    same on every such event, beside its sub-status and two other codes).

    Longer sessions one after the other (a CI log's builds of about 95 lines, a batch job's runs: under one value per
    50 lines) are a session id too where each value's lines are one run (``runs``, the runs of equal values among
    the lines, equals the number of values; at least 3 of them), as a host's or a component's values never are.

    >>> _values_like_session_ids({str(p): 3 for p in range(100)}, n_lines=300)
    True
    >>> _values_like_session_ids({"1": 3700, **{str(p): 2 for p in range(100, 600)}}, n_lines=4700)
    False
    >>> _values_like_session_ids({"0xC000006D": 44, "0xC000006A": 44, "0xc0000374": 6, "0x5b9c9cf6": 6}, n_lines=50)
    False
    >>> builds = {f"build-{b}": 95 for b in range(10)}
    >>> _values_like_session_ids(builds, 10, n_lines=950), _values_like_session_ids(builds, 400, n_lines=950)
    (True, False)
    """
    n, distinct = sum(counts.values()), len(counts)
    most = max(counts.values(), default=0)
    many = distinct >= max(2, n / 50) or (runs == distinct and distinct >= 3)
    return (
        n >= 0.5 * n_lines and many and n >= 2.5 * distinct and most <= 0.5 * n
        and (most <= 0.25 * n or distinct >= n / 10)
    )


# key=value in a line's content (logfmt, "task=17 received"); a quoted value is left alone
_KEY_VALUE = re.compile(r"(?<![\w.-])([A-Za-z_][\w.-]{0,40})=([^\s\"',;]+)")


def _content_key_hint(lines: Sequence[LogLine], sample: int = HINT_LINES) -> str:
    r"""'. Their contents hold request_id=...: --set ...' for a key of the contents' ``key=value`` pairs that looks
    like a session id, else ''. Such a key is on most lines, in several kinds of line (not a number one event
    carries, like rows=12), with many values that each come back on a few lines (not a level, not a duration);
    a name ending in "id" first.

    >>> lines = [LogLine(i, f"task={i // 3} {w} level=info", None) for i, w in enumerate(["got", "ran", "done"] * 20)]
    >>> _content_key_hint(lines)
    ". Their contents hold task=...: --set 'window.session_pattern=task=(\\S+)' reads it"
    """
    values: dict[str, dict[str, int]] = {}
    shapes: dict[str, set[str]] = {}
    head = lines[:sample]
    for line in head:
        pairs = _KEY_VALUE.findall(line.content)
        shape = _KEY_VALUE.sub("", line.content)  # the line without its values: which kind of line it is
        for key, value in pairs:
            counts = values.setdefault(key, {})
            counts[value] = counts.get(value, 0) + 1
            shapes.setdefault(key, set()).add(shape)

    def looks_like_a_session(key: str) -> bool:
        return len(shapes[key]) >= 2 and _values_like_session_ids(values[key], n_lines=len(head))

    keys = [k for k in values if looks_like_a_session(k)]
    if not keys:
        return ""
    pick = min(keys, key=lambda k: (not k.lower().endswith("id"), -len(values[k])))
    return rf". Their contents hold {pick}=...: --set 'window.session_pattern={re.escape(pick)}=(\S+)' reads it"


# a token of letters, maybe a separator, then digits: an id a program names its unit of work by (ord-1000, job_17)
_PREFIXED_ID = re.compile(r"(?<![\w.:/-])([A-Za-z]{2,12}[-_]?)(\d+)(?![\w.:/-])")
# ids of no prefix of their own: a hexadecimal number with 0x (ZooKeeper's session ids, 0x14ed93111f20027) and a UUID
# (request and job ids; "req-" before it is allowed)
_HEX_ID = re.compile(r"(?<![\w./-])0x([0-9a-fA-F]{6,})(?![\w.:/-])")
_UUID_ID = re.compile(
    r"(?<![\w.:/])[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}(?![\w.:/-])"
)
_UUID_PATTERN = r"\b([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})\b"
#: the id shapes the hint looks for: each one's regex, the kind of id a match is (ids of one kind are judged
#: together), and the session pattern that reads the ids of a kind. A prefix is a kind of its own (ord-, job_); so is
#: each number of hexadecimal digits, so that ZooKeeper's transaction ids (zxid 0x10000012c), which some lines repeat,
#: are not read as its sessions.
_ID_SHAPES: Final[tuple[tuple[re.Pattern[str], Callable[[re.Match[str]], str], Callable[[str], str]], ...]] = (
    (_PREFIXED_ID, lambda m: m.group(1), lambda prefix: rf"\b({prefix}\d+)\b"),
    (_HEX_ID, lambda m: str(len(m.group(1))), lambda digits: rf"\b(0x[0-9a-fA-F]{{{digits}}})\b"),
    (_UUID_ID, lambda m: "uuid", lambda _: _UUID_PATTERN),
)


def _content_id_hint(lines: Sequence[LogLine], sample: int = HINT_LINES) -> str:
    r"""'. Their contents hold ids like ord-1000: --set ...' for ids among the contents' words that look like session
    ids (the test of :func:`_content_key_hint`: on most lines, in several kinds of line, many values that each come
    back on a few lines; values on one line only left out), else ''. Python's default logging writes no key=value
    pairs, only the program's own words: "order ord-1000 paid"; ZooKeeper names its client sessions by a hexadecimal
    number, "Established session 0x14ed93111f20027 with negotiated timeout 10000"; many services a request or a job by
    a UUID. The shapes are :data:`_ID_SHAPES`: ``letters[-_]digits``, ``0x`` and hexadecimal digits, a UUID.

    >>> words = ["received", "paid", "shipped"]
    >>> lines = [LogLine(i, f"order ord-{i // 3} {words[i % 3]} in {i} ms", None) for i in range(60)]
    >>> _content_id_hint(lines)
    ". Their contents hold ids like ord-0: --set 'window.session_pattern=\\b(ord-\\d+)\\b' reads them"
    >>> lines = [LogLine(i, f"{words[i % 3]} session 0x14ed93{i // 3:06x} at {i}", None) for i in range(60)]
    >>> _content_id_hint(lines)
    ". Their contents hold ids like 0x14ed93000000: --set 'window.session_pattern=\\b(0x[0-9a-fA-F]{12})\\b' reads them"
    """
    head = lines[:sample]
    found: list[tuple[int, str, str]] = []  # (occurrences, example, pattern) of each kind of id that looks like one
    for shape_re, kind_of, pattern_of in _ID_SHAPES:
        values: dict[str, dict[str, int]] = {}
        shapes: dict[str, set[str]] = {}
        for line in head:
            shape = shape_re.sub("", line.content)  # the line without its ids: which kind of line it is
            for m in shape_re.finditer(line.content):
                kind = kind_of(m)
                counts = values.setdefault(kind, {})
                counts[m.group()] = counts.get(m.group(), 0) + 1
                shapes.setdefault(kind, set()).add(shape)
        for kind, counts in values.items():
            # an id on one line only is no session's (ZooKeeper's snapshots name a transaction id once)
            recurring = {value: n for value, n in counts.items() if n >= 2}
            if len(shapes[kind]) >= 2 and _values_like_session_ids(recurring, n_lines=len(head)):
                found.append((sum(recurring.values()), next(iter(recurring)), pattern_of(kind)))
    if not found:
        return ""
    _, shown, pattern = max(found)
    return f". Their contents hold ids like {shown}: --set 'window.session_pattern={pattern}' reads them"


def _first_time(stamps: Sequence[float | None], rows: Sequence[int]) -> float | None:
    return next((t for i in rows if (t := stamps[i]) is not None), None)


def _label(
    session_id: str, line_nos: Sequence[int], labels: Labels | None, label: int | None, parts: bool = False
) -> int | None:
    """A unit's label. ``parts``: sessions are cut at gaps in time (``window.session_gap_s``), and a part the
    labels file does not name (``id@time``) takes its id's label."""
    if label is not None:
        return label
    if labels is None:
        return None
    if labels.format == "line_labels":
        return session_label_from_lines(labels.get(str(n)) or 0 for n in line_nos)
    own = labels.get(session_id)
    if own is None and parts:
        return labels.get(part_session_id(session_id))
    return own


def _drop_unlabelled(
    units: list[_Unit], labels: Labels | None, window: WindowConfig | None
) -> tuple[list[_Unit], int]:
    """The one rule of every command that reads a labels file of session ids: the file must name units of the input.

    A session CSV names the units to use: the others are left out and counted. A list of anomalous ids labels every
    unit (the ones it does not list are normal), so it leaves nothing out. An id either file names that names no unit
    is said, with how many and one of them: the unit it meant would otherwise be taken for normal (a list) or left
    out (a CSV) without a word (a CSV whose anomalous ids were written ``sshd[60308]`` evaluated 180 normal sessions
    and no anomalous one, F1 n/a, and said only that 20 sessions were not named). Either file naming no unit at all
    is an error: the labels are for another log, or write its ids otherwise (``req-`` left out), or the units are
    windows, which such a file cannot name. ``window``: how a raw log was cut (None: a key file, one session a line);
    with ``window.session_gap_s`` a part of a session (``id@time``) is named by its id (:func:`_label`).

    Raises:
        InputDataError: the file names no unit of the input.
    """
    if labels is None or labels.format == "line_labels":
        return units, 0
    unit_ids = {u.session_id for u in units}
    parts = window is not None and window.session_gap_s is not None
    named = labels.by_id.keys() & (unit_ids | {part_session_id(i) for i in unit_ids} if parts else unit_ids)
    if not named:
        raise InputDataError(_names_no_unit(labels, units, window))
    if len(named) < len(labels.by_id):
        unmatched = [i for i in labels.by_id if i not in named]
        if labels.format == "id_list":
            which, taken = "", "taken for normal"
        else:  # a CSV labels both kinds: whether the anomalous ones are among them is what the user must see
            which = f" ({sum(labels.by_id[i] for i in unmatched)} of them labelled anomalous)"
            taken = "left out (their label unknown)"
        logger.warning(
            "%d of the %d ids listed in %s%s name%s no session of the input (e.g. %r): where they are sessions of "
            "this log, written otherwise, those sessions are %s; write them as the input names its sessions (e.g. %r)",
            len(unmatched), len(labels.by_id), labels.source, which, "s" if len(unmatched) == 1 else "", unmatched[0],
            taken, units[0].session_id,
        )
    kept = [u for u in units if u.label is not None]
    n_missing = len(units) - len(kept)
    if n_missing:  # said alike by train and evaluate: neither can use a unit of unknown label
        units_noun = "sessions" if window is None else window.unit_noun
        logger.warning(
            "%d %s not named in %s, so their label is unknown: left out",
            n_missing, f"{units_noun.removesuffix('s')} is" if n_missing == 1 else f"{units_noun} are", labels.source,
        )
    return kept, n_missing


#: Ids of each side shown when a labels file names no unit of the input: enough to see a prefix or a shape differ
SHOWN_IDS = 2


def _names_no_unit(
    labels: Labels, units: Sequence[LineSession] | Sequence[KeySequence], window: WindowConfig | None
) -> str:
    """Why a labels file labels nothing: a few ids of each side, so that the user sees them differ; where the units
    are windows, which have no ids of their own, how windows are labelled instead."""
    listed = ", ".join(repr(i) for i in list(labels.by_id)[:SHOWN_IDS])
    found = ", ".join(repr(u.session_id) for u in units[:SHOWN_IDS]) or "none"
    if window is not None and window.mode != "session":
        noun = window.unit_noun
        return (
            f"no {noun.removesuffix('s')} of the input is named in the labels file {labels.source}, whose ids are like "
            f"{listed}: {noun} are named by their place in the log ({found} ...), and a file of session ids cannot "
            f"label them. {noun.capitalize()} take their labels from the log's lines, a window with an anomalous "
            "line being anomalous: a log labelled line by line (BGL / Thunderbird, the log itself given as --labels, "
            "or a <Label> field of parser.log_format: '-' normal, anything else anomalous); or evaluate's --normal "
            "FILE and --abnormal FILE, every window of the file normal or anomalous. This file labels sessions: it "
            "needs the log read in sessions (an artifact trained with --set 'window.session_pattern=REGEX', its "
            "first group the id)"
        )
    what = "the ids it lists" if labels.format == "id_list" else "its ids"
    return (
        f"no session of the input is named in the labels file {labels.source}: {what} are like {listed}, the "
        f"input's sessions like {found}. Give this log's labels, each id written as the input names its session "
        "(in a raw log: what the first group of window.session_pattern reads, prefix included)"
    )


def merge_corpora(corpora: Sequence[Corpus]) -> tuple[Corpus, int]:
    """One corpus from several inputs of the same kind; the first unit with a session id wins.

    Returns:
        The merged corpus and how many units of later inputs repeated an earlier id (left out).

    Raises:
        InputDataError: raw logs and key files mixed, or no input.
    """
    kinds = {c.kind for c in corpora}
    if len(kinds) != 1:
        raise InputDataError(f"cannot merge raw logs and key files (got {sorted(kinds)})")
    if len(corpora) == 1:
        return corpora[0], 0
    report = ReadReport()
    counts = (
        "n_lines", "n_parsed", "n_continued", "n_malformed", "n_binary", "n_truncated", "n_escaped", "n_empty",
        "n_pieces", "n_unended", "n_redrawn",
    )  # fmt: skip
    for name in (*counts, "n_without_session"):
        setattr(report, name, sum(getattr(c.report, name) for c in corpora))
    seen: set[str] = set()
    n_dup = 0
    lines: list[LogLine] = []
    line_sessions: list[LineSession] = []
    key_sequences: list[KeySequence] = []
    for corpus in corpora:
        offset = len(lines)
        lines.extend(corpus.lines)
        for unit in corpus.units:
            if unit.session_id in seen:
                n_dup += 1
                continue
            seen.add(unit.session_id)
            if isinstance(unit, LineSession):  # rows move by the lines of the inputs before
                line_sessions.append(replace(unit, rows=tuple(i + offset for i in unit.rows)))
            else:
                key_sequences.append(unit)
    merged = Corpus(
        corpora[0].kind,
        report,
        tuple(lines),
        tuple(line_sessions),
        tuple(key_sequences),
        n_unlabelled=sum(c.n_unlabelled for c in corpora),
    )
    return merged, n_dup
