"""Replaying a log through the streaming engine in requests of a given size, and across a restart, and comparing
its sessions with offline ``score``'s: the parity checks of lines that belong to other lines (a stack trace's,
parser.continuation; a split container line's pieces, parser.envelope), and of the names of windows (``t<i>``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from logbert.streaming import AlertRecord, StreamEngine, StreamLimits
from logbert.streaming.journal import IngestJournal

LIMITS = StreamLimits(flush_interval_s=0.0)


def summaries(engine: StreamEngine, offline: dict[str, Any]) -> dict[str, tuple[float, int]]:
    """Each offline session's streamed (max score, lines)."""
    out = {}
    for sid in offline:
        summary = engine.session(sid)
        assert summary is not None, sid
        out[sid] = (round(summary.max_score, 4), summary.n_lines)
    return out


def offline_summaries(offline: dict[str, Any]) -> dict[str, tuple[float, int]]:
    """Each offline session's (score, keys), to compare with :func:`summaries`."""
    return {sid: (round(s.score, 4), s.n_keys) for sid, s in offline.items()}


class Alerts:
    """An alert sink that keeps every alert."""

    def __init__(self) -> None:
        self.alerts: list[AlertRecord] = []

    def add_alerts(self, alerts: Any) -> None:
        self.alerts.extend(alerts)


def replayed(detector: Any, lines: list[str], per_request: int, sink: Alerts | None = None) -> StreamEngine:
    """An engine that was given ``lines`` in requests of ``per_request``, every session closed and scored."""
    engine = StreamEngine(detector, LIMITS, alert_sink=sink)
    for i in range(0, len(lines), per_request):
        engine.ingest(lines[i : i + per_request])
    engine.close_all()
    assert engine.drain(30)
    return engine


def restarted(
    detector: Any, lines: list[str], cut: int, per_request: int, folder: Path, sink: Alerts | None = None
) -> StreamEngine:
    """An engine given ``lines[:cut]``, checkpointed and stopped; then one recovered from its journal and given the
    rest in requests of ``per_request``, every session closed and scored (returned)."""
    engine = StreamEngine(detector, LIMITS, journal=IngestJournal(folder), alert_sink=sink)
    engine.ingest(lines[:cut])
    assert engine.drain(30) and engine.checkpoint()  # what lies open at the cut is in the checkpoint only
    engine.shutdown(30)
    again = StreamEngine(detector, LIMITS, journal=IngestJournal(folder), alert_sink=sink)
    again.recover()
    for i in range(cut, len(lines), per_request):
        again.ingest(lines[i : i + per_request])
    again.close_all()
    assert again.drain(30)
    return again


#: a model small enough to train in seconds, over windows of 8 keys (a window fills mid-session: cuts are tested)
TINY = {
    "window.max_len": 8,
    "model.max_len": 8,
    "model.n_layers": 1,
    "model.d_model": 32,
    "model.d_ff": 64,
    "train.epochs": 2,
    "scoring.calibration": "split",
}


def trained_on(root: Path, lines: list[str], settings: dict[str, Any]) -> tuple[Any, Path, dict[str, Any]]:
    """A tiny model (:data:`TINY`, then ``settings``) trained on ``lines`` written to ``root``, and offline
    ``score``'s sessions of the same log by id: (detector, log, sessions)."""
    from logbert.config import LogBertConfig
    from logbert.pipeline.detector import load_detector, score
    from logbert.pipeline.fit import train

    log = root / "app.log"
    log.write_text("\n".join(lines) + "\n", encoding="utf-8")
    train(log, root / "art", LogBertConfig().with_overrides({**TINY, **settings}), progress=False)
    detector = load_detector(root / "art", need_parser=True)
    return detector, log, {s.session_id: s for s in score(detector, log)}
