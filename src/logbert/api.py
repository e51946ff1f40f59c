"""The public facade: what the CLI, the service, ``logbert tail`` and the benchmark call.

No pipeline logic lives here; each name comes from the module that does the work
(:mod:`logbert.pipeline`). Typical use::

    from logbert import api

    result = api.train("nova-compute.log", "artifacts/nova", api.load_config(preset="openstack"))
    detector = api.load_detector("artifacts/nova")
    for session in api.score(detector, "today.log"):
        if session.is_anomaly:
            print(session.session_id, session.score)

Scores follow one rule everywhere: higher = more anomalous; a session scores its worst window
and is anomalous when that score is above the threshold stored in the artifact.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the names, for type checkers; at run time each is imported on first use (below)
    from logbert.config import LogBertConfig, load_config
    from logbert.pipeline.corpus import Corpus, LineSession, input_kind, read_corpus
    from logbert.pipeline.demo import DemoResult, demo, demo_config
    from logbert.pipeline.detector import Detector, load_detector, mostly_unseen, score, score_with_report
    from logbert.pipeline.evaluate import EvaluationResult, evaluate
    from logbert.pipeline.fit import TrainResult, interrupted_note, train
    from logbert.pipeline.parse import (
        BUILTIN_FORMATS,
        ParseSummary,
        joined_numbers_warning,
        parse,
        session_pattern_note,
        slot_schema,
        state_words_warning,
        template_count_warning,
        write_parse_summary,
        write_structured,
    )
    from logbert.records import KeySequence
    from logbert.results import ExpectedKey, ParsedLine, PositionExplanation, SequenceScore, SessionResult

# Where each name lives. Imported lazily so that `api.parse` (or `logbert parse`) never loads torch:
# only the names that need the model import the modules that import it.
_HOME = {
    "LogBertConfig": "logbert.config",
    "load_config": "logbert.config",
    "Corpus": "logbert.pipeline.corpus",
    "LineSession": "logbert.pipeline.corpus",
    "input_kind": "logbert.pipeline.corpus",
    "read_corpus": "logbert.pipeline.corpus",
    "DemoResult": "logbert.pipeline.demo",
    "demo": "logbert.pipeline.demo",
    "demo_config": "logbert.pipeline.demo",
    "Detector": "logbert.pipeline.detector",
    "KeySequence": "logbert.records",
    "load_detector": "logbert.pipeline.detector",
    "mostly_unseen": "logbert.pipeline.detector",
    "score": "logbert.pipeline.detector",
    "score_with_report": "logbert.pipeline.detector",
    "EvaluationResult": "logbert.pipeline.evaluate",
    "evaluate": "logbert.pipeline.evaluate",
    "TrainResult": "logbert.pipeline.fit",
    "train": "logbert.pipeline.fit",
    "interrupted_note": "logbert.pipeline.fit",
    "BUILTIN_FORMATS": "logbert.pipeline.parse",
    "ParseSummary": "logbert.pipeline.parse",
    "parse": "logbert.pipeline.parse",
    "joined_numbers_warning": "logbert.pipeline.parse",
    "session_pattern_note": "logbert.pipeline.parse",
    "slot_schema": "logbert.pipeline.parse",
    "state_words_warning": "logbert.pipeline.parse",
    "template_count_warning": "logbert.pipeline.parse",
    "write_parse_summary": "logbert.pipeline.parse",
    "write_structured": "logbert.pipeline.parse",
    "ExpectedKey": "logbert.results",
    "ParsedLine": "logbert.results",
    "PositionExplanation": "logbert.results",
    "SequenceScore": "logbert.results",
    "SessionResult": "logbert.results",
}


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module 'logbert.api' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value  # the next lookup is a plain global
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = [
    "BUILTIN_FORMATS",
    "Corpus",
    "DemoResult",
    "Detector",
    "EvaluationResult",
    "ExpectedKey",
    "KeySequence",
    "LineSession",
    "LogBertConfig",
    "ParseSummary",
    "ParsedLine",
    "PositionExplanation",
    "SequenceScore",
    "SessionResult",
    "TrainResult",
    "demo",
    "demo_config",
    "evaluate",
    "input_kind",
    "interrupted_note",
    "joined_numbers_warning",
    "load_config",
    "load_detector",
    "mostly_unseen",
    "parse",
    "read_corpus",
    "score",
    "score_with_report",
    "session_pattern_note",
    "slot_schema",
    "state_words_warning",
    "template_count_warning",
    "train",
    "write_parse_summary",
    "write_structured",
]
