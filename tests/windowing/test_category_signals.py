"""Category slots in the value row (issue 13, items 1-2): training categories, the unseen-category rule,
the JSON format (version 1 without categories, as before them) and the one-value-per-position pick."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import pytest

from logbert.config import SIGNAL_NONE, ModelConfig
from logbert.records import SessionSignals
from logbert.windowing.signals import (
    BUCKETS_VERSION,
    BUCKETS_VERSION_RANKED,
    MAX_CATEGORIES,
    MAX_CATEGORY_CHARS,
    MIN_CATEGORY_VALUES,
    SignalBuckets,
    encode_signals,
    resolve_signals,
)

NAN = math.nan
KEYS = [[5, 6, 7]] * 20
#: key 6: slot 0 a number (20-21.9), slot 1 a state ("running" 14 times, "shutdown" 6 times); key 7: a state
#: seen only 3 times (too few to be read)
STATES = ["running"] * 14 + ["shutdown"] * 6


def _sig(values: list[tuple[object, ...]]) -> SessionSignals:
    return SessionSignals((0.0, 1.0, 2.0), tuple(values), 3.0)  # type: ignore[arg-type]


SIGNALS = [_sig([(), (20.0 + i / 10, STATES[i]), ("on",) if i < 3 else ()]) for i in range(20)]
#: the keys of SignalBuckets.to_dict() before categories existed (an artifact's signals.json then)
LEGACY_FIELDS = {"version", "n_gap", "n_value", "gap_edges", "elapsed_edges", "value_edges", "key_gap_edges",
                 "duration_slots"}  # fmt: skip


def _buckets() -> SignalBuckets:
    return SignalBuckets.fit(KEYS, SIGNALS, n_gap=4, n_value=4)


def test_fit_keeps_the_training_categories_most_frequent_first_and_only_slots_seen_often_enough() -> None:
    b = _buckets()
    assert dict(b.categories) == {(6, 1): ("running", "shutdown")}  # key 7's 3 values: fewer than the minimum
    assert MIN_CATEGORY_VALUES > 3
    assert set(b.value_edges) == {(6, 0)}  # numbers as before
    assert b.is_new_category(6, 1, "crashed") and not b.is_new_category(6, 1, "shutdown")
    assert not b.is_new_category(7, 0, "crashed")  # a slot that is not read
    assert not b.is_new_category(6, 0, "crashed")  # a number slot


def test_a_slot_with_long_or_too_many_distinct_texts_is_not_read() -> None:
    def fit(states: list[str]) -> SignalBuckets:
        keys = [[5, 6, 7]] * len(states)
        return SignalBuckets.fit(keys, [_sig([(), (s,), ()]) for s in states], n_gap=4, n_value=4)

    assert fit(["ok"] * 20 + ["x" * MAX_CATEGORY_CHARS]).categories  # at the limit: read
    assert not fit(["ok"] * 20 + ["x" * (MAX_CATEGORY_CHARS + 1)]).categories
    assert fit([f"s{i}" for i in range(MAX_CATEGORIES)]).categories
    assert not fit([f"s{i}" for i in range(MAX_CATEGORIES + 1)]).categories


def test_json_round_trip_and_the_format_without_categories_is_the_one_before_them() -> None:
    b = _buckets()
    data = json.loads(json.dumps(b.to_dict()))
    # fitted now: version 3 (values picked by their training rank), with the categories
    assert data["version"] == BUCKETS_VERSION_RANKED == 3 and data["categories"] == [[6, 1, ["running", "shutdown"]]]
    assert SignalBuckets.from_dict(data) == b and b.ranked
    # a state from before the rank rule: version 2 with categories, and back as it was
    legacy = replace(b, ranked=False).to_dict()
    assert legacy["version"] == 2 and SignalBuckets.from_dict(legacy) == replace(b, ranked=False)
    # ... and without a category slot exactly the old keys and version (its signals.json byte for byte as before)
    plain = SignalBuckets.fit(KEYS, [_sig([(), (20.0 + i / 10,), ()]) for i in range(20)], n_gap=4, n_value=4)
    assert set(plain.to_dict()) == LEGACY_FIELDS and plain.to_dict()["version"] == 3
    old = replace(plain, ranked=False).to_dict()
    assert set(old) == LEGACY_FIELDS and old["version"] == BUCKETS_VERSION == 1
    assert SignalBuckets.from_dict(old) == replace(plain, ranked=False) and not plain.categories


def test_an_old_version_1_state_reads_no_category_and_encodes_as_before() -> None:
    b = _buckets()
    legacy = {k: v for k, v in b.to_dict().items() if k in LEGACY_FIELDS} | {"version": 1}
    old = SignalBuckets.from_dict(legacy)
    assert not old.categories and old.value_edges == b.value_edges and not old.ranked
    sig = _sig([(), (20.5, "crashed"), ()])
    row = encode_signals([5, 6, 7], sig, old, time=True, values=True)
    assert row.value_slot[2] == 0 and not any(row.value_unseen)  # the number, as before categories were read
    # a version-1 state that somehow holds categories is read as version 1: no categories
    assert not SignalBuckets.from_dict({**legacy, "categories": [[6, 1, ["x"]]]}).categories


def test_from_dict_refuses_categories_that_are_not_text() -> None:
    data = _buckets().to_dict()
    for bad in ([[6, 1, [3]]], [[6, 1, []]], [[6, 1, "running"]]):
        with pytest.raises(ValueError, match="categories"):
            SignalBuckets.from_dict({**data, "categories": bad})


def test_an_unseen_category_is_the_most_unusual_value_of_its_line() -> None:
    b = _buckets()
    above = b.n_value + 3
    # a number far out of range and an unseen state on one line: the state is picked
    row = encode_signals([5, 6, 7], _sig([(), (9999.0, "crashed"), ()]), b, time=True, values=True)
    assert row.value_ids[2] == above and row.value_slot[2] == 1 and row.value_unseen[2]
    assert row.value_excess[2] == 0.0 and not row.value_upper[2]
    assert row.value_unseen[0] is False and row.value_unseen[1] is False  # DIST and key 5
    # a seen state is no candidate: the number is picked as before
    row = encode_signals([5, 6, 7], _sig([(), (9999.0, "shutdown"), ()]), b, time=True, values=True)
    assert row.value_slot[2] == 0 and row.value_ids[2] == above and not row.value_unseen[2] and row.value_excess[2] > 10
    row = encode_signals([5, 6, 7], _sig([(), (None, "shutdown"), ()]), b, time=True, values=True)
    assert row.value_ids[2] == SIGNAL_NONE and row.value_slot[2] == -1
    # values off, a pseudo key, or no signals: nothing read
    assert not any(encode_signals([5, 6, 7], _sig([(), (None, "x"), ()]), b, time=True, values=False).value_unseen)
    assert not any(encode_signals([5, -1, 7], _sig([(), (None, "x"), ()]), b, time=True, values=True).value_unseen)
    assert encode_signals([5, 6, 7], None, b, time=True, values=True).value_unseen == [False] * 4


def test_categories_alone_keep_the_value_channel_on() -> None:
    only = SignalBuckets.fit(KEYS, [_sig([(), (s,), ()]) for s in STATES], n_gap=4, n_value=4)
    assert not only.value_edges and only.categories and only.has_values
    assert resolve_signals(ModelConfig(signals="values"), only) == ("values", None)
    none = SignalBuckets.fit(KEYS, [_sig([(), (), ()])] * 20, n_gap=4, n_value=4)
    mode, message = resolve_signals(ModelConfig(signals="all"), none)
    assert mode == "time" and message is not None and "category" in message
