"""``logbert parse``: mine templates from every parsable line of a raw log (no training, no split)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from logbert.config import LogBertConfig
from logbert.evaluation.report import write_json
from logbert.parsing.parser import LogParser
from logbert.parsing.reader import read_log
from logbert.records import ReadReport


@dataclass(slots=True)
class ParseSummary:
    templates: list[str]  # index = key id
    counts: list[int]  # lines per key id
    report: ReadReport


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
    return ParseSummary(list(parser.templates_), counts, report)


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
