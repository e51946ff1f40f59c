import re

import pytest

from logbert.config import WindowConfig
from logbert.errors import ConfigError, InputDataError
from logbert.records import KeySequence
from logbert.windowing.windows import (
    SESSION_ID_RULES,
    find_session_ids,
    group_sessions,
    session_id_pattern,
    session_rows,
    sliding_windows,
    split_all,
    split_long,
    split_sessions,
    time_bucket,
    time_window_rows,
    time_windows,
    window_bounds,
)

UUID_A = "11760334-ac63-4cc8-9086-578422af8c99"
UUID_B = "b9f0f7cd-31c1-4edf-9a8d-129d4efff387"


def test_presets_extract_ids() -> None:
    os_pat = session_id_pattern(WindowConfig(session_id="openstack_instance"))
    line = f"[req-{UUID_B} - - -] [instance: {UUID_A}] VM Started; image {UUID_B}"
    assert find_session_ids(line, os_pat) == (UUID_A,)  # request/image uuids do not open sessions
    # the placement report after a delete names its instance without the tag (1146 lines of a DevStack log)
    report = f"INFO nova.scheduler.client.report [req-{UUID_B}] Deleted allocation for instance {UUID_A}"
    assert find_session_ids(report, os_pat) == (UUID_A,)
    assert find_session_ids(f"Deleted allocation for instance {UUID_A}0", os_pat) == ()  # no longer id
    hdfs = session_id_pattern(WindowConfig(session_id="hdfs_block"))
    assert find_session_ids("blk_-12 to blk_7, again blk_-12; blk_123x", hdfs) == ("blk_-12", "blk_7")


def test_custom_pattern_group_or_whole_match_and_bad_regex() -> None:
    assert find_session_ids("user=ann user=bob", re.compile(r"user=(\w+)")) == ("ann", "bob")
    assert find_session_ids("id42 id7", session_id_pattern(WindowConfig(session_pattern=r"id\d+"))) == ("id42", "id7")
    with pytest.raises(ConfigError, match="not a valid regex"):
        session_id_pattern(WindowConfig(session_pattern="([unclosed"))
    with pytest.raises(ConfigError) as bad:  # the pattern as the user typed it: repr doubled its backslashes
        session_id_pattern(WindowConfig(session_pattern=r"Pid=(\d+"))
    assert r"'Pid=(\d+'" in str(bad.value) and r"\\d" not in str(bad.value)
    with pytest.raises(ConfigError, match="empty"):
        session_id_pattern(WindowConfig(session_pattern=r"x*"))
    with pytest.raises(ConfigError):
        session_id_pattern(WindowConfig(mode="sliding", session_id=None))
    assert SESSION_ID_RULES.keys() == {"openstack_instance", "hdfs_block"}


def test_group_sessions_order_multi_ids_and_count() -> None:
    ids = [("b",), (), ("a", "b"), ("a",), ()]
    grouped = group_sessions(ids, [1, 2, 3, 4, 5], [10, 11, 12, 13, 14], [None, 1.0, 2.0, 3.0, 4.0])
    sessions, n_without = grouped
    assert n_without == 2
    assert [s.session_id for s in sessions] == ["b", "a"]
    b, a = sessions
    assert (b.key_ids, b.line_nos, b.start_time) == ([1, 3], [10, 12], 2.0)
    assert (a.key_ids, a.line_nos, a.start_time) == ([3, 4], [12, 13], 2.0)
    with pytest.raises(ValueError):
        group_sessions(ids, [1, 2])


def test_sliding_windows_cover_every_key() -> None:
    keys = list(range(45))
    w = sliding_windows(keys, 20, 20, line_nos=list(range(1, 46)))
    assert [len(x.key_ids) for x in w] == [20, 20, 5]
    assert [x.window_index for x in w] == [0, 1, 2] and w[2].line_nos[0] == 41
    w = sliding_windows(list(range(47)), 20, 5)
    assert w[-1].key_ids[-1] == 46 and all(len(x.key_ids) <= 20 for x in w)
    assert sliding_windows(list(range(10)), 20, 5)[0].key_ids == list(range(10))
    assert sliding_windows([], 5, 5) == []
    with pytest.raises(ValueError):
        sliding_windows([1], 0, 1)


def test_time_windows_bucket_by_width_and_fill_missing_times() -> None:
    w = time_windows([1, 2, 3, 4, 5], [100.0, None, 130.0, 161.0, 400.0], 60.0)
    assert [x.key_ids for x in w] == [[1, 2, 3], [4], [5]]
    assert [x.start_time for x in w] == [100.0, 160.0, 400.0] and [x.window_index for x in w] == [0, 1, 2]
    with pytest.raises(InputDataError):
        time_windows([1], [None], 60.0)


def test_time_windows_are_runs_of_one_slot_on_a_grid_from_the_first_timestamp() -> None:
    # 0..2 in slot 0, 3..4 in slot 1, 5 in slot 2, 6 in slot 3: the grid does not move with each window
    stamps = [0.0, 5.0, 9.0, 10.0, 19.0, 20.0, 31.0]
    assert time_window_rows(stamps, 10.0) == [[0, 1, 2], [3, 4], [5], [6]]
    # an out-of-order line opens a window of its own instead of joining an old one
    assert time_window_rows([0.0, 12.0, 3.0, 13.0], 10.0) == [[0], [1], [2], [3]]
    assert time_bucket(25.0, 5.0, 10.0) == 2 and time_bucket(4.0, 5.0, 10.0) == -1


def test_session_rows_and_window_bounds() -> None:
    assert session_rows([("a",), (), ("b", "a")]) == ({"a": [0, 2], "b": [2]}, 1)
    assert window_bounds(7, 4, 2) == [(0, 4), (2, 6), (4, 7)]
    assert window_bounds(8, 4, 4) == [(0, 4), (4, 8)]
    assert window_bounds(0, 4, 4) == []


def test_split_long_and_skipped_reason() -> None:
    seq = KeySequence("s", list(range(70)), label=1, line_nos=list(range(70)), start_time=5.0)
    kept, skipped = split_long(seq, 32, 1)
    assert [len(k.key_ids) for k in kept] == [32, 32, 6] and not skipped
    assert [k.window_index for k in kept] == [0, 1, 2] and all(k.label == 1 and k.session_id == "s" for k in kept)
    assert kept[1].key_ids[0] == 32 and kept[1].line_nos[0] == 32
    kept, skipped = split_long(seq, 32, 10)
    assert len(kept) == 2 and skipped[0].skipped_reason == "shorter_than_min_len" and skipped[0].n_keys == 6
    kept, skipped = split_long(KeySequence("t", [1, 2]), 32, 3)
    assert kept == [] and skipped[0].session_id == "t"
    assert split_long(KeySequence("e", []), 4)[1][0].skipped_reason == "empty"
    kept, skipped = split_all([seq, KeySequence("t", [1])], 32, 2)
    assert len(kept) == 3 and len(skipped) == 1


def _sessions(n: int, n_anomalous: int, timed: bool = True) -> list[KeySequence]:
    return [
        KeySequence(
            f"s{i}", [i % 5] * (40 + i % 7), label=int(i < n_anomalous), start_time=float(1000 - i) if timed else None
        )
        for i in range(n)
    ]


def test_split_sessions_no_leakage_and_labels() -> None:
    sessions = _sessions(200, 20)
    split = split_sessions(sessions, val_fraction=0.1, test_fraction=0.2, seed=1, chronological=True)
    assert split.chronological
    train_ids = {s.session_id for s in split.train}
    val_ids = {s.session_id for s in split.val}
    test_ids = {s.session_id for s in split.test}
    assert not (train_ids & val_ids or train_ids & test_ids or val_ids & test_ids)
    assert len(train_ids | val_ids | test_ids) == 200
    assert all(s.label != 1 for s in split.train + split.val)
    assert {s.session_id for s in sessions if s.label == 1} <= test_ids
    assert (len(split.val), len(split.test) - 20) == (18, 36)
    # chronological: train is older than val, val older than the normal test sessions
    newest_train = max(s.start_time or 0 for s in split.train)
    assert newest_train < min(s.start_time or 0 for s in split.val)
    assert max(s.start_time or 0 for s in split.val) < min(s.start_time or 0 for s in split.test if s.label == 0)
    # windowing after the split: no window of a test session is in train
    train_windows, _ = split_all(split.train, 8)
    test_windows, _ = split_all(split.test, 8)
    assert not {w.session_id for w in train_windows} & {w.session_id for w in test_windows}


def test_split_sessions_val_spread_draws_validation_from_the_whole_older_part() -> None:
    sessions = _sessions(200, 20)
    latest = split_sessions(sessions, val_fraction=0.1, test_fraction=0.2, seed=1)
    spread = split_sessions(sessions, val_fraction=0.1, test_fraction=0.2, seed=1, val_spread=True)
    again = split_sessions(sessions, val_fraction=0.1, test_fraction=0.2, seed=1, val_spread=True)
    assert spread.chronological
    # the newest normal sessions are still the tested ones, and the sizes do not change
    assert [s.session_id for s in spread.test] == [s.session_id for s in latest.test]
    assert (len(spread.val), len(spread.train)) == (len(latest.val), len(latest.train))
    assert [s.session_id for s in spread.val] == [s.session_id for s in again.val]  # seeded
    assert all(s.label != 1 for s in spread.train + spread.val)
    # validation is no longer the slice just before the test: it spans the older sessions' time range
    times = lambda part: [s.start_time or 0.0 for s in part]  # noqa: E731
    assert min(times(spread.val)) < max(times(spread.train)) and max(times(spread.val)) > min(times(spread.train))
    assert max(times(spread.val)) < min(s.start_time or 0.0 for s in spread.test if s.label == 0)
    # without start times the split is a shuffle anyway: val_spread changes nothing
    untimed = _sessions(100, 10, timed=False)
    ids = lambda sp: [[s.session_id for s in part] for part in (sp.train, sp.val, sp.test)]  # noqa: E731
    assert ids(split_sessions(untimed, val_fraction=0.1, test_fraction=0.2, seed=3, val_spread=True)) == ids(
        split_sessions(untimed, val_fraction=0.1, test_fraction=0.2, seed=3)
    )


def test_split_sessions_random_is_seeded_and_keeps_windows_together() -> None:
    sessions = _sessions(100, 10, timed=False)
    windows, _ = split_all(sessions, 8)  # even if given windows, a session never straddles splits
    a = split_sessions(windows, val_fraction=0.1, test_fraction=0.3, seed=7, chronological=True)
    b = split_sessions(windows, val_fraction=0.1, test_fraction=0.3, seed=7, chronological=True)
    c = split_sessions(windows, val_fraction=0.1, test_fraction=0.3, seed=8, chronological=True)
    assert not a.chronological
    ids = [[w.session_id for w in part] for part in (a.train, a.val, a.test)]
    assert ids == [[w.session_id for w in part] for part in (b.train, b.val, b.test)]
    assert ids != [[w.session_id for w in part] for part in (c.train, c.val, c.test)]
    assert not set(ids[0]) & set(ids[2]) and not set(ids[1]) & set(ids[2]) and not set(ids[0]) & set(ids[1])
    with pytest.raises(ConfigError):
        split_sessions(sessions, val_fraction=0.5, test_fraction=0.5, seed=0)


def test_split_sessions_tiny_inputs() -> None:
    one = split_sessions(_sessions(1, 0), val_fraction=0.1, test_fraction=0.2, seed=0)
    assert len(one.train) == 1 and not one.val and not one.test
    three = split_sessions(_sessions(3, 0), val_fraction=0.1, test_fraction=0.0, seed=0)
    assert len(three.val) == 1 and len(three.train) == 2
