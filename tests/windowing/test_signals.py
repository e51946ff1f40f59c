"""Signal buckets (issue 13): fitting, the bucket rule, JSON round trip, edge cases."""

from __future__ import annotations

import json
import math

import pytest

from logbert.config import SIGNAL_BELOW, SIGNAL_NONE, ModelConfig
from logbert.records import SessionSignals
from logbert.windowing.signals import SignalBuckets, bucket_id, encode_signals, excess, resolve_signals

NAN = math.nan


def _sig(gaps: list[float], values: list[tuple[object, ...]], elapsed: float | None) -> SessionSignals:
    return SessionSignals(tuple(gaps), tuple(values), elapsed)  # type: ignore[arg-type]


KEYS = [[5, 6, 7]] * 20
SIGNALS = [_sig([0.0, 1.0 + i / 20, 2.0], [(), (20.0 + i / 10, "x", None), ()], 3.0 + i / 20) for i in range(20)]


def test_fit_edges_and_json_round_trip() -> None:
    b = SignalBuckets.fit(KEYS, SIGNALS, n_gap=4, n_value=4)
    assert len(b.gap_edges) == 5 and len(b.elapsed_edges) == 5
    assert set(b.value_edges) == {(6, 0)}  # the category and the None slot are not numbers
    assert b.value_edges[(6, 0)][0] == 20.0 and b.value_edges[(6, 0)][-1] == pytest.approx(21.9)
    again = SignalBuckets.from_dict(json.loads(json.dumps(b.to_dict())))
    assert again == b


def test_from_dict_refuses_wrong_lengths_and_versions() -> None:
    data = SignalBuckets.fit(KEYS, SIGNALS, n_gap=4, n_value=4).to_dict()
    with pytest.raises(ValueError, match="version"):
        SignalBuckets.from_dict({**data, "version": 99})
    with pytest.raises(ValueError, match="wrong length"):
        SignalBuckets.from_dict({**data, "gap_edges": [0.0, 1.0]})


def test_bucket_rule_and_excess() -> None:
    edges = (0.0, 1.0, 2.0, 3.0)
    assert bucket_id(-1.0, edges) == SIGNAL_BELOW
    assert [bucket_id(x, edges) for x in (0.0, 0.5, 1.0, 2.5, 3.0)] == [3, 3, 4, 5, 5]
    assert bucket_id(3.5, edges) == 6  # ABOVE = n + 3
    assert bucket_id(NAN, edges) == bucket_id(None, edges) == bucket_id(1.0, ()) == SIGNAL_NONE
    assert excess(1.5, edges) == 0.0 and excess(5.0, edges) == pytest.approx(2.0)  # 2 s out of a 1 s inner range
    assert excess(5.0, (2.0, 2.0, 2.0, 2.0)) > 100  # a constant slot still has a scale (1 % of its value)


def test_encode_aligns_with_dist_and_handles_missing_time_unseen_keys_and_out_of_range() -> None:
    b = SignalBuckets.fit(KEYS, SIGNALS, n_gap=4, n_value=4)
    sig = _sig([0.0, NAN, 500.0], [(), (99.0, "x", None), ()], 900.0)
    row = encode_signals([5, 6, 7], sig, b, time=True, values=True)
    assert len(row.gap_ids) == len(row.value_ids) == 4  # DIST + 3 keys
    assert row.gap_ids[0] == 4 + 3 and row.gap_excess[0] > 0  # elapsed 900 s: above every training session
    assert row.gap_ids[2] == SIGNAL_NONE  # NaN gap (no timestamp)
    assert row.gap_ids[3] == 4 + 3 and row.gap_excess[3] > 0  # 500 s gap: above the range
    assert row.value_ids[2] == 4 + 3 and row.value_slot[2] == 0 and row.value_excess[2] > 10
    assert row.value_ids[1] == row.value_ids[3] == SIGNAL_NONE  # templates without a number slot
    unseen = encode_signals(
        [99, -2, 6], _sig([0.0, NAN, 1.0], [(5.0,), (), (20.5, "x", None)], None), b, time=True, values=True
    )
    assert unseen.value_ids[1] == SIGNAL_NONE and unseen.gap_ids[2] == SIGNAL_NONE  # unseen key, pseudo key
    assert unseen.gap_ids[0] == SIGNAL_NONE  # no elapsed time
    off = encode_signals([5, 6, 7], sig, b, time=False, values=False)
    assert set(off.gap_ids) == set(off.value_ids) == {SIGNAL_NONE}
    assert encode_signals([5, 6, 7], None, b, time=True, values=True).gap_ids == [SIGNAL_NONE] * 4
    with pytest.raises(ValueError, match="signal positions"):
        encode_signals([5, 6], sig, b, time=True, values=True)


def test_no_timestamps_no_values_switch_the_channels_off_with_a_message() -> None:
    keys_only = [None] * len(KEYS)
    b = SignalBuckets.fit(KEYS, keys_only, n_gap=4, n_value=4)
    assert not b.has_time and not b.has_values
    mode, why = resolve_signals(ModelConfig(signals="all"), b)
    assert mode == "off" and why is not None and "no time" in why and "values" in why
    no_time = [_sig([NAN] * 3, list(s.values), None) for s in SIGNALS]
    mode, why = resolve_signals(ModelConfig(signals="all"), SignalBuckets.fit(KEYS, no_time, 4, 4))
    assert mode == "values" and why is not None and "timestamps" in why
    assert resolve_signals(ModelConfig(signals="off"), b) == ("off", None)


def test_a_constant_slot_never_outranks_a_varying_one_of_its_line() -> None:
    """A host's total memory (the same on every line) next to the memory in use: equal edges put the constant in
    the last bucket they close, and ranked by bucket it was always the line's 'most unusual' value, so the model
    never saw the memory in use. Ranked by its training rank the constant is at the median (issue 13, seed 0)."""
    keys = [[5, 6]] * 20
    sigs = [_sig([0.0, 1.0], [(), (100.0, float(i))], 1.0) for i in range(20)]
    b = SignalBuckets.fit(keys, sigs, n_gap=4, n_value=4)
    assert set(b.value_edges[(6, 0)]) == {100.0} and b.ranked
    for used in (0.0, 10.0, 18.0):  # low, near the median, high: the varying slot is the one read
        row = encode_signals([5, 6], _sig([0.0, 1.0], [(), (100.0, used)], 1.0), b, time=True, values=True)
        assert row.value_slot[2] == 1 and row.value_ids[2] == bucket_id(used, b.value_edges[(6, 1)])
    # a state from before the rule (signals.json versions 1 and 2) picks as it did: the constant slot
    legacy = SignalBuckets.from_dict({**b.to_dict(), "version": 1})
    assert not legacy.ranked
    row = encode_signals([5, 6], _sig([0.0, 1.0], [(), (100.0, 18.0)], 1.0), legacy, time=True, values=True)
    assert row.value_slot[2] == 0 and row.value_ids[2] == 4 + 2  # the top inner bucket, always
    # out of range still ranks first, by excess, whatever the rule
    row = encode_signals([5, 6], _sig([0.0, 1.0], [(), (100.0, 60.0)], 1.0), b, time=True, values=True)
    assert row.value_slot[2] == 1 and row.value_ids[2] == 4 + 3 and row.value_excess[2] > 1


def test_a_discrete_slot_reads_its_common_value_as_the_median() -> None:
    """Flavor sizes: most lines ask for 2 GB. Ranked by bucket, 2 GB (the last bucket its equal edges close) sat
    far from the middle; by training rank it is the median, and the rare sizes at either end are the unusual."""
    sizes = [0.5] + [2.0] * 18 + [4.0]
    sigs = [_sig([0.0, 1.0], [(), (s, 10.0 + i % 3)], 1.0) for i, s in enumerate(sizes)]
    b = SignalBuckets.fit([[5, 6]] * 20, sigs, n_gap=4, n_value=4)
    common = encode_signals([5, 6], _sig([0.0, 1.0], [(), (2.0, 12.0)], 1.0), b, time=True, values=True)
    assert common.value_slot[2] == 1  # 12 s is at the top of its slot's training range: more unusual than 2 GB
    rare = encode_signals([5, 6], _sig([0.0, 1.0], [(), (4.0, 11.0)], 1.0), b, time=True, values=True)
    assert rare.value_slot[2] == 0  # the rare large flavor
