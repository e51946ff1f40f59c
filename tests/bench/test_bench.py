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
from logbert.bench.datasets import builtin_datasets
from logbert.bench.report import headline
from logbert.bench.runner import RunRecord, prepare_split, session_scores
from logbert.config import load_config
from logbert.errors import ConfigError, InputDataError
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
    assert split.n_unknown_test_keys == len(anomalous)
    again = prepare_split(data, config, seed=0, max_train_sessions=10)
    assert [s.session_id for s in again.train] == [s.session_id for s in split.train]


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
    config = load_config(preset="keys", overrides={"window.max_len": 2, "model.max_len": 2})
    sessions = [
        KeySequence("a", [1, 1, 5, 0, 2]),  # windows [1,1] [5,0] [2] -> max 5
        KeySequence("b", [1, 1]),
        KeySequence("c", [1, 1, 2]),
    ]
    det = _CountingDetector()
    np.testing.assert_array_equal(session_scores(det, sessions, "window", config), [5.0, 2.0, 2.0])
    assert sorted(det.calls[0]) == [[1, 1], [2], [5, 0]]  # [1,1] three times, [2] twice: scored once
    whole = _CountingDetector()
    np.testing.assert_array_equal(session_scores(whole, sessions, "session", config), [9.0, 2.0, 4.0])


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


def test_run_benchmark_reports_a_missing_dataset_instead_of_failing(tmp_path: Path) -> None:
    missing = DatasetSpec("gone", "gone", "keys", (InputFile(tmp_path / "nope"),))
    result = run_benchmark(BenchConfig(seeds=(0,), detectors=("new_event",)), [missing])
    assert result.datasets[0].error is not None and "missing" in result.datasets[0].error


def test_logbert_variants_run_end_to_end(tmp_path: Path) -> None:
    spec = _key_dataset(tmp_path, n_normal=20, n_abnormal=4)
    cfg = quick_config(
        detectors=("logbert", "logbert_mlkp", "logbert_vhm"),
        epochs=1,
        overrides={"model.d_model": 8, "model.d_ff": 8, "model.n_layers": 1, "model.n_heads": 1},
    )
    runs = {r.detector: r for r in run_benchmark(cfg, [spec]).datasets[0].runs}
    assert set(runs) == {"logbert", "logbert_mlkp", "logbert_vhm"}
    assert all(r.metrics["epochs_run"] == 1 for r in runs.values())
    assert all(0.0 <= r.metrics["auroc"] <= 1.0 for r in runs.values())


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
        app, ["bench", "--quick", "--no-builtin", "--data", data, "--seeds", "2", "--threads", "1"]
    )
    assert out.exit_code == 0, out.output
    assert calls["cfg"].quick and calls["cfg"].seeds == (0, 1) and calls["cfg"].num_threads == 1
    assert [s.name for s in calls["specs"]] == ["mine"]
    bad = CliRunner().invoke(app, ["bench", "--no-builtin", "--data", f"{tmp_path / 'nope.keys'}"])
    assert bad.exit_code == 1
