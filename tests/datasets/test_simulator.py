import re
from collections import Counter
from datetime import datetime
from pathlib import Path

import pytest

from logbert.datasets.labels import read_labels
from logbert.datasets.simulator import FAULT_TYPES, simulate_openstack, write_simulated
from logbert.windowing.windows import SESSION_ID_RULES, find_session_ids, group_sessions

# loghub "openstack": <Logrecord> <Date> <Time> <Pid> <Level> <Component> [<ADDR>] <Content>
HEADER = re.compile(
    r"^(nova-(?:compute|api|scheduler)\.log\.1\.\d{4}-\d\d-\d\d_\d\d:\d\d:\d\d) "
    r"(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d\.\d{3}) "
    r"(\d+) (INFO|WARNING|ERROR) (\S+) \[([^\]]*)\] (.+)$"
)
INSTANCE = re.compile(SESSION_ID_RULES["openstack_instance"])


def test_deterministic_for_a_seed() -> None:
    a = simulate_openstack(40, 0.25, seed=3)
    b = simulate_openstack(40, 0.25, seed=3)
    c = simulate_openstack(40, 0.25, seed=4)
    assert a.lines == b.lines and a.labels == b.labels and a.fault_types == b.fault_types
    assert a.lines != c.lines


def test_label_counts_and_fault_types() -> None:
    sim = simulate_openstack(200, 0.3, seed=11)
    assert len(sim.labels) == 200 and sim.n_anomalous == 60
    assert all((sim.fault_types[i] == "none") == (label == 0) for i, label in sim.labels.items())
    assert set(sim.fault_types.values()) <= set(FAULT_TYPES)
    assert len(Counter(sim.fault_types.values())) >= 6  # a mix of faults, not one kind
    assert simulate_openstack(10, 0.0, seed=1).n_anomalous == 0
    with pytest.raises(ValueError):
        simulate_openstack(0, 0.1, seed=1)
    with pytest.raises(ValueError):
        simulate_openstack(5, 1.5, seed=1)


def test_lines_have_the_loghub_header_sorted_times_and_sessions() -> None:
    sim = simulate_openstack(60, 0.2, seed=5, start=datetime(2020, 1, 2, 3, 4, 5))
    stamps = []
    ids_per_line = []
    for line in sim.lines:
        m = HEADER.match(line)
        assert m, line
        stamps.append(f"{m.group(2)} {m.group(3)}")
        ids_per_line.append(find_session_ids(line, INSTANCE))
    assert stamps == sorted(stamps) and stamps[0].startswith("2020-01-02 03:04")
    sessions, n_without = group_sessions(ids_per_line, [0] * len(sim.lines))
    assert {s.session_id for s in sessions} == set(sim.labels)
    assert n_without > len(sim.lines) // 4  # API / periodic lines carry no instance id, as in real logs
    normal_lengths = sorted(len(s.key_ids) for s in sessions if sim.labels[s.session_id] == 0)
    assert 20 <= normal_lengths[len(normal_lengths) // 2] <= 40  # ~28 lines, like loghub normal sessions


def test_vms_overlap_in_time() -> None:
    sim = simulate_openstack(80, 0.0, seed=2)
    first_last: dict[str, list[int]] = {}
    for n, line in enumerate(sim.lines):
        for iid in find_session_ids(line, INSTANCE):
            first_last.setdefault(iid, [n, n])[1] = n
    spans = sorted(first_last.values())
    assert sum(b[0] < a[1] for a, b in zip(spans, spans[1:], strict=False)) > 10  # interleaved sessions


def test_subtle_faults_add_no_new_template_words() -> None:
    sim = simulate_openstack(300, 0.3, seed=9)
    normal_ids = {i for i, f in sim.fault_types.items() if f == "none"}
    subtle = {
        i
        for i, f in sim.fault_types.items()
        if f in ("stopped_early", "network_dealloc_missing", "lifecycle_event_lost")
    }
    assert subtle

    def words(ids: set[str]) -> set[str]:
        out: set[str] = set()
        for line in sim.lines:
            found = find_session_ids(line, INSTANCE)
            if found and found[0] in ids:
                out.update(w for w in HEADER.match(line).group(8).split() if w.isalpha())  # type: ignore[union-attr]
        return out

    assert words(subtle) <= words(normal_ids)


def test_write_simulated_roundtrip(tmp_path: Path) -> None:
    files = write_simulated(tmp_path / "demo", n_instances=30, anomaly_ratio=0.2, seed=0)
    sim = simulate_openstack(30, 0.2, seed=0)
    assert files.log.read_text().splitlines() == sim.lines
    labels = read_labels(files.labels)
    assert labels.by_id == sim.labels and labels.format == "session_csv"
    rows = files.fault_types.read_text().splitlines()
    assert rows[0] == "instance_id,fault_type" and len(rows) == 31


def test_template_mining_behaves_like_on_real_nova() -> None:
    pytest.importorskip("drain3")
    from logbert.config import ParserConfig
    from logbert.parsing.headers import BUILTIN_FORMATS, HeaderParser
    from logbert.parsing.parser import LogParser

    sim = simulate_openstack(80, 0.2, seed=1)
    header = HeaderParser(BUILTIN_FORMATS["openstack"])
    parsed = [header.parse(line, n) for n, line in enumerate(sim.lines, start=1)]
    assert all(p is not None and p.timestamp is not None for p in parsed)
    parser = LogParser(ParserConfig(format="openstack"))
    keys = parser.fit_transform([p.content for p in parsed if p is not None])
    # loghub OpenStack_2k has 43 templates; the simulator adds fault templates, nothing explodes
    assert 30 <= len(parser.templates_) <= 120, parser.templates_
    assert len(set(keys)) == len(parser.templates_)
