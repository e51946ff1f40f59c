"""Scores of windows remembered by their keys: a window seen before is not scored again.

Why: on HDFS most blocks repeat a handful of normal key sequences; the 2 % sample's 11,615
windows hold 1,553 distinct ones. The model is the service's bottleneck (~800 windows/s on two
cores), so scoring each distinct window once makes close-all ~5x faster on that log.

Why it cannot change a decision: a :class:`~logbert.streaming.protocol.Scorer` scores a window
from its key ids alone, deterministically and whatever else shares its batch (the protocol's
contract; the service's parity with offline scoring already rests on it). The session id is
copied onto a remembered score; an explanation's line numbers are the only other per-window part,
and they are filled in from the window's own ``line_nos`` exactly as the detector does (position
``p`` -> ``line_nos[p]``). Windows that carry time or value signals are never remembered (a
signal-aware scorer may read them). Plain scores are remembered by the scorer's ``memo_key`` (an
order-free model scores every order of a window's keys as one: HDFS 2 %'s 1,532 distinct blocks are 151
windows to it); explained ones, which name positions, by the keys as they are. A change of the scorer's
threshold empties the memo, since each score carries its decision.

Bounded: least recently used entries beyond ``max_windows`` are dropped (explained scores, which
hold the model's expectations, beyond a tenth of it). Not thread-safe: the engine calls it from
its one scoring thread.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import replace

from logbert.records import KeySequence
from logbert.results import SequenceScore
from logbert.streaming.protocol import Scorer, memo_key_rule

Keys = tuple[object, ...]
#: A remembered score and the keys of the window it was scored for.
Remembered = tuple[SequenceScore, tuple[int, ...]]


class ScoreMemo:
    """Remembered :meth:`Scorer.score_sequences` results, by key ids.

    Args:
        max_windows: plain scores kept (0: nothing is remembered and every call goes to the scorer).
    """

    def __init__(self, max_windows: int) -> None:
        if max_windows < 0:
            raise ValueError(f"max_windows must be >= 0, got {max_windows}")
        self.max_windows = max_windows
        self.max_explained = max_windows // 10 if max_windows else 0
        # scores with the keys of the window they were scored for (an explanation's positions are that window's)
        self._plain: OrderedDict[Keys, Remembered] = OrderedDict()
        self._explained: OrderedDict[Keys, Remembered] = OrderedDict()
        self._threshold: float | None = None
        self.hits = 0  # windows not handed to the scorer (plain scores; explanations are not counted)
        self.misses = 0  # windows handed to the scorer (plain scores)

    def __len__(self) -> int:
        return len(self._plain) + len(self._explained)

    def score(self, scorer: Scorer, sequences: Sequence[KeySequence], explain: bool = False) -> list[SequenceScore]:
        """What ``scorer.score_sequences(sequences, explain)`` returns, scoring each distinct window once."""
        bound = self.max_explained if explain else self.max_windows
        if bound == 0:
            self.misses += 0 if explain else len(sequences)
            return list(scorer.score_sequences(sequences, explain=explain))
        threshold = float(scorer.threshold)
        if threshold != self._threshold:  # every remembered decision was made at the old threshold
            self._plain.clear()
            self._explained.clear()
            self._threshold = threshold
        memo = self._explained if explain else self._plain
        # by the scorer's own rule (an order-free model: any order of a window's keys is one window); an explanation
        # names positions, and is told of another order by _for
        key_of = memo_key_rule(scorer)
        out: list[SequenceScore | None] = [None] * len(sequences)
        todo: dict[Keys, list[int]] = {}  # distinct unremembered windows -> where they are in `sequences`
        direct: list[int] = []  # windows with signals: scored as they are, never remembered
        for i, seq in enumerate(sequences):
            if seq.signals is not None:
                direct.append(i)
                continue
            keys = key_of(seq)
            hit = memo.get(keys)
            if hit is None:
                todo.setdefault(keys, []).append(i)
                continue
            memo.move_to_end(keys)
            out[i] = _for(hit, seq)
        if not explain:
            self.hits += len(sequences) - len(direct) - len(todo)  # a repeat inside the batch counts too
            self.misses += len(direct) + len(todo)
        if todo or direct:
            # an explained representative is scored without line numbers, so its explanation holds
            # none of another window's; _for fills in each window's own
            reps = [replace(sequences[ix[0]], line_nos=[]) if explain else sequences[ix[0]] for ix in todo.values()]
            scored = scorer.score_sequences([*reps, *(sequences[i] for i in direct)], explain=explain)
            if len(scored) != len(reps) + len(direct):
                return list(scorer.score_sequences(sequences, explain=explain))  # let the caller see the mismatch
            for (keys, where), s in zip(todo.items(), scored, strict=False):
                memo[keys] = remembered = (s, tuple(sequences[where[0]].key_ids))
                for i in where:
                    out[i] = _for(remembered, sequences[i])
            for i, s in zip(direct, scored[len(reps) :], strict=True):
                out[i] = s
            while len(memo) > bound:
                memo.popitem(last=False)
        return [s for s in out if s is not None]


def _for(remembered: Remembered, seq: KeySequence) -> SequenceScore:
    """A remembered score as the scorer would have given it for ``seq``: its session id, and
    explanations at its positions (:func:`_same_keys_at`) with its line numbers (as the detector sets
    them: ``line_nos[position]``)."""
    score, keys = remembered
    if score.misses:
        nos = seq.line_nos
        at = _same_keys_at(keys, seq.key_ids)
        moved = []
        for m in score.misses:
            p = at[m.position] if 0 <= m.position < len(at) else m.position
            moved.append(replace(m, position=p, line_no=nos[p] if 0 <= p < len(nos) else None))
        misses = tuple(sorted(moved, key=lambda m: m.position))
        return replace(score, session_id=seq.session_id, misses=misses)
    if score.session_id == seq.session_id:
        return score
    return replace(score, session_id=seq.session_id)


def _same_keys_at(scored: Sequence[int], keys: Sequence[int]) -> list[int]:
    """For each position of the window ``scored``, the position of the same key in ``keys`` (the same keys in
    another order, which the scorer's ``memo_key`` says score alike): the k-th occurrence of a key goes to its k-th
    occurrence. That is where an order-free scorer puts it too (it scores both in one order, a stable sort by key
    that keeps each key's occurrences in their order; a marked last key is its key's last occurrence in both).

    >>> _same_keys_at([5, 3, 5, 9], [3, 5, 5, 9])
    [1, 0, 2, 3]
    """
    if list(scored) == list(keys):
        return list(range(len(keys)))
    where: dict[int, list[int]] = {}
    for p, k in enumerate(keys):
        where.setdefault(k, []).append(p)
    seen: dict[int, int] = {}
    out = []
    for k in scored:
        j = seen.get(k, 0)
        seen[k] = j + 1
        out.append(where[k][j])
    return out
