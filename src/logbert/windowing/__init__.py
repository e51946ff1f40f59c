"""Stage 2: key ids -> sessions and windows (``windows.py``, pure) and torch datasets (``dataset.py``)."""

from logbert.windowing.windows import (
    SESSION_PRESETS,
    GroupedSessions,
    SessionSplit,
    SkippedSequence,
    SkipReason,
    apply_labels,
    find_session_ids,
    group_sessions,
    session_id_pattern,
    sliding_windows,
    split_all,
    split_long,
    split_sessions,
    time_windows,
)

__all__ = [
    "SESSION_PRESETS",
    "GroupedSessions",
    "SessionSplit",
    "SkipReason",
    "SkippedSequence",
    "apply_labels",
    "find_session_ids",
    "group_sessions",
    "session_id_pattern",
    "sliding_windows",
    "split_all",
    "split_long",
    "split_sessions",
    "time_windows",
]
