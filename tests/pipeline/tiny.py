"""Settings for a model that trains in a second or two: what a test of the pipeline's bookkeeping needs."""

from __future__ import annotations

#: A one-layer, 16-wide model, one epoch, 4 optimiser steps, one thread, 2-fold cross-fit.
TINY_TRAINING: dict[str, object] = {
    "model.n_layers": 1,
    "model.d_model": 16,
    "model.d_ff": 32,
    "model.n_heads": 2,
    "train.epochs": 1,
    "train.min_steps": 4,
    "train.num_threads": 1,
    "scoring.calibration_folds": 2,
}
