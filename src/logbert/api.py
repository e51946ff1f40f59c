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

from logbert.config import LogBertConfig, load_config
from logbert.pipeline.corpus import Corpus, LineSession, input_kind, read_corpus
from logbert.pipeline.demo import DemoResult, demo, demo_config
from logbert.pipeline.detector import Detector, load_detector, score, score_with_report
from logbert.pipeline.evaluate import EvaluationResult, evaluate
from logbert.pipeline.fit import TrainResult, train
from logbert.pipeline.parse import ParseSummary, parse, write_parse_summary, write_structured
from logbert.results import ExpectedKey, ParsedLine, PositionExplanation, SequenceScore, SessionResult

__all__ = [
    "Corpus",
    "DemoResult",
    "Detector",
    "EvaluationResult",
    "ExpectedKey",
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
    "load_config",
    "load_detector",
    "parse",
    "read_corpus",
    "score",
    "score_with_report",
    "train",
    "write_parse_summary",
    "write_structured",
]
