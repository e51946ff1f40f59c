"""The artifact's record files (calibration.json, split.json) as the pipeline reads and writes them: through the
loaded detector, their errors naming the file, and a detector saved again keeping a consistent set."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from logbert.artifact import save_artifact
from logbert.config import LogBertConfig
from logbert.errors import UnknownArtifact
from logbert.model.encoder import LogBertEncoder
from logbert.parsing.vocab import Vocab
from logbert.pipeline.calibrate import calibration
from logbert.pipeline.detector import load_detector
from logbert.pipeline.estimator import LogBertDetector
from logbert.pipeline.evaluate import read_split

from ..test_artifact import _rehash  # what a deliberate tamperer does

torch.set_num_threads(1)

THRESHOLD = 0.5


def _artifact(directory: Path, parser_state: dict[str, object] | None = None) -> Path:
    vocab = Vocab.fit([[5, 6, 7]])
    config = LogBertConfig().with_overrides(
        {"model.vocab_size": len(vocab), "model.d_model": 16, "model.d_ff": 32, "model.n_heads": 2, "model.n_layers": 1}
    )
    record = calibration(config.scoring, THRESHOLD, [0.1, 0.2, 0.3, THRESHOLD])
    torch.manual_seed(0)
    return save_artifact(
        directory,
        config=config,
        vocab=vocab,
        model=LogBertEncoder(config.model),
        center=torch.ones(16),
        threshold=THRESHOLD,
        parser_state=parser_state,
        records={"calibration.json": record.to_dict(), "split.json": {"train": ["a"], "val": ["b"]}},
    )


def test_a_detector_saved_with_a_hand_set_threshold_drops_the_calibration_it_no_longer_has(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """`LogBertDetector.load(A); det.threshold_ = 1.0; det.save(A)` kept calibration.json: the artifact described
    1.0 as "quantile ... of N validation sessions" and --target-fpr ignored the new threshold's origin."""
    art = _artifact(tmp_path / "art")
    same = LogBertDetector.load(art)
    same.save(tmp_path / "copy")  # nothing changed: every record kept
    assert load_detector(tmp_path / "copy").calibration is not None
    assert json.loads((tmp_path / "copy" / "split.json").read_text()) == {"train": ["a"], "val": ["b"]}

    changed = LogBertDetector.load(art)
    changed.threshold_ = 1.0
    with caplog.at_level(logging.WARNING):
        changed.save(art)
    assert "calibration.json is not saved" in caplog.text
    assert not (art / "calibration.json").exists()
    reloaded = load_detector(art)
    assert reloaded.threshold == 1.0 and reloaded.calibration is None
    assert json.loads((art / "split.json").read_text()) == {"train": ["a"], "val": ["b"]}  # still this model's


def test_a_malformed_calibration_record_is_named_by_its_path(tmp_path: Path) -> None:
    art = _artifact(tmp_path / "art")
    record = json.loads((art / "calibration.json").read_text())
    record["normal_scores"] = "many"
    (art / "calibration.json").write_text(json.dumps(record))
    _rehash(art)
    with pytest.raises(UnknownArtifact, match=f"^{art / 'calibration.json'} is malformed"):
        load_detector(art)


def test_a_parser_state_of_an_unknown_version_is_named_by_its_path(tmp_path: Path) -> None:
    """"unsupported parser state version None" did not say which file held it."""
    art = _artifact(tmp_path / "art", parser_state={"version": None})
    with pytest.raises(UnknownArtifact, match=f"^{art / 'parser.json'}: unsupported parser state version None"):
        load_detector(art)


@pytest.mark.parametrize(
    ("record", "wrong"),
    [({"train": 5}, "'train' must be a list"), ({"val": [1]}, "'val' must be a list"), ({"marks": [1]}, "'marks'")],
)
def test_read_split_refuses_a_malformed_record_naming_the_file(
    tmp_path: Path, record: dict[str, object], wrong: str
) -> None:
    """evaluate with split.json holding {"train": 5} ended in a TypeError traceback."""
    detector = SimpleNamespace(directory=tmp_path, model=SimpleNamespace(records_={"split.json": record}))
    with pytest.raises(UnknownArtifact, match=f"^{tmp_path / 'split.json'}: {wrong}"):
        read_split(detector)  # type: ignore[arg-type]


def test_read_split_of_an_artifact_without_one_says_so(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    detector = SimpleNamespace(directory=tmp_path, model=SimpleNamespace(records_={}))
    assert read_split(detector)["train"] == []  # type: ignore[arg-type]
    assert "has no split.json" in caplog.text
