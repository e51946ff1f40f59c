"""``logbert demo``: simulate nova logs with injected faults, train, evaluate; all in one folder."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from logbert.config import LogBertConfig, load_config
from logbert.datasets.simulator import write_simulated
from logbert.pipeline.evaluate import EvaluationResult, evaluate
from logbert.pipeline.fit import TrainResult, train

#: The baselines the demo compares against: the simplest rule and the strongest simple detector.
DEMO_BASELINES = ("new_event", "count_nearest")


@dataclass(slots=True)
class DemoResult:
    out_dir: Path
    log_path: Path
    artifact_dir: Path
    report_path: Path
    train: TrainResult
    evaluation: EvaluationResult
    seconds: float


def demo_config() -> LogBertConfig:
    """The ``openstack`` preset (the simulator writes loghub nova lines, one session per instance), made quick."""
    return load_config(
        None,
        {
            "train.epochs": 20,
            "train.patience": 4,
            # a demo should take seconds: one training (no cross-fit folds, no extra passes). The
            # simulated log is regular enough for the split threshold; `logbert train` defaults differ.
            "scoring.calibration": "split",
            "train.min_steps": 0,
        },
        preset="openstack",
    )


def demo(
    out_dir: str | Path = "logbert-demo",
    *,
    n_instances: int = 400,
    anomaly_ratio: float = 0.15,
    seed: int = 0,
    config: LogBertConfig | None = None,
    progress: bool = True,
    on_step: Callable[[str], None] | None = None,
) -> DemoResult:
    """Simulate OpenStack nova logs with injected faults, train, evaluate; all in ``out_dir``."""
    say = on_step or (lambda _msg: None)
    started = time.perf_counter()
    out = Path(out_dir)
    say(f"simulating {n_instances} VM lifecycles ({anomaly_ratio:.0%} with injected faults)")
    files = write_simulated(out / "data", n_instances=n_instances, anomaly_ratio=anomaly_ratio, seed=seed)
    cfg = config or demo_config()
    trained = train(
        files.log, out / "artifact", cfg, labels=files.labels, overwrite=True, progress=progress, on_step=say
    )
    say("evaluating on held-out sessions")
    report_path = out / "report.json"
    evaluation = evaluate(
        trained.artifact_dir, files.log, labels=files.labels, baselines=DEMO_BASELINES, report_path=report_path
    )
    seconds = time.perf_counter() - started
    return DemoResult(out, files.log, trained.artifact_dir, report_path, trained, evaluation, seconds)
