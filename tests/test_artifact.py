import errno
import hashlib
import json
import os
import shutil
import stat
from pathlib import Path
from typing import Any

import pytest
import torch

from logbert.artifact import _meta_digest, load_artifact, save_artifact
from logbert.config import LogBertConfig
from logbert.errors import UnknownArtifact
from logbert.model.encoder import LogBertEncoder
from logbert.parsing.vocab import Vocab

torch.set_num_threads(1)


def _save(
    directory: Path,
    keys: list[int],
    parser_state: dict[str, object] | None = None,
    *,
    threshold: float = 0.25,
    records: dict[str, dict[str, object]] | None = None,
) -> LogBertConfig:
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
        threshold=threshold,
        parser_state=parser_state,
        records=records,
        reports={"train_report.json": {"threshold": threshold}},
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


def test_an_artifact_from_before_the_second_session_rules_keeps_its_sessions(tmp_path: Path) -> None:
    """Trained when nova's "Deleted allocation for instance <uuid>" named no session: read now into the instance,
    that line would be a key the model never trained on at the end of every session, an alarm on each."""
    from logbert.windowing.windows import find_session_ids, session_id_pattern

    uuid = "b" * 8 + "-1111-2222-3333-" + "c" * 12
    report = f"INFO nova.scheduler.client.report [req-1] Deleted allocation for instance {uuid}"
    _save(tmp_path, [5, 6, 7])
    assert load_artifact(tmp_path).config.window.session_id_version == 2  # saved now: the rules of today
    assert find_session_ids(report, session_id_pattern(load_artifact(tmp_path).config.window))
    stored = json.loads((tmp_path / "config.json").read_text())
    del stored["window"]["session_id_version"]
    (tmp_path / "config.json").write_text(json.dumps(stored))
    _rehash(tmp_path)
    old = load_artifact(tmp_path).config.window
    assert old.session_id_version == 1 and old.session_id == "openstack_instance"
    assert find_session_ids(report, session_id_pattern(old)) == ()
    assert find_session_ids(f"[instance: {uuid}] VM Started", session_id_pattern(old)) == (uuid,)


def _records(threshold: float) -> dict[str, dict[str, object]]:
    return {
        "calibration.json": {"threshold": threshold, "normal_scores": [threshold / 2, threshold]},
        "split.json": {"train": [f"s{threshold}"], "val": []},
    }


class _Killed(BaseException):
    """A SIGKILL in the middle of a save: nothing after it runs, no handler sees it."""


def _kill_at(monkeypatch: pytest.MonkeyPatch, step: int) -> list[int]:
    """Make the ``step``-th file write, rename or removal of a save raise :class:`_Killed`; returns the count."""
    import logbert.artifact as artifact
    import logbert.files as files

    seen = [0]

    def counted(real: Any) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            seen[0] += 1
            if seen[0] == step:
                raise _Killed
            return real(*args, **kwargs)

        return wrapper

    monkeypatch.setattr(artifact, "write_file", counted(files.write_file))
    monkeypatch.setattr(artifact.os, "replace", counted(os.replace))
    monkeypatch.setattr(Path, "unlink", counted(Path.unlink))
    return seen


def test_a_save_killed_at_any_point_leaves_the_old_artifact_or_the_new_one_never_a_mix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A retrain killed while saving left the new model beside the old calibration and split, and it loaded: wrong
    thresholds at --target-fpr and wrong p-values, without a word. Killed at the weights, the old artifact was
    already gone."""
    art = tmp_path / "art"
    new_records = {"calibration.json": _records(0.75)["calibration.json"]}  # and no split.json, no parser.json

    def old_save() -> None:
        shutil.rmtree(art, ignore_errors=True)
        _save(art, [5, 6], {"p": 1}, threshold=0.25, records=_records(0.25))

    def new_save() -> None:
        _save(art, [5, 6, 7], None, threshold=0.75, records=new_records)

    old_save()
    n_old = len(load_artifact(art).vocab)  # the new save's vocabulary has one key more
    with monkeypatch.context() as m:
        steps = _kill_at(m, 0)
        new_save()
        n_steps = steps[0]
    outcomes = set()
    for step in range(1, n_steps + 1):
        old_save()
        with monkeypatch.context() as m, pytest.raises(_Killed):
            _kill_at(m, step)
            new_save()
        try:
            loaded = load_artifact(art)
        except UnknownArtifact as exc:
            assert "incomplete" in str(exc), (step, str(exc))
            outcomes.add("refused")
            continue
        cal, split = loaded.records["calibration.json"], loaded.records.get("split.json")
        old = (loaded.threshold, cal["threshold"], len(loaded.vocab), split, loaded.parser_state)
        if loaded.threshold == 0.25:
            assert old == (0.25, 0.25, n_old, _records(0.25)["split.json"], {"p": 1}), step
            assert json.loads((art / "train_report.json").read_text())["threshold"] == 0.25
            outcomes.add("old")
        else:
            assert old == (0.75, 0.75, n_old + 1, None, None), step
            assert not (art / "split.json").exists() and not (art / "parser.json").exists()
            outcomes.add("new")
    assert outcomes == {"old", "refused"}, outcomes  # killed at its last step at the latest: never complete
    _save(art, [5, 6, 7], threshold=0.75)  # the next save clears what the killed ones left
    assert load_artifact(art).threshold == 0.75 and not list(art.glob(".saving-*"))


def test_a_save_that_fails_leaves_the_old_artifact_and_no_staging_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import logbert.artifact as artifact

    _save(tmp_path, [5, 6], threshold=0.25)

    def full(path: Path, data: bytes) -> None:
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(artifact, "write_file", full)
    with pytest.raises(OSError, match="No space left"):
        _save(tmp_path, [5, 6, 7], threshold=0.75)
    assert load_artifact(tmp_path).threshold == 0.25 and not list(tmp_path.glob(".saving-*"))


def test_record_files_are_hashed_and_refused_when_changed_missing_or_not_listed(tmp_path: Path) -> None:
    """calibration.json and split.json change decisions (thresholds at --target-fpr, p-values, what evaluate
    scores) and were covered by no hash: an edit, or a deletion, went unnoticed."""
    _save(tmp_path / "a", [5, 6], threshold=0.25, records=_records(0.25))
    meta = json.loads((tmp_path / "a" / "meta.json").read_text())
    assert {"calibration.json", "split.json"} <= set(meta["sha256"]) and "train_report.json" not in meta["sha256"]
    assert load_artifact(tmp_path / "a").records == _records(0.25)
    for name in ("calibration.json", "split.json"):
        shutil.copytree(tmp_path / "a", tmp_path / "b")
        record = json.loads((tmp_path / "b" / name).read_text())
        record["edited"] = True
        (tmp_path / "b" / name).write_text(json.dumps(record))
        with pytest.raises(UnknownArtifact, match=f"{name} does not belong to this artifact"):
            load_artifact(tmp_path / "b")
        (tmp_path / "b" / name).unlink()
        with pytest.raises(UnknownArtifact, match=f"{name} is missing"):
            load_artifact(tmp_path / "b")
        shutil.rmtree(tmp_path / "b")
    # a record the table does not name (copied in from another artifact) is refused, not read
    _save(tmp_path / "c", [5, 6], threshold=0.25)
    shutil.copy(tmp_path / "a" / "calibration.json", tmp_path / "c")
    with pytest.raises(UnknownArtifact, match="calibration.json is not part of this artifact"):
        load_artifact(tmp_path / "c")


def test_a_signature_covers_the_record_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOGBERT_ARTIFACT_KEY", "a secret the tamperer lacks")
    _save(tmp_path, [5, 6], records=_records(0.25))
    (tmp_path / "calibration.json").write_text(json.dumps(_records(9.0)["calibration.json"]))
    _rehash(tmp_path)  # what a tamperer can do: the hashes match again, the signature does not
    with pytest.raises(UnknownArtifact, match="signature does not match"):
        load_artifact(tmp_path)


def test_an_artifact_saved_before_record_files_were_hashed_loads_as_before_and_says_so(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _save(tmp_path, [5, 6], threshold=0.25, records=_records(0.25))
    meta = json.loads((tmp_path / "meta.json").read_text())
    for name in ("calibration.json", "split.json"):
        del meta["sha256"][name]
    del meta["sha256_scope"]
    meta["meta_sha256"] = _meta_digest(meta)
    (tmp_path / "meta.json").write_text(json.dumps(meta))
    (tmp_path / "split.json").write_text(json.dumps({"train": ["edited, unnoticed as before"]}))
    art = load_artifact(tmp_path)
    assert art.records["split.json"] == {"train": ["edited, unnoticed as before"]}
    assert art.records["calibration.json"] == _records(0.25)["calibration.json"]
    assert "saved before its record files were hashed" in caplog.text


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_non_finite_numbers_in_meta_json_are_refused_naming_the_file(tmp_path: Path, value: str) -> None:
    """A "threshold": NaN loaded, and failed later in the service's JSON answer ("Out of range float values")."""
    _save(tmp_path, [5, 6])
    meta = (tmp_path / "meta.json").read_text()
    (tmp_path / "meta.json").write_text(meta.replace('"threshold": 0.25', f'"threshold": {value}'))
    with pytest.raises(UnknownArtifact, match=r"meta\.json: unreadable JSON"):
        load_artifact(tmp_path)


def test_a_config_or_vocabulary_that_is_no_json_object_is_refused_naming_the_file(tmp_path: Path) -> None:
    for name in ("config.json", "vocab.json"):
        _save(tmp_path / name, [5, 6])
        (tmp_path / name / name).write_text("[1, 2]")  # AttributeError: 'list' object has no attribute 'get'
        _rehash(tmp_path / name)
        with pytest.raises(UnknownArtifact, match=f"{name}: expected a JSON object"):
            load_artifact(tmp_path / name)


def test_the_weights_are_as_readable_as_the_other_files(tmp_path: Path) -> None:
    """safetensors' save_file made model.safetensors 0600, every other file 0644: a service account could not
    load an artifact another user trained ("Permission denied")."""
    old = os.umask(0o022)
    try:
        _save(tmp_path, [5, 6])
    finally:
        os.umask(old)
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in tmp_path.iterdir()}
    assert modes["model.safetensors"] == modes["config.json"] == 0o644, modes


def test_a_folder_without_meta_json_says_why_and_what_to_do(tmp_path: Path) -> None:
    (tmp_path / "run" / "checkpoint").mkdir(parents=True)
    with pytest.raises(UnknownArtifact, match=r"meta\.json is missing; a training run was interrupted there: .*resume"):
        load_artifact(tmp_path / "run")
    _save(tmp_path / "cut", [5, 6])
    (tmp_path / "cut" / "meta.json").unlink()
    with pytest.raises(UnknownArtifact, match="incomplete"):
        load_artifact(tmp_path / "cut")
    (tmp_path / "empty").mkdir()
    with pytest.raises(UnknownArtifact, match=r"meta\.json is missing$"):
        load_artifact(tmp_path / "empty")
