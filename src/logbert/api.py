"""The public facade: what the CLI, the service and the benchmarks call.

Work in progress: the types below are the contract the service and the CLI build on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from logbert.config import LogBertConfig
from logbert.records import KeySequence, ReadReport


@dataclass(frozen=True, slots=True)
class ParsedLine:
    """One raw line through the artifact's frozen parser."""

    line_no: int
    raw: str
    session_ids: tuple[str, ...]  # ids found by the configured session pattern (may be empty)
    key_id: int  # UNK_KEY when the template is unseen
    template: str | None  # None for an unseen template
    timestamp: float | None = None


@dataclass(frozen=True, slots=True)
class ExpectedKey:
    template: str
    probability: float


@dataclass(frozen=True, slots=True)
class PositionExplanation:
    """Why one masked position counted as a miss."""

    position: int  # 0-based index of the key in the sequence (DIST not counted)
    key_id: int
    template: str | None  # the template seen there (None = unseen / UNK)
    expected: tuple[ExpectedKey, ...]  # the model's top-g keys with probabilities
    line_no: int | None = None  # source line, when known


@dataclass(frozen=True, slots=True)
class SequenceScore:
    """Score of one sequence. Higher ``anomaly_score`` = more anomalous."""

    session_id: str
    anomaly_score: float  # miss ratio (or VHM distance when config.scoring.score == "dist")
    miss_ratio: float
    dist_score: float  # squared distance of the DIST embedding to the training centre
    threshold: float
    is_anomaly: bool
    n_keys: int
    n_misses: int
    n_unknown: int  # keys whose template the parser had never seen
    misses: tuple[PositionExplanation, ...] = field(default_factory=tuple)  # only with explain=True


class Detector:
    """A loaded artifact: frozen parser, vocabulary, model, centre and threshold.

    The service and ``logbert tail`` use only these methods.
    """

    config: LogBertConfig
    threshold: float

    def parse_lines(self, lines: Sequence[str], start_line_no: int = 1) -> tuple[list[ParsedLine], ReadReport]:
        """Parse raw lines with the frozen parser; malformed lines are counted, not returned."""
        raise NotImplementedError

    def score_sequences(self, sequences: Sequence[KeySequence], explain: bool = False) -> list[SequenceScore]:
        """Score key sequences (each at most ``config.window.max_len`` keys) in micro-batches."""
        raise NotImplementedError
