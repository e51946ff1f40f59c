"""evaluate's baselines are fitted and calibrated on the sessions the artifact's threshold came from."""

from __future__ import annotations

from types import SimpleNamespace

from logbert.config import LogBertConfig
from logbert.pipeline.evaluate import _evaluate_baselines
from logbert.records import KeySequence


def _pool() -> tuple[list[KeySequence], dict[str, list[str]]]:
    train = [KeySequence(f"t{i}", [1, 2, 3, 4], label=0) for i in range(30)]
    # an artifact trained without labels calibrated on "disk-full" too; the labels given to evaluate now say it failed
    val = [KeySequence(f"v{i}", [1, 2, 3, 4], label=0) for i in range(5)] + [KeySequence("disk-full", [1, 2, 9, 4], 1)]
    return train + val, {"val": [s.session_id for s in val]}


def test_baselines_calibrate_on_the_validation_failures_an_unlabelled_artifact_did() -> None:
    pool, split = _pool()
    test = [KeySequence("again", [1, 2, 9, 4], label=1), KeySequence("fine", [1, 2, 3, 4], label=0)]
    detector = SimpleNamespace(config=LogBertConfig(), schema=None)
    reports, scores = _evaluate_baselines(["new_event"], detector, pool, split, test)  # type: ignore[arg-type]
    # "disk-full" holds a key the training split never had: its new_event score (1) is part of the calibration, as
    # it was of the artifact's, so a session like it is not flagged (told the labels, the baseline flagged it)
    assert reports["new_event"]["threshold"] == 1.0 and list(scores["new_event"]) == [1.0, 0.0]
    assert reports["new_event"]["recall"] == 0.0


def test_labelled_f1_still_sets_the_labelled_validation_anomalies_apart() -> None:
    pool, split = _pool()
    test = [KeySequence("again", [1, 2, 9, 4], label=1), KeySequence("fine", [1, 2, 3, 4], label=0)]
    config = LogBertConfig().with_overrides({"scoring.threshold": "labelled_f1", "scoring.calibration": "split"})
    detector = SimpleNamespace(config=config, schema=None)
    reports, _ = _evaluate_baselines(["new_event"], detector, pool, split, test)  # type: ignore[arg-type]
    assert reports["new_event"]["threshold"] < 1.0 and reports["new_event"]["recall"] == 1.0
