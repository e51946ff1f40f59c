"""The artifact directory: everything a trained detector needs, and nothing executable.

Files:

* ``config.json``: the full :class:`~logbert.config.LogBertConfig`.
* ``vocab.json``: ``Vocab.to_dict()``.
* ``parser.json``: optional, an opaque JSON dict from the caller (the frozen parser's state).
* ``model.safetensors``: the encoder weights (``model.<name>``) and the VHM ``center``.
* ``signals.json``: time- and value-aware models only (``model.signals``): the training-quantile
  bucket edges of the time and value inputs and the channel scales (an opaque JSON dict from the
  caller, ``LogBertDetector.signals_state()``). Key-only artifacts have none, as before.
* ``calibration.json``, ``split.json``: records the training run keeps beside the model (how the
  threshold was chosen and the normal scores behind it; which sessions trained and validated it). They
  change decisions (``--target-fpr``, p-values, which sessions ``evaluate`` scores), so they are hashed
  and signed like the model (:data:`RECORD_FILES`).
* ``train_report.json``: what the training run did, for people; written with the rest, not hashed.
* ``meta.json``: threshold, logbert/torch versions and the sha256 of every other file.

Loading checks that the pieces belong together and raises :class:`UnknownArtifact` otherwise.
No pickle anywhere: weights are safetensors, the rest JSON.

Saving is all or nothing: every file is written into a staging folder inside the directory first, and
only then moved into place, ``meta.json`` removed before the first move and put back by the last one. A
save killed at any point leaves the old artifact whole (killed while staging), or a directory without
``meta.json``, which no loader takes for an artifact (killed while moving), or the new artifact whole.
Before, a retrain killed half way left the new model beside the old calibration, and it loaded.

``meta.json`` written by this version says ``"sha256_scope": "all"``: its table names every file of the
artifact, and a record file it does not name is refused. Artifacts saved before hashed only the model's
own files; they load as before, their record files unchecked (a logged note says so).

The SHA-256 hashes (of every file, and of ``meta.json`` itself) detect corruption and careless
edits, not tampering: whoever can rewrite the files can rewrite the hashes. For authenticity, set
``LOGBERT_ARTIFACT_KEY`` to a secret: saving then signs ``meta.json`` (HMAC-SHA256 over its own
hash, which covers every file's hash), and loading refuses an unsigned or wrongly signed artifact.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import math
import os
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file
from safetensors.torch import save as tensors_to_bytes
from torch import Tensor

import logbert
from logbert.config import LogBertConfig, config_from_dict
from logbert.errors import ConfigError, UnknownArtifact
from logbert.files import artifact_dir, fsync_dir, write_file
from logbert.model.encoder import LogBertEncoder
from logbert.parsing.vocab import Vocab

logger = logging.getLogger(__name__)

ARTIFACT_FORMAT = "logbert-artifact"
ARTIFACT_VERSION = 1
CONFIG_FILE, VOCAB_FILE, PARSER_FILE, MODEL_FILE, META_FILE = (
    "config.json",
    "vocab.json",
    "parser.json",
    "model.safetensors",
    "meta.json",
)
SIGNALS_FILE = "signals.json"
CALIBRATION_FILE = "calibration.json"  # how the threshold was chosen, and the normal scores it came from
SPLIT_FILE = "split.json"  # the sessions the model trained and validated on (evaluate leaves them out)
TRAIN_REPORT_FILE = "train_report.json"
#: the training run's per-epoch checkpoints, inside the artifact directory until the artifact is complete
CHECKPOINT_DIR = "checkpoint"
_REQUIRED = (CONFIG_FILE, VOCAB_FILE, MODEL_FILE)
#: JSON records of the training run that change decisions: hashed and signed like the model's own files
RECORD_FILES = (CALIBRATION_FILE, SPLIT_FILE)
#: written with the artifact for people and never read to decide: not hashed (an edit must not stop it loading)
REPORT_FILES = (TRAIN_REPORT_FILE,)
_OPTIONAL = (PARSER_FILE, SIGNALS_FILE, *RECORD_FILES)
_PREFIX = "model."
#: staging folders of saves in progress (or killed) inside the artifact directory
_STAGING = ".saving-"
#: meta.json key: "all" = its sha256 table names every file of the artifact (saved since record files are hashed)
_SCOPE = "sha256_scope"


@dataclass(slots=True)
class Artifact:
    """A loaded, consistent artifact."""

    config: LogBertConfig
    vocab: Vocab
    model: LogBertEncoder  # in eval mode
    center: Tensor  # (C,)
    threshold: float
    parser_state: dict[str, Any] | None
    meta: dict[str, Any]
    signals_state: dict[str, Any] | None = None  # signals.json (time- and value-aware models)
    # the record files there are (RECORD_FILES: calibration.json, split.json), name -> JSON object
    records: dict[str, dict[str, Any]] = field(default_factory=dict)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _dump(path: Path, data: Any) -> None:
    write_file(path, json.dumps(data, indent=1, sort_keys=True, allow_nan=False).encode("utf-8"))


def save_artifact(
    directory: str | Path,
    *,
    config: LogBertConfig,
    vocab: Vocab,
    model: LogBertEncoder,
    center: Tensor,
    threshold: float,
    parser_state: dict[str, Any] | None = None,
    extra_meta: dict[str, Any] | None = None,
    signals_state: dict[str, Any] | None = None,
    records: Mapping[str, dict[str, Any]] | None = None,
    reports: Mapping[str, dict[str, Any]] | None = None,
) -> Path:
    """Write an artifact directory (created if needed), all or nothing (see the module doc).

    The files of the artifact are exactly those given: an artifact file already there that is not
    (a ``parser.json``, a ``calibration.json`` of the model saved before) is removed, so that no file of
    another save is left beside this one. Other files in the directory (``checkpoint/``, a ``report.json``)
    stay.

    Args:
        directory: target directory.
        config: the config the model was trained with (``model.vocab_size == len(vocab)``).
        vocab: the fitted vocabulary.
        model: the trained encoder.
        center: (C,) the VHM centre.
        threshold: the decision threshold (higher score = more anomalous).
        parser_state: optional JSON-safe dict, stored as ``parser.json`` and returned on load.
        extra_meta: optional JSON-safe facts added to ``meta.json`` (e.g. the score kind, history).
        signals_state: optional JSON-safe dict, stored as ``signals.json`` (time- and value-aware models).
        records: JSON objects by file name, of :data:`RECORD_FILES` (hashed, returned on load).
        reports: JSON objects by file name, of :data:`REPORT_FILES` (not hashed, not read on load).

    Returns:
        The directory path.

    Raises:
        ValueError: the pieces do not fit together, the threshold is not finite, or a record or
            report name is not one of the artifact's.
        OSError: a file cannot be written (the old artifact, if any, is then left as it was).
    """
    if config.model.vocab_size != len(vocab):
        raise ValueError(f"config.model.vocab_size={config.model.vocab_size} but the vocabulary has {len(vocab)}")
    if not math.isfinite(threshold):
        raise ValueError(f"threshold must be finite, got {threshold}")
    if tuple(center.shape) != (config.model.d_model,):
        raise ValueError(f"center has shape {tuple(center.shape)}, expected ({config.model.d_model},)")
    records, reports = dict(records or {}), dict(reports or {})
    unknown = sorted(set(records) - set(RECORD_FILES)) + sorted(set(reports) - set(REPORT_FILES))
    if unknown:
        raise ValueError(f"not a record or report file of an artifact: {', '.join(unknown)}")
    documents: dict[str, Any] = {CONFIG_FILE: config.model_dump(mode="json"), VOCAB_FILE: vocab.to_dict()}
    documents.update({PARSER_FILE: parser_state} if parser_state is not None else {})
    documents.update({SIGNALS_FILE: signals_state} if signals_state is not None else {})
    documents.update(records)
    tensors = {_PREFIX + k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    tensors["center"] = center.detach().cpu().float().contiguous()

    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob(_STAGING + "*"):  # left by a save that was killed
        shutil.rmtree(old, ignore_errors=True)
    stage = Path(tempfile.mkdtemp(prefix=_STAGING, dir=out))
    try:
        for name, data in documents.items():
            _dump(stage / name, data)
        write_file(stage / MODEL_FILE, tensors_to_bytes(tensors))
        meta = {
            **(extra_meta or {}),
            "format": ARTIFACT_FORMAT,
            "format_version": ARTIFACT_VERSION,
            "threshold": float(threshold),
            "logbert_version": logbert.__version__,
            "torch_version": torch.__version__,
            "sha256": {name: _sha256(stage / name) for name in sorted([*documents, MODEL_FILE])},
            _SCOPE: "all",
        }
        meta[_SELF_HASH] = _meta_digest(meta)
        key = signing_key()
        if key is not None:
            meta[_SIGNATURE] = _sign(key, meta[_SELF_HASH])
        for name, data in reports.items():
            _dump(stage / name, data)
        _dump(stage / META_FILE, meta)
    except Exception:  # a full disk, no permission: the old artifact stays as it was, and nothing is left behind
        shutil.rmtree(stage, ignore_errors=True)
        raise
    _commit(stage, out, [*documents, MODEL_FILE, *reports])
    return out


def _commit(stage: Path, out: Path, names: list[str]) -> None:
    """Move the staged files ``names`` and then ``meta.json`` from ``stage`` into ``out``.

    From the removal of the old ``meta.json`` until the new one is moved in, ``out`` is no artifact: a kill
    there leaves files of two saves side by side, and :func:`load_artifact` refuses them as incomplete.
    """
    (out / META_FILE).unlink(missing_ok=True)
    for name in names:
        os.replace(stage / name, out / name)
    for name in (*_OPTIONAL, *REPORT_FILES):
        if name not in names:
            (out / name).unlink(missing_ok=True)  # another save's: it would be taken for this one's
    os.replace(stage / META_FILE, out / META_FILE)
    fsync_dir(out)
    shutil.rmtree(stage, ignore_errors=True)


#: Environment variable holding a secret that signs artifacts (HMAC-SHA256) and that loading checks.
SIGNING_KEY_ENV = "LOGBERT_ARTIFACT_KEY"
_SIGNATURE = "hmac_sha256"


def signing_key() -> bytes | None:
    """The artifact signing secret from ``LOGBERT_ARTIFACT_KEY`` (None when unset or empty)."""
    value = os.environ.get(SIGNING_KEY_ENV, "")
    return value.encode() if value else None


def _sign(key: bytes, digest: str) -> str:
    return hmac.new(key, digest.encode(), hashlib.sha256).hexdigest()


#: meta.json's hash of its own other fields: an edited threshold no longer loads silently.
_SELF_HASH = "meta_sha256"


def _meta_digest(meta: dict[str, Any]) -> str:
    body = {k: v for k, v in meta.items() if k not in (_SELF_HASH, _SIGNATURE)}
    return hashlib.sha256(json.dumps(body, sort_keys=True, allow_nan=False).encode()).hexdigest()


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e999
        raise ValueError(f"{text} is not a finite number")
    return value


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def _read_json(path: Path) -> Any:
    """The JSON in ``path``. NaN and Infinity (which Python's json reads, and strict JSON does not have) are
    refused here, naming the file: a ``"threshold": NaN`` got as far as the service's JSON answer and failed there
    with "Out of range float values are not JSON compliant"."""
    try:
        return json.loads(path.read_text(encoding="utf-8"), parse_constant=_no_constant, parse_float=_finite)
    except (OSError, UnicodeDecodeError, ValueError) as exc:  # json.JSONDecodeError is a ValueError
        raise UnknownArtifact(f"{path}: unreadable JSON ({exc})") from None


def _read_object(path: Path) -> dict[str, Any]:
    data = _read_json(path)
    if not isinstance(data, dict):
        raise UnknownArtifact(f"{path}: expected a JSON object, found {type(data).__name__}")
    return data


def _missing_meta(root: Path) -> str:
    """Why ``root`` has no ``meta.json``, and what to do: an interrupted training run or save, or nothing of ours."""
    said = f"{root} is not a logbert artifact: {META_FILE} is missing"
    if (root / CHECKPOINT_DIR).is_dir():
        return (
            f"{said}; a training run was interrupted there: `logbert train DATA -o {root} --resume` with the same "
            "data and settings finishes it"
        )
    if any((root / name).exists() for name in (*_REQUIRED, *_OPTIONAL)) or any(root.glob(_STAGING + "*")):
        return f"{said}: the artifact is incomplete (its save was interrupted); train it again"
    return said


def _check_files(root: Path, meta_path: Path, meta: dict[str, Any]) -> list[str]:
    """Check every file ``meta.json`` hashes; returns the record files to read (:data:`RECORD_FILES`).

    Raises:
        UnknownArtifact: no sha256 table, a required file unlisted, a listed file missing or changed, or (in an
            artifact whose table names every file) a record file it does not name.
    """
    hashes = meta.get("sha256")
    if not isinstance(hashes, dict):
        raise UnknownArtifact(f"{meta_path}: no sha256 table")
    complete = meta.get(_SCOPE) == "all"
    for name in _REQUIRED:
        if name not in hashes:
            raise UnknownArtifact(f"{meta_path} lists no hash for {name}")
    for name in (*_REQUIRED, *(n for n in _OPTIONAL if n in hashes)):
        path = root / name
        if not path.is_file():
            raise UnknownArtifact(f"{root}: {name} is missing")
        if _sha256(path) != hashes[name]:
            raise UnknownArtifact(f"{path} does not belong to this artifact (sha256 differs from {META_FILE})")
    unlisted = [name for name in _OPTIONAL if name not in hashes and (root / name).exists()]
    if complete and unlisted:
        raise UnknownArtifact(
            f"{root / unlisted[0]} is not part of this artifact ({META_FILE} lists no hash for it): "
            "it was put there after the save; remove it, or train again"
        )
    unchecked = [name for name in RECORD_FILES if name in unlisted]
    if unchecked:  # saved before record files were hashed: read as then, and said
        logger.warning(
            "%s was saved before its record files were hashed%s: %s read unchecked (train again to protect them)",
            root,
            " and signed" if signing_key() is not None else "",
            ", ".join(unchecked),
        )
    return [name for name in RECORD_FILES if name in hashes or name in unchecked]


def load_artifact(directory: str | Path) -> Artifact:
    """Load and cross-check an artifact directory written by :func:`save_artifact`.

    Returns:
        The :class:`Artifact` with the model rebuilt, weights loaded, in eval mode.

    Raises:
        UnknownArtifact: the directory or a file is missing, a hash does not match, the config
            does not parse, or the vocabulary, config and weights disagree.
    """
    root = artifact_dir(directory)
    meta_path = root / META_FILE
    if not meta_path.is_file():
        raise UnknownArtifact(_missing_meta(root))
    meta = _read_json(meta_path)
    if not isinstance(meta, dict) or meta.get("format") != ARTIFACT_FORMAT:
        raise UnknownArtifact(f"{meta_path}: not a {ARTIFACT_FORMAT} meta file")
    if meta.get("format_version") != ARTIFACT_VERSION:
        raise UnknownArtifact(f"{meta_path}: unsupported format_version {meta.get('format_version')!r}")
    if _SELF_HASH not in meta:  # saved before meta.json hashed itself: still loads, unprotected
        logger.warning("%s has no %s: its threshold is not protected against edits; retrain", meta_path, _SELF_HASH)
    elif meta[_SELF_HASH] != _meta_digest(meta):
        raise UnknownArtifact(f"{meta_path} was changed after the artifact was saved (its own hash differs)")
    key = signing_key()
    if key is not None:
        # The hashes above catch corruption and careless edits, not a tamperer who rewrites them;
        # the signature needs the secret, so only someone holding it can make an artifact load.
        signature = meta.get(_SIGNATURE)
        if not isinstance(signature, str):
            raise UnknownArtifact(f"{root} is not signed, and {SIGNING_KEY_ENV} asks for signed artifacts")
        if not hmac.compare_digest(signature, _sign(key, str(meta.get(_SELF_HASH)))):
            raise UnknownArtifact(f"{root}: the signature does not match {SIGNING_KEY_ENV} (tampered, or another key)")
    record_files = _check_files(root, meta_path, meta)
    hashes = meta["sha256"]
    threshold = meta.get("threshold")
    if not isinstance(threshold, int | float) or not math.isfinite(threshold):
        raise UnknownArtifact(f"{meta_path}: threshold must be a finite number, got {threshold!r}")

    try:
        stored = _read_object(root / CONFIG_FILE)  # a JSON list there raised AttributeError
        window = stored.get("window")
        if isinstance(window, dict) and "session_bounds" not in window:
            window["session_bounds"] = False  # trained before session bounds existed: scored without them
        if isinstance(window, dict) and "session_id_version" not in window:
            window["session_id_version"] = 1  # trained before the rules' second edition: its sessions as it knew them
        scoring = stored.get("scoring")
        if isinstance(scoring, dict) and "volume_weight" not in scoring:
            scoring["volume_weight"] = 0.0  # trained before the volume surprise: scored without it
        model = stored.get("model")
        if isinstance(model, dict) and "keys_see_signals" not in model:
            model["keys_see_signals"] = True  # trained before the setting: its key pass saw the times and values
        config = config_from_dict(stored)
    except ConfigError as exc:
        raise UnknownArtifact(f"{root / CONFIG_FILE}: {exc}") from None
    try:
        vocab = Vocab.from_dict(_read_object(root / VOCAB_FILE))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise UnknownArtifact(f"{root / VOCAB_FILE}: not a vocabulary ({exc})") from None
    parser_state = _read_object(root / PARSER_FILE) if PARSER_FILE in hashes else None
    signals_state = _read_object(root / SIGNALS_FILE) if SIGNALS_FILE in hashes else None
    records = {name: _read_object(root / name) for name in record_files}

    try:
        tensors = load_file(str(root / MODEL_FILE))
    except (SafetensorError, OSError) as exc:
        raise UnknownArtifact(f"{root / MODEL_FILE}: unreadable weights ({exc})") from None
    center = tensors.pop("center", None)
    if center is None or tuple(center.shape) != (config.model.d_model,):
        raise UnknownArtifact(f"{root / MODEL_FILE}: no center of shape ({config.model.d_model},)")
    named = [("center", center), *tensors.items()]
    broken = [name for name, t in named if t.is_floating_point() and not bool(t.isfinite().all())]
    if broken:
        raise UnknownArtifact(f"{root / MODEL_FILE}: NaN or infinite values in {', '.join(broken[:3])}")
    emb = tensors.get(_PREFIX + "token_emb.weight")
    if emb is None:
        raise UnknownArtifact(f"{root / MODEL_FILE}: no token embedding")
    if not (emb.shape[0] == len(vocab) == config.model.vocab_size):
        raise UnknownArtifact(
            f"{root}: vocabulary size {len(vocab)}, config vocab_size {config.model.vocab_size} and "
            f"embedding rows {emb.shape[0]} must all be equal"
        )
    state = {k.removeprefix(_PREFIX): v for k, v in tensors.items()}
    try:
        model = LogBertEncoder(config.model)
        model.load_state_dict(state)
    except (RuntimeError, ValueError) as exc:
        raise UnknownArtifact(f"{root / MODEL_FILE}: weights do not match config.json ({exc})") from None
    model.eval()
    return Artifact(
        config=config,
        vocab=vocab,
        model=model,
        center=center,
        threshold=float(threshold),
        parser_state=parser_state,
        meta=meta,
        signals_state=signals_state,
        records=records,
    )
