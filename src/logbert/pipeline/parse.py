"""``logbert parse``: mine templates from every parsable line of a raw log (no training, no split)."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from logbert.config import LogBertConfig
from logbert.errors import InputDataError
from logbert.evaluation.report import write_json
from logbert.parsing.headers import line_text_for_sessions
from logbert.parsing.parser import LogParser
from logbert.parsing.reader import read_log
from logbert.records import LogLine, ReadReport
from logbert.windowing.windows import find_session_ids, session_id_pattern


@dataclass(slots=True)
class ParseSummary:
    templates: list[str]  # index = key id
    counts: list[int]  # lines per key id
    report: ReadReport
    lines: list[LogLine] = field(default_factory=list)  # every parsed line, in order
    key_ids: list[int] = field(default_factory=list)  # the key of each line
    parser: LogParser | None = None  # the fitted parser (parameters of each line)


def parse(data: str | Path, config: LogBertConfig) -> ParseSummary:
    """Mine templates from every parsable line of a raw log.

    Raises:
        InputDataError: missing file or no parsable line.
    """
    lines, report = read_log(data, config.parser)
    parser = LogParser(config.parser)
    keys = parser.fit_transform([ln.content for ln in lines])
    counts = [0] * len(parser.templates_)
    for k in keys:
        counts[k] += 1
    return ParseSummary(list(parser.templates_), counts, report, lines, keys, parser)


#: Output formats of :func:`write_structured`, by file extension.
STRUCTURED_FORMATS = (".csv", ".jsonl", ".parquet")


def structured_rows(summary: ParseSummary, config: LogBertConfig) -> Iterator[dict[str, object]]:
    """One row per parsed line, loghub's structured layout: where, when, which session, which
    template, and the values at the template's wildcards."""
    assert summary.parser is not None, "parse() keeps the fitted parser"
    pattern = session_id_pattern(config.window) if config.window.mode == "session" else None
    for line, key in zip(summary.lines, summary.key_ids, strict=True):
        sessions = find_session_ids(line_text_for_sessions(line), pattern) if pattern else ()
        yield {
            "line_no": line.line_no,
            "timestamp": None if line.timestamp is None else datetime.fromtimestamp(line.timestamp, UTC).isoformat(),
            "session_ids": " ".join(sessions),
            **{name: value for name, value in line.fields.items()},
            "content": line.content,
            "key_id": key,
            "template": summary.templates[key],
            "parameters": summary.parser.parameters(line.content, key),
        }


def write_structured(summary: ParseSummary, config: LogBertConfig, path: str | Path) -> int:
    """Write every parsed line as CSV, JSON lines or Parquet (by the extension); returns the row count.

    Raises:
        InputDataError: an unknown extension, or Parquet without ``pyarrow`` installed.
    """
    out = Path(path)
    suffix = out.suffix.lower()
    if suffix not in STRUCTURED_FORMATS:
        raise InputDataError(f"{out}: the structured output must end in {', '.join(STRUCTURED_FORMATS)}")
    rows = list(structured_rows(summary, config))
    out.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".jsonl":
        with out.open("w", encoding="utf-8") as f:
            for row in rows:
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
    elif suffix == ".csv":
        columns = list(dict.fromkeys(k for row in rows for k in row))
        with out.open("w", encoding="utf-8", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=columns)
            writer.writeheader()
            for row in rows:
                writer.writerow({**row, "parameters": json.dumps(row["parameters"], ensure_ascii=False)})
    else:
        try:
            import pyarrow as pa
            import pyarrow.parquet as pq
        except ImportError:
            raise InputDataError("Parquet output needs pyarrow: pip install 'logbert[parquet]' (or pyarrow)") from None
        pq.write_table(pa.Table.from_pylist(rows), out)
    return len(rows)


def write_parse_summary(summary: ParseSummary, path: str | Path) -> None:
    """Templates with their key ids and line counts, and the read report, as JSON."""
    write_json(
        {
            "templates": [
                {"key_id": k, "template": t, "lines": c}
                for k, (t, c) in enumerate(zip(summary.templates, summary.counts, strict=True))
            ],
            "read_report": summary.report.as_dict(),
        },
        path,
    )
