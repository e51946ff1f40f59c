"""A category surprise streamed (issue 13, items 1 and 3): ``tail`` and the engine build a window's values with
``pipeline.signals.line_signals`` and the one ``encode_signals``, so a power state never seen in training
gives its session the offline score, decision and explanation."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from logbert.streaming.tail import TailOptions, run_tail

from ..conftest import tiny_nova_config
from .test_signals import LIMITS, MAX_LEN, Recorder, _assert_offline_scores, _stream


def test_an_unseen_power_state_scores_streamed_as_offline(tmp_path: Path) -> None:
    from logbert.datasets.simulator import CATEGORY_FAULT_TYPES, write_simulated
    from logbert.pipeline.detector import load_detector, score
    from logbert.pipeline.fit import train

    files = write_simulated(
        tmp_path / "sim", n_instances=60, anomaly_ratio=0.25, seed=3, time_value_faults=True, category_faults=True
    )
    config = tiny_nova_config(MAX_LEN).with_overrides({"scoring.calibration": "split", "model.signals": "values"})
    train(files.log, tmp_path / "art", config, labels=files.labels, progress=False)
    detector = load_detector(tmp_path / "art", need_parser=True)
    assert detector.model.buckets_ is not None and detector.model.buckets_.categories
    with files.fault_types.open(encoding="utf-8") as f:
        faults = {row["instance_id"]: row["fault_type"] for row in csv.DictReader(f)}
    category = {sid for sid, fault in faults.items() if fault in CATEGORY_FAULT_TYPES}
    offline = {s.session_id: s for s in score(detector, files.log, explain=True)}
    assert category and all(offline[sid].is_anomaly for sid in category)
    for sid in category:
        assert any("power_state '" in s and "never seen in training" in s for s in offline[sid].surprises), sid

    # streamed: the engine (the service's path) and tail give the same scores
    rec = Recorder(detector)
    _stream(rec, files.log)
    assert all(w.signals is not None for w in rec.windows)
    _assert_offline_scores(rec.session_scores(), offline)
    # the category sessions' scores are the category's (the value channel over its scale), not a tie at a floor
    scale = (detector.model.scales_ or (1.0, 1.0, 1.0))[2]
    for sid in category:
        assert rec.session_scores()[sid] == pytest.approx(offline[sid].score, abs=1e-5)
        assert offline[sid].score == pytest.approx(40.0 / scale, rel=1e-4)

    out = io.StringIO()
    tail_rec = Recorder(detector)
    run_tail(tail_rec, str(files.log), LIMITS, TailOptions(follow=False, json_output=True, batch_lines=97), out)
    _assert_offline_scores(tail_rec.session_scores(), offline)
    alerts = {json.loads(line)["session_id"]: json.loads(line) for line in out.getvalue().splitlines()}
    for sid in category:
        assert any("never seen in training" in s for s in alerts[sid]["surprises"]), sid
