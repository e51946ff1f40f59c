"""Slow requests in a structured log: values that live in a record's keys, read or not (``parser.content_keys``).

    PYTHONPATH=. .venv/bin/python -m benchmarks.record_values [--seeds 0,1,2] [--work DIR] [--out FILE.md]

A generated logfmt log (Go's slog / logrus shape) of an HTTP service: each request logs ``request started``,
``db query done rows=N duration_ms=D`` and ``request finished status=S duration_ms=D`` under its ``request_id``. In
the last fifth of the log about 10 % of the requests are slow (the query and the request take 2-4 s instead of
1-80 ms) with the very same lines in the same order: only the numbers in ``duration_ms`` say so. In a record format
(json, csv, logfmt) only the message is a line's content, so those numbers are fields that no model reads unless
``parser.content_keys`` puts them into the text (where the masks make them parameters, which ``model.signals =
"all"`` reads as values). Four arms, each trained with ``logbert train --labels`` (the slow requests kept out of
training) and evaluated at the stored threshold with ``logbert evaluate`` on the held-back sessions:

* ``message only``: the default (key-only LogBERT);
* ``message only, signals=all``: the time- and value-aware model, without the keys;
* ``content_keys``: ``parser.content_keys = ["level", "duration_ms", "rows", "status"]`` (what ``logbert parse``
  suggests for this log), key-only;
* ``content_keys, signals=all``: both.

The baselines ``new_event`` and ``param_outlier`` (per-template, per-slot value statistics) are evaluated with the
``content_keys`` arms, whose templates have the value slots (a baseline that needs values an artifact does not
compute says so). 1 torch thread.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
from pathlib import Path

from benchmarks._report import header, one_thread_in

CONTENT_KEYS = ["level", "duration_ms", "rows", "status"]
ARMS: dict[str, dict[str, object]] = {
    "message only": {},
    "message only, signals=all": {"model.signals": "all"},
    "content_keys": {"parser.content_keys": CONTENT_KEYS},
    "content_keys, signals=all": {"parser.content_keys": CONTENT_KEYS, "model.signals": "all"},
}
BASE = {"parser.format": "logfmt", "window.session_pattern": r"request_id=(\S+)", "train.num_threads": 1}


def write_log(path: Path, labels: Path, n_requests: int, seed: int) -> int:
    """The log and its labels (session_id,label); returns how many requests are slow."""
    rng = random.Random(seed)
    clock = dt.datetime(2026, 11, 30, 8, 0, 0, tzinfo=dt.UTC)
    lines, rows = [], []
    for i in range(n_requests):
        rid = f"r{i:05d}"
        slow = i >= 0.8 * n_requests and rng.random() < 0.1
        query_ms = rng.randint(2000, 4000) if slow else rng.randint(1, 30)
        request_ms = rng.randint(2100, 4200) if slow else rng.randint(5, 80)
        for msg, extra in (
            ("request started", f"method=GET path=/v1/items/{rng.randint(1, 999)}"),
            ("db query done", f"rows={rng.randint(0, 50)} duration_ms={query_ms}"),
            ("request finished", f"status=200 duration_ms={request_ms}"),
        ):
            clock += dt.timedelta(milliseconds=rng.randint(1, 400))
            stamp = clock.isoformat(timespec="milliseconds").replace("+00:00", "Z")
            lines.append(f'time={stamp} level=info msg="{msg}" request_id={rid} {extra}')
        rows.append(f"{rid},{int(slow)}")
    path.write_text("\n".join(lines) + "\n")
    labels.write_text("session_id,label\n" + "\n".join(rows) + "\n")
    return sum(r.endswith(",1") for r in rows)


def main(argv: list[str] | None = None) -> int:
    cli = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    cli.add_argument("--seeds", default="0,1,2")
    cli.add_argument("--requests", type=int, default=1500)
    cli.add_argument("--work", type=Path, default=Path("/tmp/logbert-record-values"))
    cli.add_argument("--out", type=Path, default=None, help="write the report here (Markdown)")
    args = cli.parse_args(argv)
    from logbert import api

    work = one_thread_in(args.work)
    table = ["| seed | arm | precision | recall | F1 | FPR | AUROC | threshold |",
             "|---:|---|---:|---:|---:|---:|---:|---:|"]
    baselines: list[str] = []
    for seed in (int(s) for s in args.seeds.split(",")):
        log, labels = work / f"svc_{seed}.log", work / f"labels_{seed}.csv"
        n_slow = write_log(log, labels, args.requests, seed)
        for arm, settings in ARMS.items():
            out = work / f"artifact_{seed}_{arm.replace(', ', '_').replace('=', '_')}"
            config = api.load_config(None, {**BASE, **settings, "train.seed": seed})
            api.train(log, out, config, labels=labels, overwrite=True, progress=False)
            with_keys = "parser.content_keys" in settings
            named = ("new_event", "param_outlier") if with_keys else ()
            result = api.evaluate(out, log, labels=labels, baselines=named)
            r = result.report
            table.append(f"| {seed} | {arm} | {r['precision']:.3f} | {r['recall']:.3f} | **{r['f1']:.3f}** | "
                         f"{r['fpr']:.4f} | {r['auroc']:.3f} | {r['threshold']:.4f} |")
            if with_keys:
                baselines.append(f"- seed {seed} ({n_slow} slow of {args.requests}), {arm}: " + ", ".join(
                    f"{name} skipped ({rep['skipped']})" if "skipped" in rep
                    else f"{name} F1 {rep['f1']:.3f} (FPR {rep['fpr']:.4f}, AUROC {rep['auroc']:.3f})"
                    for name, rep in result.baselines.items()))
            print(table[-1], flush=True)
    text = "\n".join([
        *header("Slow requests in a logfmt log: parser.content_keys", "benchmarks.record_values", argv,
                "1 torch thread"),
        "", *table, "", "Baselines on the `content_keys` arms' held-back sessions:", "", *baselines, "",
    ])
    print(text)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
