"""The files of a training checkpoint: what logbert recognises as its own, and what a damaged or unwritable one says."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

import pytest

from logbert import files
from logbert.errors import UnknownArtifact
from logbert.training.checkpoint import is_checkpoint_dir

from .test_trainer import TRAIN, _train

ONE_EPOCH = TRAIN.model_copy(update={"epochs": 1})


def test_a_checkpoint_folder_is_recognised_by_what_logbert_writes_there(tmp_path: Path) -> None:
    """train -o removed any checkpoint/ folder, a user's own files with it: only logbert's may go."""
    ours = tmp_path / "ours"
    _train(ours, ONE_EPOCH)
    assert sorted(p.name for p in ours.iterdir()) == ["epoch-0001", "state.json"]
    assert is_checkpoint_dir(ours)
    nested = tmp_path / "nested"  # cross-fit: one checkpoint per model
    for sub in ("fold1", "final"):
        _train(nested / sub, ONE_EPOCH)
    (tmp_path / "empty").mkdir()
    (tmp_path / "cut" / "epoch-0001").mkdir(parents=True)  # killed in its first epoch, before state.json
    assert is_checkpoint_dir(nested) and is_checkpoint_dir(tmp_path / "empty") and is_checkpoint_dir(tmp_path / "cut")
    (ours / "notes.txt").write_text("mine")
    (nested / "final" / "epoch-0001" / "thesis.tex").write_text("mine")
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "cat.jpg").write_bytes(b"\xff\xd8")
    assert not any(is_checkpoint_dir(p) for p in (ours, nested, tmp_path / "photos", tmp_path / "none"))


def test_resuming_from_a_truncated_checkpoint_names_the_file_and_says_to_start_over(tmp_path: Path) -> None:
    """A cut model.safetensors ended --resume in a SafetensorError traceback."""
    _train(tmp_path, ONE_EPOCH)
    weights = tmp_path / "epoch-0001" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    with pytest.raises(UnknownArtifact, match=f"checkpoint file {weights} is unreadable .*drop --resume"):
        _train(tmp_path, ONE_EPOCH)


def test_a_full_disk_while_checkpointing_leaves_no_partial_epoch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """safetensors' save_file raised a SafetensorError traceback ("No space left on device", no path), and left the
    half-written epoch folder."""
    real = files.write_file

    def full(path: Path, data: bytes) -> None:
        if path.name == "best.safetensors":
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))  # as write_file says it
        real(path, data)

    monkeypatch.setattr("logbert.training.checkpoint.write_file", full)
    with pytest.raises(OSError, match="No space left on device"):
        _train(tmp_path, ONE_EPOCH)
    assert not (tmp_path / "epoch-0001").exists() and not (tmp_path / "state.json").exists()


def test_write_file_names_the_file_of_a_full_disk_and_follows_the_umask(tmp_path: Path) -> None:
    if Path("/dev/full").exists():
        with pytest.raises(OSError, match="No space left on device") as caught:
            files.write_file(Path("/dev/full"), b"x" * 10)
        assert caught.value.filename == "/dev/full"
    old = os.umask(0o027)
    try:
        files.write_file(tmp_path / "w", b"x")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "w").stat().st_mode) == 0o640
