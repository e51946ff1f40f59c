"""Logs of a few templates: the miss ratio against the score the vocabulary allows (``scoring.score_for_few_keys``).

    .venv/bin/python -m benchmarks.few_templates [--out benchmarks/results/few_templates.md] [--work DIR]

Four logs a new user might bring, generated here (seeded; none is in ``../shared``), each with a handful of
templates, sessions by a request, task or job id, and labels:

* ``worker``: Python logging, ``task=N received`` / ``processed in N ms`` / ``acked``; 3 % of tasks fail
  (``task=N failed``, a new line);
* ``jobs_new``: a CI runner, each job ``started``, its steps, then ``finished``, or ``failed`` for 4 % of jobs;
* ``jobs_known``: the same runner, where the faults use only known lines: a step retried 3-5 times (normal jobs
  retry at most once) or a job that skips its test step (5 %);
* ``service``: a Go service's logfmt lines (``time=... level=info msg="request started" request_id=...``);
  3 % of requests log ``db query failed`` and end with status 500.

Each is trained with ``logbert train`` (the layout ``parse`` suggests, ``window.session_pattern``, labels, the
default held-back 20 %) and evaluated at the stored threshold with ``logbert evaluate``, twice: with
``scoring.score_for_few_keys = "miss_ratio"`` (the miss ratio, as before the setting) and with its default
(``max_mean_nll``). Then small training sets: ``jobs_known`` runs of 30 and 50 normal jobs (all of them
trained on), each evaluated on one log of 800 jobs with 5 % faults; ``--small-seeds N`` draws them N times,
``--small-only`` runs only those, ``--scores`` picks the scores. One torch thread; a few minutes a run.
"""

from __future__ import annotations

import datetime as dt
import random
import time
from pathlib import Path

from benchmarks._report import generated_logs_cli, header, one_thread_in


class _Clock:
    """Wall-clock times a few hundred milliseconds apart, from a fixed start."""

    def __init__(self, rng: random.Random) -> None:
        self.rng, self.t = rng, dt.datetime(2026, 11, 29, 10, 0, 0, tzinfo=dt.UTC)

    def tick(self) -> dt.datetime:
        self.t += dt.timedelta(milliseconds=self.rng.randint(5, 900))
        return self.t


def _write(path: Path, lines: list[str], labels: list[tuple[str, int]]) -> tuple[Path, Path]:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    label_path = path.with_suffix(".labels.csv")
    label_path.write_text("session,label\n" + "".join(f"{s},{y}\n" for s, y in labels), encoding="utf-8")
    return path, label_path


def worker_log(path: Path, seed: int = 5, n: int = 400) -> tuple[Path, Path]:
    rng = random.Random(seed)
    clock = _Clock(rng)
    lines, labels = [], []
    for task in range(n):
        bad = rng.random() < 0.03
        events = [("INFO", "received")]
        done = [("INFO", f"processed in {rng.randint(2, 90)} ms"), ("INFO", "acked")]
        events += [("ERROR", "failed")] if bad else done
        for level, text in events:
            t = clock.tick()
            stamp = f"{t:%Y-%m-%d %H:%M:%S},{t.microsecond // 1000:03d}"
            lines.append(f"{stamp} - app.worker - {level} - task={task} {text}")
        labels.append((str(task), int(bad)))
    return _write(path, lines, labels)


def jobs_log(path: Path, faults: str, seed: int, n: int, rate: float, first_id: int = 1000) -> tuple[Path, Path]:
    """``faults``: "new" (a job ends ``failed``) or "known" (a retry storm or a skipped step, known lines only)."""
    rng = random.Random(seed)
    clock = _Clock(rng)
    lines, labels = [], []
    for j in range(n):
        job = f"J{first_id + j}"
        fault = rng.random() < rate
        steps = ["checkout", "deps", "build", "test"] + (["deploy"] if rng.random() < 0.3 else [])
        kind = rng.choice(["retries", "skip"]) if fault and faults == "known" else None
        if kind == "skip":
            steps.remove("test")
        stormy = rng.choice(steps) if kind == "retries" else None
        events = [f"job={job} started on worker-{rng.randint(1, 8)}"]
        for step in steps:
            events.append(f"job={job} step {step} began")
            retries = rng.randint(3, 5) if step == stormy else int(rng.random() < 0.05)
            events += [f"job={job} step {step} retry {k + 1}" for k in range(retries)]
            events.append(f"job={job} step {step} took {rng.randint(2, 90)} s")
        events.append(f"job={job} {'failed' if fault and faults == 'new' else 'finished'}")
        for event in events:
            t = clock.tick()
            lines.append(f"{t:%Y-%m-%d %H:%M:%S},{t.microsecond // 1000:03d} INFO runner - {event}")
        labels.append((job, int(fault)))
    return _write(path, lines, labels)


def service_log(path: Path, seed: int = 3, n: int = 800) -> tuple[Path, Path]:
    rng = random.Random(seed)
    clock = _Clock(rng)
    lines, labels = [], []
    for _ in range(n):
        rid = f"{rng.getrandbits(48):012x}"
        route = rng.choice(["/api/users", "/api/orders", "/api/cart", "/healthz"])
        bad = rng.random() < 0.03
        events = [("info", "request started", f"method=GET path={route}")]
        if route != "/healthz" and bad:
            events.append(("error", "db query failed", f'err="connection reset by peer" attempt={rng.randint(1, 3)}'))
        elif route != "/healthz":
            events.append(("debug", "db query done", f"rows={rng.randint(0, 50)} duration={rng.randint(1, 40)}ms"))
        size = f"duration={rng.randint(2, 90)}ms bytes={rng.randint(99, 9000)}"
        events.append(("info", "request finished", f"status={500 if bad else 200} {size}"))
        for level, msg, rest in events:
            stamp = clock.tick().isoformat(timespec="milliseconds").replace("+00:00", "Z")
            lines.append(f'time={stamp} level={level} msg="{msg}" request_id={rid} {rest}')
        labels.append((rid, int(bad)))
    return _write(path, lines, labels)


LAYOUTS = {  # what `logbert parse` suggests for each (checked: it reads every line with its time)
    "worker": ("<Datetime> - <Logger> - <Level> - <Content>", r"task=(\d+)"),
    "jobs": ("<Datetime> <Level> <Content>", r"job=(\S+)"),
    "service": ("time=<Datetime> level=<Severity> <Content>", r"request_id=(\S+)"),
}


def _run(
    log: Path, labels: Path, layout: str, few: str, out: Path, evaluate_on: tuple[Path, Path] | None,
    settings: dict[str, object],
) -> dict:
    from logbert import api

    log_format, pattern = LAYOUTS[layout]
    overrides = {
        "parser.log_format": log_format,
        "window.session_pattern": pattern,
        "scoring.score_for_few_keys": few,
        "train.num_threads": 1,
        **settings,  # --set
    }
    if evaluate_on is not None:
        overrides["train.test_fraction"] = 0.0
    config = api.load_config(None, overrides)
    started = time.perf_counter()
    trained = api.train(log, out, config, labels=None if evaluate_on is not None else labels, overwrite=True,
                        progress=False)
    report = trained.read_report
    if report.n_parsed != report.n_lines or report.n_without_session:  # the layout must read every line
        unread = report.n_lines - report.n_parsed
        raise SystemExit(f"{log}: {unread} lines unread, {report.n_without_session} without a session id")
    data, data_labels = evaluate_on if evaluate_on is not None else (log, labels)
    metrics = api.evaluate(out, data, labels=data_labels).report
    return {
        "score": api.load_detector(out).config.scoring.score,
        "threshold": trained.threshold,
        "seconds": time.perf_counter() - started,
        **{k: metrics[k] for k in ("precision", "recall", "f1", "fpr", "auroc", "n_normal", "n_abnormal")},
    }


def main(argv: list[str] | None = None) -> int:
    cli = generated_logs_cli(__doc__, "few-templates")
    cli.add_argument("--small-seeds", type=int, default=1,
                     help="training logs of 30 and of 50 normal jobs drawn this many times (other seeds)")
    cli.add_argument("--small-only", action="store_true", help="only the small training sets")
    cli.add_argument("--scores", default="miss_ratio,max_mean_nll", help="scoring.score_for_few_keys values")
    args = cli.parse_args(argv)
    work = one_thread_in(args.work)
    from logbert.cli._common import parse_overrides

    settings = parse_overrides(args.set)
    logs = {} if args.small_only else {
        "worker": (*worker_log(work / "worker.log"), "worker", None),
        "jobs_new": (*jobs_log(work / "jobs_new.log", "new", seed=7, n=600, rate=0.04), "jobs", None),
        "jobs_known": (*jobs_log(work / "jobs_known.log", "known", seed=11, n=600, rate=0.05), "jobs", None),
        "service": (*service_log(work / "service.log"), "service", None),
    }
    big = jobs_log(work / "jobs_eval.log", "known", seed=23, n=800, rate=0.05, first_id=300_000)
    for draw in range(args.small_seeds):
        for n, seed in ((30, 21), (50, 22)):
            seed += 1000 * draw  # draw 0: the seeds of the committed table
            log, labels = jobs_log(work / f"jobs_normal{n}_{seed}.log", "known", seed=seed, n=n, rate=0.0,
                                   first_id=100_000 * n)
            logs[f"jobs_known, {n} normal jobs" + (f" (seed {seed})" if args.small_seeds > 1 else "")] = (
                log, labels, "jobs", big
            )
    rows = [
        "| log | score | threshold | precision | recall | F1 | FPR | AUROC | normal / anomalous test sessions |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, (log, labels, layout, evaluate_on) in logs.items():
        for few in args.scores.split(","):
            r = _run(log, labels, layout, few, work / f"artifact-{log.stem}-{few}", evaluate_on, settings)
            rows.append(
                f"| {name} | {r['score']} | {r['threshold']:.4f} | {r['precision']:.3f} | {r['recall']:.3f} "
                f"| **{r['f1']:.3f}** | {r['fpr']:.4f} | {r['auroc']:.3f} | {r['n_normal']} / {r['n_abnormal']} |"
            )
            print(rows[-1], f"({r['seconds']:.0f} s)", flush=True)
    text = [*header("Logs of a few templates", "benchmarks.few_templates", argv, "CPU, 1 torch thread"), "", *rows]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(text) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
