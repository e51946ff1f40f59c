"""Container runtimes' split lines in streaming (``parser.envelope``): a CRI line whose P pieces and F piece come in
different ingest calls, or on both sides of a restart, reads as offline: the same messages, keys and sessions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from logbert.config import LogBertConfig
from logbert.streaming import StreamEngine, StreamLimits
from logbert.streaming.journal import IngestJournal

LIMITS = StreamLimits(flush_interval_s=0.0)


def _log(n: int) -> list[str]:
    """Requests req-<i> in CRI lines around logfmt; every third request's second line split into P pieces, with a
    stderr line between them."""
    out: list[str] = []
    for i in range(n):
        t = f"2026-12-02T04:{i // 60:02d}:{i % 60:02d}"
        for j, msg in enumerate(("request received", "payment authorized", "request completed")):
            record = f'time={t}.{j:03d}Z level=info msg="{msg}" request_id=req-{i} path=/api/v1/checkout'
            stamp = f"{t}.{j:03d}000001Z"
            if j == 1 and i % 3 == 0:
                out += [f"{stamp} stdout P {record[:25]}", f"{stamp} stderr F level=warn msg=\"gc pause\" id=x{i}"]
                out += [f"{stamp} stdout P {record[25:60]}", f"{stamp} stdout F {record[60:]}"]
            else:
                out.append(f"{stamp} stdout F {record}")
    return out


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Path, dict[str, Any]]:
    from logbert.pipeline.detector import load_detector, score
    from logbert.pipeline.fit import train

    root = tmp_path_factory.mktemp("envelope")
    log = root / "pods.log"
    log.write_text("\n".join(_log(60)) + "\n", encoding="utf-8")
    config = LogBertConfig().with_overrides(
        {
            "parser.envelope": "cri",
            "parser.format": "logfmt",
            "window.session_pattern": r"request_id=(\S+)",
            "window.max_len": 8,
            "model.max_len": 8,
            "model.n_layers": 1,
            "model.d_model": 32,
            "model.d_ff": 64,
            "train.epochs": 2,
            "scoring.calibration": "split",
        }
    )
    train(log, root / "art", config, progress=False)
    detector = load_detector(root / "art", need_parser=True)
    offline = {s.session_id: s for s in score(detector, log)}
    assert offline["req-3"].n_keys == 3  # its 3 lines, the split one joined
    return detector, log, offline


def _summaries(engine: StreamEngine, offline: dict[str, Any]) -> dict[str, tuple[float, int]]:
    out = {}
    for sid in offline:
        summary = engine.session(sid)
        assert summary is not None, sid
        out[sid] = (round(summary.max_score, 4), summary.n_lines)
    return out


def _offline(offline: dict[str, Any]) -> dict[str, tuple[float, int]]:
    return {sid: (round(s.score, 4), s.n_keys) for sid, s in offline.items()}


@pytest.mark.parametrize("per_request", [1, 2, 5, 1000])
def test_requests_that_cut_a_split_line_give_the_offline_sessions(trained: Any, per_request: int) -> None:
    detector, log, offline = trained
    lines = log.read_text(encoding="utf-8").splitlines()
    engine = StreamEngine(detector, LIMITS)
    for i in range(0, len(lines), per_request):
        engine.ingest(lines[i : i + per_request])
    engine.close_all()
    assert engine.drain(30)
    stats = engine.stats()
    assert stats.rejected_malformed == 0  # a piece is accepted, read with the piece that ends it
    assert _summaries(engine, offline) == _offline(offline)
    engine.shutdown(30)


def test_a_restart_between_the_pieces_of_a_line_joins_them(trained: Any, tmp_path: Path) -> None:
    detector, log, offline = trained
    lines = log.read_text(encoding="utf-8").splitlines()
    cut = next(i for i, line in enumerate(lines) if " stdout P " in line) + 1  # after the first P piece
    engine = StreamEngine(detector, LIMITS, journal=IngestJournal(tmp_path / "j"))
    engine.ingest(lines[:cut])
    assert engine.drain(30) and engine.checkpoint()  # the open piece is in the checkpoint only
    engine.shutdown(30)
    again = StreamEngine(detector, LIMITS, journal=IngestJournal(tmp_path / "j"))
    again.recover()
    for i in range(cut, len(lines), 4):
        again.ingest(lines[i : i + 4])
    again.close_all()
    assert again.drain(30)
    assert _summaries(again, offline) == _offline(offline)
    again.shutdown(30)
