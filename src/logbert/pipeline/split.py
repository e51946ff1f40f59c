"""Split-then-parse: whole sessions are split first, then the template miner sees training lines only.

The one place where a corpus becomes keyed train / validation / test sessions; ``logbert train``
and the benchmark both call :func:`split_and_key`, so they can never split or parse differently.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

from logbert.config import LogBertConfig
from logbert.errors import InputDataError
from logbert.parsing.parser import LogParser
from logbert.pipeline.corpus import Corpus, LineSession
from logbert.pipeline.parse import template_parser
from logbert.records import UNK_KEY, KeySequence
from logbert.windowing.windows import SessionSplit, split_sessions

_S = TypeVar("_S", LineSession, KeySequence)


@dataclass(frozen=True, slots=True)
class KeyedSplit:
    """Whole sessions with key ids: ``train`` and ``val`` normal only, ``test`` everything else."""

    train: list[KeySequence]
    val: list[KeySequence]
    test: list[KeySequence]
    chronological: bool  # the split followed start times (else a seeded shuffle)
    parser: LogParser | None  # mined on the training lines; None for key-sequence input
    n_test_unknown: int  # test keys the model will not know (template never mined; key absent from training)

    @property
    def n_templates(self) -> int:
        return len(self.parser.templates_) if self.parser is not None else 0


def split_and_key(
    corpus: Corpus,
    config: LogBertConfig,
    *,
    seed: int | None = None,
    max_train_sessions: int | None = None,
    what: str = "input",
) -> KeyedSplit:
    """Split the corpus' sessions, mine templates on the training lines, give every session keys.

    Args:
        corpus: from :func:`logbert.pipeline.corpus.read_corpus`.
        config: fractions, seed and chronological flag (``config.train``), parser settings.
        seed: overrides ``config.train.seed`` (the benchmark's seeds).
        max_train_sessions: keep a seeded sample of this many training sessions (input order
            kept); validation and test are never cut.
        what: how errors name the input.

    Raises:
        InputDataError: no normal session for training or for validation.
    """
    seed = config.train.seed if seed is None else seed
    if corpus.kind == "keys":
        keys = _split(corpus.key_sequences, config, seed, max_train_sessions, what)
        n_unseen = n_unseen_test_keys(keys.test, keys.train)
        return KeyedSplit(keys.train, keys.val, keys.test, keys.chronological, None, n_unseen)
    lines = _split(corpus.line_sessions, config, seed, max_train_sessions, what)
    parser = template_parser(config).fit(corpus.lines[i].content for i in _rows(lines.train))
    (train, val, test), _ = key_sessions(corpus, [lines.train, lines.val, lines.test], parser)
    return KeyedSplit(train, val, test, lines.chronological, parser, n_unseen_test_keys(test, train))


def n_unseen_test_keys(test: Sequence[KeySequence], known: Sequence[KeySequence]) -> int:
    """Test keys the model will not know: a template the parser never mined (``UNK_KEY``), or a key of a
    key-sequence file that no session the model learns from (``known``) holds; the vocabulary is fitted on
    those sessions' keys, so both end as its UNK token."""
    seen = {k for s in known for k in s.key_ids}
    return sum(k == UNK_KEY or k not in seen for s in test for k in s.key_ids)


def _split(
    units: Sequence[_S], config: LogBertConfig, seed: int, max_train_sessions: int | None, what: str
) -> SessionSplit[_S]:
    split = split_sessions(
        units,
        val_fraction=config.train.val_fraction,
        test_fraction=config.train.test_fraction,
        seed=seed,
        chronological=config.train.chronological_split,
        val_spread=config.train.val_sampling == "spread",
    )
    if not split.train or not split.val:
        raise InputDataError(
            f"{what}: need normal sessions for both training and validation, got {len(split.train)} train and "
            f"{len(split.val)} validation sessions out of {len(units)}"
        )
    if max_train_sessions is not None and len(split.train) > max_train_sessions:
        keep = set(random.Random(seed).sample(range(len(split.train)), max_train_sessions))
        split = split._replace(train=[s for i, s in enumerate(split.train) if i in keep])
    return split


def _rows(sessions: Sequence[LineSession]) -> list[int]:
    return sorted({i for s in sessions for i in s.rows})


def key_sessions(
    corpus: Corpus, parts: Sequence[Sequence[LineSession]], parser: LogParser
) -> tuple[list[list[KeySequence]], int]:
    """Line sessions -> key sequences through a frozen parser (each line is looked up once).

    Returns:
        The key sequences of each part, and how many distinct lines had a template the parser
        never saw (``UNK_KEY``).
    """
    rows = _rows([s for part in parts for s in part])
    looked_up = parser.transform([corpus.lines[i].content for i in rows])
    keys = dict(zip(rows, looked_up, strict=True))
    n_unknown_lines = sum(k == UNK_KEY for k in looked_up)
    return [[_keyed(corpus, s, [keys[i] for i in s.rows]) for s in part] for part in parts], n_unknown_lines


def _keyed(corpus: Corpus, session: LineSession, key_ids: list[int]) -> KeySequence:
    return KeySequence(
        session_id=session.session_id,
        key_ids=key_ids,
        label=session.label,
        line_nos=[corpus.lines[i].line_no for i in session.rows],
        start_time=session.start_time,
    )
