"""``LogBertDetector``: fit on normal key sequences, score, threshold, explain, save, load.

The interface follows pyod's ``BaseDetector``: ``fit`` returns ``self`` and sets the fitted
attributes (trailing underscore), ``decision_function`` returns one score per sequence with
**higher = more anomalous**, and ``predict`` is ``exceeds(decision_function(seqs), threshold_)``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Self

import numpy as np
from torch import Tensor

from logbert.artifact import load_artifact, save_artifact
from logbert.config import LogBertConfig
from logbert.errors import NotFittedError
from logbert.model.encoder import LogBertEncoder
from logbert.parsing.vocab import Vocab
from logbert.pipeline.calibrate import choose_threshold
from logbert.results import exceeds
from logbert.scoring.scorer import PositionDetail, ScoreOutput, pick_score, score_sequences
from logbert.threads import resolve_device, torch_threads
from logbert.training.checkpoint import EpochStats
from logbert.training.trainer import train_encoder
from logbert.windowing.dataset import TokenVocab

#: ``fit(train, None)`` early-stops on at most this many of its training sequences (a forward pass per epoch).
SELF_VALIDATION_SEQUENCES = 512


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
        val: Sequence[Sequence[int]] | None,
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
                None when nothing may be held out (the fold and final models of cross-fit
                calibration): early stopping then watches the masked loss of the training
                sequences themselves (at most :data:`SELF_VALIDATION_SEQUENCES` of them, evenly
                spaced), and ``threshold_`` stays NaN for the caller to set from out-of-fold scores.
            vocab: a fitted vocabulary; default ``Vocab.fit(train)``.
            checkpoint_dir: save after every epoch and resume from there (see ``train_encoder``).
            progress: show a progress bar.

        Returns:
            ``self``, fitted. ``self.config.model.vocab_size`` now equals ``len(vocab_)``.

        Raises:
            ValueError: empty inputs, or a sequence that is empty or longer than ``window.max_len``.
        """
        self._check(train, "train")
        held_out = val is not None
        if val is None:
            val = train[:: -(-len(train) // SELF_VALIDATION_SEQUENCES)]
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
        if held_out:
            # the one threshold rule, each validation sequence its own unit; `logbert train` re-sets it on sessions
            self.threshold_ = choose_threshold(self.config.scoring, self.decision_function(val))
        return self

    # -- scoring ----------------------------------------------------------------------------

    def scores(self, seqs: Sequence[Sequence[int]], *, details: bool = False) -> ScoreOutput:
        """Both scores (``miss_ratio`` and ``dist``) per sequence; higher = more anomalous."""
        self._require_fitted()
        self._check(seqs, "seqs", allow_empty_list=True)
        with torch_threads(self.config.train.num_threads):
            return score_sequences(
                self.model_,
                self.vocab_,
                seqs,
                self.center_,
                self.config.scoring,
                mask_ratio=self.config.train.mask_ratio,
                details=details,
                # where the model is: an artifact trained with train.device=cuda loads on the CPU and scores there
                device=next(self.model_.parameters()).device,
            )

    def decision_function(self, seqs: Sequence[Sequence[int]]) -> np.ndarray:
        """Anomaly score per sequence, (N,) float64: higher = more anomalous.

        The score is ``config.scoring.score``: ``"miss_ratio"`` (default), ``"mean_nll"``, ``"max_nll"``,
        ``"max_mean_nll"`` or ``"dist"``.
        """
        out = self.scores(seqs)
        return pick_score(out, self.config.scoring.score)

    def predict(self, seqs: Sequence[Sequence[int]]) -> np.ndarray:
        """(N,) bool: True where the anomaly score is above ``threshold_``."""
        return exceeds(np.asarray(self.decision_function(seqs), dtype=np.float64), self.threshold_)

    def explain(self, seqs: Sequence[Sequence[int]]) -> list[list[PositionDetail]]:
        """Per sequence, per key: the key seen, whether it was a miss, and the top-g expected keys."""
        details = self.scores(seqs, details=True).details
        assert details is not None
        return details

    # -- persistence ------------------------------------------------------------------------

    def save(self, directory: str | Path, parser_state: dict[str, Any] | None = None) -> Path:
        """Write the artifact directory (see :mod:`logbert.artifact`); returns its path."""
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
    def load(cls, directory: str | Path, device: str = "cpu") -> LogBertDetector:
        """Load a saved detector onto ``device`` (:func:`logbert.threads.resolve_device`; scoring runs
        there); the caller's parser state is in ``parser_state_``.

        Raises:
            UnknownArtifact: missing, corrupted or mismatched artifact files.
            ValueError: a device this machine does not have.
        """
        where = resolve_device(device)
        art = load_artifact(directory)
        det = cls(art.config)
        det.vocab_ = art.vocab
        det.model_ = art.model.to(where)
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
