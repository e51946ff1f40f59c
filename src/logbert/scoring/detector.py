"""``LogBertDetector``: fit on normal key sequences, score, threshold, explain, save, load.

The interface follows pyod's ``BaseDetector``: ``fit`` returns ``self`` and sets the fitted
attributes (trailing underscore), ``decision_function`` returns one score per sequence with
**higher = more anomalous**, and ``predict`` is ``decision_function(seqs) > threshold_``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Self

import numpy as np
from torch import Tensor

from logbert.config import LogBertConfig, ScoreKind
from logbert.errors import NotFittedError
from logbert.model.encoder import LogBertEncoder
from logbert.parsing.vocab import Vocab
from logbert.scoring.scorer import PositionDetail, ScoreOutput, score_sequences
from logbert.training.checkpoint import load_artifact, save_artifact
from logbert.training.trainer import EpochStats, train_encoder
from logbert.windowing.dataset import TokenVocab


class LogBertDetector:
    """LogBERT anomaly detector over key-id sequences.

    Args:
        config: every setting; ``config.model.vocab_size`` is filled in by :meth:`fit`.

    Attributes set by :meth:`fit` (or :meth:`load`):
        vocab_: the vocabulary. model_: the encoder (eval mode). center_: (C,) VHM centre.
        threshold_: decision threshold on :meth:`decision_function` scores.
        history_: training epochs (empty after :meth:`load`).

    Example:
        >>> det = LogBertDetector(config).fit(train_seqs, val_seqs)  # doctest: +SKIP
        >>> det.predict([[5, 5, 9, 22]])  # doctest: +SKIP
        array([False])
    """

    vocab_: TokenVocab
    model_: LogBertEncoder
    center_: Tensor  # (C,)
    threshold_: float
    history_: list[EpochStats]
    parser_state_: dict[str, Any] | None

    def __init__(self, config: LogBertConfig = LogBertConfig()) -> None:
        self.config = config

    # -- fitting ----------------------------------------------------------------------------

    def fit(
        self,
        train: Sequence[Sequence[int]],
        val: Sequence[Sequence[int]],
        *,
        vocab: TokenVocab | None = None,
        checkpoint_dir: str | Path | None = None,
        progress: bool = True,
    ) -> Self:
        """Train on normal sequences and set the threshold from the normal validation scores.

        Args:
            train: normal key-id sequences (each 1..``config.window.max_len`` keys).
            val: held-out normal sequences: early stopping, then the threshold
                (quantile ``scoring.threshold_quantile`` of their scores + ``threshold_margin``).
            vocab: a fitted vocabulary; default ``Vocab.fit(train)``.
            checkpoint_dir: save after every epoch and resume from there (see ``train_encoder``).
            progress: show a progress bar.

        Returns:
            ``self``, fitted. ``self.config.model.vocab_size`` now equals ``len(vocab_)``.

        Raises:
            ValueError: empty inputs, or a sequence that is empty or longer than ``window.max_len``.
        """
        self._check(train, "train")
        self._check(val, "val")
        voc: TokenVocab = vocab if vocab is not None else Vocab.fit(train)
        model_cfg = self.config.model.model_copy(update={"vocab_size": len(voc)})
        self.config = self.config.model_copy(update={"model": model_cfg})
        result = train_encoder(
            model_cfg, self.config.train, voc, train, val, checkpoint_dir=checkpoint_dir, progress=progress
        )
        self.vocab_ = voc
        self.model_ = result.model
        self.center_ = result.center
        self.history_ = result.history
        self.parser_state_ = None
        self.threshold_ = math.nan  # fitted apart from the threshold, which needs the scores
        self.threshold_ = self._quantile_threshold(self.decision_function(val))
        return self

    def calibrate(
        self, val_normal: Sequence[Sequence[int]], val_abnormal: Sequence[Sequence[int]] | None = None
    ) -> Self:
        """Re-set ``threshold_`` from validation data (never from the test split).

        With normal data only: the ``threshold_quantile`` quantile (+ margin) of their scores.
        With labelled anomalies too: the threshold that maximises F1 on this validation mix
        (among equally good ones, the highest, i.e. the fewest false alarms).

        Returns:
            ``self``.
        """
        self._require_fitted()
        normal = self.decision_function(val_normal)
        if not val_abnormal:
            self.threshold_ = self._quantile_threshold(normal)
            return self
        abnormal = self.decision_function(val_abnormal)
        self.threshold_ = best_f1_threshold(normal, abnormal)
        return self

    def _quantile_threshold(self, scores: np.ndarray) -> float:
        if scores.size == 0:
            raise ValueError("cannot set a threshold from zero validation sequences")
        q = float(np.quantile(scores, self.config.scoring.threshold_quantile, method="higher"))
        return q + self.config.scoring.threshold_margin

    # -- scoring ----------------------------------------------------------------------------

    def scores(self, seqs: Sequence[Sequence[int]], *, details: bool = False) -> ScoreOutput:
        """Both scores (``miss_ratio`` and ``dist``) per sequence; higher = more anomalous."""
        self._require_fitted()
        self._check(seqs, "seqs", allow_empty_list=True)
        return score_sequences(
            self.model_,
            self.vocab_,
            seqs,
            self.center_,
            self.config.scoring,
            mask_ratio=self.config.train.mask_ratio,
            details=details,
            device=self.config.train.device,
        )

    def decision_function(self, seqs: Sequence[Sequence[int]]) -> np.ndarray:
        """Anomaly score per sequence, (N,) float64: higher = more anomalous.

        The score is ``config.scoring.score``: ``"miss_ratio"`` (default), ``"mean_nll"`` or ``"dist"``.
        """
        out = self.scores(seqs)
        return pick_score(out, self.config.scoring.score)

    def predict(self, seqs: Sequence[Sequence[int]]) -> np.ndarray:
        """(N,) bool: True where the anomaly score is above ``threshold_``."""
        return self.decision_function(seqs) > self.threshold_

    def explain(self, seqs: Sequence[Sequence[int]]) -> list[list[PositionDetail]]:
        """Per sequence, per key: the key seen, whether it was a miss, and the top-g expected keys."""
        details = self.scores(seqs, details=True).details
        assert details is not None
        return details

    # -- persistence ------------------------------------------------------------------------

    def save(self, directory: str | Path, parser_state: dict[str, Any] | None = None) -> Path:
        """Write the artifact directory (see ``logbert.training.checkpoint``); returns its path."""
        self._require_fitted()
        if not isinstance(self.vocab_, Vocab):
            raise TypeError(f"only a logbert Vocab can be saved, not {type(self.vocab_).__name__}")
        return save_artifact(
            directory,
            config=self.config,
            vocab=self.vocab_,
            model=self.model_,
            center=self.center_,
            threshold=self.threshold_,
            parser_state=parser_state,
            extra_meta={"score": self.config.scoring.score},
        )

    @classmethod
    def load(cls, directory: str | Path) -> LogBertDetector:
        """Load a saved detector; the caller's parser state is in ``parser_state_``.

        Raises:
            UnknownArtifact: missing, corrupted or mismatched artifact files.
        """
        art = load_artifact(directory)
        det = cls(art.config)
        det.vocab_ = art.vocab
        det.model_ = art.model
        det.center_ = art.center
        det.threshold_ = art.threshold
        det.history_ = []
        det.parser_state_ = art.parser_state
        return det

    # -- checks -----------------------------------------------------------------------------

    def _require_fitted(self) -> None:
        if not (hasattr(self, "model_") and hasattr(self, "threshold_")):
            raise NotFittedError("LogBertDetector is not fitted: call fit() or LogBertDetector.load() first")

    def _check(self, seqs: Sequence[Sequence[int]], name: str, *, allow_empty_list: bool = False) -> None:
        if not seqs and not allow_empty_list:
            raise ValueError(f"{name} holds no sequences")
        max_len = self.config.window.max_len
        for i, seq in enumerate(seqs):
            if len(seq) == 0:
                raise ValueError(f"{name}[{i}] is an empty sequence")
            if len(seq) > max_len:
                raise ValueError(f"{name}[{i}] has {len(seq)} keys, more than window.max_len={max_len}")


def best_f1_threshold(normal: np.ndarray, abnormal: np.ndarray) -> float:
    """Threshold t maximising F1 of ``score > t`` (abnormal = positive); ties -> the highest t."""
    scores = np.concatenate([normal, abnormal])
    labels = np.concatenate([np.zeros(normal.size, dtype=bool), np.ones(abnormal.size, dtype=bool)])
    candidates = np.unique(np.concatenate([scores, [scores.min() - 1.0]]))  # ascending
    best_t, best_f1 = float(candidates[0]), -1.0
    for t in candidates:
        pred = scores > t
        tp = int((pred & labels).sum())
        fp = int((pred & ~labels).sum())
        fn = int((~pred & labels).sum())
        f1 = 2 * tp / (2 * tp + fp + fn) if tp else 0.0
        if f1 >= best_f1:
            best_t, best_f1 = float(t), f1
    return best_t


def pick_score(out: ScoreOutput, kind: ScoreKind) -> np.ndarray:
    """The per-sequence score named ``kind`` from a :class:`ScoreOutput` (higher = more anomalous)."""
    if kind == "miss_ratio":
        return out.miss_ratio
    if kind == "dist":
        return out.dist
    assert out.mean_nll is not None, "score_sequences always fills mean_nll"
    return out.mean_nll
