"""End-to-end through the public facade, on simulated nova logs (no downloads, CPU, seconds)."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from logbert import api
from logbert.config import LogBertConfig
from logbert.datasets.simulator import write_simulated
from logbert.errors import ConfigError, InputDataError, UnknownArtifact
from logbert.pipeline.calibrate import KeyMisses
from logbert.records import KeySequence
from logbert.results import ParsedLine
from tests.conftest import dataset_path

torch.set_num_threads(1)


def tiny_config(**extra: object) -> LogBertConfig:
    overrides: dict[str, object] = {
        "parser.format": "openstack",
        "model.n_layers": 1,
        "model.d_model": 32,
        "model.d_ff": 64,
        "train.epochs": 2,
        "train.batch_size": 32,
    }
    overrides.update(extra)
    return api.demo_config().with_overrides(overrides)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[api.TrainResult, Path, Path]:
    root = tmp_path_factory.mktemp("sim")
    files = write_simulated(root / "data", n_instances=80, anomaly_ratio=0.2, seed=3)
    result = api.train(files.log, root / "artifact", tiny_config(), labels=files.labels, progress=False)
    return result, files.log, files.labels


def test_train_writes_a_complete_artifact(trained: tuple[api.TrainResult, Path, Path]) -> None:
    result, _, _ = trained
    names = {p.name for p in result.artifact_dir.iterdir()}
    assert {"config.json", "vocab.json", "parser.json", "model.safetensors", "meta.json", "split.json"} <= names
    assert not (result.artifact_dir / "checkpoint").exists()
    split = json.loads((result.artifact_dir / "split.json").read_text())
    assert not set(split["train"]) & set(split["val"])
    assert result.n_train_sessions > 0 and result.n_val_sessions > 0 and result.n_test_sessions > 0
    assert np.isfinite(result.threshold)


def test_evaluate_never_scores_training_sessions(trained: tuple[api.TrainResult, Path, Path]) -> None:
    result, log, labels = trained
    evaluation = api.evaluate(result.artifact_dir, log, labels=labels, baselines=("new_event",))
    split = json.loads((result.artifact_dir / "split.json").read_text())
    used = set(split["train"]) | set(split["val"])
    assert not used & {s.session_id for s in evaluation.sessions}
    rep = evaluation.report
    for key in ("precision", "recall", "f1", "threshold", "auroc", "auprc", "best_f1", "n_normal", "n_abnormal"):
        assert key in rep
    assert rep["n_abnormal"] == 16  # every anomalous VM (20 % of 80) is held out for the test
    assert rep["n_normal"] + rep["n_abnormal"] == result.n_test_sessions
    assert "new_event" in evaluation.baselines and "f1" in evaluation.baselines["new_event"]


def test_evaluate_passes_times_to_the_time_baselines_and_says_why_values_are_missing(
    trained: tuple[api.TrainResult, Path, Path],
) -> None:
    """evaluate reads each session's times for the time baselines; the values need the slot schema, which a
    key-only artifact does not store: param_outlier would score every session 0, so it is skipped with the
    reason, not shown with a meaningless F1."""
    result, log, labels = trained
    names = ("new_event", "param_outlier", "session_duration")
    evaluation = api.evaluate(result.artifact_dir, log, labels=labels, baselines=names)
    assert "f1" in evaluation.baselines["new_event"]
    assert "f1" in evaluation.baselines["session_duration"]
    assert evaluation.baseline_scores["session_duration"].max() > 0
    assert set(evaluation.baselines["param_outlier"]) == {"skipped"}
    assert "slot types" in evaluation.baselines["param_outlier"]["skipped"]


def test_scores_are_deterministic_and_survive_a_reload(trained: tuple[api.TrainResult, Path, Path]) -> None:
    result, log, _ = trained
    first = api.score(result.artifact_dir, log)
    again = api.score(api.load_detector(result.artifact_dir), log)
    assert [r.score for r in first] == [r.score for r in again]
    assert all(r.score >= 0 for r in first)


def test_unseen_template_is_unk_and_raises_the_score(trained: tuple[api.TrainResult, Path, Path]) -> None:
    result, log, _ = trained
    detector = api.load_detector(result.artifact_dir)
    raw = [ln for ln in log.read_text().splitlines() if "[instance: " in ln][:200]
    outcomes, report = detector.parse_lines(raw)
    parsed = [p for p in outcomes if isinstance(p, ParsedLine)]
    sid = parsed[0].session_ids[0]
    normal = [p for p in parsed if sid in p.session_ids][: detector.config.window.max_len]
    keys = [p.key_id for p in normal]
    broken = keys[:-1] + [-1]  # the last key replaced by a never-seen template
    scores = detector.score_sequences(
        [KeySequence(sid, keys), KeySequence(sid + "-x", broken)], explain=True
    )
    assert scores[1].n_unknown == 1 and scores[0].n_unknown == 0
    assert scores[1].miss_ratio >= scores[0].miss_ratio  # an UNK key is always a miss
    missed_last = [m for m in scores[1].misses if m.position == len(broken) - 1]
    assert missed_last and missed_last[0].template is None and len(missed_last[0].expected) > 0
    assert report.n_parsed == len(raw)


def test_garbage_lines_are_counted_not_fatal(trained: tuple[api.TrainResult, Path, Path]) -> None:
    result, _, _ = trained
    detector = api.load_detector(result.artifact_dir)
    parsed, report = detector.parse_lines(["\x00\x01binary junk", "", "x" * 100_000, "not a nova line"])
    assert parsed == ["malformed", "empty", "malformed", "malformed"]
    assert (report.n_lines, report.n_binary, report.n_truncated, report.n_empty, report.n_malformed) == (4, 1, 1, 1, 3)


def test_missing_or_tampered_artifact_is_a_clear_error(
    trained: tuple[api.TrainResult, Path, Path], tmp_path: Path
) -> None:
    with pytest.raises(UnknownArtifact):
        api.load_detector(tmp_path / "nope")
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(trained[0].artifact_dir, copy)
    (copy / "vocab.json").write_text('{"keys": [1, 2]}')
    with pytest.raises(UnknownArtifact):
        api.load_detector(copy)


def test_empty_and_missing_inputs(tmp_path: Path) -> None:
    empty = tmp_path / "empty.log"
    empty.write_text("")
    with pytest.raises(InputDataError):
        api.train(empty, tmp_path / "a", tiny_config(), progress=False)
    with pytest.raises(InputDataError):
        api.train(tmp_path / "missing.log", tmp_path / "a", tiny_config(), progress=False)


def test_key_sequence_files_train_and_evaluate(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    normal = [" ".join(str(k) for k in [1, 2, 3, 4] * int(rng.integers(2, 5))) for _ in range(60)]
    (tmp_path / "normal").write_text("\n".join(normal) + "\n")
    (tmp_path / "abnormal").write_text("1 2 9 9 9 4\n7 7 7 7\n")
    cfg = tiny_config(**{"train.epochs": 3})
    said: list[str] = []  # --resume on a folder with no checkpoint trains from the start, and says so
    trained = api.train(tmp_path / "normal", tmp_path / "art", cfg, progress=False, resume=True, on_step=said.append)
    assert any("no checkpoint to go on from" in line for line in said)
    assert trained.n_templates == 4  # keys 1-4: the sessions' start and end marks are no templates
    ev = api.evaluate(tmp_path / "art", normal=tmp_path / "normal", abnormal=tmp_path / "abnormal", baselines=())
    assert ev.report["n_abnormal"] == 2 and ev.report["n_normal"] > 0
    assert ev.report["n_excluded_training_sessions"] > 0
    # the read report counts the lines that hold a key the model never trained on, as it does a raw log's
    sessions, report = api.score_with_report(tmp_path / "art", tmp_path / "abnormal")
    assert [s.n_unknown for s in sessions] == [3, 4] and report.n_unknown_template == 2
    # a raw log: refused as a raw log, not judged by the key artifact's session settings
    (tmp_path / "raw.log").write_text("2026-12-01 10:00:00 INFO started job 7\n" * 3)
    with pytest.raises(UnknownArtifact, match="has no log parser"):
        api.score(tmp_path / "art", tmp_path / "raw.log")
    # two lines with one id are two sessions, each scored as it is alone
    (tmp_path / "same_id").write_text("a,1 2 9 9 9 4\nb,1 2 3 4 1 2 3 4\na,7 7 7 7\n")
    together = api.score(tmp_path / "art", tmp_path / "same_id")
    alone = [api.score(tmp_path / "art", tmp_path / "abnormal")[i] for i in (0, 1)]
    assert [(s.session_id, s.score, s.n_keys) for s in (together[0], together[2])] == [
        ("a", alone[0].score, 6),
        ("a", alone[1].score, 4),
    ]


def test_devstack_sample_end_to_end(tmp_path: Path) -> None:
    """Real OpenStack lines: parse, session, train 1 epoch, score; shapes and direction only."""
    log = dataset_path("openstack/kalaki_devstack/openstack-nova-sample.log")
    labels = dataset_path("openstack/kalaki_devstack/openstack-nova-sample.instance_labels.csv")
    sample = tmp_path / "sample.log"
    sample.write_text("".join(log.read_text().splitlines(keepends=True)[:3000]))
    cfg = tiny_config(**{"parser.format": "openstack_devstack", "train.epochs": 1})
    result = api.train(sample, tmp_path / "art", cfg, labels=labels, progress=False)
    ev = api.evaluate(result.artifact_dir, sample, labels=labels, baselines=())
    assert ev.report["n_normal"] + ev.report["n_abnormal"] == len(ev.sessions) > 0


def test_labelled_validation_mix_moves_anomalies_out_of_the_test(tmp_path: Path) -> None:
    files = write_simulated(tmp_path / "data", n_instances=60, anomaly_ratio=0.25, seed=5)
    cfg = tiny_config(**{"scoring.threshold": "labelled_f1", "scoring.val_anomaly_fraction": 0.4})
    result = api.train(files.log, tmp_path / "art", cfg, labels=files.labels, progress=False)
    split = json.loads((result.artifact_dir / "split.json").read_text())
    labels = api.read_corpus(files.log, cfg, labels=files.labels)
    anomalous = {s.session_id for s in labels.units if s.label == 1}
    assert len(set(split["val"]) & anomalous) == 6  # 40 % of the 15 anomalous VMs
    ev = api.evaluate(result.artifact_dir, files.log, labels=files.labels, baselines=("new_event",))
    assert ev.report["n_abnormal"] == 9 and not set(split["val"]) & {s.session_id for s in ev.sessions}
    assert "f1" in ev.baselines["new_event"]


def test_a_log_whose_ids_the_artifact_cannot_read_is_told_to_train_not_to_set(
    trained: tuple[api.TrainResult, Path, Path], tmp_path: Path
) -> None:
    """score and evaluate take no --set: the advice names the artifact's pattern and how to train for this log."""
    result, log, labels = trained
    other = tmp_path / "other_ids.log"
    uuid = r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b"
    other.write_text(re.sub(uuid, "vm_0", log.read_text()))
    calls = [
        lambda: api.score(result.artifact_dir, other),
        lambda: api.evaluate(result.artifact_dir, other, labels=labels, baselines=()),
    ]
    for call in calls:
        with pytest.raises(InputDataError, match="that .* was trained with") as caught:
            call()
        assert "give the pattern of your session ids" not in str(caught.value)


def test_a_directory_or_an_unknown_kind_is_said_as_such_by_every_reader(
    trained: tuple[api.TrainResult, Path, Path], tmp_path: Path
) -> None:
    """train and the library's score said "input file not found" of a directory; kind="weird" trained and scored."""
    result, log, _ = trained
    with pytest.raises(InputDataError, match="got a directory"):
        api.score(result.artifact_dir, tmp_path)
    with pytest.raises(InputDataError, match="got a directory"):
        api.train(tmp_path, tmp_path / "art", tiny_config(), progress=False)
    with pytest.raises(InputDataError, match="kind must be one of raw, keys"):
        api.score(result.artifact_dir, log, kind="weird")  # type: ignore[arg-type]


def test_settings_and_thresholds_of_the_wrong_type_are_the_librarys_errors(
    trained: tuple[api.TrainResult, Path, Path], tmp_path: Path
) -> None:
    """A dict as config failed deep inside with AttributeError, parse(path) needed a config train does not, and
    use_threshold("high") raised TypeError from math."""
    from logbert.errors import ConfigError

    result, log, _ = trained
    with pytest.raises(ConfigError, match="load_config"):
        api.train(log, tmp_path / "art", {"train.epochs": 1}, progress=False)  # type: ignore[arg-type]
    assert api.parse(log).templates  # the defaults, as train takes them
    detector = api.load_detector(result.artifact_dir)
    with pytest.raises(InputDataError, match="threshold must be a number"):
        detector.use_threshold("high")  # type: ignore[arg-type]


def test_evaluate_with_listed_ids_that_name_no_session_is_a_clear_error(
    trained: tuple[api.TrainResult, Path, Path], tmp_path: Path
) -> None:
    """The anomalous instances listed under another name: every session was taken for normal, and evaluate printed
    F1 0 over "N normal and 0 anomalous sessions" without a word."""
    result, log, labels = trained
    anomalous = [u.session_id for u in api.read_corpus(log, tiny_config(), labels=labels).units if u.label == 1]
    ids = tmp_path / "anomalous.txt"
    ids.write_text("".join(f"vm-{sid}\n" for sid in anomalous[:3]), encoding="utf-8")
    with pytest.raises(InputDataError, match="no session of the input is named") as caught:
        api.evaluate(result.artifact_dir, log, labels=ids, baselines=())
    assert f"'vm-{anomalous[0]}'" in str(caught.value)


def test_evaluate_without_labels_is_a_clear_error(trained: tuple[api.TrainResult, Path, Path]) -> None:
    result, log, _ = trained
    with pytest.raises(InputDataError, match="has no labels") as caught:
        api.evaluate(result.artifact_dir, log, baselines=())
    assert "two inputs" not in str(caught.value)
    # the log given as DATA and as --normal: said how to measure its false-alarm rate (a new user read the first
    # message as saying --normal was missing)
    with pytest.raises(InputDataError, match=r"DATA and --normal are two inputs: .* give it as --normal and no DATA"):
        api.evaluate(result.artifact_dir, log, normal=log, baselines=())


def test_a_finished_artifact_is_not_overwritten_or_resumed_by_accident(
    trained: tuple[api.TrainResult, Path, Path],
) -> None:
    result, log, labels = trained
    model = (result.artifact_dir / "model.safetensors").read_bytes()
    with pytest.raises(InputDataError, match="already holds a trained artifact"):
        api.train(log, result.artifact_dir, tiny_config(), labels=labels, progress=False)
    with pytest.raises(InputDataError, match="nothing to resume"):
        api.train(log, result.artifact_dir, tiny_config(), labels=labels, resume=True, progress=False)
    assert (result.artifact_dir / "model.safetensors").read_bytes() == model  # untouched


def test_the_threshold_can_be_chosen_at_use_time(trained: tuple[api.TrainResult, Path, Path]) -> None:
    result, log, _ = trained
    assert (result.artifact_dir / "calibration.json").is_file() and "validation sessions" in result.threshold_basis
    detector = api.load_detector(result.artifact_dir)
    assert detector.calibration is not None and detector.calibration.threshold == detector.threshold
    stored = detector.threshold
    assert detector.use_threshold() == detector.calibration.describe() and detector.threshold == stored
    assert "target false-alarm rate" in detector.use_threshold(target_fpr=0.5)
    assert detector.threshold == detector.calibration.threshold_for(0.5) <= stored
    detector.use_threshold(threshold=1e9)
    assert not any(s.is_anomaly for s in api.score(detector, log))
    with pytest.raises(InputDataError):
        detector.use_threshold(threshold=1.0, target_fpr=0.1)
    # a miss-ratio record of too few sessions that missed nothing: the target's quantile is 0, its keys raise it
    quiet = KeyMisses(0, ((17,),) * 50)
    detector.calibration = replace(detector.calibration, normal_scores=(0.0,) * 50, key_misses=quiet)
    said = detector.use_threshold(target_fpr=0.005)
    assert detector.threshold == pytest.approx(1 / 17)
    assert "raised to 0.05882 by the miss rate of their 850 masked keys" in said  # train's words (at_target)


def test_scored_sessions_say_where_and_why(trained: tuple[api.TrainResult, Path, Path]) -> None:
    result, log, _ = trained
    detector = api.load_detector(result.artifact_dir)
    sessions = api.score(detector, log, explain=True)
    flagged = [s for s in sessions if s.is_anomaly]
    assert flagged and all(s.misses for s in flagged) and not any(s.misses for s in sessions if not s.is_anomaly)
    for s in sessions:
        assert s.first_line_no is not None and s.last_line_no is not None and s.first_line_no <= s.last_line_no
        assert s.threshold == detector.threshold and s.p_value is not None and 0 < s.p_value <= 1
    assert [s.score for s in sessions] == [s.score for s in api.score(detector, log)]  # explain changes no score
    # each miss quotes its line, as the streaming paths do (an unseen key has no template to show)
    text = log.read_text().split("\n")
    quoted = [m for s in flagged for m in s.misses]
    assert quoted and all(m.line_no is not None and m.raw == text[m.line_no - 1] for m in quoted)


def test_a_parser_from_another_artifact_is_refused_even_when_rehashed(
    trained: tuple[api.TrainResult, Path, Path], tmp_path: Path
) -> None:
    import hashlib
    import shutil

    from logbert.artifact import _meta_digest

    copy = tmp_path / "copy"
    shutil.copytree(trained[0].artifact_dir, copy)
    state = json.loads((copy / "parser.json").read_text())
    state["config"]["drain_max_children"] = 7  # made with other settings
    (copy / "parser.json").write_text(json.dumps(state))
    meta = json.loads((copy / "meta.json").read_text())
    meta["sha256"]["parser.json"] = hashlib.sha256((copy / "parser.json").read_bytes()).hexdigest()
    meta["meta_sha256"] = _meta_digest(meta)
    (copy / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(UnknownArtifact, match="other parser settings"):
        api.load_detector(copy)


def log_with_junk(tmp_path: Path, log: Path) -> Path:
    path = tmp_path / "junk.log"
    path.write_text(log.read_text() + "\nnot a nova line\n")
    return path


def test_input_kind_follows_the_settings_and_the_user(
    tmp_path: Path, trained: tuple[api.TrainResult, Path, Path]
) -> None:
    numbers = tmp_path / "numbers.log"
    numbers.write_text("".join(f"{i} {i + 1} {i + 2}\n" for i in range(60)))  # a raw log whose lines are numbers
    assert api.input_kind(numbers) == "keys"  # sniffed, no settings
    sliding = LogBertConfig().with_overrides({"parser.format": "raw", "window.mode": "sliding"})
    assert api.input_kind(numbers, sliding) == "raw"  # sliding windows: a key file cannot mean that
    corpus = api.read_corpus(numbers, sliding)
    assert corpus.kind == "raw" and corpus.n_unlabelled == 0 and len(corpus.line_sessions) == 3  # 60 lines / 20
    assert api.input_kind(numbers, LogBertConfig(), given="raw") == "raw"
    # a key file against an artifact trained on a raw log: its key ids mean other templates
    with pytest.raises(InputDataError, match="trained on a raw log"):
        api.score(trained[0].artifact_dir, numbers)
    with pytest.raises(InputDataError, match="60 malformed"):  # read as a raw log: said, not silently empty
        api.score_with_report(trained[0].artifact_dir, numbers, kind="raw")
    sessions, report = api.score_with_report(trained[0].artifact_dir, log_with_junk(tmp_path, trained[1]))
    assert report.n_lines == report.n_parsed + 2 and report.n_malformed == 1 and report.n_empty == 1 and sessions


def test_structured_output_has_each_lines_session_template_and_parameters(
    trained: tuple[api.TrainResult, Path, Path], tmp_path: Path
) -> None:
    import csv

    _, log, _ = trained
    cfg = tiny_config()
    summary = api.parse(log, cfg)
    n = api.write_structured(summary, cfg, tmp_path / "lines.jsonl")
    rows = [json.loads(line) for line in (tmp_path / "lines.jsonl").read_text().splitlines()]
    assert n == len(rows) == summary.report.n_parsed
    spawn = next(r for r in rows if "seconds to spawn" in r["template"])
    took = float(spawn["content"].split("Took ")[1].split()[0])
    assert spawn["session_ids"] and spawn["timestamp"].startswith("20")
    assert took in [float(p) for p in spawn["parameters"] if p.replace(".", "", 1).isdigit()]
    assert api.write_structured(summary, cfg, tmp_path / "lines.csv") == n
    with (tmp_path / "lines.csv").open(newline="") as f:
        first = next(csv.DictReader(f))
    assert set(first) >= {"line_no", "timestamp", "session_ids", "key_id", "template", "parameters"}
    with pytest.raises(InputDataError, match="must end in"):
        api.write_structured(summary, cfg, tmp_path / "lines.xml")


def test_labels_from_python_as_a_mapping_or_the_anomalous_ids(trained: tuple[api.TrainResult, Path, Path]) -> None:
    """A dict or a list of labels ended in AttributeError ('dict' object has no attribute 'format')."""
    from logbert.datasets.labels import read_labels

    result, log, labels = trained
    by_file = api.evaluate(result.artifact_dir, log, labels=labels, baselines=())
    mapping = read_labels(labels).by_id
    by_dict = api.evaluate(result.artifact_dir, log, labels=mapping, baselines=())
    by_list = api.evaluate(result.artifact_dir, log, labels=[k for k, v in mapping.items() if v], baselines=())
    for other in (by_dict, by_list):
        assert other.report["f1"] == by_file.report["f1"] and other.report["n_abnormal"] == 16
    for bad in ({"vm": 2}, [3, 4], 7):
        with pytest.raises(InputDataError, match="labels"):
            api.evaluate(result.artifact_dir, log, labels=bad, baselines=())


def test_inputs_of_the_wrong_type_are_said_not_crashed_on(
    trained: tuple[api.TrainResult, Path, Path], tmp_path: Path
) -> None:
    from logbert.pipeline.estimator import LogBertDetector

    result, log, _ = trained
    detector = api.load_detector(result.artifact_dir)
    lines = log.read_text(encoding="utf-8").splitlines()[:20]
    # lines held in memory score as the same lines in a file (pathlib's "not list" before)
    (tmp_path / "same.log").write_text("\n".join(lines) + "\n", encoding="utf-8")
    in_memory = [(r.session_id, r.score) for r in api.score(detector, lines, explain=True)]
    assert in_memory == [(r.session_id, r.score) for r in api.score(detector, tmp_path / "same.log")] and in_memory
    with pytest.raises(TypeError, match="path to a log or key file"):
        api.score(detector, 42)  # type: ignore[arg-type]
    with pytest.raises(InputDataError, match="no lines"):
        api.score(detector, [])
    with pytest.raises(TypeError, match="one text"):  # was one "malformed" per character
        detector.parse_lines(lines[0])
    with pytest.raises(ValueError, match="no keys"):  # scored its marks alone, and was flagged
        detector.score_sessions([KeySequence("empty", [])])
    model = detector.model
    assert isinstance(model, LogBertDetector)
    for bad, said in (([["0", "1"]], "str keys"), ([[0.0, 1.7]], "float keys"), ([0, 1, 2], "sequence of key ids")):
        with pytest.raises(TypeError, match=said):  # text keys scored 1.0 silently; a flat list failed in numpy
            model.decision_function(bad)  # type: ignore[arg-type]
    rows = np.array([[1, 2, 3, 4], [1, 2, 3, 4]])
    assert len(model.decision_function(rows)) == 2  # a 2-D array of ids is a list of sequences
    nested = api.load_config(overrides={"train": {"epochs": 3}, "window.max_len": 16})
    assert nested.train.epochs == 3 and nested.window.max_len == 16
    with pytest.raises(ConfigError, match="section of settings"):
        api.load_config(overrides={"train": 3})
