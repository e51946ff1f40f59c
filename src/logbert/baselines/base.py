"""The interface every baseline shares with ``LogBertDetector``, plus input checks and count vectors.

A detector is fitted on **normal** key-id sequences only and scores sequences with
``decision_function``: **higher score = more anomalous**. Thresholds are chosen afterwards,
on validation scores, with :mod:`logbert.evaluation.thresholds`.

Keys never seen in training (``UNK_KEY`` included, which is always unseen) never raise: being
unseen is itself a signal, and count vectors give them a dedicated "unknown" column.

Time and values (optional side channel): ``fit`` and ``decision_function`` also take
``signals``, one :class:`~logbert.records.SessionSignals` (or None) per sequence, aligned with it
position by position (inter-arrival times, typed parameter values, elapsed time; made by
:func:`logbert.parsing.params.session_signals`). Key-only detectors ignore them; the time- and
value-aware ones (``param_outlier``, ``session_duration``) read them and score 0 without them.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, Protocol, Self, TypeAlias, runtime_checkable

import numpy as np
import numpy.typing as npt

from logbert.errors import InputDataError, NotFittedError
from logbert.records import UNK_KEY, SessionSignals

__all__ = [
    "AnomalyScorer",
    "BaselineDetector",
    "KeyCounter",
    "KeySeqs",
    "SignalDetector",
    "Signals",
    "as_key_arrays",
    "check_signals",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
#: Key-id sequences as lists of ints or integer numpy arrays.
KeySeqs: TypeAlias = Sequence[Sequence[int] | npt.NDArray[np.integer[Any]]]
#: Per-sequence time and value signals, aligned with the key sequences (None: none for that one).
Signals: TypeAlias = Sequence[SessionSignals | None]


@runtime_checkable
class AnomalyScorer(Protocol):
    """What evaluation needs from any fitted detector, LogBERT or baseline."""

    name: str

    def decision_function(self, seqs: Sequence[Sequence[int]]) -> FloatArray:
        """Scores of shape (N,), float64; higher = more anomalous."""
        ...


def as_key_arrays(seqs: KeySeqs, what: str = "seqs") -> list[IntArray]:
    """Validate a batch of key-id sequences and return them as int64 arrays.

    Empty sequences are allowed (each detector documents their score).

    Raises:
        InputDataError: ``seqs`` is a string, or a sequence holds something other than integers.
    """
    if isinstance(seqs, str | bytes):
        raise InputDataError(f"{what} must be a sequence of key-id sequences, got a string")
    out: list[IntArray] = []
    for i, seq in enumerate(seqs):
        if isinstance(seq, str | bytes):
            raise InputDataError(f"{what}[{i}] must be a sequence of integer key ids, got a string")
        arr = np.asarray(seq)
        if arr.size == 0:
            out.append(np.empty(0, dtype=np.int64))
            continue
        if arr.ndim != 1 or arr.dtype.kind not in "iu":
            raise InputDataError(
                f"{what}[{i}] must be a flat sequence of integer key ids, got dtype {arr.dtype} shape {arr.shape}"
            )
        out.append(arr.astype(np.int64, copy=False))
    return out


def check_signals(
    signals: Signals | None, arrays: Sequence[IntArray], what: str = "signals"
) -> list[SessionSignals | None]:
    """Signals aligned with ``arrays``: one per sequence, each as long as its sequence (or None).

    Raises:
        InputDataError: a different number of signals than sequences, or a length mismatch.
    """
    if signals is None:
        return [None] * len(arrays)
    if len(signals) != len(arrays):
        raise InputDataError(f"{what}: {len(signals)} signals for {len(arrays)} sequences")
    for i, (sig, arr) in enumerate(zip(signals, arrays, strict=True)):
        if sig is not None and len(sig.gaps) != arr.shape[0]:
            raise InputDataError(f"{what}[{i}] has {len(sig.gaps)} positions, its sequence {arr.shape[0]}")
    return list(signals)


class BaselineDetector(ABC):
    """Base of the baselines: ``fit`` on normal sequences, ``decision_function`` scores them.

    Subclasses keep ``__init__`` free of logic (store parameters only, sklearn style), set
    fitted attributes with a trailing underscore, and return ``self`` from ``fit``.
    """

    name: str = "baseline"
    #: True for detectors that read only the signals (times, values): with key sequences alone they
    #: score 0, so callers that cannot pass signals must not report them.
    needs_signals: bool = False

    def fit(self, train_seqs: KeySeqs, signals: Signals | None = None) -> Self:
        """Learn what normal looks like from normal key-id sequences.

        Args:
            train_seqs: N >= 1 normal sequences of key ids (``UNK_KEY`` entries count as unseen).
            signals: optional time and value signals, one per sequence (see the module); key-only
                detectors ignore them.

        Returns:
            ``self``, fitted.

        Raises:
            InputDataError: no training sequence, or a sequence is not integer key ids.
            ValueError: a parameter of the detector is invalid.
        """
        arrays = as_key_arrays(train_seqs, "train_seqs")
        if not arrays:
            raise InputDataError(f"{type(self).__name__}.fit needs at least one training sequence")
        if signals is None:
            self._fit(arrays)
        else:
            self._fit_signals(arrays, check_signals(signals, arrays, "signals"))
        return self

    def decision_function(self, seqs: KeySeqs, signals: Signals | None = None) -> FloatArray:
        """Anomaly scores, one per sequence; **higher = more anomalous**.

        Args:
            seqs: key-id sequences; unseen keys and ``UNK_KEY`` are allowed.
            signals: optional time and value signals, one per sequence.

        Returns:
            float64 array of shape (N,); N = 0 gives an empty array.

        Raises:
            NotFittedError: called before ``fit``.
            InputDataError: a sequence is not integer key ids.
        """
        if not self._is_fitted():
            raise NotFittedError(f"{type(self).__name__} is not fitted; call fit(train_seqs) first")
        arrays = as_key_arrays(seqs)
        if not arrays:
            return np.empty(0, dtype=np.float64)
        if signals is None:
            scores = np.asarray(self._score(arrays), dtype=np.float64)
        else:
            scores = np.asarray(self._score_signals(arrays, check_signals(signals, arrays)), dtype=np.float64)
        assert scores.shape == (len(arrays),), scores.shape  # internal invariant of every _score
        return scores

    def _is_fitted(self) -> bool:
        return hasattr(self, "fitted_")

    @abstractmethod
    def _fit(self, seqs: list[IntArray]) -> None:
        """Fit on validated, non-empty training data; must set ``self.fitted_ = True``."""

    @abstractmethod
    def _score(self, seqs: list[IntArray]) -> FloatArray:
        """Scores of shape (N,) for validated, non-empty input."""

    def _fit_signals(self, seqs: list[IntArray], signals: list[SessionSignals | None]) -> None:
        """``_fit`` with aligned signals; key-only detectors ignore them (this default)."""
        self._fit(seqs)

    def _score_signals(self, seqs: list[IntArray], signals: list[SessionSignals | None]) -> FloatArray:
        """``_score`` with aligned signals; key-only detectors ignore them (this default)."""
        return self._score(seqs)

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in vars(self).items() if not k.endswith("_"))
        return f"{type(self).__name__}({params})"


class KeyCounter:
    """Event-count vectors: one column per training key, plus a last "unknown" column.

    Keys unseen in training and ``UNK_KEY`` are counted in the unknown column, so they change
    the vector instead of vanishing (loglizer drops them) or crashing.

    Example:
        >>> kc = KeyCounter().fit([[5, 7], [7]])
        >>> kc.transform([[7, 7, 9, -1]]).tolist()
        [[0.0, 2.0, 2.0]]
    """

    def fit(self, seqs: KeySeqs) -> KeyCounter:
        """Columns = the distinct training keys (sorted), ``UNK_KEY`` excluded."""
        arrays = as_key_arrays(seqs)
        flat = np.concatenate(arrays) if arrays else np.empty(0, dtype=np.int64)
        keys = np.unique(flat)
        self.keys_: IntArray = keys[keys != UNK_KEY]
        return self

    @property
    def n_columns(self) -> int:
        """Number of columns: training keys + 1 unknown column."""
        return int(self.keys_.shape[0]) + 1

    def transform(self, seqs: KeySeqs) -> FloatArray:
        """Count vectors of shape (N, K + 1), float64; column K counts unseen keys."""
        arrays = as_key_arrays(seqs)  # no copy for int64 arrays
        n_rows, n_cols = len(arrays), self.n_columns
        if n_rows == 0:
            return np.zeros((0, n_cols), dtype=np.float64)
        lengths = np.fromiter((s.shape[0] for s in arrays), dtype=np.int64, count=n_rows)
        flat = np.concatenate(arrays) if lengths.sum() else np.empty(0, dtype=np.int64)
        idx = np.searchsorted(self.keys_, flat)
        idx_clipped = np.minimum(idx, max(n_cols - 2, 0))
        known = (idx < self.keys_.shape[0]) & (self.keys_[idx_clipped] == flat) if self.keys_.size else idx < 0
        cols = np.where(known, idx, n_cols - 1)
        rows = np.repeat(np.arange(n_rows, dtype=np.int64), lengths)
        counts = np.bincount(rows * n_cols + cols, minlength=n_rows * n_cols)
        return counts.reshape(n_rows, n_cols).astype(np.float64)


class SignalDetector(BaselineDetector):
    """Base of the detectors that read only the signals (times, values), not the keys.

    Without signals there is nothing to learn or score: ``fit`` learns from empty signals and every
    score is 0, which is why :attr:`needs_signals` tells callers that pass key sequences alone to
    leave these detectors out. Subclasses implement ``_fit_signals`` and ``_score_signals``.
    """

    needs_signals = True

    def _fit(self, seqs: list[IntArray]) -> None:
        self._fit_signals(seqs, [None] * len(seqs))

    def _score(self, seqs: list[IntArray]) -> FloatArray:
        return np.zeros(len(seqs), dtype=np.float64)
