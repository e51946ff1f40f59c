"""Time and parameter values of a corpus' sessions (issue 13), next to their keys.

Opt-in and separate from the key path: nothing here runs in ``logbert parse``, ``train`` or the
parser's streaming fit unless asked, so their memory and speed do not change. The two steps:

1. :func:`fit_slot_schema`: type every template slot from the *training* sessions' lines
   (:func:`logbert.parsing.params.infer_slot_schema`); JSON-able (``schema.to_dict()``), stored
   with the parser's state by :func:`logbert.parsing.params.attach_schema` when a caller wants it
   in an artifact (``parser.json`` then holds ``"slot_schema"``).
2. :func:`corpus_signals`: one :class:`~logbert.records.SessionSignals` per session (time gaps,
   typed values, elapsed time), aligned with that session's ``KeySequence.key_ids``.

Example (the pattern the time/value-aware model and ``benchmarks.time_values`` use)::

    corpus = read_corpus(path, config)
    split = split_and_key(corpus, config)                     # keys, parser mined on training lines
    rows = line_rows(corpus)                                  # session id -> rows of corpus.lines
    schema = fit_slot_schema(corpus, [rows[s.session_id] for s in split.train], split.parser)
    train_signals = corpus_signals(corpus, split.train, rows, split.parser, schema)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from logbert.errors import InputDataError
from logbert.parsing.params import (
    HINT_MAX_LINES,
    HINT_SAMPLE,
    SlotSchema,
    elapsed,
    infer_slot_schema,
    merged_state_words,
    session_signals,
    state_words_hint,
    time_gaps,
)
from logbert.parsing.parser import LogParser
from logbert.pipeline.corpus import Corpus
from logbert.records import UNK_KEY, KeySequence, SessionSignals

__all__ = ["corpus_signals", "fit_slot_schema", "line_rows", "line_signals"]


def line_rows(corpus: Corpus) -> dict[str, tuple[int, ...]]:
    """Session id -> the rows of ``corpus.lines`` that make the session (raw logs only)."""
    return {s.session_id: s.rows for s in corpus.line_sessions}


def fit_slot_schema(
    corpus: Corpus, sessions_rows: Sequence[Sequence[int]], parser: LogParser, *, max_categories: int = 20
) -> SlotSchema:
    """The slot schema from the lines of the given (training) sessions.

    Raises:
        InputDataError: a key-sequence corpus (it has no parameter values).
    """
    if corpus.kind != "raw":
        raise InputDataError("a key-sequence file has no parameter values: no slot schema")
    lines = corpus.lines
    contents = [lines[i].content for rows in sessions_rows for i in rows]
    keys = parser.transform(contents)
    pairs = ((k, parser.parameters(c, k)) for c, k in zip(contents, keys, strict=True) if k != UNK_KEY)
    return infer_slot_schema(parser.templates_, pairs, max_categories=max_categories)


def merged_state_words_warning(
    corpus: Corpus,
    sessions: Sequence[KeySequence],
    parser: LogParser | None,
    per_template: int = HINT_SAMPLE,
    max_lines: int = HINT_MAX_LINES,
) -> str:
    """:func:`~logbert.parsing.params.state_words_hint` for the templates ``parser`` mined, typed from the lines of
    ``sessions`` (the training ones, keyed by ``parser``): at most ``per_template`` lines of a template among the first
    ``max_lines``. '' when no template made one wildcard of a few words, or for a key-sequence file. ``logbert parse``
    says the same from the whole file (:func:`logbert.pipeline.parse.state_words_warning`)."""
    if corpus.kind != "raw" or parser is None:
        return ""
    rows = line_rows(corpus)
    taken: dict[int, int] = {}
    pairs: list[tuple[int, list[str]]] = []
    n_lines = 0
    for s in sessions:
        if n_lines >= max_lines:
            break
        own = rows.get(s.session_id, ())
        if len(own) != len(s.key_ids):  # not keyed from these lines: nothing to read the values from
            continue
        n_lines += len(own)
        for i, key in zip(own, s.key_ids, strict=True):
            if key != UNK_KEY and taken.get(key, 0) < per_template:
                taken[key] = taken.get(key, 0) + 1
                pairs.append((key, parser.parameters(corpus.lines[i].content, key)))
    schema = infer_slot_schema(parser.templates_, pairs, max_values=per_template)
    return state_words_hint(parser.templates_, merged_state_words(parser.templates_, schema))


def corpus_signals(
    corpus: Corpus,
    sequences: Sequence[KeySequence],
    rows: Mapping[str, Sequence[int]],
    parser: LogParser | None,
    schema: SlotSchema | None,
) -> list[SessionSignals]:
    """One :class:`SessionSignals` per sequence (in order), aligned with its ``key_ids``.

    For a key-sequence corpus (no lines), or without a parser or schema, the gaps are NaN (no
    time), the values empty and ``elapsed`` None: time- and value-aware detectors switch off.

    Raises:
        InputDataError: a sequence's session is not in ``rows`` or its length differs.
    """
    out: list[SessionSignals] = []
    for seq in sequences:
        if corpus.kind != "raw" or parser is None or schema is None:
            n = len(seq.key_ids)
            out.append(SessionSignals((float("nan"),) * n, ((),) * n, None, seq.session_id))
            continue
        session_rows = rows.get(seq.session_id)
        if session_rows is None or len(session_rows) != len(seq.key_ids):
            raise InputDataError(f"session {seq.session_id!r}: its lines do not match its keys")
        lines = [corpus.lines[i] for i in session_rows]
        out.append(session_signals(lines, seq.key_ids, parser, schema, seq.session_id))
    return out


def line_signals(
    key_ids: Sequence[int],
    timestamps: Sequence[float | None],
    raw_parameters: Sequence[Sequence[str]],
    schema: SlotSchema,
    session_id: str = "",
) -> SessionSignals:
    """One session's (or window's) :class:`SessionSignals` from its lines, one entry per line: key id,
    timestamp (None = unknown) and raw parameter strings (``LogParser.parameters(content, key_id)``).

    Pure: what a streaming caller that keeps (timestamp, raw parameters) per line builds a window's
    signals with, by the rules of the offline path (:func:`logbert.parsing.params.time_gaps`,
    :func:`~logbert.parsing.params.elapsed`, ``SlotSchema.convert``); then
    ``replace(window, signals=...)`` and ``Detector.score_sequences``. Pseudo keys (session bounds) and
    unseen templates get no values. For a window cut from a longer session, ``elapsed`` should be the
    session's so far: pass the session's lines and cut with ``SessionSignals.window``.

    Raises:
        ValueError: the three sequences differ in length.
    """
    if not len(key_ids) == len(timestamps) == len(raw_parameters):
        raise ValueError(f"{len(key_ids)} keys, {len(timestamps)} timestamps, {len(raw_parameters)} parameter lists")
    values = tuple(
        () if k < 0 or k == UNK_KEY or k not in schema.slots else schema.convert(k, list(raw))
        for k, raw in zip(key_ids, raw_parameters, strict=True)
    )
    return SessionSignals(time_gaps(timestamps), values, elapsed(timestamps), session_id)
