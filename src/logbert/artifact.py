"""The artifact directory: everything a trained detector needs, and nothing executable.

Files:

* ``config.json``: the full :class:`~logbert.config.LogBertConfig`.
* ``vocab.json``: ``Vocab.to_dict()``.
* ``parser.json``: optional, an opaque JSON dict from the caller (the frozen parser's state).
* ``model.safetensors``: the encoder weights (``model.<name>``) and the VHM ``center``.
* ``signals.json``: time- and value-aware models only (``model.signals``): the training-quantile
  bucket edges of the time and value inputs and the channel scales (an opaque JSON dict from the
  caller, ``LogBertDetector.signals_state()``). Key-only artifacts have none, as before.
* ``meta.json``: threshold, logbert/torch versions and the sha256 of every other file.

Loading checks that the pieces belong together and raises :class:`UnknownArtifact` otherwise.
No pickle anywhere: weights are safetensors, the rest JSON.

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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import Tensor

import logbert
from logbert.config import LogBertConfig, config_from_dict
from logbert.errors import ConfigError, UnknownArtifact
from logbert.files import artifact_dir
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
_REQUIRED = (CONFIG_FILE, VOCAB_FILE, MODEL_FILE)
_PREFIX = "model."


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


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _dump(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=1, sort_keys=True, allow_nan=False), encoding="utf-8")


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
) -> Path:
    """Write an artifact directory (created if needed; existing artifact files are replaced).

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

    Returns:
        The directory path.

    Raises:
        ValueError: the pieces do not fit together, or the threshold is not finite.
    """
    if config.model.vocab_size != len(vocab):
        raise ValueError(f"config.model.vocab_size={config.model.vocab_size} but the vocabulary has {len(vocab)}")
    if not math.isfinite(threshold):
        raise ValueError(f"threshold must be finite, got {threshold}")
    if tuple(center.shape) != (config.model.d_model,):
        raise ValueError(f"center has shape {tuple(center.shape)}, expected ({config.model.d_model},)")
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    (out / META_FILE).unlink(missing_ok=True)  # an interrupted save leaves no valid-looking artifact
    _dump(out / CONFIG_FILE, config.model_dump(mode="json"))
    _dump(out / VOCAB_FILE, vocab.to_dict())
    parser_path = out / PARSER_FILE
    if parser_state is not None:
        _dump(parser_path, parser_state)
    else:
        parser_path.unlink(missing_ok=True)
    signals_path = out / SIGNALS_FILE
    if signals_state is not None:
        _dump(signals_path, signals_state)
    else:
        signals_path.unlink(missing_ok=True)
    tensors = {_PREFIX + k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    tensors["center"] = center.detach().cpu().float().contiguous()
    save_file(tensors, str(out / MODEL_FILE))
    files = [
        *_REQUIRED,
        *([PARSER_FILE] if parser_state is not None else []),
        *([SIGNALS_FILE] if signals_state is not None else []),
    ]
    meta = {
        **(extra_meta or {}),
        "format": ARTIFACT_FORMAT,
        "format_version": ARTIFACT_VERSION,
        "threshold": float(threshold),
        "logbert_version": logbert.__version__,
        "torch_version": torch.__version__,
        "sha256": {name: _sha256(out / name) for name in files},
    }
    meta[_SELF_HASH] = _meta_digest(meta)
    key = signing_key()
    if key is not None:
        meta[_SIGNATURE] = _sign(key, meta[_SELF_HASH])
    _dump(out / META_FILE, meta)
    return out


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


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UnknownArtifact(f"{path}: unreadable JSON ({exc})") from None


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
        raise UnknownArtifact(f"{root} is not a logbert artifact: {META_FILE} is missing")
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
    hashes = meta.get("sha256")
    if not isinstance(hashes, dict):
        raise UnknownArtifact(f"{meta_path}: no sha256 table")
    optional = [name for name in (PARSER_FILE, SIGNALS_FILE) if name in hashes]
    for name in (*_REQUIRED, *optional):
        path = root / name
        if name not in hashes:
            raise UnknownArtifact(f"{meta_path} lists no hash for {name}")
        if not path.is_file():
            raise UnknownArtifact(f"{root}: {name} is missing")
        if _sha256(path) != hashes[name]:
            raise UnknownArtifact(f"{path} does not belong to this artifact (sha256 differs from {META_FILE})")
    threshold = meta.get("threshold")
    if not isinstance(threshold, int | float) or not math.isfinite(threshold):
        raise UnknownArtifact(f"{meta_path}: threshold must be a finite number, got {threshold!r}")

    try:
        stored = _read_json(root / CONFIG_FILE)
        window = stored.get("window") if isinstance(stored, dict) else None
        if isinstance(window, dict) and "session_bounds" not in window:
            window["session_bounds"] = False  # trained before session bounds existed: scored without them
        model = stored.get("model") if isinstance(stored, dict) else None
        if isinstance(model, dict) and "keys_see_signals" not in model:
            model["keys_see_signals"] = True  # trained before the setting: its key pass saw the times and values
        config = config_from_dict(stored)
    except ConfigError as exc:
        raise UnknownArtifact(f"{root / CONFIG_FILE}: {exc}") from None
    try:
        vocab = Vocab.from_dict(_read_json(root / VOCAB_FILE))
    except (KeyError, TypeError, ValueError) as exc:
        raise UnknownArtifact(f"{root / VOCAB_FILE}: not a vocabulary ({exc})") from None
    parser_state = _read_json(root / PARSER_FILE) if PARSER_FILE in hashes else None
    if parser_state is not None and not isinstance(parser_state, dict):
        raise UnknownArtifact(f"{root / PARSER_FILE}: expected a JSON object")
    signals_state = _read_json(root / SIGNALS_FILE) if SIGNALS_FILE in hashes else None
    if signals_state is not None and not isinstance(signals_state, dict):
        raise UnknownArtifact(f"{root / SIGNALS_FILE}: expected a JSON object")

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
    )
