"""Issue 13 on the DeepLog OpenStack set: detectors that see time and values against key-only ones.

    nice -n 10 .venv/bin/python -m benchmarks.time_values --out benchmarks/results/time_values

The time- and value-aware LogBERT (``model.signals``) runs through ``logbert train`` / ``score`` on
raw logs, with the ablation key-only / + time / + values / all (``--signal-modes``), on DeepLog
OpenStack and on the simulator's timing and value faults (:mod:`benchmarks.time_values.logbert_signals`).

Train on the first 80 % (by start time) of ``openstack_normal1``'s sessions, threshold from normal
training data only (``choose_threshold`` on out-of-fold scores), test on the 198 instances of
``openstack_abnormal`` (4 anomalous under ``anomaly_labels.txt``) and the held-back 20 % of
normal1. See :mod:`benchmarks.time_values.run` for the protocol. Skips, with the reason, when
``../shared/datasets`` is absent.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks._report import header
from benchmarks.time_values.logbert_signals import MODES, run_openstack, run_simulator
from benchmarks.time_values.run import (
    KEY_ONLY,
    SIGNAL_DETECTORS,
    load,
    missing,
    run_baselines,
    run_combined,
    run_logbert,
)

ROOT = Path(__file__).resolve().parents[2]
DATA = (ROOT / ".." / "shared" / "datasets").resolve()


def _table(rows: list[dict[str, Any]]) -> list[str]:
    out = [
        "| detector | sees | threshold | found (of 4) | false alarms, other 194 abnormal-file | false alarms, "
        "held-back normal | AUROC 4 vs 194 | AUROC 4 vs held normal | day check: AUROC 194 vs held normal |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        auc1 = "-" if r["auroc_vs_194"] is None else f"{r['auroc_vs_194']:.3f}"
        auc2 = "-" if r["auroc_vs_held_normal"] is None else f"{r['auroc_vs_held_normal']:.3f}"
        auc3 = "-" if r["auroc_194_vs_held_normal"] is None else f"{r['auroc_194_vs_held_normal']:.3f}"
        out.append(
            f"| {r['detector']} | {r['signals']} | {r['threshold']:.3g} | {r['found']} | "
            f"{r['false_alarms_abnormal_file']} / {r['n_other_abnormal_file']} | "
            f"{r['false_alarms_held_normal']} / {r['n_held_normal']} | {auc1} | {auc2} | {auc3} |"
        )
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/time_values"))
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--train-share", type=float, default=0.8)
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--logbert-epochs", type=int, default=10, help="0 = leave key-only LogBERT out")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument(
        "--signal-modes", default=",".join(MODES), help="model.signals modes of the LogBERT ablation; 'none' = skip"
    )
    ap.add_argument("--signal-epochs", type=int, default=10)
    ap.add_argument("--sim-instances", type=int, default=300, help="simulated VMs (30 %% faulty); 0 = skip")
    ap.add_argument("--work", type=Path, default=None, help="where the artifacts go (default: a temporary folder)")
    ap.add_argument(
        "--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
        help="a setting for the time- and value-aware LogBERT runs (JSON value), e.g. model.keys_see_signals=false",
    )
    ap.add_argument("--skip-baselines", action="store_true", help="LogBERT's signal runs only (no baselines)")
    args = ap.parse_args(argv)
    settings = {k: json.loads(v) for k, v in (s.split("=", 1) for s in args.sets)}
    modes = [m for m in args.signal_modes.split(",") if m and m != "none"]
    absent = missing(args.data)
    if absent:
        print(f"skipping: the DeepLog OpenStack files are not there ({', '.join(map(str, absent))})", file=sys.stderr)
        return 0
    started = time.perf_counter()
    d = load(args.data, args.train_share)
    rows: list[dict[str, Any]] = []
    if not args.skip_baselines:
        rows = run_baselines(d, [*KEY_ONLY, *SIGNAL_DETECTORS], args.folds, args.seed)
        rows.append(run_combined(d, args.folds, args.seed))
        if args.logbert_epochs > 0:
            rows.insert(len(KEY_ONLY), run_logbert(d, args.logbert_epochs, args.seed, args.threads))
    signal_rows: list[dict[str, Any]] = []
    sim_rows: list[dict[str, Any]] = []
    if modes:
        with tempfile.TemporaryDirectory(prefix="logbert-time-values-") as tmp:  # the artifacts are not results
            work = args.work or Path(tmp)
            signal_rows = run_openstack(
                d, args.data, work, modes, args.signal_epochs, args.seed, args.threads, settings
            )
            if args.sim_instances:
                sim_rows = run_simulator(
                    work, modes, args.signal_epochs, args.seed, args.threads, args.sim_instances, settings
                )
    rows.extend(signal_rows)
    for r in sim_rows:
        print(
            json.dumps(
                {
                    k: r[k]
                    for k in ("detector", "recall_time_value_faults", "recall_category_faults", "false_alarms_normal")
                }
            ),
            file=sys.stderr,
        )
    shown = ("detector", "found", "false_alarms_abnormal_file", "false_alarms_held_normal")
    for r in rows:
        print(json.dumps({k: r[k] for k in shown}), file=sys.stderr)
    total = time.perf_counter() - started
    args.out.mkdir(parents=True, exist_ok=True)
    summary = {
        "protocol": {
            "train_sessions": len(d.train),
            "held_back_normal": len(d.held),
            "abnormal_file_instances": len(d.abnormal),
            "official_anomalies": sum(s.label == 1 for s in d.abnormal),
            "folds": args.folds,
            "seed": args.seed,
            "threshold_quantile": d.config.scoring.threshold_quantile,
            "seconds": d.seconds,
            "total_seconds": round(total, 1),
        },
        "slot_schema": d.schema.to_dict(),
        "rows": rows,
        "simulator": sim_rows,
    }
    (args.out / "results.json").write_text(json.dumps(summary, indent=1), encoding="utf-8")
    lines = header(
        "Time and values on DeepLog OpenStack (issue 13)", "benchmarks.time_values", argv, f"CPU, {args.threads} thread"
    )
    lines += [
        "",
        f"Train: the first {len(d.train)} sessions of `openstack_normal1` by start time (normal only); test: the "
        f"{len(d.abnormal)} instances of `openstack_abnormal` ({summary['protocol']['official_anomalies']} anomalous "
        f"under `anomaly_labels.txt`, recorded two days before normal1) and the {len(d.held)} held-back normal1 "
        f"sessions. Threshold: `choose_threshold` (quantile {d.config.scoring.threshold_quantile} of normal scores) on "
        f"{args.folds}-fold out-of-fold scores of the training sessions, then each detector refitted on all of them; "
        "key-only LogBERT: trained on 80 % of the training sessions, threshold on the other 20 %. "
        f"{total:.0f} s in all.",
        "",
        *_table(rows),
        "",
        "`max(param_outlier, session_duration)`: the larger of the two scores, each divided by its own threshold, "
        "thresholded again by `choose_threshold` on out-of-fold scores. Day check: the abnormal file was recorded "
        "two days before normal1; its 194 instances outside the official labels are normal, so a detector that "
        "flagged the day would flag many of them and score them above the held-back normal sessions "
        "(AUROC well above 0.5). Key-only LogBERT: "
        + (f"{args.logbert_epochs} epochs (at least `train.min_steps` steps)." if args.logbert_epochs else "left out."),
        "",
    ]
    if signal_rows:
        lines += [
            "## The time- and value-aware LogBERT, through `logbert train` and `score`",
            "",
            f"One artifact per `model.signals` ({', '.join(modes)}): `logbert.pipeline.fit.train` on the training "
            "sessions written back as a raw log (`train.test_fraction=0`, `scoring.calibration=cross_fit`: threshold "
            f"and channel scales from {args.folds}-fold out-of-fold scores; {args.signal_epochs} epochs, at least "
            "`train.min_steps` steps), then `Detector.score_sessions` on the raw abnormal file and the held-back "
            "sessions written back as a raw log. Score: each channel (key, time, value) divided by its own "
            "calibrated scale, the largest decides (`logbert.pipeline.estimator.combine_channels`).",
            "",
            "| model | channels used | train s (6 trainings) | score s | scales (key, time, value) | sessions above "
            "the threshold per channel |",
            "|---|---|---:|---:|---|---|",
        ]
        for r in signal_rows:
            per = r.get("flagged_by_channel") or {}
            shown = "; ".join(f"{g}: " + ", ".join(f"{c} {n}" for c, n in ch.items()) for g, ch in per.items())
            lines.append(
                f"| {r['detector']} | {r['model_signals']} | {r['train_seconds']} | {r['score_seconds']} | "
                f"{r['scales'] if r['scales'] else '-'} | {shown or '-'} |"
            )
        lines.append("")
    if sim_rows:
        lines += [
            f"## Simulator: timing and value faults ({args.sim_instances} VMs, 30 % faulty, seed {args.seed})",
            "",
            "`write_simulated(time_value_faults=True, category_faults=True)`, `logbert train` with its labels "
            "(the openstack preset: "
            "anomalous sessions and 20 % of the normal ones held back), `logbert evaluate` at the stored threshold.",
            "",
            "| model | recall, time/value faults | recall, category faults | caught per fault type "
            "| false alarms, normal test | AUROC all | F1 all |",
            "|---|---:|---:|---|---:|---:|---:|",
        ]
        for r in sim_rows:
            per = ", ".join(f"{k} {v[0]}/{v[1]}" for k, v in r["recall_by_fault"].items() if k != "none")
            fa = r["false_alarms_normal"]
            auroc = "-" if r["auroc_all"] is None else f"{r['auroc_all']:.3f}"
            f1 = "-" if r["f1_all"] is None else f"{r['f1_all']:.3f}"
            lines.append(
                f"| {r['detector']} | {r['recall_time_value_faults']} | {r['recall_category_faults']} | {per} "
                f"| {fa[0]} / {fa[1]} | {auroc} | {f1} |"
            )
        lines.append("")
    lines += ["## What each time/value detector names for the anomalies it flags, and its false alarms", ""]
    for r in rows:
        if r["signals"] not in ("time+values", "keys+time", "keys+values", "keys+time+values"):
            continue
        lines.append(f"**{r['detector']}**")
        lines.append("")
        for sid, text in r["explanations"].items():
            lines.append(f"- `{sid}`: {text}")
        for text in r.get("false_alarm_explanations", []):
            lines.append(f"- false alarm, {text}")
        for text in r.get("in_flight", []):
            lines.append(f"- in flight at the capture start, not alerted: {text}")
        lines.append("")
    lines += [
        "## Slot types inferred from the training lines",
        "",
        "| key | slot | kind | unit | context | training 1-99 % |",
        "|---:|---:|---|---|---|---|",
    ]
    for key, slots in d.schema.slots.items():
        for i, t in enumerate(slots):
            if t.kind == "id":
                continue
            rng = t.training_range
            shown = f"{t.display(rng[0])} to {t.display(rng[1])}" if rng else ", ".join(t.categories[:5])
            lines.append(f"| {key} | {i} | {t.kind} | {t.unit or ''} | `{t.context}` | {shown} |")
    (args.out / "results.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {args.out / 'results.md'} ({total:.0f} s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
