"""``logbert parse``: mine templates from every parsable line of a raw log (no training, no split).

The log is streamed, never held: :func:`parse` reads it block by block
(:class:`~logbert.parsing.reader.LogStream`), keeps only each line's content for as long as its
block is mined (:meth:`~logbert.parsing.parser.LogParser.fit_transform_chunks`) and, per line, its
key (4 bytes). A line's key depends on the final templates, so the structured rows are written in
a second pass: :func:`write_structured` reads the file again and writes each row as it goes (CSV
and JSON lines row by row, Parquet in row groups). The outputs are those of parsing the whole file
at once.

Typed parameters (``typed=True``, ``logbert parse --structured F --typed``): the slots of every
template are typed (:mod:`logbert.parsing.params`: numbers with units in seconds / bytes / counts,
categories, ids) from at most :data:`SCHEMA_SAMPLE` values per template, read in one more pass
that stops once every template with slots has that many lines; the rows then carry a ``values``
column (the typed values, JSON: numbers in the base unit, categories as text, ids null) and the
summary JSON a ``slot_schema``. Off by default: the plain outputs and their cost do not change.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from logbert.config import LogBertConfig, as_config, quoted
from logbert.errors import InputDataError
from logbert.parsing.headers import BUILTIN_FORMATS as BUILTIN_FORMATS  # re-exported for `logbert presets`
from logbert.parsing.headers import HeaderParser, line_text_for_sessions
from logbert.parsing.masking import default_masks
from logbert.parsing.parser import LogParser
from logbert.parsing.reader import LogStream
from logbert.records import LogLine, ReadReport
from logbert.windowing.windows import find_session_ids, session_id_mask, session_id_pattern

if TYPE_CHECKING:  # imported where it is used: the plain parse path does not load it
    from logbert.parsing.params import SlotSchema

#: Rows per Parquet row group (one group is built in memory at a time).
PARQUET_ROW_GROUP: Final[int] = 32_768
#: Lines per template whose parameters type its slots (:func:`slot_schema`).
SCHEMA_SAMPLE: Final[int] = 5_000


def template_parser(config: LogBertConfig) -> LogParser:
    """The parser (not fitted) that mines ``config``'s templates: ``parser``'s masks, after a rule that makes the
    session id of ``window.session_pattern`` a parameter (:func:`~logbert.windowing.windows.session_id_mask`).
    Every place that mines templates (``parse``, ``train``'s split and cross-fit) builds its parser here; a saved
    parser keeps its rules, so scoring, ``tail`` and the service mask as training did.

    Raises:
        ConfigError: the session pattern is not a valid regex.
    """
    rule = session_id_mask(config.window)
    if rule is None:
        return LogParser(config.parser)
    masks = config.parser.masks if config.parser.masks is not None else default_masks(config.parser.format)
    return LogParser(config.parser, masks if rule in masks else (rule, *masks))


@dataclass(slots=True)
class ParseSummary:
    templates: list[str]  # index = key id
    counts: list[int]  # lines per key id
    report: ReadReport
    key_ids: Sequence[int] = ()  # the key of each parsed line, in order (an int array: 4 bytes a line)
    parser: LogParser | None = None  # the fitted parser (parameters of each line)
    source: Path | None = None  # the log file, read again for the structured rows (see lines())
    field_names: tuple[str, ...] = ()  # header fields of the parsed lines, in order of first appearance
    n_first_fields: int = 0  # how many of them the first parsed line has
    schema: SlotSchema | None = None  # typed slots, once slot_schema() ran (write_structured(typed=True))
    sample: Sequence[LogLine] = ()  # the first parsed lines, whole (LogStream.sample): what session ids are judged on

    def lines(self) -> Iterator[LogLine]:
        """Every parsed line, in order, read again from :attr:`source` (one block held at a time).

        Raises:
            InputDataError: no source, or the file no longer parses to as many lines as the keys.
        """
        if self.source is None or self.parser is None:
            raise InputDataError("this parse summary has no source file to read the lines from")
        n = 0
        for block in LogStream(self.source, self.parser.config).lines():
            n += len(block)
            if n > len(self.key_ids):
                break
            yield from block
        if n != len(self.key_ids):
            raise InputDataError(f"{self.source} changed since it was parsed ({n} lines now, {len(self.key_ids)} then)")


def parse(data: str | Path, config: LogBertConfig | None = None) -> ParseSummary:
    """Mine templates from every parsable line of a raw log, reading it block by block (``config``: None = the
    defaults, as ``train``).

    Raises:
        InputDataError: missing file or no parsable line.
        ConfigError: ``config`` is no ``LogBertConfig``.
    """
    config = as_config(config)
    stream = LogStream(data, config.parser)
    parser = template_parser(config)
    keys = parser.fit_transform_chunks(stream.contents())
    counts = [0] * len(parser.templates_)
    for k in keys:
        counts[k] += 1
    return ParseSummary(
        list(parser.templates_), counts, stream.report, keys, parser, Path(data), stream.field_names,
        stream.n_first_fields, sample=stream.sample,
    )  # fmt: skip


#: the lines whose fields :func:`matched_text` picks its example from, and the characters of it shown
MATCHED_TEXT_LINES: Final[int] = 1000
MATCHED_TEXT_CHARS: Final[int] = 160


def matched_text(lines: Sequence[LogLine]) -> str:
    r"""'matched against each parsed line's header fields as name=value, then its content, e.g. ...': what a
    session pattern sees (:func:`~logbert.parsing.headers.line_text_for_sessions`), with one of ``lines`` as it
    sees it, the first with the most fields (a syslog line with a pid, not the kernel's without); '' without lines.
    A pattern written for the raw line (``sshd\[(\d+)\]``) never matches the parsed one (``Component=sshd
    PID=4242 ...``): train said only "no line names a session id" of a log whose every sshd line holds sshd[N]."""
    head = lines[:MATCHED_TEXT_LINES]
    if not head:
        return ""
    most = max(len(line.fields) for line in head)
    text = line_text_for_sessions(next(line for line in head if len(line.fields) == most))
    example = text if len(text) <= MATCHED_TEXT_CHARS else text[: MATCHED_TEXT_CHARS - 3] + "..."
    if not most:
        return f"matched against each parsed line's content, e.g. {example!r}"
    return f"matched against each parsed line's header fields as name=value, then its content, e.g. {example!r}"


def session_pattern_note(summary: ParseSummary, config: LogBertConfig) -> tuple[int, str] | None:
    """How many of the first parsed lines ``window.session_pattern`` names a session in, and what to say of it (with
    what the pattern is matched against where it names none); None where no pattern is given or the log is read in
    windows. parse masks the pattern's ids but said nothing of a pattern that matched no line. The first lines only:
    parse keeps only the contents of the others, and the pattern reads the header fields too.

    Raises:
        ConfigError: the session pattern is not a valid regex.
    """
    window = config.window
    if window.mode != "session" or window.session_pattern is None:
        return None
    pattern = session_id_pattern(window)
    ids = [found for line in summary.sample if (found := find_session_ids(line_text_for_sessions(line), pattern))]
    said = f"window.session_pattern {quoted(window.session_pattern)}"
    n = len(summary.sample)
    lines = f"the first {n} parsed lines" if n < summary.report.n_parsed else f"the {n} parsed lines"
    if not ids:
        return 0, f"{said} names a session in none of {lines}: it is {matched_text(summary.sample)}"
    return len(ids), f"{said} names a session in {len(ids)} of {lines} (e.g. {ids[0][0]!r})"


#: Output formats of :func:`write_structured`, by file extension.
STRUCTURED_FORMATS = (".csv", ".jsonl", ".parquet")


def _row(
    line_no: object, timestamp: object, session_ids: object, fields: dict[str, Any], content: object,
    key_id: object, template: object, parameters: object,
) -> dict[str, object]:  # fmt: skip
    """A structured row: the one place its columns and their order are written down."""
    return {
        "line_no": line_no,
        "timestamp": timestamp,
        "session_ids": session_ids,
        **fields,
        "content": content,
        "key_id": key_id,
        "template": template,
        "parameters": parameters,
    }


def structured_rows(
    summary: ParseSummary, config: LogBertConfig, schema: SlotSchema | None = None
) -> Iterator[dict[str, object]]:
    """One row per parsed line, loghub's structured layout: where, when, which session, which
    template, and the values at the template's wildcards (with ``schema``: also their typed
    ``values``, right after ``parameters``). Lazy: the file is read again as the rows are consumed
    (see :meth:`ParseSummary.lines`)."""
    parser = summary.parser
    assert parser is not None, "parse() keeps the fitted parser"
    pattern = session_id_pattern(config.window) if config.window.mode == "session" else None
    templates = summary.templates
    one_column = _fields_as_one_column(summary)
    for line, key in zip(summary.lines(), summary.key_ids, strict=True):
        sessions = find_session_ids(line_text_for_sessions(line), pattern) if pattern else ()
        parameters = parser.parameters(line.content, key)
        row = _row(
            line.line_no,
            None if line.timestamp is None else datetime.fromtimestamp(line.timestamp, UTC).isoformat(),
            " ".join(sessions),
            {"fields": json.dumps(line.fields)} if one_column else dict(line.fields),
            line.content,
            key,
            templates[key],
            parameters,
        )
        if schema is not None:
            row = _with_values(row, list(schema.convert(key, parameters)))
        yield row


def _with_values(row: dict[str, object], values: list[object]) -> dict[str, object]:
    """``row`` with a ``values`` column right after ``parameters``."""
    out: dict[str, object] = {}
    for name, value in row.items():
        out[name] = value
        if name == "parameters":
            out["values"] = values
    return out


def slot_schema(summary: ParseSummary, sample: int | None = None) -> SlotSchema:
    """Type every template's slots from the parsed file (sets and returns ``summary.schema``).

    Reads the file again, taking the parameters of at most ``sample`` (default
    :data:`SCHEMA_SAMPLE`) lines per template, and stops reading once every template with a
    wildcard has that many: memory is bounded by ``sample`` values per slot.
    """
    summary.schema = _sampled_schema(summary, SCHEMA_SAMPLE if sample is None else sample)
    return summary.schema


def state_words_warning(summary: ParseSummary) -> str:
    """The warning of :func:`~logbert.parsing.params.state_words_hint` for the parsed file ('' when no template
    merged a few words), from the typed slots when ``--typed`` made them, else from a sample of the file: at most
    :data:`~logbert.parsing.params.HINT_SAMPLE` lines per template among its first
    :data:`~logbert.parsing.params.HINT_MAX_LINES`."""
    from logbert.parsing.params import HINT_MAX_LINES, HINT_SAMPLE, merged_state_words, state_words_hint

    schema = summary.schema or _sampled_schema(summary, HINT_SAMPLE, HINT_MAX_LINES)
    return state_words_hint(summary.templates, merged_state_words(summary.templates, schema))


def joined_numbers_warning(summary: ParseSummary) -> str:
    """:func:`~logbert.parsing.params.joined_numbers_hint` for the parsed file ('' when no template holds numbers
    joined by '/', or '/' splits tokens already)."""
    from logbert.parsing.params import joined_numbers_hint

    delimiters = summary.parser.settings_.extra_delimiters if summary.parser is not None else ()
    return joined_numbers_hint(summary.templates, delimiters)


#: :func:`template_count_warning`: at least this many parsed lines and templates, and templates for this share of
#: the lines, read as lines that are each an event of their own.
MANY_TEMPLATES_LINES: Final[int] = 50
MANY_TEMPLATES_MIN: Final[int] = 20
MANY_TEMPLATES_SHARE: Final[float] = 0.25


def template_count_warning(summary: ParseSummary) -> str:
    """'' unless the templates are nearly as many as the lines (apt's ``history.log``, whose ``Install:`` lines list
    the packages of each run): then which share of the templates was seen once, the longest of those, and why. A
    model of such keys learns nothing, and every new line is an unseen template."""
    parsed = summary.report.n_parsed
    n = len(summary.templates)
    if parsed < MANY_TEMPLATES_LINES or n < MANY_TEMPLATES_MIN or n < MANY_TEMPLATES_SHARE * parsed:
        return ""
    once = [t for t, c in zip(summary.templates, summary.counts, strict=True) if c == 1]
    example = max(once, key=len, default=summary.templates[0])
    shown = example if len(example) <= 80 else example[:77] + "..."
    return (
        f"{n} templates for {parsed} lines, {len(once)} of them seen once (e.g. '{shown}'): Drain keeps apart lines "
        "that differ in many words, so a line that lists things (packages, files, users) or holds free text is an "
        "event of its own, and a model learns nothing from such keys: every new line is an unseen template. Mask "
        "what varies (parser.masks, README \"Your own logs\"), or keep such lines out of what you train on"
    )


def _sampled_schema(summary: ParseSummary, cap: int, max_lines: int | None = None) -> SlotSchema:
    """The slot schema of at most ``cap`` lines per template (and of the first ``max_lines`` lines of the file)."""
    from logbert.parsing.params import infer_slot_schema

    parser = summary.parser
    assert parser is not None, "parse() keeps the fitted parser"
    needed = {
        k: min(cap, c) for k, (t, c) in enumerate(zip(summary.templates, summary.counts, strict=True)) if "<*>" in t
    }
    taken = dict.fromkeys(needed, 0)
    rows: list[tuple[int, list[str]]] = []
    remaining = sum(needed.values())
    if remaining:
        keys = summary.key_ids if max_lines is None else summary.key_ids[:max_lines]
        for line, key in zip(summary.lines(), keys, strict=False):
            if key in taken and taken[key] < needed[key]:
                taken[key] += 1
                remaining -= 1
                rows.append((key, parser.parameters(line.content, key)))
                if not remaining:
                    break
    return infer_slot_schema(summary.templates, rows, max_values=cap)


def _columns(summary: ParseSummary, typed: bool = False) -> tuple[list[str], list[str]]:
    """The first row's columns, and every row's (in order of first appearance): a format with an
    optional field (Thunderbird's PID) gives rows without it, and a field the first row lacks
    comes after ``parameters`` (and ``values``, when typed)."""
    if _fields_as_one_column(summary):
        first_row = _row(None, None, None, {"fields": None}, None, None, None, None)
        first = list(_with_values(first_row, []) if typed else first_row)
        return first, first
    first_fields = dict.fromkeys(summary.field_names[: summary.n_first_fields])
    first_row = _row(None, None, None, first_fields, None, None, None, None)
    first = list(_with_values(first_row, []) if typed else first_row)
    return first, list(dict.fromkeys([*first, *summary.field_names[summary.n_first_fields :]]))


def _fields_as_one_column(summary: ParseSummary) -> bool:
    """Records (JSON lines, logfmt, CSV): each line has its own keys, unknown before the file is read (a CSV's columns
    are the configuration's, but read alike), so the header fields are one ``fields`` column (a JSON object) rather
    than a column each."""
    return summary.parser is not None and HeaderParser.for_config(summary.parser.config).reads_records


def write_structured(summary: ParseSummary, config: LogBertConfig, path: str | Path, *, typed: bool = False) -> int:
    """Write every parsed line as CSV, JSON lines or Parquet (by the extension); returns the row count.

    ``typed``: also a ``values`` column, the typed parameters (:func:`slot_schema`, computed first
    unless ``summary.schema`` is set): a JSON list in JSON lines, a JSON string in CSV and Parquet
    (one column can then mix numbers, categories and nulls).

    The rows are written as the file is read again: CSV and JSON lines one by one, Parquet in row
    groups of ``PARQUET_ROW_GROUP`` rows. The columns are those of all the rows (CSV; in the
    order the rows name them) or of the first row (Parquet, as ``pyarrow.Table.from_pylist``).

    Raises:
        InputDataError: an unknown extension, or Parquet without ``pyarrow`` installed.
    """
    out = Path(path)
    suffix = out.suffix.lower()
    if suffix not in STRUCTURED_FORMATS:
        raise InputDataError(f"{out}: the structured output must end in {', '.join(STRUCTURED_FORMATS)}")
    if suffix == ".parquet":
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            raise InputDataError("Parquet output needs pyarrow: pip install 'logbert[parquet]' (or pyarrow)") from None
    schema = (summary.schema or slot_schema(summary)) if typed else None
    rows = structured_rows(summary, config, schema)
    if schema is not None and suffix == ".parquet":
        rows = ({**r, "values": json.dumps(r["values"], ensure_ascii=False)} for r in rows)
    out.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    if suffix == ".jsonl":
        with out.open("w", encoding="utf-8") as f:
            for row in rows:
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
                n += 1
    elif suffix == ".csv":
        with out.open("w", encoding="utf-8", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=_columns(summary, typed)[1])
            writer.writeheader()
            for row in rows:
                row = {**row, "parameters": json.dumps(row["parameters"], ensure_ascii=False)}
                if typed:
                    row["values"] = json.dumps(row["values"], ensure_ascii=False)
                writer.writerow(row)
                n += 1
    else:
        n = _write_parquet(rows, summary, out, typed)
    return n


def _write_parquet(rows: Iterator[dict[str, object]], summary: ParseSummary, out: Path, typed: bool = False) -> int:
    """Parquet in row groups, with the table ``pa.Table.from_pylist`` makes of all the rows.

    The schema is inferred from the first row group. A column's type is known once it holds a
    value (a list column: a non-empty list); a column that can only be empty (no time fields in
    the format, no wildcard in any template) is typed null, as from_pylist types it. Rows are held
    until every column's type is known (in practice the first rows); an output of less than one
    row group is written at once, as before.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    names = _columns(summary, typed)[0]
    empty_ok: set[str] = set()
    parser_config = summary.parser.config if summary.parser is not None else None
    if parser_config is not None and "timestamp" not in summary.field_names:
        header = HeaderParser.for_config(parser_config)
        if not header.has_time_fields:
            empty_ok.add("timestamp")
    if not any("<*>" in t for t in summary.templates):
        empty_ok.add("parameters")
    untyped = [c for c in names if c not in empty_ok]  # columns without a value yet
    batch: list[dict[str, object]] = []
    writer: Any = None
    schema: Any = None
    n = 0
    try:
        for row in rows:
            batch.append(row)
            n += 1
            if untyped:
                untyped = [c for c in untyped if row.get(c) is None or row.get(c) == []]
            if len(batch) >= PARQUET_ROW_GROUP and not untyped:
                if writer is None:
                    schema = pa.Table.from_pylist(batch).schema
                    writer = pq.ParquetWriter(out, schema)
                writer.write_table(pa.Table.from_pylist(batch, schema=schema))
                batch = []
        if writer is None:  # one row group, or a column never got a value: all the rows at once
            pq.write_table(pa.Table.from_pylist(batch), out)
        elif batch:
            writer.write_table(pa.Table.from_pylist(batch, schema=schema))
    finally:
        if writer is not None:
            writer.close()
    return n


def write_parse_summary(summary: ParseSummary, path: str | Path) -> None:
    """Templates with their key ids and line counts, and the read report, as JSON; with the slot
    schema (``"slot_schema"``, :meth:`SlotSchema.to_dict`) once :func:`slot_schema` ran."""
    from logbert.evaluation.report import write_json  # imports matplotlib: only when it is needed

    data: dict[str, object] = {
        "templates": [
            {"key_id": k, "template": t, "lines": c}
            for k, (t, c) in enumerate(zip(summary.templates, summary.counts, strict=True))
        ],
        # parse mines templates and does not look for session ids or times (train and score do): null, not 0
        "read_report": {**summary.report.as_dict(), "n_without_session": None, "n_in_flight": None},
    }
    if summary.schema is not None:
        data["slot_schema"] = summary.schema.to_dict()
    write_json(data, path)
