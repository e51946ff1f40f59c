"""Time and values as model inputs (issue 13): training-quantile buckets, fitted once, stored as JSON.

A key sequence says what happened and in which order; a :class:`~logbert.records.SessionSignals` says
when (the gap before each line, the session's elapsed time) and with which numbers (typed parameter
values). The time- and value-aware LogBERT (``model.signals``) reads them as two extra token rows
aligned with the key row ``[DIST, k_1, ..., k_n]``:

* **gap row**: position 0 (DIST) holds the session's *elapsed time*, position i the gap before key
  i, each as a bucket of ``log1p(seconds)`` between training quantiles (``model.gap_buckets``
  equal-count buckets): seconds and minutes get the same resolution. The gap before a key is
  bucketed between the quantiles of the training gaps *before that key*
  (:attr:`SignalBuckets.key_gap_edges`; keys seen fewer than :data:`MIN_KEY_GAPS` times: all
  training gaps, :attr:`~SignalBuckets.gap_edges`): most lines of a session follow each other within
  milliseconds, so buckets shared by every key would spend their resolution there and put "13 s"
  (a normal boot) and "35 s" (a slow one) in the same top bucket. The elapsed time has its own
  edges (:attr:`~SignalBuckets.elapsed_edges`). Time is one-sided: a gap or session faster than any
  in training falls in the first bucket (no excess): the faults of time are slowness (a slow
  hypervisor, a retried network setup), and a quick session is not one.
* **value row**: position i holds one value of line i: the *most unusual* of its number and
  category slots. A number is bucketed between that template slot's own training quantiles
  (``model.value_buckets`` buckets); out of its training range first, by how far, else the one
  farthest from its training median by rank (a slot constant in training is at its median, whichever
  bucket its equal edges close). A category (a status or state code:
  :class:`~logbert.parsing.params.SlotType` kind ``"category"``) is read where the training windows
  hold at least :data:`MIN_CATEGORY_VALUES` values of that template slot (at most
  :data:`MAX_CATEGORIES` distinct ones, none longer than :data:`MAX_CATEGORY_CHARS`)
  (:attr:`SignalBuckets.categories`, the training categories, most frequent first): a category
  *never seen in training* for that slot is the most unusual value a line can have (bucket ABOVE,
  :attr:`SignalRow.value_unseen`; scoring gives it the largest value surprise, like an unseen key's
  capped surprise); a category seen in training is no signal (NONE, as before categories were read:
  the model is not asked how likely a seen category is in its context). One value per position
  keeps the input one token wide; the most unusual slot is the one an operator would want seen (an
  oversized disk next to a normal memory size). Id slots are not read. A number slot that is a
  duration (unit seconds, e.g. "Took <*> seconds to spawn"; :attr:`SignalBuckets.duration_slots`)
  is one-sided like time: a build faster than any in training is no fault.

Bucket ids are :data:`~logbert.config.SIGNAL_NONE` (no signal: a key file, a template without a
number, a pseudo key), ``SIGNAL_MASK`` (hidden, to be predicted), ``SIGNAL_BELOW``, the inner buckets
3 .. n + 2 and ABOVE = n + 3 (:func:`~logbert.config.signal_classes`). Besides the bucket, each position
gets an *excess*: how far outside the training range the value lies, in widths of the inner
training range (0 inside), which scoring adds to the bucket's surprise, so that 40 s outside a 20 s
range weighs more than 1 s outside it (a bucket alone says only "above").

Everything here is pure and JSON-able: :meth:`SignalBuckets.to_dict` is stored in the artifact
(``signals.json``). :func:`encode_signals` is the one rule from a window's keys and signals to its
input rows; a streaming caller builds the ``SessionSignals`` of a window from its lines'
(timestamp, raw parameters) with :func:`logbert.pipeline.signals.line_signals` and calls it too.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from logbert.config import SIGNAL_BELOW, SIGNAL_NONE, ModelConfig, SignalsMode
from logbert.records import SessionSignals

__all__ = [
    "SignalBuckets",
    "SignalRow",
    "bucket_id",
    "encode_signals",
    "excess",
    "resolve_signals",
]

#: ``SignalBuckets.to_dict()`` format version: 1 without categories (what every artifact before them wrote), 2 with
#: ``"categories"`` (older code refuses it rather than score without the categories the model was calibrated with),
#: 3 (every state fitted since) the in-range rank of :func:`_rank_from_middle` for a line's most unusual value,
#: categories or not; 1 and 2 ranked it by its bucket (:attr:`SignalBuckets.ranked`). Older code refuses 3 rather
#: than pick other values than the model was trained and calibrated on.
BUCKETS_VERSION = 1
BUCKETS_VERSION_CATEGORIES = 2
BUCKETS_VERSION_RANKED = 3
#: A category slot is read when the training windows hold at least this many of its values: a slot seen a few
#: times has not shown its categories yet, and every new one would be the largest value surprise.
MIN_CATEGORY_VALUES = 10
#: ... and at most this many distinct ones, none longer than :data:`MAX_CATEGORY_CHARS`: a status or state is a
#: short word from a small set; a slot beyond either is no closed set (the schema typed it on a sample), and
#: its text would only make ``signals.json`` as large as the log wants.
MAX_CATEGORIES = 50
MAX_CATEGORY_CHARS = 100
#: A key needs this many training gaps for edges of its own (else the edges of all training gaps).
MIN_KEY_GAPS = 10
#: The smallest inner range of ``log1p(seconds)`` an excess of time is measured in (about 10 % of a time, or
#: 0.1 s near 0): a key whose training gaps are all a millisecond must not make 0.2 s a huge excess.
MIN_TIME_SCALE = 0.1


def _edges(values: Sequence[float], n: int) -> tuple[float, ...]:
    """``n + 1`` equal-count quantile edges (numpy's linear rule), empty without values."""
    if not values:
        return ()
    qs = np.quantile(np.asarray(values, dtype=np.float64), np.linspace(0.0, 1.0, n + 1))
    return tuple(float(q) for q in qs)


def bucket_id(x: float | None, edges: Sequence[float], *, upper_only: bool = False) -> int:
    """The bucket of ``x`` between ``edges`` (``n + 1`` of them): NONE for None/NaN or no edges,
    BELOW / ABOVE outside them, else 3 + the inner bucket (equal edges: the last bucket they close).
    ``upper_only`` (time): below the first edge is the first bucket, never BELOW.

    >>> bucket_id(5.0, (0.0, 1.0, 10.0)), bucket_id(11.0, (0.0, 1.0, 10.0)), bucket_id(None, (0.0, 1.0))
    (4, 5, 0)
    """
    if x is None or math.isnan(x) or not edges:
        return SIGNAL_NONE
    n = len(edges) - 1
    if x < edges[0]:
        return 3 if upper_only else SIGNAL_BELOW
    if x > edges[-1]:
        return n + 3
    inner = int(np.searchsorted(np.asarray(edges), x, side="right")) - 1
    return 3 + min(n - 1, max(0, inner))


def excess(x: float | None, edges: Sequence[float], *, upper_only: bool = False, min_scale: float = 1e-9) -> float:
    """How far ``x`` lies outside ``[edges[0], edges[-1]]``, in widths of the inner training range
    (``edges[1]`` to ``edges[-2]``; at least 1 % of the median's size and ``min_scale``, so a constant
    slot still has a scale); 0 inside, for None/NaN and without edges; ``upper_only``: 0 below, too.

    >>> excess(30.0, (0.0, 9.0, 10.0, 11.0, 20.0))
    5.0
    """
    if x is None or math.isnan(x) or len(edges) < 2:
        return 0.0
    out = max(0.0, x - edges[-1]) if upper_only else max(0.0, x - edges[-1], edges[0] - x)
    if out == 0.0:
        return 0.0
    inner = edges[-2] - edges[1] if len(edges) >= 4 else edges[-1] - edges[0]
    median = edges[len(edges) // 2]
    return out / max(inner, 0.01 * abs(median), min_scale)


class SignalRow(NamedTuple):
    """One window's signal inputs, aligned with its token row ``[DIST, k_1, ..., k_n]`` (n + 1 entries)."""

    gap_ids: list[int]  # bucket ids: elapsed time at 0, the gap before key i at i
    value_ids: list[int]  # bucket ids: the most unusual number slot of line i (NONE at 0)
    gap_excess: list[float]  # training-range widths outside the range (0 inside)
    value_excess: list[float]
    value_slot: list[int]  # which slot of line i the value is (-1: none)
    value_upper: list[bool]  # the value is a duration: only its upper tail is surprising (like time)
    value_unseen: Sequence[bool] = ()  # the value is a category never seen in training for its slot (empty: none)


@dataclass(frozen=True, slots=True)
class SignalBuckets:
    """Training-quantile bucket edges of the time and value inputs (see the module).

    ``gap_edges`` / ``elapsed_edges``: ``log1p(seconds)``, ``n_gap + 1`` each (empty: no time in the
    training data); ``key_gap_edges[key_id]``: the same for the gaps before one key (keys with at least
    :data:`MIN_KEY_GAPS` of them). ``value_edges[(key_id, slot)]``: ``n_value + 1`` edges in the slot's
    base unit. ``categories[(key_id, slot)]``: the training categories of a category slot (at least
    :data:`MIN_CATEGORY_VALUES` values, at most :data:`MAX_CATEGORIES` distinct ones of at most
    :data:`MAX_CATEGORY_CHARS` characters), most frequent first (ties: in text order).
    """

    n_gap: int
    n_value: int
    gap_edges: tuple[float, ...] = ()
    elapsed_edges: tuple[float, ...] = ()
    value_edges: Mapping[tuple[int, int], tuple[float, ...]] = field(default_factory=dict)
    key_gap_edges: Mapping[int, tuple[float, ...]] = field(default_factory=dict)
    duration_slots: frozenset[tuple[int, int]] = frozenset()  # (key_id, slot) of number slots in seconds
    categories: Mapping[tuple[int, int], tuple[str, ...]] = field(default_factory=dict)
    # a line's most unusual in-range value by its training rank (version 3, every state fitted since); False: by
    # its bucket, the rule of versions 1 and 2 (artifacts from before it score as they were calibrated)
    ranked: bool = True

    def gap_edges_of(self, key_id: int) -> tuple[float, ...]:
        """The edges the gap before ``key_id`` is bucketed with (its own, else those of all gaps)."""
        return self.key_gap_edges.get(key_id, self.gap_edges)

    @property
    def has_time(self) -> bool:
        return bool(self.gap_edges)

    @property
    def has_values(self) -> bool:
        return bool(self.value_edges) or bool(self.categories)

    def is_new_category(self, key_id: int, slot: int, value: object) -> bool:
        """``value`` is a category the training windows never held for this template slot (a slot read)."""
        seen = self.categories.get((key_id, slot))
        return seen is not None and isinstance(value, str) and value not in seen

    @classmethod
    def fit(
        cls,
        key_rows: Sequence[Sequence[int]],
        signals: Sequence[SessionSignals | None],
        n_gap: int,
        n_value: int,
        duration_slots: Iterable[tuple[int, int]] = (),
    ) -> SignalBuckets:
        """Edges from training windows (their keys and aligned signals). NaN gaps, pseudo keys
        (negative ids) and None values are skipped; a number (key, slot) needs two values, a category
        one (a text value: ``SlotSchema.convert`` gives text for category slots only)
        :data:`MIN_CATEGORY_VALUES`, and no more than :data:`MAX_CATEGORIES` distinct values, none longer than
        :data:`MAX_CATEGORY_CHARS` (else the slot is not read). ``duration_slots``: the (key_id, slot) of
        number slots in seconds (from the slot schema)."""
        gaps: list[float] = []
        key_gaps: dict[int, list[float]] = {}
        elapsed: list[float] = []
        values: dict[tuple[int, int], list[float]] = {}
        texts: dict[tuple[int, int], dict[str, int]] = {}
        for keys, sig in zip(key_rows, signals, strict=True):
            if sig is None:
                continue
            if sig.elapsed is not None:
                elapsed.append(math.log1p(max(0.0, sig.elapsed)))
            for key, gap, vals in zip(keys, sig.gaps, sig.values, strict=True):
                if key < 0:
                    continue
                if not math.isnan(gap):
                    gaps.append(math.log1p(gap))
                    key_gaps.setdefault(key, []).append(math.log1p(gap))
                for slot, v in enumerate(vals):
                    if isinstance(v, float) and math.isfinite(v):
                        values.setdefault((key, slot), []).append(v)
                    elif isinstance(v, str):
                        counts = texts.setdefault((key, slot), {})
                        counts[v] = counts.get(v, 0) + 1
        return cls(
            n_gap,
            n_value,
            _edges(gaps, n_gap),
            _edges(elapsed, n_gap),
            {ks: _edges(vs, n_value) for ks, vs in sorted(values.items()) if len(vs) >= 2},
            {k: _edges(g, n_gap) for k, g in sorted(key_gaps.items()) if len(g) >= MIN_KEY_GAPS},
            frozenset((int(k), int(s)) for k, s in duration_slots if (k, s) in values),
            {
                ks: tuple(sorted(c, key=lambda x: (-c[x], x)))
                for ks, c in sorted(texts.items())
                if sum(c.values()) >= MIN_CATEGORY_VALUES
                and len(c) <= MAX_CATEGORIES
                and max(map(len, c)) <= MAX_CATEGORY_CHARS
            },
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe (stored as the artifact's ``signals.json``); ``"categories"`` only where there are some."""
        legacy = BUCKETS_VERSION_CATEGORIES if self.categories else BUCKETS_VERSION
        out: dict[str, Any] = {
            "version": BUCKETS_VERSION_RANKED if self.ranked else legacy,
            "n_gap": self.n_gap,
            "n_value": self.n_value,
            "gap_edges": list(self.gap_edges),
            "elapsed_edges": list(self.elapsed_edges),
            "value_edges": [[k, s, list(e)] for (k, s), e in sorted(self.value_edges.items())],
            "key_gap_edges": [[k, list(e)] for k, e in sorted(self.key_gap_edges.items())],
            "duration_slots": sorted([k, s] for k, s in self.duration_slots),
        }
        if self.categories:
            out["categories"] = [[k, s, list(c)] for (k, s), c in sorted(self.categories.items())]
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SignalBuckets:
        """Raises: ValueError on another version, edges of the wrong length or categories that are not text."""
        version = data.get("version")
        if version not in (BUCKETS_VERSION, BUCKETS_VERSION_CATEGORIES, BUCKETS_VERSION_RANKED):
            raise ValueError(f"unsupported signal buckets version {version!r}")
        categories: dict[tuple[int, int], tuple[str, ...]] = {}
        with_categories = version in (BUCKETS_VERSION_CATEGORIES, BUCKETS_VERSION_RANKED)
        for k, s, c in data.get("categories", []) if with_categories else []:
            if not isinstance(c, list) or not c or not all(isinstance(x, str) for x in c):
                raise ValueError(f"categories of key {k} slot {s} must be a non-empty list of text")
            categories[(int(k), int(s))] = tuple(c)
        n_gap, n_value = int(data["n_gap"]), int(data["n_value"])
        out = cls(
            n_gap,
            n_value,
            tuple(float(x) for x in data["gap_edges"]),
            tuple(float(x) for x in data["elapsed_edges"]),
            {(int(k), int(s)): tuple(float(x) for x in e) for k, s, e in data["value_edges"]},
            {int(k): tuple(float(x) for x in e) for k, e in data["key_gap_edges"]},
            frozenset((int(k), int(s)) for k, s in data["duration_slots"]),
            categories,
            ranked=version == BUCKETS_VERSION_RANKED,
        )
        gap_lengths = [len(out.gap_edges), len(out.elapsed_edges), *(len(e) for e in out.key_gap_edges.values())]
        value_lengths = [len(e) for e in out.value_edges.values()]
        if any(n not in (0, n_gap + 1) for n in gap_lengths) or any(n != n_value + 1 for n in value_lengths):
            raise ValueError("signal bucket edges of the wrong length")
        return out

    # -- readable ranges, for explanations -------------------------------------------------

    def gap_range(self, bucket: int, key_id: int | None = None) -> tuple[float, float] | None:
        """Seconds covered by an inner bucket of the gap before ``key_id`` (None: of the elapsed time);
        None for other ids."""
        edges = self.elapsed_edges if key_id is None else self.gap_edges_of(key_id)
        i = bucket - 3
        if not edges or not 0 <= i < len(edges) - 1:
            return None
        return math.expm1(edges[i]), math.expm1(edges[i + 1])

    def value_range(self, key_id: int, slot: int, bucket: int) -> tuple[float, float] | None:
        """Base-unit values covered by an inner value bucket of ``(key_id, slot)``; None for other ids."""
        edges = self.value_edges.get((key_id, slot), ())
        i = bucket - 3
        if not edges or not 0 <= i < len(edges) - 1:
            return None
        return edges[i], edges[i + 1]


def _value_pick(key: int, vals: Sequence[object], buckets: SignalBuckets) -> tuple[int, float, int, bool]:
    """(bucket, excess, slot, unseen category) of the most unusual value of one line; (NONE, 0, -1, False)
    without one.

    Unusual: a category never seen in training first (bucket ABOVE, no excess: its surprise is set by
    scoring); then a number out of range, by excess; then the number farthest from the training median by its
    rank (:func:`_rank_from_middle`; states before version 3: the inner bucket farthest from the middle bucket);
    ties: the first slot. A category seen in training is no candidate.

    Why the rank, not the bucket: equal edges put a value in the last bucket they close, so a slot that is
    constant in training (a host's total memory) sat in the top bucket and outranked every varying slot of its
    line (the memory in use), which the model then never saw in training; when the varying one was out of range,
    the model was asked about a slot it had learnt nothing of, a surprise no anomaly caused.
    """
    best: tuple[float, int, float, int] | None = None  # (rank, bucket, excess, slot)
    for slot, v in enumerate(vals):
        if buckets.is_new_category(key, slot, v):
            return buckets.n_value + 3, 0.0, slot, True  # nothing ranks higher: the first such slot
        edges = buckets.value_edges.get((key, slot))
        if edges is None or not isinstance(v, float) or not math.isfinite(v):
            continue
        one_sided = (key, slot) in buckets.duration_slots  # a duration: only longer is unusual
        b = bucket_id(v, edges, upper_only=one_sided)
        x = excess(v, edges, upper_only=one_sided)
        n = len(edges) - 1
        if b in (SIGNAL_BELOW, n + 3):
            rank = 1.0 + x
        elif buckets.ranked:
            rank = _rank_from_middle(v, edges)
        else:
            rank = abs((b - 3) + 0.5 - n / 2) / n
        if best is None or rank > best[0]:
            best = (rank, b, x, slot)
    return (SIGNAL_NONE, 0.0, -1, False) if best is None else (best[1], best[2], best[3], False)


def _rank_from_middle(x: float, edges: Sequence[float]) -> float:
    """How far an in-range ``x`` lies from its slot's training median, in probability: ``abs(F(x) - 0.5)``, 0 to
    0.5, with ``F(x)`` its mid-rank among the ``n + 1`` quantile edges: ``(i + 0.5) / n`` inside bucket ``i``, the
    quantile of an edge it equals, the middle of a run of equal edges it equals. So a value every training line
    held (a constant slot, or the one common value of a discrete slot) is at the median, 0, however its
    bucket falls.

    >>> _rank_from_middle(5.0, (5.0, 5.0, 5.0, 5.0, 5.0)), _rank_from_middle(9.5, (0.0, 9.0, 10.0, 11.0, 20.0))
    (0.0, 0.125)
    """
    n = len(edges) - 1
    lo, hi = bisect.bisect_left(edges, x), bisect.bisect_right(edges, x)
    return abs(min(1.0, max(0.0, ((lo + hi) / 2 - 0.5) / n)) - 0.5)


def _time_bucket(seconds: float, edges: Sequence[float]) -> tuple[int, float]:
    """(bucket, excess) of a time in seconds: ``log1p`` scale, one-sided (see the module)."""
    x = math.log1p(max(0.0, seconds))
    return bucket_id(x, edges, upper_only=True), excess(x, edges, upper_only=True, min_scale=MIN_TIME_SCALE)


def encode_signals(
    key_ids: Sequence[int],
    signals: SessionSignals | None,
    buckets: SignalBuckets,
    *,
    time: bool,
    values: bool,
) -> SignalRow:
    """The signal inputs of one window (keys as given, pseudo keys included), aligned with
    ``[DIST, k_1, ..., k_n]``. A channel that is off, or has no edges, or no signals: all NONE.

    Raises:
        ValueError: ``signals`` and ``key_ids`` differ in length.
    """
    n = len(key_ids)
    gap_ids, value_ids = [SIGNAL_NONE] * (n + 1), [SIGNAL_NONE] * (n + 1)
    gap_x, value_x, slots = [0.0] * (n + 1), [0.0] * (n + 1), [-1] * (n + 1)
    upper, unseen = [False] * (n + 1), [False] * (n + 1)
    if signals is None:
        return SignalRow(gap_ids, value_ids, gap_x, value_x, slots, upper, unseen)
    if len(signals) != n:
        raise ValueError(f"{len(signals)} signal positions for {n} keys")
    if time and buckets.has_time:
        if signals.elapsed is not None:
            gap_ids[0], gap_x[0] = _time_bucket(signals.elapsed, buckets.elapsed_edges)
        for i, (key, gap) in enumerate(zip(key_ids, signals.gaps, strict=True)):
            if key >= 0 and not math.isnan(gap):
                gap_ids[i + 1], gap_x[i + 1] = _time_bucket(gap, buckets.gap_edges_of(key))
    if values and buckets.has_values:
        for i, (key, vals) in enumerate(zip(key_ids, signals.values, strict=True)):
            if key >= 0:
                value_ids[i + 1], value_x[i + 1], slots[i + 1], unseen[i + 1] = _value_pick(key, vals, buckets)
                upper[i + 1] = (key, slots[i + 1]) in buckets.duration_slots
    return SignalRow(gap_ids, value_ids, gap_x, value_x, slots, upper, unseen)


def resolve_signals(config: ModelConfig, buckets: SignalBuckets | None) -> tuple[SignalsMode, str | None]:
    """The channels the training data can feed: ``config.signals`` less those it has no data for,
    and a message saying what was switched off and why (None when nothing was)."""
    asked = config.signals
    if asked == "off":
        return "off", None
    time_ok = config.uses_time and buckets is not None and buckets.has_time
    values_ok = config.uses_values and buckets is not None and buckets.has_values
    mode: SignalsMode = "all" if time_ok and values_ok else "time" if time_ok else "values" if values_ok else "off"
    if mode == asked:
        return mode, None
    lost = []
    if config.uses_time and not time_ok:
        lost.append("time (no timestamps in the training data: a key-sequence file or a format without time)")
    if config.uses_values and not values_ok:
        lost.append(
            "values (no number slot and no category slot with enough values in the training lines: a key-sequence "
            "file, or no such parameter)"
        )
    return mode, f"model.signals={asked!r} but the data has no {' and no '.join(lost)}: using {mode!r}"
