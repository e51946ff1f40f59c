import hashlib
import json
from pathlib import Path

import pytest
import torch

from logbert.artifact import _meta_digest, load_artifact, save_artifact
from logbert.config import LogBertConfig
from logbert.errors import UnknownArtifact
from logbert.model.encoder import LogBertEncoder
from logbert.parsing.vocab import Vocab

torch.set_num_threads(1)


def _save(directory: Path, keys: list[int], parser_state: dict[str, object] | None = None) -> LogBertConfig:
    vocab = Vocab.fit([keys])
    config = LogBertConfig().with_overrides(
        {"model.vocab_size": len(vocab), "model.d_model": 16, "model.d_ff": 32, "model.n_heads": 2, "model.n_layers": 1}
    )
    torch.manual_seed(0)
    model = LogBertEncoder(config.model)
    save_artifact(
        directory,
        config=config,
        vocab=vocab,
        model=model,
        center=torch.ones(16),
        threshold=0.25,
        parser_state=parser_state,
    )
    return config


def _rehash(directory: Path) -> None:
    """What a deliberate tamperer does: recompute every hash in meta.json, its own included."""
    meta = json.loads((directory / "meta.json").read_text())
    for name in meta["sha256"]:
        meta["sha256"][name] = hashlib.sha256((directory / name).read_bytes()).hexdigest()
    meta["meta_sha256"] = _meta_digest(meta)
    (directory / "meta.json").write_text(json.dumps(meta))


def test_round_trip(tmp_path: Path) -> None:
    config = _save(tmp_path, [5, 6, 7], {"k": [1, 2]})
    art = load_artifact(tmp_path)
    assert art.config == config and len(art.vocab) == config.model.vocab_size and art.threshold == 0.25
    assert art.parser_state == {"k": [1, 2]} and torch.equal(art.center, torch.ones(16))
    assert not art.model.training
    meta = json.loads((tmp_path / "meta.json").read_text())
    assert set(meta["sha256"]) == {"config.json", "vocab.json", "model.safetensors", "parser.json"}
    assert meta["torch_version"] == torch.__version__


def test_corrupted_weights_are_refused(tmp_path: Path) -> None:
    _save(tmp_path, [5, 6, 7])
    data = bytearray((tmp_path / "model.safetensors").read_bytes())
    data[-1] ^= 0xFF
    (tmp_path / "model.safetensors").write_bytes(bytes(data))
    with pytest.raises(UnknownArtifact, match="sha256"):
        load_artifact(tmp_path)


def test_a_vocabulary_from_another_artifact_is_refused(tmp_path: Path) -> None:
    _save(tmp_path / "a", [5, 6, 7])
    _save(tmp_path / "b", [5, 6, 7, 8, 9])
    (tmp_path / "a" / "vocab.json").write_bytes((tmp_path / "b" / "vocab.json").read_bytes())
    with pytest.raises(UnknownArtifact, match="does not belong"):
        load_artifact(tmp_path / "a")
    # even with the hash table rewritten to match, the sizes disagree
    _rehash(tmp_path / "a")
    with pytest.raises(UnknownArtifact, match="vocabulary size"):
        load_artifact(tmp_path / "a")


def test_missing_pieces_are_refused(tmp_path: Path) -> None:
    with pytest.raises(UnknownArtifact, match="not found"):
        load_artifact(tmp_path / "nope")
    _save(tmp_path, [5, 6])
    (tmp_path / "config.json").unlink()
    with pytest.raises(UnknownArtifact, match="config.json is missing"):
        load_artifact(tmp_path)
    (tmp_path / "meta.json").unlink()
    with pytest.raises(UnknownArtifact, match="meta.json is missing"):
        load_artifact(tmp_path)


def test_a_bad_config_is_refused(tmp_path: Path) -> None:
    _save(tmp_path, [5, 6])
    (tmp_path / "config.json").write_text('{"model": {"n_heads": "many"}}')
    _rehash(tmp_path)
    with pytest.raises(UnknownArtifact, match="config"):
        load_artifact(tmp_path)


def test_an_edited_threshold_is_refused(tmp_path: Path) -> None:
    _save(tmp_path, [5, 6])
    meta = json.loads((tmp_path / "meta.json").read_text())
    meta["threshold"] = 0.99  # the edit that silently cut the flagged sessions from 60 to 10
    (tmp_path / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(UnknownArtifact, match="changed after the artifact was saved"):
        load_artifact(tmp_path)


def test_rehashed_nan_weights_and_oversized_models_are_refused_before_use(tmp_path: Path) -> None:
    from safetensors.torch import load_file, save_file

    _save(tmp_path, [5, 6])
    tensors = load_file(str(tmp_path / "model.safetensors"))
    tensors["model.head.weight"][0, 0] = float("nan")
    save_file(tensors, str(tmp_path / "model.safetensors"))
    _rehash(tmp_path)
    with pytest.raises(UnknownArtifact, match="NaN or infinite values in model.head.weight"):
        load_artifact(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    config["model"].update(d_model=4096, d_ff=65_536)  # ~1.1e9 parameters: refused before any allocation
    (tmp_path / "config.json").write_text(json.dumps(config))
    _rehash(tmp_path)
    with pytest.raises(UnknownArtifact, match="parameters, more than"):
        load_artifact(tmp_path)


def test_an_artifact_saved_before_meta_hashed_itself_still_loads(tmp_path: Path) -> None:
    _save(tmp_path, [5, 6])
    meta = json.loads((tmp_path / "meta.json").read_text())
    del meta["meta_sha256"]
    (tmp_path / "meta.json").write_text(json.dumps(meta))
    assert load_artifact(tmp_path).threshold == 0.25


def test_a_signing_key_makes_tampering_detectable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOGBERT_ARTIFACT_KEY", "a secret the tamperer lacks")
    _save(tmp_path / "signed", [5, 6])
    assert load_artifact(tmp_path / "signed").threshold == 0.25
    # a tamperer rewrites the threshold and every hash, but cannot sign
    meta = json.loads((tmp_path / "signed" / "meta.json").read_text())
    meta["threshold"] = 0.99
    (tmp_path / "signed" / "meta.json").write_text(json.dumps(meta))
    _rehash(tmp_path / "signed")
    with pytest.raises(UnknownArtifact, match="signature does not match"):
        load_artifact(tmp_path / "signed")
    monkeypatch.delenv("LOGBERT_ARTIFACT_KEY")
    _save(tmp_path / "unsigned", [5, 6])
    monkeypatch.setenv("LOGBERT_ARTIFACT_KEY", "a secret the tamperer lacks")
    with pytest.raises(UnknownArtifact, match="not signed"):
        load_artifact(tmp_path / "unsigned")


def test_an_artifact_from_before_keys_see_signals_loads_as_it_was_trained(tmp_path: Path) -> None:
    """Its key pass saw the times and values (the only way then), whatever the default of the day."""
    _save(tmp_path, [5, 6, 7])
    stored = json.loads((tmp_path / "config.json").read_text())
    del stored["model"]["keys_see_signals"]
    (tmp_path / "config.json").write_text(json.dumps(stored))
    _rehash(tmp_path)
    assert load_artifact(tmp_path).config.model.keys_see_signals
