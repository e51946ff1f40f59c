"""Result types shared by the pipeline, the CLI, the streaming engine and the service.

Declared once: the service's response schemas embed these dataclasses (FastAPI serialises
them), ``logbert score`` prints them, the engine produces them. Every score follows one rule:
higher = more anomalous, and a sequence is anomalous when its score :func:`exceeds` the threshold.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Literal, TypeVar

if TYPE_CHECKING:  # parse-only commands must not pay numpy's import
    import numpy as np

#: Relative width of the tie band above a threshold. A stored threshold is usually the score of
#: a calibration session, and every session with the same keys ties with it; recomputed by other
#: kernels (the fused or the unfused encoder, CPU or GPU) such a score moves in its last float32
#: digits, and that noise must not flip the decision.
TIE_TOLERANCE = 1e-5

_Score = TypeVar("_Score", float, "np.ndarray")


def tie_band(threshold: float) -> float:
    """How far above ``threshold`` a score still ties with it: ``TIE_TOLERANCE * max(1, |threshold|)``."""
    return TIE_TOLERANCE * max(1.0, abs(threshold))


def exceeds(score: _Score, threshold: float) -> _Score:
    """The decision rule: anomalous when ``score > threshold + tie_band(threshold)`` (scalars or arrays).

    >>> bool(exceeds(0.5, 0.5)), bool(exceeds(0.500001, 0.5)), bool(exceeds(0.6, 0.5))
    (False, False, True)
    """
    return score > threshold + tie_band(threshold)

#: Why a window was handed to the scorer: it reached the window length (``full``), its session
#: was closed by a request (``closed``), went idle, was evicted to bound memory, the service
#: stopped, its time window ended, or a gap in time ended its session (``gap``: window.session_gap_s).
EmitReason = Literal["full", "closed", "idle", "evicted", "shutdown", "time", "gap"]
#: A session of the streaming engine is open (buffering lines) or closed (scored, summary kept).
SessionState = Literal["open", "closed"]


@dataclass(frozen=True, slots=True)
class ParsedLine:
    """One raw line through an artifact's frozen parser."""

    line_no: int
    raw: str
    session_ids: tuple[str, ...]  # ids found by the configured session pattern (may be empty)
    key_id: int  # UNK_KEY when the template is unseen
    template: str | None  # None for an unseen template
    timestamp: float | None = None
    continued: bool = False  # parser.continuation = "attach": a line without a header, continuing the one before
    # parser.envelope: the container's stream the line was written to (stdout, stderr), whose own last line a line
    # without a header continues; "" without an envelope
    stream: str = ""


@dataclass(frozen=True, slots=True)
class ExpectedKey:
    """One of the model's top-g predictions at a masked position."""

    template: str
    probability: float


@dataclass(frozen=True, slots=True)
class PositionExplanation:
    """One masked position an explanation names: a miss (its key outside the model's top-g), or, for a surprise score
    of a window without a miss, a key the model gave less than even odds."""

    position: int  # 0-based index of the key in the window (DIST not counted)
    key_id: int
    template: str | None  # the template seen there (None = unseen / UNK)
    expected: tuple[ExpectedKey, ...]  # the model's top-g keys with probabilities
    line_no: int | None = None  # source line, when known
    raw: str | None = None  # the raw line behind the key, when known (streaming; `score --explain` of a raw log)


@dataclass(frozen=True, slots=True)
class SequenceScore:
    """Score of one window (a sequence of at most ``window.max_len`` keys)."""

    session_id: str
    anomaly_score: float  # the configured score (config.scoring.score): miss ratio, mean surprise or VHM distance
    miss_ratio: float
    dist_score: float  # squared distance of the DIST embedding to the training centre
    threshold: float
    is_anomaly: bool
    n_keys: int  # keys of log lines (records.n_log_keys: a session's start and end marks are not counted)
    n_misses: int  # masked keys outside the top-g, a mispredicted start or end mark among them
    n_unknown: int  # keys the vocabulary maps to UNK (template never seen in training)
    misses: tuple[PositionExplanation, ...] = field(default_factory=tuple)  # only with explain=True
    # time- and value-aware models, with explain=True: the time or value that was surprising and what was expected
    surprises: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True, slots=True)
class SessionResult:
    """Score of one whole session: the score of its worst window."""

    session_id: str
    label: int | None
    score: float
    is_anomaly: bool
    n_keys: int
    n_unknown: int  # keys the vocabulary maps to UNK (template never seen in training)
    threshold: float = float("nan")  # the threshold the decision used
    # share of normal validation sessions scoring at least this high (conformal; small = rare); None
    # when the artifact kept no validation scores
    p_value: float | None = None
    first_line_no: int | None = None  # source lines of the session (key-sequence files: None)
    last_line_no: int | None = None
    start_time: float | None = None  # epoch seconds of its first timestamped line
    worst_window: int | None = None  # index of its worst window within the session
    misses: tuple[PositionExplanation, ...] = ()  # of the worst window, with explain=True
    surprises: tuple[str, ...] = ()  # of the worst window, with explain=True: a time or value and what was expected
    # why the session is not flagged whatever its score: it was already in flight when the log began
    # (logbert.scoring.capture); None for every other session
    partial: str | None = None


def with_raw_lines(
    results: list[SessionResult], lines_at: Callable[[Collection[int]], Mapping[int, str]]
) -> list[SessionResult]:
    """Each explained miss with the raw line behind it (``PositionExplanation.raw``), as the streaming engine gives it:
    a key never seen in training has no template to show, and its line is what the reader needs. ``lines_at(line_nos)``
    gives the raw text of those lines as the line rule kept them (``LineReader.read_line``: repaired, truncated);
    ``logbert score`` reads them from its file again (``parsing.reader.raw_lines_at``), ``POST /v1/score`` takes
    them from the lines it parsed. A miss without a line number, or one ``lines_at`` does not give, keeps None."""
    wanted = {m.line_no for r in results for m in r.misses if m.raw is None and m.line_no is not None}
    if not wanted:
        return results
    raw = lines_at(wanted)

    def quoted(m: PositionExplanation) -> PositionExplanation:
        return m if m.raw is not None or m.line_no is None else replace(m, raw=raw.get(m.line_no))

    return [replace(r, misses=tuple(quoted(m) for m in r.misses)) if r.misses else r for r in results]
