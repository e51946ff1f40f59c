"""One-shot scoring: a batch of raw lines in, per-session results out, no state kept.

What ``logbert score`` does for a file, for the service's ``POST /v1/score``: the lines go through
the artifact's line rule and frozen parser, are grouped into units by the artifact's window mode
(:func:`logbert.windowing.windows.unit_rows`, the rule the offline corpus uses), and each unit is
scored by its worst window, its misses quoting their raw lines as offline. The streaming engine's
buffers are not touched. A time- and value-aware artifact gets each unit's times and values too
(its ``stream_signals``), as offline.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from logbert.records import KeySequence
from logbert.results import ParsedLine, SessionResult, with_raw_lines
from logbert.streaming.engine import LineRejection
from logbert.streaming.protocol import Scorer, signal_builder
from logbert.windowing.windows import unit_rows


@dataclass(frozen=True, slots=True)
class OneShotResult:
    """Sessions (or windows) of one batch, with what happened to its lines. Higher = more anomalous."""

    threshold: float  # a session is anomalous when its score is above it
    received: int  # lines (or key sequences) in the request
    sessions: list[SessionResult]  # in order of first appearance
    unrouted: int = 0  # parsed, but naming no session (mode "session")
    # lines repaired by the artifact's line rule, then parsed (as an ingest answer counts them): bytes that are not
    # UTF-8 or control characters (U+FFFD), and lines longer than parser.max_line_chars (truncated)
    binary: int = 0
    truncated: int = 0
    rejections: tuple[LineRejection, ...] = ()  # lines that gave no record (line_no = index + 1)


def score_lines(scorer: Scorer, lines: Sequence[str | bytes], *, explain: bool = True) -> OneShotResult:
    """Parse, group and score ``lines`` as one small log; higher scores = more anomalous."""
    outcomes, report = scorer.parse_lines(lines, start_line_no=1)
    parsed: list[ParsedLine] = []
    rejections: list[LineRejection] = []
    for index, outcome in enumerate(outcomes):
        if isinstance(outcome, str):
            rejections.append(LineRejection(index, index + 1, outcome))
        else:
            parsed.append(outcome)
    units, unrouted = unit_rows([p.session_ids for p in parsed], [p.timestamp for p in parsed], scorer.config.window)
    sequences = [
        KeySequence(
            session_id=unit_id,
            key_ids=[parsed[i].key_id for i in rows],
            line_nos=[parsed[i].line_no for i in rows],
            start_time=next((t for i in rows if (t := parsed[i].timestamp) is not None), None),
        )
        for unit_id, rows in units
    ]
    build = signal_builder(scorer)
    if build is not None:  # a unit is what offline builds signals for (a session, a sliding window, a time run)
        sequences = [
            replace(
                seq,
                signals=replace(
                    build(seq.key_ids, [parsed[i].timestamp for i in rows], [parsed[i].raw for i in rows]),
                    session_id=seq.session_id,
                ),
            )
            for seq, (_, rows) in zip(sequences, units, strict=True)
        ]
    # the batch is a small log: a session in flight at its first line is not flagged, as `logbert score` does
    start = next((p.timestamp for p in parsed if p.timestamp is not None), None)
    sessions = scorer.score_sessions(sequences, explain=explain, capture_start=start) if sequences else []
    if explain:  # each miss quotes its line, as `logbert score --explain` and the engine's alerts do
        sessions = with_raw_lines(sessions, lambda wanted: {p.line_no: p.raw for p in parsed if p.line_no in wanted})
    return OneShotResult(
        scorer.threshold, len(lines), sessions, unrouted, report.n_binary, report.n_truncated, tuple(rejections)
    )


def score_keys(scorer: Scorer, sequences: Sequence[KeySequence], *, explain: bool = True) -> OneShotResult:
    """Score pre-parsed key sequences (``[id,]k1 k2 ...`` files' content) as whole sessions."""
    sessions = scorer.score_sessions(list(sequences), explain=explain) if sequences else []
    return OneShotResult(scorer.threshold, len(sequences), sessions)
