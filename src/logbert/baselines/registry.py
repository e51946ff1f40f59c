"""Build a baseline by name: ``make_baseline("pca", n_components=0.9)``."""

from __future__ import annotations

from typing import Any, get_args

from logbert.baselines.base import BaselineDetector
from logbert.baselines.count_vector import CountVectorNearestDetector, IsolationForestDetector, PCADetector
from logbert.baselines.deeplog import DeepLogDetector
from logbert.baselines.duration import SessionDurationDetector, TimeGapDetector
from logbert.baselines.params import ParamOutlierDetector
from logbert.baselines.simple import NewEventDetector, SequenceLengthDetector
from logbert.config import BaselineName
from logbert.errors import ConfigError

__all__ = ["BaselineName", "BASELINES", "make_baseline"]

#: Names accepted by :func:`make_baseline`, cheapest first.
BASELINES: tuple[BaselineName, ...] = get_args(BaselineName)

_CLASSES: dict[str, type[BaselineDetector]] = {
    cls.name: cls
    for cls in (
        NewEventDetector,
        SequenceLengthDetector,
        CountVectorNearestDetector,
        PCADetector,
        IsolationForestDetector,
        DeepLogDetector,
        ParamOutlierDetector,
        SessionDurationDetector,
        TimeGapDetector,
    )
}
assert tuple(_CLASSES) == BASELINES  # every name has exactly one class, in the same order


def make_baseline(name: str, **kwargs: Any) -> BaselineDetector:
    """A new, unfitted baseline detector.

    Args:
        name: one of :data:`BASELINES`.
        **kwargs: constructor parameters of that detector (e.g. ``epochs=2`` for ``"deeplog"``).

    Raises:
        ConfigError: unknown name, or a parameter the detector does not take.

    Example:
        >>> make_baseline("new_event", score="share")
        NewEventDetector(score='share')
    """
    try:
        cls = _CLASSES[name]
    except KeyError:
        raise ConfigError(f"unknown baseline {name!r}; expected one of {', '.join(BASELINES)}") from None
    try:
        return cls(**kwargs)
    except TypeError as exc:  # __init__ only stores parameters, so this is a bad keyword
        raise ConfigError(f"bad parameters for baseline {name!r}: {exc}") from None
