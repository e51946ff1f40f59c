"""The header every committed benchmark result starts with: the command that made it, the machine, the date."""

from __future__ import annotations

import argparse
import os
import platform
import random
import shlex
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def header(title: str, module: str, argv: list[str] | None, machine_note: str) -> list[str]:
    """Markdown lines: title, the exact command (``argv``, or this process's), machine and date."""
    args = argv if argv is not None else sys.argv[1:]
    command = f".venv/bin/python -m {module} {shlex.join(args)}".rstrip()  # quoted: a copy of it runs as it ran
    return [
        f"# {title}",
        "",
        f"Command: `{command}`  ",
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} logical CPUs; {machine_note}  ",
        f"Date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
    ]


def generated_logs_cli(doc: str, name: str) -> argparse.ArgumentParser:
    """The command line of a benchmark on logs it writes itself: ``--out`` (the committed result,
    ``benchmarks/results/NAME.md``) and ``--work`` (where the logs and artifacts go, ``/tmp/logbert-NAME``)."""
    cli = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    cli.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / f"{name.replace('-', '_')}.md")
    cli.add_argument("--work", type=Path, default=Path(f"/tmp/logbert-{name}"))
    cli.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                     help="override one setting of the training, as `logbert train --set` (repeatable)")
    return cli


def one_thread_in(work: Path) -> Path:
    """One torch thread (the runs are comparable on a shared 2-core machine) and ``work`` made; returns it."""
    import torch

    torch.set_num_threads(1)
    work.mkdir(parents=True, exist_ok=True)
    return work


def draw_sessions(
    rng: random.Random, n: int, shares: dict[str, float], make: Callable[[str], tuple[str, list[tuple[Any, str]]]]
) -> tuple[list[tuple[Any, str]], dict[str, str]]:
    """``n`` sessions of a generated log: each one's kind drawn (:func:`draw_kind`, "normal" or one of ``shares``),
    then ``make(kind)`` -> (session id, its (time, line) pairs); a session id drawn twice is drawn again. Returns
    every session's lines and each session's kind by id."""
    lines: list[tuple[Any, str]] = []
    kinds: dict[str, str] = {}
    while len(kinds) < n:
        kind = draw_kind(rng, shares, "normal")
        session_id, session = make(kind)
        if session_id not in kinds:
            kinds[session_id] = kind
            lines += session
    return lines, kinds


def write_labelled(path: Path, lines: list[tuple[Any, str]], kinds: dict[str, str]) -> Path:
    """Write the log (its lines in time order) and ``<path>.labels.csv`` (``session_id,Label``); returns the
    labels' path."""
    path.write_text("".join(line + "\n" for _, line in sorted(lines)), encoding="utf-8")
    labels = path.with_suffix(".labels.csv")
    rows = [f"{sid},{'Normal' if kind == 'normal' else 'Anomaly'}\n" for sid, kind in kinds.items()]
    labels.write_text("session_id,Label\n" + "".join(rows), encoding="utf-8")
    return labels


def draw_kind(rng: random.Random, shares: dict[str, float], default: str) -> str:
    """One kind drawn with the given shares (each of ``shares`` with its probability, ``default`` otherwise): the
    generated logs' anomalous kinds."""
    r = rng.random()
    for name, share in shares.items():
        if r < share:
            return name
        r -= share
    return default


def train_and_evaluate(
    config_overrides: dict[str, object],
    train_log: Path,
    train_labels: Path,
    eval_log: Path,
    eval_labels: Path,
    eval_kinds: dict[str, str],
    kinds: tuple[str, ...],
    out: Path,
) -> tuple[list[str], object]:
    """The run of a benchmark on generated logs: ``logbert train`` on ``train_log`` with its labels (its anomalous
    sessions held back), ``logbert evaluate`` on ``eval_log`` at the stored threshold, ``new_event`` and
    ``count_nearest`` on the training log's held-back sessions. Returns the report's lines (templates, threshold,
    the table, LogBERT's alerts on the fresh log by kind) and ``api.train``'s result."""
    from logbert import api

    config = api.load_config(None, {**config_overrides, "train.num_threads": 1})
    started = time.perf_counter()
    trained = api.train(train_log, out, config, labels=train_labels, overwrite=True, progress=False)
    seconds = time.perf_counter() - started
    fresh = api.evaluate(out, eval_log, labels=eval_labels).report
    flagged = {s.session_id for s in api.score(api.load_detector(out), eval_log) if s.is_anomaly}
    found = {kind: f"{sum(r in flagged for r, k in eval_kinds.items() if k == kind)} of "
                   f"{sum(k == kind for k in eval_kinds.values())}" for kind in (*kinds, "normal")}
    held = api.evaluate(out, train_log, labels=train_labels, baselines=("new_event", "count_nearest"))
    rows = [
        "| detector | sessions | precision | recall | F1 | FPR | AUROC |",
        "|---|---|---:|---:|---:|---:|---:|",
        f"| LogBERT | fresh log: {fresh['n_normal']} normal / {fresh['n_abnormal']} anomalous | "
        f"{fresh['precision']:.3f} | {fresh['recall']:.3f} | **{fresh['f1']:.3f}** | {fresh['fpr']:.4f} | "
        f"{fresh['auroc']:.3f} |",
    ]
    counts = f"held back: {held.report['n_normal']} normal / {held.report['n_abnormal']} anomalous"
    for name, report in (("LogBERT", held.report), *held.baselines.items()):
        rows.append(f"| {name} | {counts} | {report['precision']:.3f} | {report['recall']:.3f} | **{report['f1']:.3f}**"
                    f" | {report['fpr']:.4f} | {report['auroc']:.3f} |")
    lines = [
        f"Templates: {trained.n_templates}; threshold {trained.threshold:.4f} ({trained.calibration}); training "
        f"{seconds:.0f} s.", "", *rows, "",
        "LogBERT's alerts on the fresh log by kind: " + ", ".join(f"{k} {v}" for k, v in found.items()) + ".", "",
    ]
    return lines, trained


def generated_log_benchmark(
    doc: str,
    name: str,
    title: str,
    argv: list[str] | None,
    write_log: Callable[[Path, int, int], tuple[Path, dict[str, str]]],
    config_overrides: dict[str, object],
    kinds: tuple[str, ...],
    extra: Callable[[Path], list[str]] | None = None,
) -> int:
    """The whole of a benchmark on generated logs (``benchmarks.NAME``): ``write_log(path, seed, n)`` writes 3,000
    sessions to train on (seed 11) and 1,500 fresh ones (seed 22), :func:`train_and_evaluate` runs, and the report
    (the module's docstring after its first two paragraphs, the results, ``extra(artifact)``'s lines) goes to
    ``--out``."""
    args = generated_logs_cli(doc, name).parse_args(argv)
    work = one_thread_in(args.work)
    stem = name.split("-")[0]
    train_log, eval_log = work / f"{stem}_train.log", work / f"{stem}_eval.log"
    train_labels, _ = write_log(train_log, 11, 3000)
    eval_labels, eval_kinds = write_log(eval_log, 22, 1500)
    out = work / "artifact"
    from logbert.cli._common import parse_overrides

    overrides = {**config_overrides, **parse_overrides(args.set)}
    report, _ = train_and_evaluate(overrides, train_log, train_labels, eval_log, eval_labels, eval_kinds,
                                   kinds, out)
    lines = header(title, f"benchmarks.{name.replace('-', '_')}", argv, "1 torch thread")
    lines += ["", doc.split("\n\n", 2)[2].strip(), "", *report, *(extra(out) if extra is not None else [])]
    args.out.write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))
    return 0
