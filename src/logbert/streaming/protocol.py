"""What the streaming engine needs of a loaded artifact, and where its alerts go.

The engine depends on these protocols only, not on the pipeline's ``Detector`` (which implements
:class:`Scorer`): streaming sits below the facade, and tests give it a small fake.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

from logbert.config import LogBertConfig
from logbert.records import KeySequence, LineProblem, ReadReport
from logbert.results import ParsedLine, SequenceScore, SessionResult

if TYPE_CHECKING:
    from logbert.streaming.engine import AlertRecord


class Scorer(Protocol):
    """A loaded artifact: its config, its threshold, its frozen parser and its model.

    ``parse_lines`` and ``score_sequences`` may run at the same time on different threads; neither
    is called concurrently with itself.
    """

    @property
    def config(self) -> LogBertConfig: ...

    @property
    def threshold(self) -> float:
        """``anomaly_score`` above it = anomalous (higher = more anomalous)."""
        ...

    def parse_lines(
        self, lines: Sequence[str | bytes], start_line_no: int = 1
    ) -> tuple[list[ParsedLine | LineProblem], ReadReport]:
        """One entry per input line, in order: the parsed line, or why it gave none; and the counts
        (binary and truncated lines among them) of the project's one line rule."""
        ...

    def score_sequences(self, sequences: Sequence[KeySequence], explain: bool = False) -> list[SequenceScore]:
        """One score per sequence (each at most ``config.window.max_len`` keys), deterministic."""
        ...

    def score_sessions(self, sequences: Sequence[KeySequence], *, explain: bool = False) -> list[SessionResult]:
        """Whole sessions of any length, each scored by its worst window (one-shot scoring)."""
        ...


class AlertSink(Protocol):
    """Where alerts go (the SQLite store in the service, stdout in ``tail``)."""

    def add_alerts(self, alerts: Sequence[AlertRecord]) -> None: ...
