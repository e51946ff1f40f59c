"""The detection benchmark harness on tiny hand-made datasets whose right answers are known."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any, Self

import numpy as np
import pytest
import torch
import typer
from typer.testing import CliRunner

from logbert.bench import (
    BenchConfig,
    DatasetSpec,
    InputFile,
    aggregate,
    load_dataset,
    parse_dataset_spec,
    quick_config,
    run_benchmark,
    write_results,
)
from logbert.bench.datasets import BUILTIN_DATASETS, builtin_datasets, dataset_specs_from_toml
from logbert.bench.detectors import detector_specs
from logbert.bench.report import headline
from logbert.bench.runner import RunRecord, prepare_split
from logbert.config import load_config
from logbert.errors import ConfigError, InputDataError
from logbert.pipeline.calibrate import resolve_calibration
from logbert.pipeline.fit import calibrate_detector, fit_sessions, rekey_normal_sessions
from logbert.pipeline.sessions import session_scores
from logbert.records import UNK_KEY, KeySequence

UUIDS = [f"{i:08d}-0000-0000-0000-000000000000" for i in range(60)]


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)


def _key_dataset(tmp_path: Path, n_normal: int = 40, n_abnormal: int = 10) -> DatasetSpec:
    """Normal sessions cycle keys 1-4; anomalous ones also hold key 9, never seen in normal data."""
    rng = np.random.default_rng(0)
    normal = [" ".join(str(k) for k in rng.permutation([1, 2, 3, 4]).tolist() * 2) for _ in range(n_normal)]
    abnormal = [f"1 2 9 3 4 {k}" for k in rng.integers(1, 5, n_abnormal).tolist()]
    (tmp_path / "normal.keys").write_text("\n".join(f"n{i},{s}" for i, s in enumerate(normal)) + "\n")
    (tmp_path / "abnormal.keys").write_text("\n".join(f"a{i},{s}" for i, s in enumerate(abnormal)) + "\n")
    types = "session_id,Label\n" + "".join(f"a{i},Anomaly\n" for i in range(n_abnormal // 2))
    (tmp_path / "types.csv").write_text(types)
    return DatasetSpec(
        name="toy",
        title="toy keys",
        preset="keys",
        inputs=(InputFile(tmp_path / "normal.keys", label=0), InputFile(tmp_path / "abnormal.keys", label=1)),
        type_files=(("first half", tmp_path / "types.csv"),),
        other_type="second half",
    )


def _devstack_log(tmp_path: Path) -> Path:
    """A DevStack-format nova log: 40 normal instances, and 5 with an error line no normal one has."""
    lines = []
    for i, uid in enumerate(UUIDS[:45]):
        lines.append(f"INFO nova.compute.claims [req-{i}] [instance: {uid}] Claim successful on node host{i}")
        lines.append(f"INFO nova.virt.libvirt.driver [req-{i}] [instance: {uid}] Creating image")
        if i >= 40:
            lines.append(f"ERROR nova.compute.manager [req-{i}] [instance: {uid}] Instance failed to spawn: disk full")
        lines.append(f"INFO nova.compute.manager [req-{i}] [instance: {uid}] Took {i}.5 seconds to build instance.")
    path = tmp_path / "nova.log"
    path.write_text("\n".join(lines) + "\n")
    labels = "instance_id,Label\n" + "".join(
        f"{u},{'Anomaly' if i >= 40 else 'normal'}\n" for i, u in enumerate(UUIDS[:45])
    )
    (tmp_path / "labels.csv").write_text(labels)
    return path


# -- datasets ------------------------------------------------------------------------------------


def test_load_dataset_merges_inputs_first_copy_wins_and_types(tmp_path: Path) -> None:
    spec = _key_dataset(tmp_path)
    (tmp_path / "more.keys").write_text("n0,9 9 9\nextra,1 2 3\n")  # n0 repeats an id: ignored
    spec = dataclasses.replace(spec, inputs=(*spec.inputs, InputFile(tmp_path / "more.keys", label=1)))
    data = load_dataset(spec)
    by_id = {s.session_id: s for s in data.sequences}
    assert data.n_duplicate_sessions == 1
    assert by_id["n0"].label == 0 and by_id["n0"].key_ids != [9, 9, 9]
    assert by_id["extra"].label == 1
    assert data.anomaly_types["a0"] == "first half"
    assert data.anomaly_types["a9"] == "second half"
    assert data.anomaly_types["extra"] == "second half"
    assert "n0" not in data.anomaly_types  # normal sessions have no type


def test_load_dataset_caps_are_seeded_and_per_class(tmp_path: Path) -> None:
    spec = _key_dataset(tmp_path)
    a = load_dataset(spec, max_normal=12, max_abnormal=10)
    b = load_dataset(spec, max_normal=12, max_abnormal=10)
    assert [s.session_id for s in a.sequences] == [s.session_id for s in b.sequences]
    assert sum(s.label == 0 for s in a.sequences) == 12 and sum(s.label == 1 for s in a.sequences) == 10
    assert a.n_subsampled_out == 28


def test_load_dataset_missing_file_and_no_anomaly(tmp_path: Path) -> None:
    spec = _key_dataset(tmp_path)
    with pytest.raises(InputDataError, match="missing"):
        load_dataset(DatasetSpec("x", "x", "keys", (InputFile(tmp_path / "nope.keys"),)))
    with pytest.raises(InputDataError, match="no anomalous session"):
        load_dataset(DatasetSpec("x", "x", "keys", (spec.inputs[0],)))


def test_parse_dataset_spec(tmp_path: Path) -> None:
    spec = _key_dataset(tmp_path)
    parsed = parse_dataset_spec(f"{tmp_path / 'normal.keys'},abnormal={tmp_path / 'abnormal.keys'},name=mine")
    assert parsed.name == "mine" and parsed.preset == "keys"
    assert [f.label for f in parsed.inputs] == [0, 1]
    log = _devstack_log(tmp_path)
    raw = parse_dataset_spec(f"{log},labels={tmp_path / 'labels.csv'},preset=openstack_devstack")
    assert raw.inputs[0].labels == tmp_path / "labels.csv" and raw.name == "nova"
    with pytest.raises(ConfigError, match="expected labels"):
        parse_dataset_spec(f"{log},label=x")
    with pytest.raises(ConfigError, match="unknown preset"):
        parse_dataset_spec(f"{log},preset=nope")
    with pytest.raises(InputDataError):
        parse_dataset_spec(f"{log},labels={tmp_path / 'missing.csv'}")
    assert spec.missing_files() == []


def test_builtin_datasets_names_and_recall_only() -> None:
    specs = builtin_datasets("/nonexistent")
    assert list(specs)[:2] == ["devstack", "deeplog_openstack_listed"]
    assert specs["hdfs_deeplog_keys"].recall_only and not specs["hdfs_2pct"].recall_only
    assert all(s.missing_files() for s in specs.values())


def _builtin_specs_as_python(r: Path) -> list[DatasetSpec]:
    """The built-in datasets exactly as the code gave them before they moved to datasets.toml."""
    kal = r / "openstack" / "kalaki_devstack"
    dl = r / "openstack" / "deeplog_openstack"
    dl_normal = InputFile(dl / "openstack_normal1.instance_lines.log", label=0)
    return [
        DatasetSpec(
            name="devstack",
            title="OpenStack DevStack nova (Kalaki et al.), sessions = VM instances",
            preset="openstack_devstack",
            inputs=(
                InputFile(kal / "openstack-nova-sample.log", labels=kal / "openstack-nova-sample.instance_labels.csv"),
                InputFile(kal / "openstack-nova-dhcpoff.log", label=1),
            ),
            type_files=(
                ("DHCP off", kal / "openstack-nova-dhcpoff.instance_labels.csv"),
                ("destroy after create", kal / "openstack-vm-destroy-immediately-after-create.instance_labels.csv"),
            ),
            other_type="other fault (sample log only)",
            notes=(
                "Sessions: every instance of openstack-nova-sample.log (982 normal, 180 anomalous) plus the "
                "dhcpoff instances not already in it (all anomalous) = 982 normal + 331 anomalous, the "
                "authors' composite label set.",
                "The 78 labelled instances of the destroy-after-create log also occur in the sample log, "
                "preprocessed like the rest of it; that copy is used (the raw copy writes the request context "
                "differently, which a parser mined on sample lines would flag for the wrong reason). Its 119 "
                "unlabelled instances are left out.",
                "Anomaly type = file of origin: DHCP off, destroy after create, or a fault only the sample log "
                "has (mostly 'Failed to start libvirt guest').",
                "No timestamps: the split is a seeded shuffle of sessions, different for every seed.",
            ),
        ),
        DatasetSpec(
            name="deeplog_openstack_listed",
            title="DeepLog / loghub OpenStack, official labels (4 listed instances anomalous)",
            preset="openstack",
            inputs=(
                dl_normal,
                InputFile(dl / "openstack_abnormal.instance_lines.log", labels=dl / "anomaly_labels.txt"),
            ),
            notes=(
                "Only 4 anomalous sessions, and their key sequences are identical to those of many normal "
                "sessions (README): their only signal is timing and parameter values, which no detector here "
                "sees. Expect chance level (AUROC about 0.5); any figure on 4 anomalies is noise.",
                "Chronological split: the abnormal file was recorded two days earlier, so its normal "
                "instances mostly train.",
            ),
        ),
        DatasetSpec(
            name="deeplog_openstack_abnormal_file",
            title="DeepLog / loghub OpenStack, every instance of openstack_abnormal.log anomalous (198)",
            preset="openstack",
            inputs=(dl_normal, InputFile(dl / "openstack_abnormal.instance_lines.log", label=1)),
            notes=(
                "Label convention used by several re-implementations. Most 'anomalous' instances behave "
                "normally: the label marks the day of recording, not a fault, so high scores partly measure "
                "drift between two recordings two days apart.",
            ),
        ),
        DatasetSpec(
            name="hdfs_2pct",
            title="HDFS 2 % raw (LogLead sample), sessions = blocks",
            preset="hdfs",
            inputs=(
                InputFile(
                    r / "hdfs" / "loglead_2pct" / "HDFS_2pct.log",
                    labels=r / "hdfs" / "loglead_2pct" / "anomaly_label_2pct.csv",
                ),
            ),
            notes=("Chronological split (blocks ordered by first timestamp): same split for every seed.",),
        ),
        DatasetSpec(
            name="hdfs_deeplog_keys",
            title="HDFS, DeepLog's key sessions (hdfs_train + hdfs_test_abnormal); recall only",
            preset="keys",
            inputs=(
                InputFile(r / "hdfs" / "deeplog_keys" / "hdfs_train", label=0),
                InputFile(r / "hdfs" / "deeplog_keys" / "hdfs_test_abnormal", label=1),
            ),
            recall_only=True,
            notes=(
                "The 553,366 normal test sessions are not available, so the normal test sessions are a "
                "held-out share of hdfs_train: recall and FPR are meaningful, precision/F1/AUPRC are not "
                "(shown as n/a); AUROC ranks held-out normal against anomalous sessions.",
            ),
        ),
        DatasetSpec(
            name="bgl_2k",
            title="BGL 2k (loghub sample), windows of 20 lines; smoke test only",
            preset="bgl",
            inputs=(InputFile(r / "bgl" / "loghub_2k" / "BGL_2k.log"),),
            notes=(
                "2,000 lines sampled over 213 days: about 100 windows. A smoke test of the pipeline, not a "
                "measurement; one window = one session.",
            ),
        ),
    ]


@pytest.mark.parametrize("root", ["/nonexistent", "../shared/datasets", "relative/root"])
def test_builtin_datasets_toml_gives_the_same_specs_as_before(root: str) -> None:
    """datasets.toml reproduces, field for field and in order, the specs once written as Python."""
    expected = _builtin_specs_as_python(Path(root))
    specs = builtin_datasets(root)
    assert list(specs) == [s.name for s in expected] == list(BUILTIN_DATASETS)
    assert list(specs.values()) == expected
    for got, want in zip(specs.values(), expected, strict=True):
        assert got.missing_files() == want.missing_files()  # same skip reasons when the data is absent


def _entry(head: str = "", inp: str = "") -> str:
    """One valid ``[[dataset]]`` table, with extra lines for the dataset and for its input."""
    return (
        '[[dataset]]\nname = "toy"\ntitle = "toy keys"\npreset = "keys"\n'
        + head
        + '[[dataset.input]]\npath = "a/normal.keys"\nlabel = 0\n'
        + inp
    )


def test_dataset_specs_from_toml_resolves_paths_against_root(tmp_path: Path) -> None:
    (spec,) = dataset_specs_from_toml(_entry(), tmp_path)
    assert spec == DatasetSpec("toy", "toy keys", "keys", (InputFile(tmp_path / "a" / "normal.keys", label=0),))


@pytest.mark.parametrize(
    ("text", "match"),
    [
        (_entry(head="colour = 'red'\n"), r"dataset\[0\] \(toy\): colour: Extra inputs are not permitted"),
        (_entry(inp="labelz = 'x.csv'\n"), r"dataset\[0\] \(toy\): input\[0\]\.labelz: Extra inputs"),
        (_entry().replace("label = 0", 'label = "0"'), r"input\[0\]\.label: Input should be 0 or 1"),
        (_entry().replace("label = 0", "label = 2"), r"input\[0\]\.label: Input should be 0 or 1"),
        (_entry(head="recall_only = 'yes'\n"), r"\(toy\): recall_only: Input should be a valid boolean"),
        (_entry(head="notes = 'one note'\n"), r"\(toy\): notes: Input should be a valid list"),
        (_entry(head="type_file = [{type = 'x'}]\n"), r"type_file\[0\]\.labels: Field required"),
        (_entry().replace('preset = "keys"', 'preset = "nope"'), r"\(toy\): unknown preset 'nope'"),
        (_entry().replace('title = "toy keys"\n', ""), r"dataset\[0\] \(toy\): title: Field required"),
        (_entry().replace("a/normal.keys", "/abs/normal.keys"), r"must be relative to the datasets root"),
        (_entry(inp='labels = "x.csv"\n'), r"input\[0\]: give labels \(a file\) or label \(0 or 1\), not both"),
        (_entry() + _entry(), r"duplicate dataset name\(s\): toy"),
        ("[[dataset]]\nname = 'x'\ntitle = 'x'\npreset = 'keys'\ninput = []\n", r"input: List should have at least 1"),
        ("[dataset]\nname = 'x'\n", r"dataset: Input should be a valid list"),
        ("datasets = 1\n", r"datasets: Extra inputs are not permitted"),
        ("[[dataset]\n", r"is not valid TOML"),
    ],
)
def test_dataset_specs_from_toml_bad_entry_is_a_clear_config_error(text: str, match: str) -> None:
    with pytest.raises(ConfigError, match=match) as info:
        dataset_specs_from_toml(text, "/data", source="my.toml")
    assert str(info.value).startswith("my.toml")


# -- split, parser, scoring --------------------------------------------------------------------------


def test_prepare_split_mines_templates_on_training_lines_only(tmp_path: Path) -> None:
    log = _devstack_log(tmp_path)
    spec = DatasetSpec("nova", "nova", "openstack_devstack", (InputFile(log, labels=tmp_path / "labels.csv"),))
    data = load_dataset(spec)
    config = data.config
    split = prepare_split(data, config, seed=0, max_train_sessions=10)
    assert len(split.train) == 10 and not split.chronological  # no timestamps: seeded shuffle
    assert all(s.label == 0 for s in split.train + split.val)
    assert {s.session_id for s in split.test if s.label == 1} == set(UUIDS[40:45])
    assert split.n_templates == 3  # the error template is never in training lines
    anomalous = [s for s in split.test if s.label == 1]
    assert all(UNK_KEY in s.key_ids for s in anomalous)
    assert split.n_test_unknown == len(anomalous)
    again = prepare_split(data, config, seed=0, max_train_sessions=10)
    assert [s.session_id for s in again.train] == [s.session_id for s in split.train]


def test_prepare_split_of_a_key_file_counts_test_keys_no_training_session_holds(tmp_path: Path) -> None:
    # a key file has no parser: its unseen keys are keys the vocabulary (fitted on the model's
    # sessions) never saw, here key 9 of every anomalous session; the count said 0 before
    data = load_dataset(_key_dataset(tmp_path))
    split = prepare_split(data, data.config, seed=0)
    assert split.parser is None
    assert split.n_test_unknown == sum(s.key_ids.count(9) for s in split.test) == 10
    pooled = rekey_normal_sessions(data.corpus, split, data.config)
    assert pooled.n_test_unknown == 10


class _CountingDetector:
    """Scores a sequence by its sum; records what it was asked to score."""

    def __init__(self) -> None:
        self.calls: list[list[list[int]]] = []

    def fit(self, train: Any, val: Any) -> Self:
        return self

    def decision_function(self, seqs: Any) -> np.ndarray:
        self.calls.append([list(s) for s in seqs])
        return np.array([float(sum(s)) for s in seqs])


def test_session_scores_window_max_and_each_distinct_sequence_scored_once() -> None:
    overrides = {"window.max_len": 2, "model.max_len": 2, "window.session_bounds": False}
    config = load_config(preset="keys", overrides=overrides)
    sessions = [
        KeySequence("a", [1, 1, 5, 0, 2]),  # windows [1,1] [5,0] [2] -> max 5
        KeySequence("b", [1, 1]),
        KeySequence("c", [1, 1, 2]),
    ]
    det = _CountingDetector()
    np.testing.assert_array_equal(session_scores(det, sessions, config.window, "window"), [5.0, 2.0, 2.0])
    assert sorted(det.calls[0]) == [[1, 1], [2], [5, 0]]  # [1,1] three times, [2] twice: scored once
    whole = _CountingDetector()
    np.testing.assert_array_equal(session_scores(whole, sessions, config.window, "session"), [9.0, 2.0, 4.0])


# -- the run ----------------------------------------------------------------------------------------


def test_run_benchmark_new_event_finds_the_unseen_key_under_both_protocols(tmp_path: Path) -> None:
    spec = _key_dataset(tmp_path)
    cfg = BenchConfig(seeds=(0, 1), detectors=("new_event", "sequence_length", "count_nearest"))
    seen: list[int] = []
    result = run_benchmark(cfg, [spec], on_dataset=lambda r: seen.append(len(r.datasets)))
    assert seen == [1]
    ds = result.datasets[0]
    assert ds.error is None and len(ds.runs) == 6
    agg = aggregate(ds.runs)
    for name in ("new_event", "count_nearest"):
        assert agg[name]["f1"]["mean"] == 1.0 and agg[name]["paper_f1"]["mean"] == 1.0
        assert agg[name]["auroc"]["mean"] == 1.0
        assert agg[name]["type_recall"] == {
            "first half": {"mean": 1.0, "std": 0.0},
            "second half": {"mean": 1.0, "std": 0.0},
        }
    # anomalies have 6 keys, normal sessions 8: below the training range, perfectly separable
    assert agg["sequence_length"]["auroc"]["mean"] == 1.0
    assert ds.stats["n_test_abnormal"] == 10 and ds.stats["n_val"] >= 1


def test_deeplog_paper_runs_in_the_bench_and_unseen_key_validation_sessions_leave_the_threshold(tmp_path: Path) -> None:
    spec = _key_dataset(tmp_path)
    cfg = BenchConfig(seeds=(0,), detectors=("deeplog_paper", "new_event"), deeplog_paper_epochs=2)
    runs = {r.detector: r for r in run_benchmark(cfg, [spec]).datasets[0].runs}
    assert set(runs) == {"deeplog_paper", "new_event"}
    assert float(runs["deeplog_paper"].metrics["threshold"]).is_integer()  # a count of misses
    assert runs["new_event"].metrics["n_val_unseen"] == 0
    with pytest.raises(ConfigError, match="deeplog_paper_epochs"):
        BenchConfig(deeplog_paper_epochs=0)
    assert quick_config().deeplog_paper_epochs == 2


def test_run_benchmark_reports_a_missing_dataset_instead_of_failing(tmp_path: Path) -> None:
    missing = DatasetSpec("gone", "gone", "keys", (InputFile(tmp_path / "nope"),))
    result = run_benchmark(BenchConfig(seeds=(0,), detectors=("new_event",)), [missing])
    assert result.datasets[0].error is not None and "missing" in result.datasets[0].error


TINY = {"model.d_model": 8, "model.d_ff": 8, "model.n_layers": 1, "model.n_heads": 1, "train.min_steps": 0}


def test_logbert_variants_run_end_to_end(tmp_path: Path) -> None:
    spec = _key_dataset(tmp_path, n_normal=20, n_abnormal=4)
    cfg = quick_config(detectors=("logbert", "logbert_mlkp", "logbert_vhm"), epochs=1, overrides=TINY)
    ds = run_benchmark(cfg, [spec]).datasets[0]
    runs = {r.detector: r for r in ds.runs}
    assert set(runs) == {"logbert", "logbert_mlkp", "logbert_vhm"}
    assert all(r.metrics["epochs_run"] == 1 for r in runs.values())
    assert all(0.0 <= r.metrics["auroc"] <= 1.0 for r in runs.values())
    # a handful of validation sessions: `auto` cross-fits, as logbert train would, over every normal session
    assert ds.stats["calibration"] == "cross_fit"
    assert all(r.metrics["n_calibration"] == ds.stats["n_train"] + ds.stats["n_val"] for r in runs.values())


@pytest.mark.parametrize("calibration", ["auto", "split"])
def test_bench_thresholds_are_the_ones_logbert_train_stores(tmp_path: Path, calibration: str) -> None:
    """The realistic protocol is logbert train's own calibration, for LogBERT and the baselines alike."""
    spec = _key_dataset(tmp_path, n_normal=30, n_abnormal=4)
    overrides = {**TINY, "scoring.calibration": calibration}
    bench = BenchConfig(seeds=(1,), epochs=1, detectors=("count_nearest", "logbert"), overrides=overrides)
    runs = {r.detector: r for r in run_benchmark(bench, [spec]).datasets[0].runs}

    data = load_dataset(spec)
    config = data.config.with_overrides({"train.epochs": 1, "train.patience": 3, **overrides})
    split = prepare_split(data, config, 1, bench.max_train_sessions)
    scheme = resolve_calibration(config.scoring, len(split.train) + len(split.val), len(split.val))
    assert scheme == ("split" if calibration == "split" else "cross_fit")
    fitted = fit_sessions(split.train, split.val, config.with_overrides({"train.seed": 1}), scheme=scheme)
    baseline = detector_specs()["count_nearest"]
    _, record = calibrate_detector(
        lambda: baseline.build(config, 1), split.train, split.val, config, scheme=scheme, unit=baseline.unit
    )
    assert runs["logbert"].metrics["calibration"] == runs["count_nearest"].metrics["calibration"] == scheme
    assert runs["logbert"].metrics["threshold"] == pytest.approx(fitted.record.threshold, abs=1e-6)
    assert runs["count_nearest"].metrics["threshold"] == pytest.approx(record.threshold, abs=1e-9)
    assert runs["logbert"].metrics["n_calibration"] == fitted.record.n


def test_results_are_written_with_both_protocols_and_plots(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    spec = _key_dataset(tmp_path / "data")
    recall_only = dataclasses.replace(spec, name="toy_recall", recall_only=True)
    result = run_benchmark(quick_config(detectors=("new_event", "count_nearest")), [spec, recall_only])
    paths = write_results(result, tmp_path / "out", "logbert bench --quick")
    md = paths["markdown"].read_text()
    assert "QUICK smoke run" in md and "realistic" in md and "paper (oracle)" in md
    assert "![toy toy_pr](toy_pr.png)" in md and (tmp_path / "out" / "toy_scores.png").stat().st_size > 0
    assert not (tmp_path / "out" / "toy_recall_pr.png").exists()  # no PR curve without real normals
    recall_rows = md.split("## toy_recall")[1]
    assert "| new_event | n/a |" in recall_rows  # precision is n/a on recall-only data
    data = json.loads(paths["json"].read_text())
    assert data["config"]["quick"] is True
    assert {r["dataset"] for r in data["headline"]} == {"toy", "toy_recall"}
    assert data["datasets"][0]["aggregate"]["new_event"]["f1"]["mean"] == 1.0
    assert data["datasets"][0]["input_labels"] == ["every session normal", "every session anomalous"]
    assert data["datasets"][0]["preset"] == "keys"


def test_aggregate_mean_and_sample_std() -> None:
    runs = [
        RunRecord("d", 0, {"f1": 0.5, "auroc": float("nan")}, {"t": 1.0}),
        RunRecord("d", 1, {"f1": 1.0, "auroc": float("nan")}, {"t": 0.0}),
    ]
    agg = aggregate(runs)["d"]
    assert agg["f1"]["mean"] == 0.75 and agg["f1"]["std"] == pytest.approx(np.std([0.5, 1.0], ddof=1))
    assert "auroc" not in agg  # only NaN: absent, never averaged as a number
    assert agg["type_recall"]["t"]["mean"] == 0.5 and agg["n_seeds"] == 2


def test_headline_compares_logbert_with_the_best_baseline(tmp_path: Path) -> None:
    spec = _key_dataset(tmp_path)
    result = run_benchmark(BenchConfig(seeds=(0,), detectors=("new_event", "sequence_length")), [spec])
    result.datasets[0].runs.append(RunRecord("logbert", 0, {"f1": 0.9, "auroc": 1.0}))
    result.detectors = {**result.detectors}
    row = headline(result)[0]
    assert row["f1"]["best_baseline"] == "new_event" and row["f1"]["best_baseline_value"] == 1.0
    assert row["f1"]["logbert_at_least_best"] is False
    assert row["auroc"]["logbert_at_least_best"] is True


def test_bench_config_validation() -> None:
    with pytest.raises(ConfigError, match="unknown detector"):
        BenchConfig(detectors=("nope",))
    with pytest.raises(ConfigError, match="seed"):
        BenchConfig(seeds=())
    with pytest.raises(ConfigError, match="max_train_sessions"):
        BenchConfig(max_train_sessions=3)
    assert quick_config().quick and len(BenchConfig().seeds) >= 3


# -- CLI ----------------------------------------------------------------------------------------------


def test_cli_bench_calls_the_harness_with_the_quick_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import logbert.bench as b
    from logbert.cli import bench as cli_bench

    spec = _key_dataset(tmp_path)
    calls: dict[str, Any] = {}

    def fake_run(cfg: BenchConfig, specs: list[DatasetSpec], **_: Any) -> Any:
        calls["cfg"], calls["specs"] = cfg, specs
        return b.BenchResult(cfg, [], 1.0, {})

    monkeypatch.setattr(b, "run_benchmark", fake_run)
    monkeypatch.setattr(b, "write_results", lambda *a, **k: {"json": Path("r.json"), "markdown": Path("r.md")})
    app = typer.Typer()
    cli_bench.register(app)
    app.command("noop")(lambda: None)  # a second command so that `bench` is a sub-command
    data = f"{spec.inputs[0].path},abnormal={spec.inputs[1].path},name=mine"
    out = CliRunner().invoke(
        app,
        ["bench", "--quick", "--no-builtin", "--data", data, "--seeds", "2", "--threads", "1"]
        + ["--set", "scoring.calibration=split", "--set", "train.lr=0.002"],
    )
    assert out.exit_code == 0, out.output
    assert calls["cfg"].quick and calls["cfg"].seeds == (0, 1) and calls["cfg"].num_threads == 1
    # --set over the smoke run's own settings
    assert calls["cfg"].overrides == {"train.min_steps": 0, "scoring.calibration": "split", "train.lr": 0.002}
    assert [s.name for s in calls["specs"]] == ["mine"]
    bad = CliRunner().invoke(app, ["bench", "--no-builtin", "--data", f"{tmp_path / 'nope.keys'}"])
    assert bad.exit_code == 1


def test_cli_bench_fails_when_no_dataset_could_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Outside the repository (no ../shared/datasets) the run must not end 'successfully' with nothing in it."""
    import logbert.bench as b
    from logbert.cli import bench as cli_bench

    spec = _key_dataset(tmp_path)

    def fake_run(cfg: BenchConfig, specs: list[DatasetSpec], **_: Any) -> Any:
        failed = [b.DatasetResult(s, {}, [], error=f"dataset {s.name}: missing file(s)") for s in specs]
        return b.BenchResult(cfg, failed, 1.0, {})

    monkeypatch.setattr(b, "run_benchmark", fake_run)
    monkeypatch.setattr(b, "write_results", lambda *a, **k: {"json": Path("r.json"), "markdown": Path("r.md")})
    app = typer.Typer()
    cli_bench.register(app)
    app.command("noop")(lambda: None)
    data = f"{spec.inputs[0].path},abnormal={spec.inputs[1].path},name=mine"
    out = CliRunner().invoke(app, ["bench", "--quick", "--no-builtin", "--data", data])
    assert out.exit_code == 1
    assert "no dataset could be run" in out.output and "skipped mine" in out.output
    assert "datasets folder" not in out.output  # --data alone never reads it


def test_cli_bench_says_a_skipped_dataset_s_reason_once_and_binary_data_is_named_not_quoted(tmp_path: Path) -> None:
    """A binary --data file printed ~1,100 replacement characters, and a bad labels file's reason came three times
    (a logged warning, the progress line, the summary)."""
    from logbert.cli import bench as cli_bench

    (tmp_path / "junk.log").write_bytes(bytes(np.random.default_rng(0).integers(0, 256, 20_000, dtype=np.uint8)))
    spec = _key_dataset(tmp_path)
    (tmp_path / "labels.csv").write_bytes(b"id,label\n\x00\x01,1\n")
    app = typer.Typer()
    cli_bench.register(app)
    app.command("noop")(lambda: None)
    data = [f"{tmp_path / 'junk.log'}", f"{spec.inputs[0].path},labels={tmp_path / 'labels.csv'},name=mine"]
    out = CliRunner().invoke(
        app, ["bench", "--quick", "--no-builtin", "--out", str(tmp_path / "o"), "--data", data[0], "--data", data[1]]
    )
    assert out.exit_code == 1
    said = " ".join(out.output.split())  # Rich wraps at 80 columns
    assert "\ufffd" not in said and "does not look like a text log" in said
    assert said.count("not a label file") == 1
    assert "1 of 2 lines are not text" in said
    saved = json.loads((tmp_path / "o" / "results.json").read_text())
    mine = next(d for d in saved["datasets"] if d["name"] == "mine")
    assert mine["input_labels"] == [str(tmp_path / "labels.csv")]
