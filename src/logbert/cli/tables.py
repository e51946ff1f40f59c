"""Rich tables the CLI prints; every piece of user text is escaped before Rich sees it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.markup import escape
from rich.table import Table

from logbert.api import EvaluationResult, ParseSummary
from logbert.evaluation.report import comparison_table


def results_table(result: EvaluationResult, title: str = "held-out sessions, threshold from validation") -> Table:
    """LogBERT and each baseline side by side (same sessions, same protocol)."""
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
