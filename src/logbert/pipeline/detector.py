"""A loaded artifact: the frozen parser, the model and the stored threshold, ready to score.

:class:`Detector` is what ``logbert score``, ``evaluate``, ``tail`` and the service use. It
implements the streaming engine's ``Scorer`` protocol (``config``, ``threshold``,
``parse_lines``, ``score_sequences``).
"""

from __future__ import annotations

import functools
import logging
import math
import os
import tempfile
import threading
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

from logbert.artifact import CALIBRATION_FILE, PARSER_FILE
from logbert.config import LogBertConfig, quoted
from logbert.datasets.labels import LabelsLike
from logbert.errors import InputDataError, NoSessionIds, UnknownArtifact
from logbert.model.encoder import COUNT_BUCKETS
from logbert.parsing.headers import line_text_for_sessions
from logbert.parsing.params import SlotSchema, SlotType, readable_number, schema_of
from logbert.parsing.parser import LogParser
from logbert.parsing.reader import LineReader, accepted_content_reader, joins_lines, open_pieces, raw_lines_at
from logbert.pipeline.calibrate import Calibration
from logbert.pipeline.corpus import input_kind, read_corpus
from logbert.pipeline.estimator import KEY_SURPRISE_FLOOR, NLL_SCORES, LogBertDetector
from logbert.pipeline.sessions import worst_windows
from logbert.pipeline.signals import corpus_signals, line_rows, line_signals
from logbert.pipeline.split import key_sessions
from logbert.records import (
    BOUND_TEMPLATES,
    UNK_KEY,
    InputKind,
    KeySequence,
    LineProblem,
    LogLine,
    ReadReport,
    SessionSignals,
    SyslogCalendar,
    n_log_keys,
)
from logbert.results import (
    ExpectedKey,
    ParsedLine,
    PositionExplanation,
    SequenceScore,
    SessionResult,
    exceeds,
    with_raw_lines,
)
from logbert.scoring.capture import first_key
from logbert.scoring.lengths import whole_session_length
from logbert.scoring.scorer import PositionDetail, ScoreOutput, SignalDetail
from logbert.threads import resolve_device
from logbert.windowing.signals import SignalBuckets, encode_signals
from logbert.windowing.windows import find_session_ids, session_id_pattern

logger = logging.getLogger(__name__)


def as_training_settings(message: str, directory: str | Path) -> str:
    """``message`` (the reader's warnings and errors, said alike by every command) as said by a command that reads
    with the settings of the artifact at ``directory`` and takes no ``--set`` (score, evaluate): where it suggests
    one, that it is a training's. ``logbert score`` printed "--set 'parser.content_keys=[...]' makes them part of
    each line's text", and pasting it got "No such option: --set".

    >>> said = as_training_settings("try --set parser.format=syslog", "art")
    >>> said.startswith("try --set parser.format=syslog ("), "logbert train TRAINING_LOG -o NEW_ARTIFACT --set" in said
    (True, True)
    """
    if "--set " not in message:
        return message
    return (
        f"{message} (score and evaluate read with the settings {directory} was trained with and take no --set: give "
        "each --set above to a new training, logbert train TRAINING_LOG -o NEW_ARTIFACT --set ..., beside the "
        f"settings in {Path(directory) / 'config.json'})"
    )


class Detector:
    """A loaded artifact: frozen parser, vocabulary, model, centre and threshold.

    ``parse_lines`` and ``score_sequences`` may run on different threads; neither is run
    concurrently with itself.
    """

    def __init__(self, model: LogBertDetector, parser: LogParser | None, directory: Path) -> None:
        self.model = model
        self.parser = parser
        self.directory = directory
        self.config: LogBertConfig = model.config
        self.threshold: float = float(model.threshold_)
        self.calibration = _calibration_of(model, directory)
        # the streaming worker and one-shot requests may call at the same time: one model call at a time
        self._model_lock = threading.RLock()
        self._pattern = session_id_pattern(self.config.window) if self.config.window.mode == "session" else None
        # time- and value-aware models: the slot types of the training lines (units and contexts for explanations)
        self.schema: SlotSchema | None = schema_of(model.parser_state_)
        # stream_signals: a line's content again (unwrapped first, with parser.envelope)
        self._accepted_content = accepted_content_reader(self.config.parser)

    def line_signals(
        self, key_ids: Sequence[int], timestamps: Sequence[float | None], contents: Sequence[str], session_id: str = ""
    ) -> SessionSignals | None:
        """A window's or session's time and values from its lines (keys, timestamps, contents), for
        :meth:`score_sequences` (``KeySequence.signals``); None for a key-only model or an artifact
        without a slot schema. A streaming caller builds them this way (``pipeline.signals.line_signals``)."""
        if not self.model.reads_signals or self.parser is None or self.schema is None:
            return None
        parser = self.parser
        raw = [parser.parameters(c, k) if k >= 0 else [] for c, k in zip(contents, key_ids, strict=True)]
        return line_signals(key_ids, timestamps, raw, self.schema, session_id)

    @property
    def reads_signals(self) -> bool:
        """The model reads times and values, and this artifact can read them from raw lines (streaming)."""
        return bool(self.model.reads_signals) and self.parser is not None

    def stream_signals(
        self, key_ids: Sequence[int], timestamps: Sequence[float | None], raws: Sequence[str], session_id: str = ""
    ) -> SessionSignals:
        """:meth:`line_signals` from lines as :meth:`parse_lines` gave them (``ParsedLine.raw``: the header is
        parsed again for the content): what the streaming engine builds each unit's signals with
        (``streaming.protocol.SignalBuilder``). Like :meth:`read`, an artifact without a slot schema
        gets time only. Negative key ids (session bounds) get no values, and neither do lines whose values
        the model never reads (:attr:`_stream_schema`): the window scores and explains as offline.

        Raises:
            UnknownArtifact: an artifact without a parser.
        """
        if self.parser is None:
            raise UnknownArtifact(f"{self.directory} was trained on key sequences and cannot parse raw lines")
        parser, accepted_content, schema = self.parser, self._accepted_content, self._stream_schema
        read = schema.slots
        raw_parameters: list[list[str]] = []
        for raw, key in zip(raws, key_ids, strict=True):
            content = accepted_content(raw) if key in read else None
            raw_parameters.append([] if content is None else parser.parameters(content, key))
        return line_signals(key_ids, timestamps, raw_parameters, schema, session_id)

    @functools.cached_property
    def _stream_schema(self) -> SlotSchema:
        """The slot schema of the templates whose values the model reads: those with a number slot it has
        training ranges for (``SignalBuckets.value_edges``) or a category slot it has training categories for
        (``SignalBuckets.categories``); empty for a time-only model or without a schema (time only, as
        :meth:`read`). The model reads no other value (``encode_signals`` picks among those slots only), and
        the parser's masking for the values is most of :meth:`stream_signals`' cost."""
        buckets = self.model.buckets_
        if not self.config.model.uses_values or buckets is None or self.schema is None:
            return SlotSchema()
        read = {k for k, _ in buckets.value_edges} | {k for k, _ in buckets.categories}
        return SlotSchema({k: types for k, types in self.schema.slots.items() if k in read})

    def use_threshold(self, threshold: float | None = None, target_fpr: float | None = None) -> str:
        """Decide with another threshold than the stored one, from now on; returns how it was chosen.

        Args:
            threshold: an explicit value (higher = fewer alerts).
            target_fpr: a false-alarm rate on normal sessions, turned into a threshold by the
                training quantile rule over the artifact's normal validation scores.

        Raises:
            InputDataError: both given, a threshold that is not finite (NaN flags nothing, ever), a target
                outside (0, 1), or an artifact without validation scores.
        """
        if threshold is not None and target_fpr is not None:
            raise InputDataError("give a threshold or a target false-alarm rate, not both")
        for name, given in (("threshold", threshold), ("target_fpr", target_fpr)):
            if given is not None and (isinstance(given, bool) or not isinstance(given, int | float)):
                raise InputDataError(f"{name} must be a number, got {type(given).__name__} {given!r}")
        if target_fpr is not None:
            if self.calibration is None:
                raise InputDataError(f"{self.directory} has no {CALIBRATION_FILE}: retrain it to use a target rate")
            at_target = self.calibration.at_target(target_fpr)  # the training rule and its words, at this rate
            self.threshold = at_target.threshold
            if at_target.contamination > 0:  # describe() would state the contamination rule, not this quantile
                return (
                    f"target false-alarm rate {target_fpr:g}: quantile {1 - target_fpr:g} of {at_target.source}, "
                    f"which hold anomalies (scoring.contamination {at_target.contamination:g}): no false-alarm "
                    f"guarantee for normal {at_target.unit}"
                )
            return f"target false-alarm rate {target_fpr:g}: {at_target.describe()}"
        if threshold is not None:
            if not math.isfinite(threshold):
                raise InputDataError(f"the threshold must be a finite number, got {threshold}")
            self.threshold = float(threshold)
            return "given (--threshold), not the artifact's"
        return self.calibration.describe() if self.calibration is not None else "stored in the artifact"

    def p_value(self, score: float) -> float | None:
        """How rare ``score`` is among normal validation sessions (None without their scores)."""
        return None if self.calibration is None else self.calibration.p_value(score)

    def template(self, key_id: int) -> str | None:
        """The template of a key id (``"key <id>"`` for key-file artifacts; None for UNK)."""
        if key_id == UNK_KEY:
            return None
        if key_id in BOUND_TEMPLATES:
            return BOUND_TEMPLATES[key_id]
        if self.parser is None:
            return f"key {key_id}"
        templates = self.parser.templates_
        return templates[key_id] if 0 <= key_id < len(templates) else None

    def memo_key(self, key_ids: Sequence[int], offset: int = 0) -> tuple[object, ...]:
        """Windows with equal keys here (at ``offset``, their unit's keys before them) get equal plain scores (the
        service's score memo; see :meth:`LogBertDetector.memo_key`)."""
        return self.model.memo_key(key_ids, offset)

    def n_unknown(self, key_ids: Sequence[int]) -> int:
        """Keys the model's vocabulary maps to UNK: templates never seen in training."""
        vocab = self.model.vocab_
        return sum(1 for t in vocab.encode(key_ids) if t == vocab.UNK)

    # -- raw lines --------------------------------------------------------------------------

    def parse_lines(
        self, lines: Sequence[str | bytes], start_line_no: int = 1, calendar: SyslogCalendar | None = None
    ) -> tuple[list[ParsedLine | LineProblem], ReadReport]:
        """Parse raw lines with the frozen parser, by the reader's line rule (``LineReader.read_line``).

        ``calendar``: the year of yearless lines so far (a stream read in requests: the lines before these), updated
        in place; None: these lines are all there is (:class:`~logbert.parsing.headers.SyslogCalendar`).

        Returns one entry per input line, in order: a :class:`ParsedLine` (``line_no`` is
        ``start_line_no`` + its index), or why the line gave none (``"empty"``, ``"malformed"``);
        and the report, which also counts binary and truncated lines and unseen templates.

        Raises:
            UnknownArtifact: the artifact was trained on key-sequence files and has no parser.
            TypeError: ``lines`` is one text (each of its characters would be a line).
        """
        if isinstance(lines, str | bytes):
            raise TypeError("lines must be a list of lines, got one text: pass [line] or text.splitlines()")
        if self.parser is None:
            raise UnknownArtifact(f"{self.directory} was trained on key sequences and cannot parse raw lines")
        reader = LineReader(self.config.parser)
        if calendar is not None:
            reader.header.calendar = calendar
        out: list[ParsedLine | LineProblem] = []
        for index, raw in enumerate(lines):
            parsed = reader.read_line(raw)
            if isinstance(parsed, str):
                out.append(parsed)
                continue
            # raw as parsed: repaired, truncated, without its line ending
            out.append(self._parsed_line(reader, parsed, start_line_no + index, reader.last_text))
        return out, reader.report

    def parse_unended(
        self, pieces: Sequence[str | bytes], start_line_no: int = 1, calendar: SyslogCalendar | None = None
    ) -> list[ParsedLine]:
        """The lines whose pieces (``parser.envelope``, a CSV record's quoted line breaks) ``pieces`` hold and whose
        last piece never came, read as what they hold, as offline reading ends a file (``LineReader.finish``); each
        numbered as its last piece. What the streaming engine reads when a source's input has ended
        (``StreamEngine.end_source``: ``tail`` at the end of a file it does not follow)."""
        if self.parser is None:
            raise UnknownArtifact(f"{self.directory} was trained on key sequences and cannot parse raw lines")
        reader = LineReader(self.config.parser)
        if calendar is not None:
            reader.header.calendar = calendar
        for raw in pieces:
            reader.read_line(raw)
        return [self._parsed_line(reader, ll, start_line_no + ll.line_no - 1, ll.content) for ll in reader.finish()]

    def _parsed_line(self, reader: LineReader, parsed: LogLine, line_no: int, raw: str) -> ParsedLine:
        """One read line as the streaming engine routes it: its key (an unseen template counted), session ids."""
        assert self.parser is not None
        key = self.parser.transform_one(parsed.content)
        if key == UNK_KEY:
            reader.report.n_unknown_template += 1
        ids = find_session_ids(line_text_for_sessions(parsed), self._pattern) if self._pattern else ()
        return ParsedLine(
            line_no=line_no,
            raw=raw,
            session_ids=ids,
            key_id=key,
            template=self.template(key),
            timestamp=parsed.timestamp,
            continued=parsed.continues is not None,
            stream=parsed.fields.get("stream", "") if reader.envelope != "none" else "",
        )

    @property
    def joins_lines(self) -> bool:
        """Whether a line of this artifact's format may be joined with the lines that follow it (a container runtime's
        pieces, a CSV record's quoted line breaks): only then does :meth:`open_pieces` find any."""
        return joins_lines(self.config.parser)

    def open_pieces(self, lines: Sequence[str | bytes]) -> list[str]:
        """The pieces (``parser.envelope``) at the end of ``lines`` whose split line has not ended yet, as read: what
        the streaming engine reads again before a source's next lines (``logbert.parsing.reader.open_pieces``)."""
        return open_pieces(lines, self.config.parser)

    def read(
        self,
        data: str | Path,
        *,
        labels: LabelsLike | None = None,
        label: int | None = None,
        kind: InputKind | None = None,
        with_signals: bool | None = None,
    ) -> tuple[list[KeySequence], ReadReport]:
        """Read an input into key sequences through this artifact's frozen parser.

        With ``with_signals`` (default: when the model reads them) every sequence carries its time and
        values (``KeySequence.signals``; values only with the artifact's slot schema, which time- and
        value-aware artifacts store; raw logs only).

        Raises:
            UnknownArtifact: a raw log given to an artifact trained on key sequences.
            InputDataError: unusable input; a raw log none of whose lines names a session id by the artifact's
                pattern (said as the artifact's: its settings cannot be changed at scoring time).
        """
        kind = input_kind(data, self.config, kind)
        if kind == "raw" and self.parser is None:  # before the key artifact's session settings judge the raw lines
            raise UnknownArtifact(
                f"{self.directory} was trained on key sequences and has no log parser; {data} is a raw log "
                "(--input keys if it is a key-sequence file)"
            )
        try:
            corpus = read_corpus(data, self.config, labels=labels, label=label, kind=kind)
        except NoSessionIds as exc:
            raise InputDataError(
                as_training_settings(
                    f"{exc.path}no line names a session id by the pattern {quoted(exc.pattern)} that "
                    f"{self.directory} was trained with: it scores logs whose sessions that pattern names. For this "
                    "log, train an artifact on its normal sessions (logbert train) with the pattern of its ids (--set "
                    "'window.session_pattern=REGEX', its first group the id) or with windows of lines (--set "
                    "window.mode=sliding)" + exc.clues,
                    self.directory,
                )
            ) from None
        except InputDataError as exc:  # the reader's: a format that reads no line, a labels file for another log
            raise InputDataError(as_training_settings(str(exc), self.directory)) from None
        # the reader's warnings, said by score and evaluate, which take no --set
        corpus.report.warnings[:] = [as_training_settings(w, self.directory) for w in corpus.report.warnings]
        if corpus.kind == "keys":
            if self.parser is not None:
                raise InputDataError(
                    f"{data} holds key sequences, but {self.directory} was trained on a raw log: its key ids "
                    "mean other templates (give the raw log, or --input raw if it is one)"
                )
            # a line of a key-sequence file is a session: it has an unseen template when one of its keys is
            # out of the model's vocabulary (what the per-session n_unknown counts)
            corpus.report.n_unknown_template = sum(self.n_unknown(s.key_ids) > 0 for s in corpus.key_sequences)
            return list(corpus.key_sequences), corpus.report
        assert self.parser is not None  # a raw log to a key artifact was refused above
        (sequences,), n_unknown_lines = key_sessions(corpus, [corpus.line_sessions], self.parser)
        corpus.report.n_unknown_template = n_unknown_lines
        n_in_units = corpus.report.n_parsed - corpus.report.n_without_session
        if unseen := mostly_unseen(n_unknown_lines, n_in_units, self.config.window.unit_noun, self.directory):
            corpus.report.warnings.append(unseen)
        if with_signals is None:
            with_signals = self.model.reads_signals
        if with_signals:  # time and values ride with the keys
            schema = self.schema if self.schema is not None else SlotSchema()  # no schema: time only
            sigs = corpus_signals(corpus, sequences, line_rows(corpus), self.parser, schema)
            sequences = [replace(s, signals=g) for s, g in zip(sequences, sigs, strict=True)]
        return sequences, corpus.report

    # -- scoring ----------------------------------------------------------------------------

    def score_sequences(self, sequences: Sequence[KeySequence], explain: bool = False) -> list[SequenceScore]:
        """Score windows (each at most ``config.window.max_len`` keys) in micro-batches, as given: the model's input.

        Scores are deterministic and do not depend on which other sequences share the batch. Whole sessions are
        :meth:`score_sessions`' work, which also adds the session start and end marks of a bounded artifact
        (``window.session_bounds``) and cuts long sessions into windows, as ``logbert score`` does; a session's keys
        given here straight from :meth:`parse_lines` score without them (another score than ``logbert score``'s).
        """
        if not sequences:
            return []
        signals = [s.signals for s in sequences] if self.model.reads_signals else None
        with self._model_lock:
            out = self.model.scores(
                [list(s.key_ids) for s in sequences],
                details=explain,
                signals=signals,
                offsets=[s.unit_offset for s in sequences] if self.model.weighs_volume else None,
            )
        chosen = self.model.score_of(out)
        channels = self.model.channels_of(out) if self.model.reads_signals else None
        # the same scores without the short-session term (the estimator's own combination), for explanations
        unshortened = (
            self.model.score_of(replace(out, length_surprise=None))
            if explain and out.length_surprise is not None
            else None
        )
        # and without the count term (model.key_counts), to tell whether a count decided an alert
        uncounted = (
            self.model.score_of(replace(out, count_nll=None))
            if explain and out.count_nll is not None and out.count_details is not None
            else None
        )
        results: list[SequenceScore] = []
        for i, seq in enumerate(sequences):
            score = float(chosen[i])
            surprises: tuple[str, ...] = ()
            if uncounted is not None and out.count_details is not None:
                surprises = self._count_surprise(score, float(uncounted[i]), out, i)
            if explain and out.signal_details is not None and channels is not None:
                surprises = (*surprises, *self._surprises(seq, out.signal_details[i], channels[i]))
            if unshortened is not None and out.length_surprise is not None:
                surprises = (
                    *self._length_surprise(seq, score, float(unshortened[i]), float(out.length_surprise[i])),
                    *surprises,
                )
            if explain and out.volume_surprise is not None:
                surprises = (*self._volume_surprise(seq, score, float(out.volume_surprise[i])), *surprises)
            misses: tuple[PositionExplanation, ...] = ()
            if explain and out.details is not None:
                named = self._named_positions(out.details[i])
                misses = tuple(
                    PositionExplanation(
                        position=d.position,
                        key_id=d.key_id,
                        template=self.template(d.key_id),
                        expected=tuple(
                            ExpectedKey(self.template(k) or "<unknown>", round(float(p), 6))
                            for k, p in zip(d.top_key_ids, d.top_probs, strict=True)
                        ),
                        line_no=seq.line_nos[d.position] if d.position < len(seq.line_nos) else None,
                    )
                    for d in named
                )
            results.append(
                SequenceScore(
                    session_id=seq.session_id,
                    anomaly_score=score,
                    miss_ratio=float(out.miss_ratio[i]),
                    dist_score=float(out.dist[i]),
                    threshold=self.threshold,
                    is_anomaly=bool(exceeds(score, self.threshold)),
                    n_keys=n_log_keys(seq.key_ids),
                    n_misses=int(out.n_misses[i]),
                    n_unknown=self.n_unknown(seq.key_ids),
                    misses=misses,
                    surprises=surprises,
                )
            )
        return results

    def _named_positions(self, details: Sequence[PositionDetail]) -> list[PositionDetail]:
        """The masked keys an explanation names: the misses (outside the top-g); where there is none and the score is
        a surprise (``mean_nll``, ``max_nll``, ``max_mean_nll``), the keys the model gave less than even odds
        (:data:`~logbert.pipeline.estimator.KEY_SURPRISE_FLOOR`). A model of a few templates predicts among at most
        about top-g keys, so every known key is in its top-g: its alert for a skipped step or a known line in the
        wrong place named nothing."""
        misses = [d for d in details if d.missed]
        if misses or self.config.scoring.score not in NLL_SCORES:
            return misses
        even_odds = math.exp(-KEY_SURPRISE_FLOOR)
        return [
            d
            for d in details
            if d.key_id in d.top_key_ids and d.top_probs[d.top_key_ids.index(d.key_id)] < even_odds
        ]

    def _count_surprise(self, score: float, without: float, out: ScoreOutput, i: int) -> tuple[str, ...]:
        """An alert whose largest surprise is a key's count, or that the count term decided (without it the score
        is not above the threshold), names that key, its count and the count the model expected."""
        detail = None if out.count_details is None else out.count_details[i]
        if detail is None or out.count_nll is None or out.max_nll is None or not exceeds(score, self.threshold):
            return ()
        if exceeds(without, self.threshold) and out.count_nll[i] < out.max_nll[i]:
            return ()
        template = self.template(detail.key_id) if detail.key_id is not None else None
        expected = f"{detail.expected_count}{' or more' if detail.expected_count == COUNT_BUCKETS - 1 else ''}"
        return (
            f"'{template or '<unknown>'}' {detail.count} times in this window; expected {expected} "
            f"(p {detail.expected_prob:.2f}); count surprise {detail.surprise:.2f}",
        )

    def _length_surprise(self, seq: KeySequence, score: float, without: float, surprise: float) -> tuple[str, ...]:
        """An alert of a whole session far shorter than the normal ones says so: when the length term decided
        the alert (``without`` it, the score is not above the threshold) or no normal training session was as
        short."""
        lengths, n_keys = self.model.lengths_, whole_session_length(seq.key_ids)
        if lengths is None or n_keys is None or surprise <= 0 or not exceeds(score, self.threshold):
            return ()
        if exceeds(without, self.threshold) and lengths.at_most(n_keys) > 0:
            return ()
        return (lengths.describe(n_keys),)

    def _volume_surprise(self, seq: KeySequence, score: float, surprise: float) -> tuple[str, ...]:
        """An alert of a time window far busier than the normal ones says so, first: any volume surprise is one
        (beyond twice the busiest normal training window, :mod:`logbert.scoring.volume`)."""
        volumes = self.model.volumes_
        if volumes is None or surprise <= 0 or not exceeds(score, self.threshold):
            return ()
        return (volumes.describe(seq.unit_offset + len(seq.key_ids)),)

    def _surprises(
        self, seq: KeySequence, details: Sequence[SignalDetail], channels: Sequence[float]
    ) -> tuple[str, ...]:
        """The time and value explanations of one window: each channel at or above its own scale (1 = where it
        alone would flag), or the one that decides the score, most surprising first."""
        scales = self.model.scales_ or (1.0, 1.0, 1.0)
        scaled = {name: float(channels[c]) / scales[c] for c, name in enumerate(("key", "time", "value"))}
        top = max(scaled, key=lambda name: scaled[name])
        chosen = [d for d in details if scaled[d.channel] >= 1.0 or d.channel == top]
        chosen.sort(key=lambda d: -scaled[d.channel])
        buckets = self.model.buckets_
        if buckets is None:
            return ()
        return tuple(describe_signal(d, seq, buckets, self.schema, self.template) for d in chosen)

    def in_flight(self, key_ids: Sequence[int], first_time: float | None, capture_start: float | None) -> str | None:
        """Why a session (its key ids, its first line's timestamp) was already in flight when the capture began
        at ``capture_start``, or None (see :mod:`logbert.scoring.capture`; off for an artifact without the
        reference, windows that are not sessions, or without times). Offline scoring and the streaming engine
        both decide with this; such a session is scored but not flagged."""
        edge = self.model.capture_edge_
        if edge is None or self.config.window.mode != "session":
            return None
        return edge.in_flight(first_key(key_ids), first_time, capture_start, self.template)

    def score_sessions(
        self, sequences: Sequence[KeySequence], *, explain: bool = False, capture_start: float | None = None
    ) -> list[SessionResult]:
        """Score whole sessions: each scores its worst window (see :mod:`logbert.pipeline.sessions`).

        With ``explain``, anomalous sessions carry the misses of their worst window. Sessions with
        no window at least ``window.min_len`` keys long are left out (logged). ``capture_start``: the
        first timestamp of the log the sessions come from (``ReadReport.first_time``); a session already
        in flight then (:meth:`in_flight`) is scored but not flagged, and its ``partial`` says why
        (None: the rule is off).

        Raises:
            ValueError: a session without keys (reading a log never makes one; it would score its marks alone).
        """
        if empty := [s.session_id for s in sequences if not len(s.key_ids)]:
            raise ValueError(f"{len(empty)} sessions have no keys (e.g. {empty[0]!r}): a session is one key or more")
        with self._model_lock:
            scores, windows, worst, skipped = worst_windows(self.model, sequences, self.config.window)
        if skipped:
            logger.info("%d windows shorter than window.min_len were not scored", len(skipped))
        partial = [self.in_flight(seq.key_ids, seq.start_time, capture_start) for seq in sequences]
        flagged = [
            j
            for s, j, why in zip(scores, worst, partial, strict=True)
            if j is not None and why is None and exceeds(s, self.threshold)
        ]
        explained: dict[int, SequenceScore] = {}
        if explain and flagged:
            scored = self.score_sequences([windows[j] for j in flagged], explain=True)
            explained = dict(zip(flagged, scored, strict=True))
        results = []
        for seq, score, j, why in zip(sequences, scores, worst, partial, strict=True):
            if j is None:
                continue
            results.append(
                SessionResult(
                    session_id=seq.session_id,
                    label=seq.label,
                    score=float(score),
                    is_anomaly=why is None and bool(exceeds(score, self.threshold)),
                    n_keys=len(seq.key_ids),
                    n_unknown=self.n_unknown(seq.key_ids),
                    threshold=self.threshold,
                    p_value=self.p_value(float(score)),
                    first_line_no=seq.line_nos[0] if seq.line_nos else None,
                    last_line_no=seq.line_nos[-1] if seq.line_nos else None,
                    start_time=seq.start_time,
                    worst_window=windows[j].window_index,
                    misses=explained[j].misses if j in explained else (),
                    surprises=explained[j].surprises if j in explained else (),
                    partial=why,
                )
            )
        return results


#: Share of a log's lines (those in its sessions) with a template the artifact never saw, above which score and
#: evaluate say the log may not be of the kind the artifact was trained on
MOSTLY_UNSEEN_SHARE = 0.5


def mostly_unseen(n_unknown: int, n_lines: int, units: str, directory: Path) -> str | None:
    """What to say when more than :data:`MOSTLY_UNSEEN_SHARE` of ``n_lines`` (the lines in ``units``, as the
    artifact's window config names them) have a template the artifact at
    ``directory`` never saw, else None. A logcat file scored with a kernel log's artifact read 3,384 of 3,384 lines as
    unseen and flagged every window, and the counts were the only word of it."""
    if n_lines == 0 or n_unknown <= MOSTLY_UNSEEN_SHARE * n_lines:
        return None
    return (
        f"{n_unknown} of the {n_lines} lines in {units} ({n_unknown / n_lines:.0%}) have a template {directory} never "
        "saw in training: is this a log of the kind it was trained on (the same program, format and settings)? "
        f"{units.capitalize()} of such lines score as anomalous"
    )


def _seconds(x: float) -> str:
    return f"{readable_number(x)} s"


def _span(lo: float, hi: float, show: Callable[[float], str]) -> str:
    a, b = show(lo), show(hi)
    return a if a == b else f"{a.split()[0]}-{b}" if a.split()[1:] == b.split()[1:] else f"{a}-{b}"


def describe_signal(
    detail: SignalDetail,
    window: KeySequence,
    buckets: SignalBuckets,
    schema: SlotSchema | None,
    template: Callable[[int], str | None],
) -> str:
    """One time or value surprise in words: what was seen, where, what the model expected, and the training range.

    ``"the session lasted 65.4 s; expected 43.1-43.9 s (p 0.41); training range 41.9-45.4 s"``,
    ``"Took <*> seconds to spawn the instance on the hypervisor. (key 7): 42.8 s; expected 19.9-20.4 s (p 0.38);
    training range 19.6-22.3 s"``. ``template`` names a key id (``Detector.template``).
    """
    expected = ""
    sig = window.signals
    if detail.channel == "time":
        session = detail.position < 0
        key = window.key_ids[detail.position] if not session else None
        rng = buckets.gap_range(detail.expected_bucket, key)
        if rng is not None:
            expected = f"; expected {_span(*rng, _seconds)} (p {detail.expected_prob:.2f})"
        if session:
            edges = buckets.elapsed_edges
            seen = None if sig is None else sig.elapsed
            where = "the session lasted " + ("?" if seen is None else _seconds(seen))
            train = f"; training range {_span(math.expm1(edges[0]), math.expm1(edges[-1]), _seconds)}" if edges else ""
            return where + expected + train
        assert key is not None
        gap = math.nan if sig is None else sig.gaps[detail.position]
        edges = buckets.gap_edges_of(key)
        train = f"; training range {_span(math.expm1(edges[0]), math.expm1(edges[-1]), _seconds)}" if edges else ""
        return f"{_seconds(gap)} before '{template(key)}' (key {key}){expected}{train}"
    key = window.key_ids[detail.position]
    row = encode_signals(window.key_ids, sig, buckets, time=False, values=True)
    slot = row.value_slot[detail.position + 1]
    value = sig.values[detail.position][slot] if sig is not None and slot >= 0 else None
    if isinstance(value, str) and buckets.is_new_category(key, slot, value):
        return describe_category(value, key, slot, buckets.categories[(key, slot)], template(key))
    slot_type: SlotType | None = None
    if schema is not None and slot >= 0 and slot < len(schema.slots.get(key, ())):
        slot_type = schema.slots[key][slot]

    def show(x: float) -> str:
        return slot_type.display(x) if slot_type is not None else readable_number(x)

    what = slot_type.context if slot_type is not None and slot_type.context else f"'{template(key)}' slot {slot}"
    shown = show(value) if isinstance(value, float) else "?"
    rng = buckets.value_range(key, slot, detail.expected_bucket)
    if rng is not None:
        expected = f"; expected {_span(*rng, show)} (p {detail.expected_prob:.2f})"
    edges = buckets.value_edges.get((key, slot), ())
    train = f"; training range {_span(edges[0], edges[-1], show)}" if edges else ""
    return f"{what} (key {key}): {shown}{expected}{train}"


#: Explanations quote at most this many characters of a category (log text) and list this many training ones.
CATEGORY_CHARS = 40
CATEGORIES_SHOWN = 5


def shown_text(text: str, limit: int = CATEGORY_CHARS) -> str:
    """Log text for an explanation: control and other unprintable characters escaped (``\\n``, ``\\x1b``),
    cut to ``limit`` characters with an ellipsis. Not markup-escaped: whoever prints it with Rich escapes it.

    >>> shown_text("crashed"), shown_text("a\\nb"), shown_text("x" * 50, 5)
    ('crashed', 'a\\\\nb', 'xxxx…')
    """
    safe = "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text)
    return safe if len(safe) <= limit else safe[: limit - 1] + "…"


def _slot_name(template: str | None, slot: int) -> str:
    """What a slot is called: the template word before its ``<*>`` (``power_state``, ``status``), else ``slot N``."""
    tokens = (template or "").split()
    wildcards = [i for i, tok in enumerate(tokens) if "<*>" in tok]
    if slot < len(wildcards):
        at = wildcards[slot]
        glued = tokens[at].partition("<*>")[0].strip("\"'([{=:")
        word = glued or (tokens[at - 1].strip(".,;:=()[]\"'") if at > 0 else "")
        if word and len(word) <= CATEGORY_CHARS and "<*>" not in word:
            return word
    return f"slot {slot}"


def describe_category(
    value: str, key: int, slot: int, seen: Sequence[str], template: str | None
) -> str:
    """A category never seen in training for its template slot, in words:
    ``"power_state '6' never seen in training for '<template>' (key 40) (seen: 4)"`` (log text escaped and cut)."""
    listed = ", ".join(shown_text(c) for c in seen[:CATEGORIES_SHOWN])
    more = f" and {len(seen) - CATEGORIES_SHOWN} more" if len(seen) > CATEGORIES_SHOWN else ""
    where = f"'{shown_text(template, 200)}' (key {key})" if template is not None else f"key {key}"
    return (
        f"{shown_text(_slot_name(template, slot))} '{shown_text(value)}' never seen in training for {where} "
        f"(seen: {listed}{more})"
    )


def _calibration_of(model: LogBertDetector, directory: Path) -> Calibration | None:
    """The calibration record the artifact was loaded with (read and checked by :func:`logbert.artifact.load_artifact`);
    None for an artifact without one (saved before calibration records, or with a threshold set by hand).

    Raises:
        UnknownArtifact: a malformed record, naming its file.
    """
    data = getattr(model, "records_", {}).get(CALIBRATION_FILE)
    return None if data is None else Calibration.from_dict(data, directory / CALIBRATION_FILE)


def load_detector(path: str | Path, *, need_parser: bool = False, device: str = "cpu") -> Detector:
    """Load an artifact directory written by :func:`logbert.pipeline.fit.train`.

    Args:
        path: the artifact directory.
        need_parser: refuse an artifact trained on key-sequence files (it has no log parser, so
            it cannot read raw lines: the streaming service, ``tail`` and the queue workers ask for
            this). A time- and value-aware artifact (``model.signals``) is fine: streaming builds each
            window's times and values from its lines (:meth:`Detector.stream_signals`).
        device: where the model scores: ``cpu`` (default), ``cuda``, ``cuda:N``, ``mps`` or ``auto``.

    Raises:
        UnknownArtifact: missing directory or files, pieces that do not belong together, or no
            parser where ``need_parser`` asks for one.
        InputDataError: a device this machine does not have.
    """
    directory = Path(path)
    try:
        resolve_device(device)  # before any file is read: a machine without that device is the user's input
    except ValueError as exc:
        raise InputDataError(str(exc)) from None
    model = LogBertDetector.load(directory, device=device)
    state = model.parser_state_
    if state is None and need_parser:
        raise UnknownArtifact(
            f"{path} was trained on pre-parsed key sequences and has no log parser; "
            "the streaming service and tail need an artifact trained on a raw log"
        )
    try:
        parser = LogParser.from_dict(state) if state is not None else None
    except InputDataError as exc:  # "unsupported parser state version None": the file at fault, named
        raise UnknownArtifact(f"{directory / PARSER_FILE}: {exc}") from None
    if parser is not None and parser.config != model.config.parser:
        raise UnknownArtifact(f"{directory}: parser.json was made with other parser settings than config.json")
    keys = getattr(model.vocab_, "keys", ())
    if parser is not None and keys and max(keys) >= len(parser.templates_):
        raise UnknownArtifact(
            f"{directory}: the vocabulary names key {max(keys)} but parser.json has {len(parser.templates_)} "
            "templates: the files come from different artifacts"
        )
    return Detector(model, parser, directory)


def score(
    artifact: str | Path | Detector,
    data: str | Path | Sequence[str],
    *,
    explain: bool = False,
    kind: InputKind | None = None,
) -> list[SessionResult]:
    """Score every session (or window) of ``data``; higher score = more anomalous. ``data``: a path, or the lines of
    a raw log held in memory (one line an item)."""
    return score_with_report(artifact, data, explain=explain, kind=kind)[0]


def score_with_report(
    artifact: str | Path | Detector,
    data: str | Path | Sequence[str],
    *,
    explain: bool = False,
    kind: InputKind | None = None,
) -> tuple[list[SessionResult], ReadReport]:
    """:func:`score`, and what happened to every input line (malformed, binary, unseen templates ...).

    Lines held in memory are written to a temporary file and read as a log file is (one reading rule for both;
    ``logbert score -`` does the same with standard input).
    """
    detector = artifact if isinstance(artifact, Detector) else load_detector(artifact)
    if not isinstance(data, str | os.PathLike) and isinstance(data, Sequence):
        if not all(isinstance(line, str) for line in data):
            raise TypeError("lines held in memory must be texts, one line each")
        if not data:
            raise InputDataError("no lines to score (an empty list)")
        with tempfile.TemporaryDirectory(prefix="logbert-lines-") as tmp:
            path = Path(tmp) / "lines.log"
            with path.open("w", encoding="utf-8", newline="\n") as f:
                f.writelines(line if line.endswith("\n") else line + "\n" for line in data)
            return score_with_report(detector, path, explain=explain, kind=kind or "raw")
    sequences, report = detector.read(data, kind=kind)
    results = detector.score_sessions(sequences, explain=explain, capture_start=report.first_time)
    report.n_in_flight = sum(r.partial is not None for r in results)
    if (short := shorter_than_calibration(detector, results)) is not None:
        report.warnings.append(short)
    if explain and detector.parser is not None:  # a raw log: quote the lines the explanations point at
        max_chars = detector.config.parser.max_line_chars  # one more read of the file, up to the last line quoted
        results = with_raw_lines(results, lambda wanted: raw_lines_at(data, wanted, max_chars))
    return results, report


def shorter_than_calibration(detector: Detector, results: Sequence[SessionResult]) -> str | None:
    """What to say of sessions shorter than every session the threshold was calibrated on (where the artifact kept
    those lengths: miss-ratio artifacts), else None: the stated false-alarm rate does not cover them. A quiet spell
    or a line out of order makes time windows of one key, which score the largest miss ratio: 98 of 200 such windows
    of a sparse syslog were flagged under a stated rate of 0.47 %."""
    fewest = None if detector.calibration is None else detector.calibration.fewest_keys
    if fewest is None:
        return None
    marks = 2 if detector.config.window.bounded else 0  # masked in calibration, not counted in n_keys
    short = [r for r in results if r.n_keys + marks < fewest]
    if not short:
        return None
    units = detector.config.window.unit_noun
    return (
        f"{len(short)} of {len(results)} {units} hold fewer keys than any of the {units} the threshold was calibrated "
        f"on (fewest: {fewest}), and {sum(r.is_anomaly for r in short)} of them are flagged: the stated false-alarm "
        "rate does not cover them (few keys give the model little context; a quiet spell or a line out of order makes "
        "such short windows)"
    )
