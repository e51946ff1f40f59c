"""The volume surprise of time windows (scoring.volume_weight): the rule, the detector's use of it, the artifact."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from logbert.config import LogBertConfig
from logbert.errors import UnknownArtifact
from logbert.pipeline.estimator import LogBertDetector
from logbert.pipeline.sessions import session_scores, session_windows
from logbert.records import KeySequence
from logbert.scoring.volume import VOLUME_MARGIN, VolumeReference, piece_volumes, window_totals
from tests.test_artifact import _rehash

torch.set_num_threads(1)


def test_a_piece_counts_the_lines_of_its_window_before_it_and_a_window_its_pieces() -> None:
    assert piece_volumes([0, 12, 24], [12, 12, 5]) == [12, 24, 29]
    # a window's lines are its last piece's volume: the next piece starts another window (offset 0), or none follows
    assert window_totals([0, 12, 24, 0, 0, 12], [12, 12, 5, 7, 12, 1]) == [29, 7, 13]
    assert window_totals([], []) == []


def test_no_surprise_up_to_twice_the_busiest_normal_window_then_one_unit_per_doubling() -> None:
    ref = VolumeReference.fit(range(10, 30))  # 20 windows of 10..29 lines: a margin of 58
    assert ref.margin == VOLUME_MARGIN * 29 == 58
    got = ref.surprise([5, 29, 40, 58, 59, 116, 232])
    unit = math.log(21)  # the surprise of a window busier than all 20
    # load that drifts up to twice the busiest normal window is no storm: 0; beyond it, log(n + 1) a doubling
    np.testing.assert_allclose(got, [0.0, 0.0, 0.0, 0.0, unit * math.log2(59 / 58), unit, 2 * unit])
    assert got[4] < got[5] < got[6]  # four times the busiest scores more than one barely past the margin
    assert VolumeReference(()).surprise([1, 100]).tolist() == [0.0, 0.0]  # no reference: no surprise
    # the unit grows with the evidence: the same storm against 200 normal windows instead of 20
    assert VolumeReference.fit(list(range(10, 30)) * 10).surprise([116])[0] == pytest.approx(math.log(201))


def test_reference_round_trips_through_json_and_rejects_what_it_did_not_write() -> None:
    ref = VolumeReference.fit([3, 5, 5, 9])
    assert VolumeReference.from_dict(json.loads(json.dumps(ref.to_dict()))) == ref
    assert ref.to_dict() == {"histogram": [[3, 1], [5, 2], [9, 1]]}
    for bad in ([], {"histogram": {}}, {"histogram": [[3]]}, {"histogram": [[3, -1]]}, {"histogram": [[2.5, 1]]},
                {"histogram": [[True, 1]]}):
        with pytest.raises(ValueError):
            VolumeReference.from_dict(bad)
    assert ref.describe(36) == (
        "36 lines in this time window so far: 4.0 times the busiest of 4 normal training windows (9 lines)"
    )


# -- the detector ---------------------------------------------------------------------------------

CYCLE = [10, 11, 12, 13, 14, 15]
# normal time windows of 6 to 14 lines of a cycle of known keys; a storm: 96 lines of the same cycle, cut into
# pieces of 12 keys, each of which looks like a normal window
NORMAL = [KeySequence(f"t{i}", (CYCLE * 3)[: 6 + i % 9]) for i in range(90)]
STORM = KeySequence("storm", (CYCLE * 16)[:96])


def _config(weight: float) -> LogBertConfig:
    return LogBertConfig().with_overrides(
        {
            "window.mode": "time",
            "window.max_len": 12,
            "model.max_len": 12,
            "model.d_model": 32,
            "model.d_ff": 64,
            "model.n_heads": 2,
            "model.n_layers": 1,
            "model.dropout": 0.0,
            "train.epochs": 2,
            "train.min_steps": 0,
            "train.batch_size": 16,
            "train.seed": 3,
            "scoring.score": "max_nll",
            "scoring.volume_weight": weight,
        }
    )


@pytest.fixture(scope="module")
def fitted() -> dict[float, LogBertDetector]:
    out = {}
    for weight in (0.0, 1.0):
        config = _config(weight)
        train, _ = session_windows(NORMAL[:80], config.window)
        val, _ = session_windows(NORMAL[80:], config.window)
        out[weight] = LogBertDetector(config).fit(
            [w.key_ids for w in train],
            [w.key_ids for w in val],
            progress=False,
            offsets=[w.unit_offset for w in train],
            val_offsets=[w.unit_offset for w in val],
        )
    return out


def test_the_weight_adds_the_surprise_of_each_piece_so_far_and_flags_the_storm(
    fitted: dict[float, LogBertDetector],
) -> None:
    off, on = fitted[0.0], fitted[1.0]
    assert off.volumes_ is None and not off.weighs_volume
    assert on.volumes_ == VolumeReference.fit([len(s.key_ids) for s in NORMAL[:80]])
    window = _config(1.0).window
    pieces, _ = session_windows([STORM], window)
    assert [p.unit_offset for p in pieces] == list(range(0, 96, 12))  # the storm's pieces: 12, 24, ..., 96 lines so far
    sessions = [STORM, *NORMAL[80:]]
    plain, weighted = session_scores(off, sessions, window), session_scores(on, sessions, window)
    # the same weights (same seed, the volume term does not touch training): the key scores agree, and the storm's
    # pieces score alike without the term (each looks like a normal window), so its score is its last piece's
    keys = off.decision_function([p.key_ids for p in pieces])
    surprise = on.volumes_.surprise(list(range(12, 97, 12)))  # type: ignore[union-attr]
    np.testing.assert_allclose(weighted[0], (keys + surprise).max(), atol=1e-9)
    # none up to twice the busiest normal window (14 lines), then growing
    assert surprise[:2].tolist() == [0.0, 0.0] and 0.0 < surprise[2] < surprise[3] < surprise[-1]
    assert not plain[0] > off.threshold_  # without the term the storm is an ordinary window ...
    assert weighted[0] > on.threshold_ >= weighted[1:].max() - 1e-9  # ... with it, flagged; the normal ones not


def test_an_alert_names_the_busy_window_and_equal_keys_at_another_offset_are_remembered_apart(
    fitted: dict[float, LogBertDetector], tmp_path: Path
) -> None:
    from logbert.pipeline.detector import Detector

    detector = Detector(LogBertDetector.load(fitted[1.0].save(tmp_path / "art")), None, tmp_path / "art")
    pieces, _ = session_windows([STORM, NORMAL[85]], _config(1.0).window)
    *_, last, normal = detector.score_sequences(pieces, explain=True)
    assert last.is_anomaly and not normal.is_anomaly and normal.surprises == ()
    assert last.surprises[0] == (
        "96 lines in this time window so far: 6.9 times the busiest of 80 normal training windows (14 lines)"
    )
    first = pieces[0]
    assert detector.memo_key(first.key_ids, 0) != detector.memo_key(first.key_ids, 84)
    off = fitted[0.0]
    assert off.memo_key(first.key_ids, 0) == off.memo_key(first.key_ids, 84)  # no volume term: the keys alone


def test_the_reference_is_saved_an_old_artifact_loads_without_it_and_a_missing_one_is_refused(
    fitted: dict[float, LogBertDetector], tmp_path: Path
) -> None:
    on = fitted[1.0]
    art = on.save(tmp_path / "art")
    loaded = LogBertDetector.load(art)
    assert loaded.volumes_ == on.volumes_
    pieces, _ = session_windows([STORM, *NORMAL[80:]], _config(1.0).window)
    keys, offsets = [p.key_ids for p in pieces], [p.unit_offset for p in pieces]
    np.testing.assert_array_equal(
        loaded.decision_function(keys, None, offsets), on.decision_function(keys, None, offsets)
    )
    assert on.volumes_ is not None
    assert json.loads((art / "meta.json").read_text())["window_volumes"] == on.volumes_.to_dict()
    off_art = fitted[0.0].save(tmp_path / "off")
    assert "window_volumes" not in json.loads((off_art / "meta.json").read_text())
    # an artifact trained before the setting (its config.json does not name it): scored as it was trained, without
    config = json.loads((off_art / "config.json").read_text())
    del config["scoring"]["volume_weight"]
    (off_art / "config.json").write_text(json.dumps(config))
    _rehash(off_art)
    old = LogBertDetector.load(off_art)
    assert old.config.scoring.volume_weight == 0.0 and old.volumes_ is None
    # a config that weighs volumes with a meta.json lacking them: refused
    config["scoring"]["volume_weight"] = 1.0
    (off_art / "config.json").write_text(json.dumps(config))
    _rehash(off_art)
    with pytest.raises(UnknownArtifact, match="window_volumes"):
        LogBertDetector.load(off_art)
