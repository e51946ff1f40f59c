"""Rich tables the CLI prints; every piece of user text is escaped before Rich sees it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from rich.markup import escape
from rich.table import Table

if TYPE_CHECKING:  # logbert.api imports torch: `logbert parse` needs neither (only templates_table)
    from logbert.api import EvaluationResult, ParseSummary
    from logbert.results import SessionResult


def results_table(result: EvaluationResult, title: str = "held-out sessions, threshold from validation") -> Table:
    """LogBERT and each baseline side by side (same sessions, same protocol)."""
    from logbert.evaluation.report import comparison_table  # matplotlib: not for templates_table

    rows: dict[str, Mapping[str, Any]] = {"LogBERT": result.report}
    rows.update({name: rep for name, rep in result.baselines.items() if "skipped" not in rep})
    return comparison_table(rows, title=title)


def templates_table(summary: ParseSummary, top: int = 20) -> Table:
    """The ``top`` most frequent templates with their key ids and line counts."""
    table = Table(title=f"{len(summary.templates)} templates (top {min(top, len(summary.templates))} by lines)")
    table.add_column("key", justify="right")
    table.add_column("lines", justify="right")
    table.add_column("template", overflow="fold")
    order = sorted(range(len(summary.templates)), key=lambda k: -summary.counts[k])[:top]
    for k in order:
        table.add_row(str(k), str(summary.counts[k]), escape(summary.templates[k]))
    return table


def scores_table(results: Sequence[SessionResult], title: str, top: int = 50) -> Table:
    """Sessions by descending score (the first ``top``), with where they are and how rare."""
    table = Table(title=escape(title))
    for name in ("session", "score", "margin", "p", "anomaly", "lines", "first time", "unknown"):
        table.add_column(name, justify="left" if name in ("session", "first time") else "right")
    for r in sorted(results, key=lambda r: -r.score)[:top]:
        lines = "" if r.first_line_no is None else f"{r.first_line_no}-{r.last_line_no}"
        when = "" if r.start_time is None else datetime.fromtimestamp(r.start_time, UTC).strftime("%Y-%m-%d %H:%M:%S")
        table.add_row(
            escape(r.session_id),
            f"{r.score:.4f}",
            f"{r.score - r.threshold:+.4f}",
            "" if r.p_value is None else f"{r.p_value:.3g}",
            "[bold red]yes[/]" if r.is_anomaly else "no",
            lines,
            when,
            str(r.n_unknown),
        )
    return table
