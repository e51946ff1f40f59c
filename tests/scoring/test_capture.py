"""The capture-edge rule (logbert.scoring.capture): a session already in flight when the log began."""

from __future__ import annotations

import pytest

from logbert.records import SESSION_END_KEY, SESSION_START_KEY, UNK_KEY
from logbert.scoring.capture import CaptureEdge, first_key

EDGE = CaptureEdge(window_s=15.0, first_keys=frozenset({1}), n_sessions=3)


def test_fit_learns_the_largest_gap_within_a_session_and_the_first_keys() -> None:
    edge = CaptureEdge.fit(
        [
            ([SESSION_START_KEY, 1, 2, 3, SESSION_END_KEY], [0.0, 0.0, 4.0, 5.0, 5.0]),
            ([1, 3], [10.0, 22.5]),  # the largest gap: 12.5 s
            ([4, 5], [30.0, None]),  # a line without time: no gap
            ([6, 7], [50.0, 45.0]),  # a step back in time: no gap
        ]
    )
    assert edge == CaptureEdge(12.5, frozenset({1, 4, 6}), 4)
    # the gap between sessions (22.5 s -> 30 s) is no gap of a session
    assert CaptureEdge.fit([([1], [0.0]), ([1], [100.0])]) is None


def test_without_timestamps_there_is_no_rule() -> None:
    assert CaptureEdge.fit([([1, 2], [None, None]), ([3], [None])]) is None
    assert CaptureEdge.fit([]) is None


def test_first_key_skips_the_session_bounds() -> None:
    assert first_key([SESSION_START_KEY, 7, 8]) == 7
    assert first_key([SESSION_START_KEY, SESSION_END_KEY]) is None


def test_in_flight_needs_both_an_early_first_line_and_an_unusual_first_key() -> None:
    why = EDGE.in_flight(7, 102.1, 100.0, lambda k: f"Creating image {k}")
    assert why == (
        "partial: began before the first line of the log (first line 2.1 s after it; "
        "'Creating image 7' never begins a normal session)"
    )
    assert EDGE.in_flight(1, 102.1, 100.0) is None  # (b) fails: a normal first key may have begun at the start
    assert EDGE.in_flight(7, 130.0, 100.0) is None  # (a) fails: too late to have been in flight
    assert EDGE.in_flight(7, 100.0, 100.0) is not None  # the first line itself
    assert "key 7 never begins" in str(EDGE.in_flight(7, 101.0, 100.0))  # no template: the key id



def test_a_first_line_of_a_template_never_seen_is_judged_as_any_other() -> None:
    """A thread that began 200 s into a logcat capture with its crash (a template training never saw) scored 0.27
    against a threshold of 0.06 and was excused as "in flight at the capture start": a template never seen is no
    sign that the session began before the capture, and may be the failure itself (a never-seen template is a miss
    wherever it stands)."""
    assert EDGE.in_flight(UNK_KEY, 101.0, 100.0, lambda k: None) is None


def test_the_window_bound_is_inclusive() -> None:
    assert EDGE.in_flight(7, 115.0, 100.0) is not None
    assert EDGE.in_flight(7, 115.000001, 100.0) is None


def test_a_line_stamped_before_the_first_one_counts_as_at_the_start() -> None:
    assert "first line 0 s after it" in str(EDGE.in_flight(7, 95.0, 100.0))


def test_without_a_time_the_rule_is_off() -> None:
    assert EDGE.in_flight(7, None, 100.0) is None
    assert EDGE.in_flight(7, 100.0, None) is None
    assert EDGE.in_flight(None, 100.0, 100.0) is None
    assert EDGE.in_flight(7, float("nan"), 100.0) is None


def test_to_dict_round_trips_and_bad_state_is_refused() -> None:
    assert CaptureEdge.from_dict(EDGE.to_dict()) == EDGE
    for bad in (
        None,
        {"window_s": -1.0, "first_keys": [1], "n_sessions": 1},
        {"window_s": "15", "first_keys": [1], "n_sessions": 1},
        {"window_s": 15.0, "first_keys": [1.5], "n_sessions": 1},
        {"window_s": 15.0, "first_keys": [1], "n_sessions": -1},
        {"window_s": float("inf"), "first_keys": [1], "n_sessions": 1},
    ):
        with pytest.raises(ValueError):
            CaptureEdge.from_dict(bad)


def test_first_keys_leave_out_sessions_at_the_training_logs_own_edge() -> None:
    sessions = [([9, 3], [100.0, 104.0]), ([1, 3], [103.0, 105.0]), ([1, 2], [120.0, 122.0]), ([5, 2], [104.1, 106.0])]
    # window 4 s: sessions beginning by 104 s may have been running when the training log began at 100 s
    assert CaptureEdge.fit(sessions, capture_start=100.0) == CaptureEdge(4.0, frozenset({1, 5}), 4)
    assert CaptureEdge.fit(sessions).first_keys == {1, 5, 9}  # without the start: every session's first key
    # a training log entirely within the window: every first key (the rule stays cautious)
    assert CaptureEdge.fit(sessions[:2], capture_start=100.0).first_keys == {1, 9}
