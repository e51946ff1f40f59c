"""Per-epoch checkpoints of the training loop, so an interrupted run can resume bit-exactly.

A checkpoint directory holds ``state.json`` (loop position, history, optimizer scalars, scheduler,
the fingerprint of config + data) and one ``epoch-NNNN/`` sub-directory with safetensors files
(weights, best weights so far, optimizer tensors). ``state.json`` is replaced last and names the
sub-directory, so an interruption at any point leaves the previous complete checkpoint in force.
No pickle: tensors are safetensors, the rest JSON.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file
from safetensors.torch import save as tensors_to_bytes
from torch import Tensor
from torch.optim import AdamW
from torch.optim.lr_scheduler import LambdaLR

from logbert.config import ModelConfig, TrainConfig
from logbert.errors import UnknownArtifact
from logbert.files import write_file
from logbert.model.encoder import LogBertEncoder
from logbert.windowing.dataset import MaskedKeyDataset

_STATE_FILE = "state.json"
_CHECKPOINT_VERSION = 1
#: what a checkpoint directory holds: state.json (and its .tmp while it is replaced), one epoch-NNNN/ of
#: safetensors files; cross-fit runs nest one such directory per model (fold1/ ... foldK/, final/)
_STATE_NAMES = frozenset({_STATE_FILE, "state.tmp"})
_EPOCH_DIR = re.compile(r"epoch-\d{4}")
_NESTED_DIR = re.compile(r"fold\d+|final")
_EPOCH_FILES = frozenset({"model.safetensors", "best.safetensors", "optimizer.safetensors"})
#: how a resumed run says it cannot go on from its checkpoint
_START_OVER = "drop --resume to train from the start"


def is_checkpoint_dir(directory: Path) -> bool:
    """Whether ``directory`` holds nothing but what :func:`save_checkpoint` writes (an empty folder too): what a fresh
    run may delete. ``train -o`` removed any ``checkpoint/`` folder, a user's own files with it.
    """
    if not directory.is_dir():
        return False
    for entry in directory.iterdir():
        if entry.is_symlink():
            return False
        if entry.name in _STATE_NAMES and entry.is_file():
            continue
        if _EPOCH_DIR.fullmatch(entry.name) and entry.is_dir():
            if all(f.name in _EPOCH_FILES and f.is_file() and not f.is_symlink() for f in entry.iterdir()):
                continue
            return False
        if _NESTED_DIR.fullmatch(entry.name) and is_checkpoint_dir(entry):
            continue
        return False
    return True


def _write_tensors(path: Path, tensors: dict[str, Tensor]) -> None:
    """safetensors' ``save_file``, written by :func:`logbert.files.write_file`: its mode follows the umask, and a
    full disk is an OSError that names the file (``save_file`` raised a SafetensorError traceback)."""
    write_file(path, tensors_to_bytes(tensors))


def _read_tensors(path: Path) -> dict[str, Tensor]:
    """A checkpoint's safetensors file; a missing, cut or damaged one is an error that names it.

    Raises:
        UnknownArtifact: the file cannot be read.
    """
    try:
        return load_file(str(path))
    except (SafetensorError, OSError) as exc:
        raise UnknownArtifact(f"cannot resume: checkpoint file {path} is unreadable ({exc}); {_START_OVER}") from None


@dataclass(frozen=True, slots=True)
class EpochStats:
    """One finished epoch."""

    epoch: int  # 1-based
    train_loss: float
    val_loss: float
    lr: float  # learning rate at the end of the epoch
    seconds: float


@dataclass(slots=True)
class LoopState:
    """Where the loop stands after a finished epoch (saved in ``state.json``)."""

    epoch: int = 0  # epochs finished
    global_step: int = 0
    best_val: float = math.inf
    best_epoch: int = 0
    bad_epochs: int = 0
    finished: bool = False
    stopped_early: bool = False


def fingerprint(
    model_config: ModelConfig, train_config: TrainConfig, vocab_len: int, train: MaskedKeyDataset, val: MaskedKeyDataset
) -> str:
    """What a checkpoint must have been made with to be resumed: config, vocabulary size and data."""
    h = hashlib.sha256()
    skip = {"device", "num_threads", "compile", "cpu_matmul"}  # do not change the result (beyond rounding)
    for added in ("cut_ratio", "order_jitter"):
        if getattr(train_config, added) == 0:
            skip.add(added)  # off: the fingerprint of a checkpoint made before the setting existed
    if train_config.precision == "fp32":
        skip.add("precision")  # likewise
    if train_config.center_from == "pass":
        skip.add("center_from")  # the default: the fingerprint of a checkpoint made before the setting existed
    if not train_config.vhm_per_dimension:
        skip.add("vhm_per_dimension")  # the default: the fingerprint of a checkpoint made before the setting existed
    if train_config.pattern_power == 1.0:
        skip.add("pattern_power")  # the default: the fingerprint of a checkpoint made before the setting existed
    if train_config.center_rows == 0 or len(train.rows) <= train_config.center_rows:
        skip.add("center_rows")  # every row is read, as before the setting existed
    # model.positions on and model.mark_last off (the defaults): the fingerprint of a checkpoint made before the
    # settings existed
    defaults = {name for name, default in (("positions", True), ("mark_last", False))
                if getattr(model_config, name) == default}
    h.update(model_config.model_dump_json(exclude=defaults or None).encode())
    h.update(json.dumps(train_config.model_dump(exclude=skip), sort_keys=True).encode())
    h.update(str(vocab_len).encode())
    for ds in (train, val):
        h.update(json.dumps(ds.rows).encode())
        for extra in (ds.gap_rows, ds.value_rows):  # time- and value-aware models only: key-only ones hash as before
            if extra is not None:
                h.update(json.dumps(extra).encode())
    return h.hexdigest()


def clone_state(model: torch.nn.Module) -> dict[str, Tensor]:
    return {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}


def _optimizer_to_files(opt: AdamW) -> tuple[dict[str, Tensor], dict[str, Any]]:
    sd = opt.state_dict()
    tensors: dict[str, Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for idx, entry in sd["state"].items():
        for name, value in entry.items():
            if isinstance(value, Tensor):
                tensors[f"{idx}.{name}"] = value.detach().cpu().contiguous()
            else:
                scalars.setdefault(str(idx), {})[name] = value
    return tensors, {"param_groups": sd["param_groups"], "scalars": scalars}


def _optimizer_from_files(tensors: dict[str, Tensor], meta: dict[str, Any]) -> dict[str, Any]:
    state: dict[int, dict[str, Any]] = {}
    for key, value in tensors.items():
        idx, _, name = key.partition(".")
        state.setdefault(int(idx), {})[name] = value
    for idx, entry in meta["scalars"].items():
        state.setdefault(int(idx), {}).update(entry)
    return {"state": state, "param_groups": meta["param_groups"]}


def _write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    write_file(tmp, json.dumps(data, indent=1).encode("utf-8"))
    os.replace(tmp, path)


def save_checkpoint(
    directory: Path,
    *,
    fingerprint: str,
    loop: LoopState,
    history: list[EpochStats],
    model: LogBertEncoder,
    best: dict[str, Tensor],
    center: Tensor | None,  # the VHM centre the next epoch starts from
    opt: AdamW,
    sched: LambdaLR,
    seed: int,
) -> None:
    # each epoch writes a fresh sub-directory; state.json is replaced last and names it, so an
    # interruption at any point leaves the previous complete checkpoint in force
    sub = f"epoch-{loop.epoch:04d}"
    target = directory / sub
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    weights = clone_state(model)
    if center is not None:
        weights["center"] = center.detach().cpu().contiguous()
    opt_tensors, opt_meta = _optimizer_to_files(opt)
    try:
        _write_tensors(target / "model.safetensors", weights)
        _write_tensors(target / "best.safetensors", best)
        _write_tensors(target / "optimizer.safetensors", opt_tensors)
    except OSError:  # a full disk: the previous checkpoint stays in force, and this one's pieces go
        shutil.rmtree(target, ignore_errors=True)
        raise
    _write_json_atomic(
        directory / _STATE_FILE,
        {
            "version": _CHECKPOINT_VERSION,
            "fingerprint": fingerprint,
            "dir": sub,
            "loop": asdict(loop),
            "history": [asdict(h) for h in history],
            "optimizer": opt_meta,
            "scheduler": sched.state_dict(),
            "rng": {"scheme": "torch.manual_seed(seed * 1000003 + epoch) at each epoch start", "seed": seed},
        },
    )
    for old in directory.glob("epoch-*"):
        if old.name != sub and old.is_dir():
            shutil.rmtree(old)


def load_checkpoint(
    directory: Path, fingerprint: str, model: LogBertEncoder, opt: AdamW, sched: LambdaLR
) -> tuple[LoopState, list[EpochStats], dict[str, Tensor], Tensor | None] | None:
    """The state a run continues from: loop, history, best weights, and the VHM centre the next epoch starts
    from (None where the run has none); None when ``directory`` holds no checkpoint."""
    state_path = directory / _STATE_FILE
    if not state_path.is_file():
        return None
    try:
        state = json.loads(state_path.read_text(encoding="utf-8"))
        if state.get("version") != _CHECKPOINT_VERSION:
            raise UnknownArtifact(f"{state_path}: unsupported checkpoint version {state.get('version')!r}")
        if state["fingerprint"] != fingerprint:
            raise UnknownArtifact(
                f"the checkpoint in {directory} was made with other settings or other data: resume with the same "
                f"ones, or {_START_OVER}"
            )
        sub = directory / state["dir"]
        weights = _read_tensors(sub / "model.safetensors")
        center = weights.pop("center", None)
        model.load_state_dict(weights)
        best = _read_tensors(sub / "best.safetensors")
        opt.load_state_dict(_optimizer_from_files(_read_tensors(sub / "optimizer.safetensors"), state["optimizer"]))
        sched.load_state_dict(state["scheduler"])
        loop = LoopState(**state["loop"])
        history = [EpochStats(**h) for h in state["history"]]
    except (OSError, KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise UnknownArtifact(f"cannot resume from checkpoint {directory}: {exc}; {_START_OVER}") from exc
    return loop, history, best, center
