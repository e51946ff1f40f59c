"""Rich tables the CLI prints; every piece of user text is escaped before Rich sees it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from rich.table import Table
from rich.text import Text

from logbert.cli.markup import shown

if TYPE_CHECKING:  # logbert.api imports torch: `logbert parse` needs neither (only templates_table)
    from logbert.api import EvaluationResult, ParseSummary
    from logbert.results import SessionResult


def results_table(result: EvaluationResult) -> Table:
    """LogBERT and each baseline side by side (same sessions, same protocol), titled with what was scored: the
    report's unit (``WindowConfig.unit_noun``: sessions, sliding windows or time windows)."""
    from logbert.evaluation.report import comparison_table  # matplotlib: not for templates_table

    rows: dict[str, Mapping[str, Any]] = {"LogBERT": result.report}
    rows.update({name: rep for name, rep in result.baselines.items() if "skipped" not in rep})
    units = shown(str(result.report.get("unit", "sessions")))
    return comparison_table(rows, title=f"held-out {units}, each detector at the threshold it stored")


def templates_table(summary: ParseSummary, top: int = 20) -> Table:
    """The ``top`` most frequent templates with their key ids and line counts."""
    table = Table(title=f"{len(summary.templates)} templates (top {min(top, len(summary.templates))} by lines)")
    table.add_column("key", justify="right")
    table.add_column("lines", justify="right")
    table.add_column("template", overflow="fold")
    order = sorted(range(len(summary.templates)), key=lambda k: -summary.counts[k])[:top]
    for k in order:
        table.add_row(str(k), str(summary.counts[k]), shown(summary.templates[k]))
    return table


def scores_table(results: Sequence[SessionResult], title: str, top: int | None = 50, unit: str = "session") -> Table:
    """Sessions (or windows: ``unit``) by descending score (the first ``top``; None: all), with where they are and
    how rare."""
    table = Table(title=shown(title))
    for name in (unit, "score", "margin", "p", "anomaly", "lines", "first time", "unknown"):
        # an id is folded, never cut with an ellipsis: it is what the user copies to look the session up
        justify: Literal["left", "right"] = "left" if name in (unit, "first time") else "right"
        table.add_column(name, justify=justify, overflow="fold" if name == unit else "ellipsis")
    for r in sorted(results, key=lambda r: -r.score)[:top]:
        lines = "" if r.first_line_no is None else f"{r.first_line_no}-{r.last_line_no}"
        when = "" if r.start_time is None else datetime.fromtimestamp(r.start_time, UTC).strftime("%Y-%m-%d %H:%M:%S")
        table.add_row(
            shown(r.session_id),
            f"{r.score:.4f}",
            f"{r.score - r.threshold:+.4f}",
            "" if r.p_value is None else f"{r.p_value:.3g}",
            "[bold red]yes[/]" if r.is_anomaly else "no (in flight at the capture start)" if r.partial else "no",
            lines,
            when,
            str(r.n_unknown),
        )
    return table


def explanations_table(results: Sequence[SessionResult], top: int | None = 50, unit: str = "session") -> Table | None:
    """Why each anomalous session of :func:`scores_table` (its first ``top``, same order) was flagged: each key it
    names, the line behind it and the model's three likeliest keys there, then any time, value or length surprise.
    None when there is nothing to explain (no anomalous one): a table of headers alone read as a missing answer."""
    table = Table(title="why (the worst window of each anomalous one)")
    for name in (unit, "line", "seen", "expected"):
        table.add_column(name, overflow="fold")
    for r in sorted(results, key=lambda r: -r.score)[:top]:
        if not r.is_anomaly:
            continue
        for m in r.misses:
            expected = ", ".join(f"{shown(e.template)} ({e.probability:.2f})" for e in m.expected[:3])
            line = "" if m.line_no is None else str(m.line_no)
            table.add_row(shown(r.session_id), line, shown(m.template or "<template never seen in training>"), expected)
        for surprise in r.surprises:
            table.add_row(shown(r.session_id), "", shown(surprise), "")
    return table if table.row_count else None


def presets_table() -> Table:
    """Every built-in preset with the settings that tell them apart (what ``--preset NAME`` sets)."""
    from logbert.config import load_config, preset_description, preset_names, preset_settings

    table = Table(title="presets (--preset NAME): whole settings for one kind of log")
    for name in ("preset", "for", "parser.format", "sessions", "score"):
        table.add_column(name, overflow="fold")
    for name in preset_names():
        cfg = load_config(preset=name)
        w = cfg.window
        named = preset_settings(name).get("window", {})
        if w.mode == "session" and not ({"session_id", "session_pattern"} & named.keys()):
            units = f"one per key-file line (raw logs: session id {w.session_id})"
        elif w.mode == "session":
            units = f"session id {w.session_pattern or w.session_id}"
        else:
            units = w.rule()
        score = cfg.window_score or cfg.scoring.score  # what training scores its windows by
        table.add_row(name, shown(preset_description(name)), str(cfg.parser.format), shown(units), score)
    return table


def formats_table() -> Table:
    """The built-in header formats (``parser.format``): a header layout plus its masks and Drain settings."""
    from logbert.api import BUILTIN_FORMATS

    table = Table(
        title="header formats (--set parser.format=NAME): header layout, masks and Drain settings only",
        caption="container logs: --set parser.envelope=cri (containerd, CRI-O: /var/log/pods) or docker (json-file) "
        "unwraps each line first; any format here then reads the app's message as a plain line (its time, or the "
        "runtime's; the stream a field, stream=stdout; lines the runtime split joined again)",
    )
    table.add_column("parser.format")
    table.add_column("header layout (parser.log_format replaces it, the masks stay)", overflow="fold")
    for name, layout in BUILTIN_FORMATS.items():
        if name == "json":  # not a layout: what the JSON mode reads
            layout = "one JSON object per line: parser.json_message_keys -> content, json_time_keys -> time, other keys"
            layout += " -> fields (window.session_pattern sees them as name=value); with parser.log_format, the"
            layout += " message's own header (a container log driver's lines)"
        elif name == "csv":  # not a layout either: the JSON mode's reading of each CSV record
            layout = "one CSV record per line of the columns parser.csv_columns, read as a JSON object of those keys"
            layout += " (names matched to json_message_keys / json_time_keys without regard to case); the header row"
            layout += " and records of another number of fields do not match"
        elif name == "logfmt":  # nor this: the JSON mode's reading of key=value pairs
            layout = 'key=value pairs per line (key="quoted value"), read as a JSON object of those'
            layout += " keys (message and time keys as for csv); a line that is not pairs throughout does not match"
        table.add_row(name, Text(layout))  # a regex: shown as it is, never read as markup
    return table
