"""Training data with failures in it: `scoring.contamination` on logs trained on without labels.

    .venv/bin/python -m benchmarks.contamination [--work DIR] [--out benchmarks/results/contamination.md]

A new user's usual case: a log and no labels, so every session of it counts as normal, its failures too. Each of the
four generated logs of ``benchmarks.few_templates`` (a task worker, a CI runner whose failures are a new line, the
same runner whose failures repeat or skip known lines, a logfmt service) is written twice with other seeds: 600
sessions to train on (``--sessions``), with no labels, and 800 fresh ones with labels to evaluate on. ``logbert
train`` runs with ``scoring.contamination`` at 0 (the default), at half the true failure rate, at it and at twice
it; then ``logbert evaluate`` on the fresh log at the threshold each artifact stored. ``--logs mail,java``: the logs
of ``benchmarks.mail_log`` and ``benchmarks.java_log`` (8 % failures each), the same way. ``--logs devstack``: the
DevStack log of ``../shared/datasets`` (skipped when absent) trained on without its labels, so its anomalous
instances (15.5 %) are training data, with the ``openstack_devstack`` preset; evaluated on the last 20 % of its
instances, which ``train`` holds back. The training sessions ``train`` names as above its threshold, or tied with it
(``train_report.json``), and how many of them are failures.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

from benchmarks._report import generated_logs_cli, header, one_thread_in
from benchmarks.few_templates.__main__ import LAYOUTS, jobs_log, service_log, worker_log
from benchmarks.java_log.__main__ import ANOMALOUS as JAVA_KINDS
from benchmarks.java_log.__main__ import LOG_FORMAT as JAVA_FORMAT
from benchmarks.java_log.__main__ import REQUEST_ID, spring_boot_log
from benchmarks.mail_log.__main__ import ANOMALOUS as MAIL_KINDS
from benchmarks.mail_log.__main__ import QUEUE_ID, postfix_log

ROOT = Path(__file__).resolve().parents[2]

def _layout(name: str) -> dict[str, object]:
    log_format, pattern = LAYOUTS[name]
    return {"parser.log_format": log_format, "window.session_pattern": pattern}


def _mail(p: Path, seed: int, n: int, first: int) -> tuple[Path, Path]:
    return p, postfix_log(p, seed=seed, n_mails=n)[0]


def _java(p: Path, seed: int, n: int, first: int) -> tuple[Path, Path]:
    return p, spring_boot_log(p, seed=seed, n_requests=n)[0]


#: name -> (writer(path, seed, n, first_id) -> (log, labels), the settings that read it, failure rate of the generator)
LOGS = {
    "worker": (lambda p, seed, n, first: worker_log(p, seed=seed, n=n), _layout("worker"), 0.03),
    "jobs_new": (
        lambda p, seed, n, first: jobs_log(p, "new", seed=seed, n=n, rate=0.04, first_id=first), _layout("jobs"), 0.04
    ),
    "jobs_known": (
        lambda p, seed, n, first: jobs_log(p, "known", seed=seed, n=n, rate=0.05, first_id=first), _layout("jobs"),
        0.05,
    ),
    "service": (lambda p, seed, n, first: service_log(p, seed=seed, n=n), _layout("service"), 0.03),
    # benchmarks.mail_log's and benchmarks.java_log's logs, here without their labels (``--logs mail,java``)
    "mail": (_mail, {"parser.format": "syslog", "window.session_pattern": QUEUE_ID}, sum(MAIL_KINDS.values())),
    "java": (
        _java,
        {"parser.log_format": JAVA_FORMAT, "parser.continuation": "attach", "window.session_pattern": REQUEST_ID},
        sum(JAVA_KINDS.values()),
    ),
}
#: what ``--logs`` runs when not given: the logs of benchmarks.few_templates (the committed table)
DEFAULT_LOGS = ("worker", "jobs_new", "jobs_known", "service")


def _shift_task_ids(log: Path, labels: Path, offset: int) -> None:
    """The worker's task ids count from 0 in every log: shift the evaluation log's, so that none is a training id."""
    log.write_text(re.sub(r"task=(\d+)", lambda m: f"task={int(m[1]) + offset}", log.read_text()), encoding="utf-8")
    rows = labels.read_text().splitlines()
    shifted = [rows[0]] + [f"{int(r.split(',')[0]) + offset},{r.split(',')[1]}" for r in rows[1:]]
    labels.write_text("\n".join(shifted) + "\n", encoding="utf-8")


#: the DevStack log of ../shared, by relative path (never copied here): 180 of its 1,162 instances are anomalous
DEVSTACK = ROOT.parent / "shared" / "datasets" / "openstack" / "kalaki_devstack"
DEVSTACK_RATE = 180 / 1162


def _devstack_failures() -> set[str]:
    rows = (DEVSTACK / "openstack-nova-sample.instance_labels.csv").read_text().splitlines()[1:]
    return {r.split(",")[0] for r in rows if r.split(",")[1].strip().lower() == "anomaly"}


def run(
    name: str, contamination: float, work: Path, settings: dict[str, object] | None = None, n_train: int = 600
) -> dict:
    from logbert import api

    settings = settings or {}

    if name == "devstack":  # one log: train holds back its last 20 % of instances, evaluate scores them
        train_log = eval_log = DEVSTACK / "openstack-nova-sample.log"
        eval_labels = DEVSTACK / "openstack-nova-sample.instance_labels.csv"
        failures = _devstack_failures()
        config = api.load_config(
            None, {"train.num_threads": 1, "scoring.contamination": contamination, **settings},
            preset="openstack_devstack",
        )
    else:
        writer, reading, _ = LOGS[name]
        train_log, train_labels = writer(work / f"{name}_train.log", 101, n_train, 1000)
        eval_log, eval_labels = writer(work / f"{name}_eval.log", 202, 800, 500_000)
        if name == "worker":
            _shift_task_ids(eval_log, eval_labels, 100_000)
        failures = {
            sid for sid, label in (r.split(",") for r in train_labels.read_text().splitlines()[1:])
            if label.strip().lower() in ("1", "anomaly")
        }
        config = api.load_config(
            None,
            {
                **reading,
                "train.num_threads": 1,
                "train.test_fraction": 0.0,  # evaluated on the fresh log
                "scoring.contamination": contamination,
                **settings,  # --set
            },
        )
    out = work / f"artifact-{name}-{n_train}-{contamination:g}"
    started = time.perf_counter()
    trained = api.train(train_log, out, config, overwrite=True, progress=False)  # no labels: failures count as normal
    seconds = time.perf_counter() - started
    report = json.loads((out / "train_report.json").read_text())
    listed = [e["session"] for e in report["calibration_above_threshold"]]  # at most 1,000 of each are listed
    tied = [e["session"] for e in report["calibration_at_threshold"]]
    split = json.loads((out / "split.json").read_text())
    failures &= set(split["train"]) | set(split["val"])  # the failures that were training data
    metrics = api.evaluate(out, eval_log, labels=eval_labels).report
    return {
        "score": api.load_detector(out).config.scoring.score,
        "threshold": trained.threshold,
        "calibration": trained.calibration,
        "n_train": trained.n_train_sessions,
        "train_failures": len(failures),
        "listed": report["n_calibration_above_threshold"],
        "listed_failures": len(failures.intersection(listed)),
        "tied": report["n_calibration_at_threshold"],
        "tied_failures": len(failures.intersection(tied)),
        "seconds": seconds,
        **{k: metrics[k] for k in ("precision", "recall", "f1", "fpr", "auroc", "n_normal", "n_abnormal")},
    }


def main(argv: list[str] | None = None) -> int:
    cli = generated_logs_cli(__doc__, "contamination")
    cli.add_argument("--logs", default=",".join(DEFAULT_LOGS),
                     help="comma-separated: " + ", ".join([*LOGS, "devstack"]))
    cli.add_argument("--sessions", type=int, default=600, help="sessions of each generated training log")
    cli.add_argument("--rates", default="0,0.5,1,2",
                     help="scoring.contamination as multiples of each log's failure rate (comma-separated)")
    args = cli.parse_args(argv)
    one_thread_in(args.work)
    from logbert.cli._common import parse_overrides

    settings = parse_overrides(args.set)
    rows = [
        "| log (failure rate) | scoring.contamination | score | threshold | training sessions above it (failures "
        "among them / in training) | tied with it (failures) | precision | recall | F1 | FPR | AUROC | normal / "
        "anomalous test sessions |",
        "|---|---:|---|---:|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name in args.logs.split(","):
        if name == "devstack" and not DEVSTACK.is_dir():
            print(f"skipping devstack: {DEVSTACK} is absent (../shared/datasets, see its README)", flush=True)
            continue
        rate = DEVSTACK_RATE if name == "devstack" else LOGS[name][2]
        for contamination in (round(float(m) * rate, 3) for m in args.rates.split(",")):
            r = run(name, contamination, args.work, settings, args.sessions)
            rows.append(
                f"| {name} ({rate:g}) | {contamination:g} | {r['score']} | {r['threshold']:.4f} | {r['listed']} "
                f"({r['listed_failures']} / {r['train_failures']}) | {r['tied']} ({r['tied_failures']}) "
                f"| {r['precision']:.3f} | {r['recall']:.3f} | "
                f"**{r['f1']:.3f}** | {r['fpr']:.4f} | {r['auroc']:.3f} | {r['n_normal']} / {r['n_abnormal']} |"
            )
            print(rows[-1], f"({r['calibration']}, {r['seconds']:.0f} s)", flush=True)
    text = [*header("Training data with failures in it", "benchmarks.contamination", argv, "CPU, 1 torch thread")]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join([*text, "", *rows]) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
