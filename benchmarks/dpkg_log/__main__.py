"""A new user's log: this machine's ``/var/log/dpkg.log``, one session per package, three faults injected.

    PYTHONPATH=. .venv/bin/python -m benchmarks.dpkg_log [--log /var/log/dpkg.log] [--work DIR] [--set KEY=VALUE ...]

No dpkg log is in ``../shared/datasets``: this reads the one of the machine it runs on (so its figures belong to
that machine's history of installs). The lines of the earlier days (``--train-days``, by default the first two
thirds of the days the log holds) are the training log, every session normal; the later days are the test log,
in which ``--faulty`` packages (seeded) get one of three faults made of normal lines: an install that stops early
(its ``status installed`` line removed), a failed configure (``status half-configured`` twice, never ``installed``)
and a package configured twice. Then ``logbert train`` on the training log with the settings a user reaches by
following ``logbert parse``'s warnings (the header ``<Datetime> <Content>``, dpkg's states as outcome words, the
package as the session), ``logbert evaluate`` on the test log at the stored threshold, and the test sessions' scores
by fault kind, and the baselines ``new_event`` and ``count_nearest`` on the same test sessions, fitted on the
training log's sessions (``evaluate --training``).
"""

from __future__ import annotations

import argparse
import random
import re
from collections import defaultdict
from pathlib import Path

from benchmarks._report import header, one_thread_in

#: What ``logbert parse`` suggested for this layout (its header warning, then its merged-words warning).
SETTINGS = {
    "parser.log_format": "<Datetime> <Content>",
    "parser.extra_outcome_words": ["installed", "unpacked", "half-configured", "half-installed", "config-files",
                                   "not-installed", "triggers-pending", "triggers-awaited"],
    "window.session_pattern": r"(\S+:(?:amd64|all|arm64|i386))",
}
PACKAGE = re.compile(SETTINGS["window.session_pattern"])
KINDS = ("stop_early", "failed_configure", "configured_twice")


def split_log(lines: list[str], train_days: int | None, faulty: int, seed: int) -> tuple[list[str], list[str], dict]:
    """(training lines, test lines with the faults, package -> kind for every test package)."""
    days = sorted({line[:10] for line in lines})
    cut = train_days if train_days is not None else max(1, len(days) * 2 // 3)
    train_set = set(days[:cut])
    train = [line for line in lines if line[:10] in train_set]
    test = [line for line in lines if line[:10] not in train_set]
    packages = sorted({m.group(1) for line in test if (m := PACKAGE.search(line))})
    picked = random.Random(seed).sample(packages, min(faulty, len(packages)))
    kind = {p: "normal" for p in packages}
    for i, p in enumerate(picked):
        kind[p] = KINDS[i % len(KINDS)]
    out: list[str] = []
    for line in test:
        m = PACKAGE.search(line)
        k = kind.get(m.group(1), "normal") if m else "normal"
        if k in ("stop_early", "failed_configure") and " status installed " in line:
            continue
        out.append(line)
        if k == "configured_twice" and line.split()[2] == "configure":
            out.append(line)
        if k == "failed_configure" and " status unpacked " in line:
            out += [line.replace("status unpacked", "status half-configured")] * 2
    return train, out, kind


def main(argv: list[str] | None = None) -> int:
    cli = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    cli.add_argument("--log", type=Path, default=Path("/var/log/dpkg.log"))
    cli.add_argument("--train-days", type=int, default=None, help="days of the log to train on (default 2/3)")
    cli.add_argument("--faulty", type=int, default=30, help="test packages given a fault")
    cli.add_argument("--seed", type=int, default=7)
    cli.add_argument("--work", type=Path, default=Path("/tmp/logbert-dpkg"))
    cli.add_argument("--out", type=Path, default=None, help="write the report here (Markdown)")
    cli.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    args = cli.parse_args(argv)
    if not args.log.is_file():
        print(f"{args.log} not found: this benchmark reads a Debian machine's dpkg log")
        return 1
    from logbert import api
    from logbert.cli._common import parse_overrides

    work = one_thread_in(args.work)
    train, test, kind = split_log(args.log.read_text(errors="replace").splitlines(), args.train_days, args.faulty,
                                  args.seed)
    (work / "train.log").write_text("\n".join(train) + "\n")
    (work / "test.log").write_text("\n".join(test) + "\n")
    labels = work / "labels.csv"
    labels.write_text("session_id,label\n" + "".join(f"{p},{int(k != 'normal')}\n" for p, k in kind.items()))
    config = api.load_config(None, {**SETTINGS, "train.num_threads": 1, **parse_overrides(args.set)})
    trained = api.train(work / "train.log", work / "artifact", config, overwrite=True, progress=False)
    result = api.evaluate(work / "artifact", work / "test.log", labels=labels, training=work / "train.log",
                          baselines=("new_event", "count_nearest"))
    report = result.report
    scores: dict[str, list[str]] = defaultdict(list)
    for s in sorted(api.score(api.load_detector(work / "artifact"), work / "test.log"), key=lambda s: -s.score):
        scores[kind.get(s.session_id, "normal")].append(f"{s.score:.2f}{'*' if s.is_anomaly else ''}")
    lines = header("dpkg.log, one session per package (a new user's log)", "benchmarks.dpkg_log", argv,
                   "1 torch thread")
    lines += [
        "", f"{len(train)} training lines, {len(test)} test lines; {trained.n_templates} templates; "
        f"threshold {trained.threshold:.4f} ({trained.calibration}, {trained.n_calibration} sessions).", "",
        "| precision | recall | F1 | FPR | AUROC | best F1 (oracle) | test normal / anomalous |",
        "|---:|---:|---:|---:|---:|---:|---|",
        f"| {report['precision']:.3f} | {report['recall']:.3f} | **{report['f1']:.3f}** | {report['fpr']:.4f} | "
        f"{report['auroc']:.3f} | {report.get('best_f1', float('nan')):.3f} | {report['n_normal']} / "
        f"{report['n_abnormal']} |", "",
        "Baselines, fitted on the training log's sessions and calibrated as `evaluate` does (`--training`), on the "
        "same test sessions: " + ", ".join(
            f"{name} F1 {rep['f1']:.3f} (FPR {rep['fpr']:.4f}, AUROC {rep['auroc']:.3f})"
            for name, rep in result.baselines.items() if "skipped" not in rep
        ) + ".", "",
        "Scores by kind, highest first (* = flagged; partial sessions, begun before the log, are never flagged):", "",
        *(f"- {k}: {' '.join(v[:12])}{' ...' if len(v) > 12 else ''}" for k, v in scores.items()), "",
        "Training warnings and notes:", "", *(f"- {w}" for w in [*trained.warnings, *trained.notes]), "",
    ]
    text = "\n".join(lines)
    print(text)
    if args.out is not None:
        args.out.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
