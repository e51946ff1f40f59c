"""The simulator's time, value and category faults (issue 13): off by default, normal key order, unusual values."""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest

from logbert.baselines import make_baseline
from logbert.config import load_config
from logbert.datasets.simulator import (
    CATEGORY_FAULT_TYPES,
    TIME_VALUE_FAULT_TYPES,
    simulate_openstack,
    write_simulated,
)
from logbert.parsing.params import infer_slot_schema
from logbert.parsing.parser import LogParser
from logbert.pipeline.calibrate import choose_threshold, fold_ids
from logbert.pipeline.corpus import read_corpus
from logbert.pipeline.signals import corpus_signals, fit_slot_schema, line_rows
from logbert.pipeline.split import key_sessions

INSTANCE = re.compile(r"\[instance: ([0-9a-f-]{36})\] (.*)$")


def _digest(n: int, ratio: float, seed: int, **kwargs: bool) -> str:
    sim = simulate_openstack(n, ratio, seed, **kwargs)
    return hashlib.sha256(("\n".join(sim.lines) + repr(sorted(sim.fault_types.items()))).encode()).hexdigest()


def test_off_by_default_and_the_default_logs_are_unchanged() -> None:
    # The lines of the code before the option existed: the demo's numbers must not move.
    assert _digest(40, 0.2, 5) == "a0360e587edfc7afbaf7fed32e37a76824ea40f978b36ac77d15de42f0ffc6c3"
    assert _digest(40, 0.2, 5, time_value_faults=False) == _digest(40, 0.2, 5)
    assert not set(simulate_openstack(200, 0.3, seed=11).fault_types.values()) & set(TIME_VALUE_FAULT_TYPES)
    assert _digest(40, 0.2, 5, category_faults=False) == _digest(40, 0.2, 5)


def _per_instance(lines: list[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = defaultdict(list)
    for line in lines:
        m = INSTANCE.search(line)
        if m:
            out[m.group(1)].append(m.group(2))
    return out


def test_time_value_faults_keep_the_key_order_and_change_values() -> None:
    sim = simulate_openstack(300, 0.3, seed=0, time_value_faults=True)
    kinds = set(sim.fault_types.values())
    assert set(TIME_VALUE_FAULT_TYPES) <= kinds
    assert all(sim.labels[i] == 1 for i, f in sim.fault_types.items() if f in TIME_VALUE_FAULT_TYPES)
    messages = _per_instance(sim.lines)
    parser = LogParser(load_config(None, {}, preset="openstack").parser)
    parser.fit([m for ms in messages.values() for m in ms])
    sequences = {i: tuple(parser.transform(m)) for i, m in messages.items()}
    normal = {sequences[i] for i, f in sim.fault_types.items() if f == "none"}
    for iid, fault in sim.fault_types.items():
        if fault in TIME_VALUE_FAULT_TYPES:
            assert sequences[iid] in normal, fault  # the same keys, in the same order, as a normal VM

    def spawn_seconds(iid: str) -> float:
        took = next(m for m in messages[iid] if m.endswith("to spawn the instance on the hypervisor."))
        return float(took.split()[1])

    def disk_gb(iid: str) -> int:
        claim = next(m for m in messages[iid] if m.startswith("Attempting claim"))
        return int(re.search(r"disk (\d+) GB", claim).group(1))  # type: ignore[union-attr]

    by_fault: dict[str, list[str]] = defaultdict(list)
    for iid, fault in sim.fault_types.items():
        by_fault[fault].append(iid)
    assert max(spawn_seconds(i) for i in by_fault["none"]) < 26.0
    assert min(spawn_seconds(i) for i in by_fault["slow_spawn"]) > 30.0
    assert min(spawn_seconds(i) for i in by_fault["slow_network"]) > 30.0
    assert max(disk_gb(i) for i in by_fault["none"]) <= 40
    assert min(disk_gb(i) for i in by_fault["oversized_disk"]) >= 320


def test_value_baseline_finds_them_where_key_detectors_cannot(tmp_path: Path) -> None:
    """Recall >= 0.95 on the time/value faults at the automatic threshold (``choose_threshold`` on
    out-of-fold normal scores), while ``new_event`` finds none of them."""
    files = write_simulated(tmp_path, n_instances=300, anomaly_ratio=0.3, seed=0, time_value_faults=True)
    faults = dict(line.split(",") for line in files.fault_types.read_text().splitlines()[1:])
    config = load_config(None, {}, preset="openstack")
    corpus = read_corpus(files.log, config, labels=files.labels)
    normal = [s for s in corpus.line_sessions if s.label == 0]
    train_ls = normal[: len(normal) // 2]
    test_ls = [s for s in corpus.line_sessions if s not in train_ls]
    parser = LogParser(config.parser).fit(corpus.lines[i].content for s in train_ls for i in s.rows)
    (train, test), _ = key_sessions(corpus, [train_ls, test_ls], parser)
    rows = line_rows(corpus)
    schema = fit_slot_schema(corpus, [s.rows for s in train_ls], parser)
    train_sig = corpus_signals(corpus, train, rows, parser, schema)
    test_sig = corpus_signals(corpus, test, rows, parser, schema)
    keys = [s.key_ids for s in train]
    target = np.array([faults[s.session_id] in TIME_VALUE_FAULT_TYPES for s in test])
    is_normal = np.array([faults[s.session_id] == "none" for s in test])
    assert target.sum() >= 15

    def flagged(name: str, with_signals: bool) -> np.ndarray:
        fold = fold_ids(len(keys), 5, 0)
        oof = np.empty(len(keys))
        for k in range(5):
            a, b = np.flatnonzero(fold != k), np.flatnonzero(fold == k)
            det = make_baseline(name).fit([keys[i] for i in a], [train_sig[i] for i in a] if with_signals else None)
            oof[b] = det.decision_function([keys[i] for i in b], [train_sig[i] for i in b] if with_signals else None)
        threshold = choose_threshold(config.scoring, oof)
        det = make_baseline(name).fit(keys, train_sig if with_signals else None)
        scores = det.decision_function([s.key_ids for s in test], test_sig if with_signals else None)
        return scores > threshold

    values = flagged("param_outlier", True)
    assert values[target].mean() >= 0.95
    assert values[is_normal].mean() <= 0.05
    assert flagged("new_event", False)[target].sum() == 0


@pytest.mark.parametrize("fault", TIME_VALUE_FAULT_TYPES)
def test_each_time_value_fault_is_labelled_in_the_files(tmp_path: Path, fault: str) -> None:
    files = write_simulated(tmp_path, n_instances=120, anomaly_ratio=0.5, seed=3, time_value_faults=True)
    text = files.fault_types.read_text()
    assert fault in text


POWER_SYNC = re.compile(r"the VM power_state \((\d+)\)")


def test_category_faults_keep_every_other_line_and_stream_and_the_key_order() -> None:
    """``category_faults`` adds each delete's power-state sync and turns a few would-be normal instances into
    ``unusual_power_state`` ones; every other line, fault and label is the one the seed gives without it."""
    plain = simulate_openstack(300, 0.3, seed=0, time_value_faults=True)
    sim = simulate_openstack(300, 0.3, seed=0, time_value_faults=True, category_faults=True)
    assert [line for line in sim.lines if not POWER_SYNC.search(line)] == plain.lines
    changed = {i: f for i, f in sim.fault_types.items() if f != plain.fault_types[i]}
    assert set(changed.values()) == set(CATEGORY_FAULT_TYPES) and len(changed) == round(300 * 0.3 * 0.06)
    assert all(plain.fault_types[i] == "none" and sim.labels[i] == 1 for i in changed)
    messages = _per_instance(sim.lines)
    parser = LogParser(load_config(None, {}, preset="openstack").parser)
    parser.fit([m for i, ms in messages.items() for m in ms if sim.fault_types[i] == "none"])  # normal lines only
    sequences = {i: tuple(parser.transform(m)) for i, m in messages.items()}
    normal = {sequences[i] for i, f in sim.fault_types.items() if f == "none"}
    states: dict[str, set[str]] = defaultdict(set)
    for iid, ms in messages.items():
        for m in ms:
            found = POWER_SYNC.search(m)
            if found:
                states[sim.fault_types[iid]].add(found.group(1))
    assert states["none"] == {"4"}  # a deleted guest is shut down
    assert states["unusual_power_state"] and "4" not in states["unusual_power_state"]
    for iid in changed:
        assert sequences[iid] in normal  # the same keys, in the same order, as a normal VM (no UNK)
    # the state is a category slot of that template, with the normal state as its only training category
    key = next(k for k, t in enumerate(parser.templates_) if "VM power_state" in t)
    rows = [(key, parser.parameters(m, key)) for i, ms in messages.items() if sim.fault_types[i] == "none"
            for m in ms if POWER_SYNC.search(m)]  # fmt: skip
    slot = infer_slot_schema(parser.templates_, rows).slots[key][-1]
    assert slot.kind == "category" and slot.categories == ("4",)
