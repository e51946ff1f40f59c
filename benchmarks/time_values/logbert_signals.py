"""The time- and value-aware LogBERT (issue 13) through the path a user takes: ``logbert train`` then ``score``.

DeepLog OpenStack: the training sessions of :func:`benchmarks.time_values.run.load` (the first 80 % of
``openstack_normal1`` by start time) are written back as a raw log, ``logbert.pipeline.fit.train``
trains on it (``train.test_fraction = 0``: every session is a training or validation one;
``scoring.calibration = "cross_fit"``: the threshold and the channel scales come from 5-fold
out-of-fold scores), and ``Detector.score_sessions`` scores the raw ``openstack_abnormal`` file and
the held-back normal1 sessions (also written back as a raw log). The ablation trains one artifact
per ``model.signals``: ``off`` (key-only), ``time``, ``values``, ``all``.

Simulator: ``write_simulated(time_value_faults=True, category_faults=True)``, ``train`` with its
labels (anomalous sessions and 20 % of the normal ones held back), then ``evaluate``: recall per fault
type at the stored threshold (``recall_time_value_faults``: the three time/value faults, as before the
category fault existed; ``recall_category_faults``: the power state never seen in training).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from benchmarks.time_values.run import ABNORMAL, DIR, Data, evaluate

from logbert.config import LogBertConfig, load_config
from logbert.datasets.simulator import CATEGORY_FAULT_TYPES, TIME_VALUE_FAULT_TYPES, write_simulated
from logbert.pipeline.detector import Detector, load_detector
from logbert.pipeline.estimator import CHANNELS
from logbert.pipeline.evaluate import evaluate as evaluate_artifact
from logbert.pipeline.fit import train
from logbert.pipeline.sessions import session_channels
from logbert.records import KeySequence
from logbert.results import SessionResult

MODES = ("off", "time", "values", "all")
LABEL = {
    "off": "logbert keys only",
    "time": "logbert + time",
    "values": "logbert + values",
    "all": "logbert + time + values",
}


def write_lines(src: Path, sessions: Sequence[KeySequence], dst: Path) -> Path:
    """The raw lines of ``sessions`` (by their ``line_nos``), in file order, written to ``dst``."""
    wanted = {n for s in sessions for n in s.line_nos}
    with src.open(encoding="utf-8", errors="replace") as f, dst.open("w", encoding="utf-8") as out:
        for line_no, line in enumerate(f, start=1):
            if line_no in wanted:
                out.write(line)
    return dst


def signal_config(
    base: LogBertConfig, mode: str, epochs: int, seed: int, threads: int, settings: Mapping[str, Any] | None = None
) -> LogBertConfig:
    """``settings``: more settings for the run (``--set``), after the bench's own."""
    return base.with_overrides(
        {
            "model.signals": mode,
            "train.epochs": epochs,
            "train.seed": seed,
            "train.num_threads": threads,
            "train.test_fraction": 0.0,
            "scoring.calibration": "cross_fit",
            **(settings or {}),
        }
    )


def _scores(results: Sequence[SessionResult], seqs: Sequence[KeySequence]) -> np.ndarray:
    by_id = {r.session_id: r.score for r in results}
    return np.array([by_id.get(s.session_id, -np.inf) for s in seqs], dtype=np.float64)


def _flags(results: Sequence[SessionResult], seqs: Sequence[KeySequence]) -> np.ndarray:
    by_id = {r.session_id: r.is_anomaly for r in results}
    return np.array([by_id.get(s.session_id, False) for s in seqs], dtype=bool)


def run_openstack(
    d: Data,
    data: Path,
    work: Path,
    modes: Sequence[str],
    epochs: int,
    seed: int,
    threads: int,
    settings: Mapping[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """One row per ``model.signals`` mode (see the module)."""
    work.mkdir(parents=True, exist_ok=True)
    normal_src = data / DIR / "openstack_normal1.instance_lines.log"
    train_log = write_lines(normal_src, d.train, work / "train.log")
    held_log = write_lines(normal_src, d.held, work / "held.log")
    rows = []
    for mode in modes:
        config = signal_config(load_config(preset="openstack"), mode, epochs, seed, threads, settings)
        started = time.perf_counter()
        result = train(train_log, work / f"artifact-{mode}", config, progress=False, overwrite=True)
        train_s = time.perf_counter() - started
        detector = load_detector(result.artifact_dir)
        started = time.perf_counter()
        # each file is a capture of its own: a session in flight at its first line is scored, not flagged
        abn_seqs, abn_report = detector.read(data / DIR / ABNORMAL)
        abn = detector.score_sessions(abn_seqs, explain=True, capture_start=abn_report.first_time)
        held_seqs, held_report = detector.read(held_log)
        held = detector.score_sessions(held_seqs, explain=True, capture_start=held_report.first_time)
        score_s = time.perf_counter() - started
        s_abn, s_held = _scores(abn, d.abnormal), _scores(held, d.held)
        f_abn, f_held = _flags(abn, d.abnormal), _flags(held, d.held)
        row = evaluate(LABEL[mode], s_abn, s_held, detector.threshold, d, f_abn, f_held)
        row["in_flight"] = [
            f"{where} {r.session_id[:8]} (score {r.score:.3g}, label {r.label}): {r.partial}"
            for where, rs in (("abnormal file", abn), ("held-back normal", held))
            for r in rs
            if r.partial is not None
        ]
        row["signals"] = {"off": "keys", "time": "keys+time", "values": "keys+values", "all": "keys+time+values"}[mode]
        row["model_signals"] = detector.config.model.signals
        row["threshold_basis"] = result.threshold_basis
        row["warnings"] = result.warnings
        row["scales"] = None if detector.model.scales_ is None else [round(x, 4) for x in detector.model.scales_]
        anomalies = {s.session_id for s in d.abnormal if s.label == 1}
        row["explanations"] = {r.session_id: _why(r) for r in abn if r.session_id in anomalies and r.is_anomaly}
        row["false_alarm_explanations"] = [
            f"{where} {r.session_id[:8]}: {_why(r)}"
            for where, rs in (("abnormal file", abn), ("held-back normal", held))
            for r in rs
            if r.is_anomaly and r.session_id not in anomalies
        ][:8]
        row["flagged_by_channel"] = _by_channel(detector, abn_seqs, held_seqs, d)
        row["train_seconds"] = round(train_s, 1)
        row["score_seconds"] = round(score_s, 2)
        row["n_scored"] = len(abn) + len(held)
        row["epochs"] = epochs
        rows.append(row)
    return rows


def _by_channel(
    detector: Detector, abn: Sequence[KeySequence], held: Sequence[KeySequence], d: Data
) -> dict[str, dict[str, int]] | None:
    """Which channel (key, time, value; each over its own scale) is above the threshold, for the flagged
    sessions: the 4 official anomalies, the other 194 abnormal-file instances, the held-back normal ones."""
    model = detector.model
    if not model.reads_signals or model.scales_ is None:
        return None
    labels = {s.session_id: s.label for s in d.abnormal}
    out: dict[str, dict[str, int]] = {}
    for where, seqs in (("abnormal file", abn), ("held-back normal", held)):
        scaled = session_channels(model, seqs, detector.config.window) / np.asarray(model.scales_)[None, :]
        for seq, row in zip(seqs, scaled, strict=True):
            group = "anomalies" if labels.get(seq.session_id) == 1 else where
            for name, value in zip(CHANNELS, row, strict=True):
                if value > detector.threshold:
                    out.setdefault(group, {}).setdefault(name, 0)
                    out[group][name] += 1
    return out


def _why(r: SessionResult) -> str:
    if r.surprises:
        return "; ".join(r.surprises)
    if r.misses:
        m = r.misses[0]
        return f"key '{m.template}' at {m.position} unexpected (expected '{m.expected[0].template}')"
    return "(no explanation: the key channel decided without a miss)"


def run_simulator(
    work: Path,
    modes: Sequence[str],
    epochs: int,
    seed: int,
    threads: int,
    n_instances: int = 300,
    settings: Mapping[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Recall per time/value fault type at the stored threshold, one row per mode (see the module)."""
    files = write_simulated(
        work / "sim",
        n_instances=n_instances,
        anomaly_ratio=0.3,
        seed=seed,
        time_value_faults=True,
        category_faults=True,
    )
    faults = dict(line.split(",") for line in files.fault_types.read_text().splitlines()[1:])
    rows = []
    for mode in modes:
        base = load_config(preset="openstack")
        config = base.with_overrides(
            {
                "model.signals": mode,
                "train.epochs": epochs,
                "train.seed": seed,
                "train.num_threads": threads,
                **(settings or {}),
            }
        )
        started = time.perf_counter()
        result = train(files.log, work / f"sim-{mode}", config, labels=files.labels, progress=False, overwrite=True)
        train_s = time.perf_counter() - started
        detector: Detector = load_detector(result.artifact_dir)
        ev = evaluate_artifact(detector, files.log, labels=files.labels, baselines=())
        by_fault: dict[str, list[bool]] = {}
        for r in ev.sessions:
            by_fault.setdefault(faults.get(r.session_id, "?"), []).append(r.is_anomaly)
        target = [f for kind in TIME_VALUE_FAULT_TYPES for f in by_fault.get(kind, [])]
        category = [f for kind in CATEGORY_FAULT_TYPES for f in by_fault.get(kind, [])]
        rows.append(
            {
                "detector": LABEL[mode],
                "model_signals": detector.config.model.signals,
                "threshold": round(detector.threshold, 4),
                "threshold_basis": result.threshold_basis,
                "recall_time_value_faults": round(float(np.mean(target)), 3) if target else None,
                "n_time_value_faults": len(target),
                "recall_category_faults": round(float(np.mean(category)), 3) if category else None,
                "recall_by_fault": {k: [int(sum(v)), len(v)] for k, v in sorted(by_fault.items())},
                "false_alarms_normal": [int(sum(by_fault.get("none", []))), len(by_fault.get("none", []))],
                "auroc_all": ev.report.get("auroc"),
                "f1_all": ev.report.get("f1"),
                "train_seconds": round(train_s, 1),
            }
        )
    return rows
