"""A deterministic stand-in for a loaded artifact (no artifact, no torch).

It implements :class:`logbert.streaming.Scorer` without deriving from the pipeline's detector.

Line rule: the real one (:class:`~logbert.parsing.reader.LineReader` with the ``raw`` format, so
blank lines are ``empty``, binary lines are repaired and counted, long lines truncated at
``max_line_chars`` and counted). Parsing: a line's key is its first ``k<N>`` token (N < 10 known,
otherwise UNK); a line without one is ``malformed``. Its timestamp is a ``t=<seconds>`` token
(None without one). Session ids come from the configured pattern (default ``vm-<digits>``).
Scoring: position i misses when its key is UNK or smaller than the key before it, so the score
depends on the order of a session's own keys: mixing two sessions would change it.
"""

from __future__ import annotations

import random
import re
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from logbert.config import LogBertConfig, ModelConfig, ParserConfig, WindowConfig, WindowMode
from logbert.parsing.reader import LineReader
from logbert.records import UNK_KEY, KeySequence, LineProblem, ReadReport, SyslogCalendar, n_log_keys
from logbert.results import ExpectedKey, ParsedLine, PositionExplanation, SequenceScore, SessionResult
from logbert.windowing.windows import split_long

N_KNOWN = 10
_TOKEN = re.compile(r"\bk(\d+)\b")
_TIME = re.compile(r"\bt=(\d+(?:\.\d+)?)\b")
EXPECTED = (ExpectedKey("T0", 0.75), ExpectedKey("T1", 0.25))


class FakeDetector:
    """Implements the ``Scorer`` protocol: ``config``, ``threshold``, ``parse_lines``, ``score_sequences``."""

    def __init__(
        self,
        mode: WindowMode = "session",
        max_len: int = 8,
        threshold: float = 0.0,
        window_size: int = 4,
        stride: int = 4,
        time_window_s: float = 60.0,
        min_len: int = 1,
        session_pattern: str = r"(vm-\d+)",
        max_line_chars: int = 10_000,
        score_delay_s: float = 0.0,
        parse_delay_s: float = 0.0,
        session_bounds: bool = False,
        session_overlap: int = 0,
        session_gap_s: float | None = None,
    ) -> None:
        self.directory = Path("fake-artifact")  # what tail names the artifact by, as a Detector's
        self.config = LogBertConfig(
            parser=ParserConfig(format="raw", max_line_chars=max_line_chars),
            window=WindowConfig(
                mode=mode,
                session_id=None,
                session_pattern=session_pattern,
                max_len=max_len,
                window_size=window_size,
                stride=stride,
                time_window_s=time_window_s,
                min_len=min_len,
                session_bounds=session_bounds,
                session_overlap=session_overlap,
                session_gap_s=session_gap_s,
            ),
            model=ModelConfig(max_len=max(32, max_len)),
        )
        self.threshold = threshold
        self.score_delay_s = score_delay_s
        self.parse_delay_s = parse_delay_s
        self.scored: list[KeySequence] = []  # every sequence given to score_sequences
        self.batches: list[int] = []  # size of every score_sequences call
        self._pattern = re.compile(session_pattern)
        self._lock = threading.Lock()

    def parse_lines(
        self, lines: Sequence[str | bytes], start_line_no: int = 1, calendar: SyslogCalendar | None = None
    ) -> tuple[list[ParsedLine | LineProblem], ReadReport]:
        if self.parse_delay_s:
            time.sleep(self.parse_delay_s)
        reader = LineReader(self.config.parser)
        if calendar is not None:
            reader.header.calendar = calendar
        out: list[ParsedLine | LineProblem] = []
        for i, raw in enumerate(lines):
            parsed = reader.read_line(raw)
            if isinstance(parsed, str):
                out.append(parsed)
                continue
            line = parsed.content
            m = _TOKEN.search(line)
            if m is None:
                reader.report.n_parsed -= 1
                reader.report.n_malformed += 1
                out.append("malformed")
                continue
            n = int(m.group(1))
            key = n if n < N_KNOWN else UNK_KEY
            reader.report.n_unknown_template += key == UNK_KEY
            ids = tuple(dict.fromkeys(mm.group(1) for mm in self._pattern.finditer(line)))
            t = _TIME.search(line)
            out.append(
                ParsedLine(
                    line_no=start_line_no + i,
                    raw=reader.last_text,
                    session_ids=ids,
                    key_id=key,
                    template=None if key == UNK_KEY else f"T{n}",
                    timestamp=float(t.group(1)) if t else None,
                )
            )
        return out, reader.report

    def use_threshold(self, threshold: float | None = None, target_fpr: float | None = None) -> str:
        """What `api.Detector.use_threshold` does, for the CLI (no validation scores: no target rate)."""
        if threshold is not None:
            self.threshold = threshold
            return "given (--threshold), not the artifact's"
        return "stored in the artifact"

    def score_sequences(self, sequences: Sequence[KeySequence], explain: bool = False) -> list[SequenceScore]:
        with self._lock:
            self.batches.append(len(sequences))
            if not explain:
                self.scored.extend(sequences)
        if self.score_delay_s:
            time.sleep(self.score_delay_s)
        return [self._score(s, explain) for s in sequences]

    def score_sessions(
        self, sequences: Sequence[KeySequence], *, explain: bool = False, capture_start: float | None = None
    ) -> list[SessionResult]:
        """Each session scores its worst window (windows of at most max_len keys), like `api.Detector`."""
        out = []
        for seq in sequences:
            windows, _ = split_long(seq, self.config.window.max_len, self.config.window.min_len)
            if not windows:
                continue
            scores = [self._score(w, explain) for w in windows]
            worst = max(range(len(scores)), key=lambda i: scores[i].anomaly_score)
            best = scores[worst]
            out.append(
                SessionResult(
                    session_id=seq.session_id,
                    label=seq.label,
                    score=best.anomaly_score,
                    is_anomaly=best.is_anomaly,
                    n_keys=n_log_keys(seq.key_ids),
                    n_unknown=sum(k == UNK_KEY for k in seq.key_ids),
                    threshold=self.threshold,
                    first_line_no=seq.line_nos[0] if seq.line_nos else None,
                    last_line_no=seq.line_nos[-1] if seq.line_nos else None,
                    start_time=seq.start_time,
                    worst_window=worst,
                    misses=best.misses if best.is_anomaly else (),
                )
            )
        return out

    def _score(self, s: KeySequence, explain: bool) -> SequenceScore:
        keys = s.key_ids
        miss = [i for i, k in enumerate(keys) if k == UNK_KEY or (i > 0 and k < keys[i - 1])]
        score = len(miss) / len(keys)
        misses = tuple(
            PositionExplanation(
                position=i,
                key_id=keys[i],
                template=None if keys[i] == UNK_KEY else f"T{keys[i]}",
                expected=EXPECTED,
                line_no=s.line_nos[i] if s.line_nos else None,
            )
            for i in miss
        )
        return SequenceScore(
            session_id=s.session_id,
            anomaly_score=score,
            miss_ratio=score,
            dist_score=0.0,
            threshold=self.threshold,
            is_anomaly=score > self.threshold,
            n_keys=n_log_keys(keys),  # as the real scorer: the marks not counted
            n_misses=len(miss),
            n_unknown=sum(k == UNK_KEY for k in keys),
            misses=misses if explain else (),
        )


def vm_lines(vm: str, keys: Sequence[int]) -> list[str]:
    """Lines of one VM session: ``INFO nova [instance: vm-1] k3 step 0`` ..."""
    return [f"INFO nova [instance: {vm}] k{k} step {j}" for j, k in enumerate(keys)]


def fake_app() -> object:
    """App factory over the fake detector, settings from LOGBERT_* (benchmark dry runs)."""
    from logbert.service.app import create_app
    from logbert.service.settings import Settings

    return create_app(Settings(), detector=FakeDetector(max_len=8))


def feed_interleaved(engine: Any, lines_by_source: dict[str, list[str]], rng: random.Random) -> None:
    """Ingest every source's lines in small calls (1-7 lines), the sources interleaved at random, then shut down."""
    left = {source: list(lines) for source, lines in lines_by_source.items()}
    while left:
        source = rng.choice(sorted(left))
        n = rng.randint(1, 7)
        engine.ingest(left[source][:n], source=source)
        del left[source][:n]
        if not left[source]:
            del left[source]
    assert engine.shutdown(10)
