"""Web servers' access logs with ``--preset access``: a generated shop, with labels and without.

    .venv/bin/python -m benchmarks.access_logs [--work DIR] [--out benchmarks/results/access_logs.md]

No access log is in ``../shared/datasets``, so this one is generated (:func:`shop_log`): an nginx Combined Log
Format log of a web shop over two days. Visitors follow the shop's flows (the home page and its assets, product
lists and pages, reviews; half log in, some fill a cart and check out, some log out); about 6 % of the clients are
anomalous, in three kinds: scanners probing for files that do not exist (``/.env``, ``/wp-login.php`` ...),
credential stuffers (one failed login after another) and checkouts that fail with 502 and 500. One session per
client address (the preset's). Two logs with other seeds and other addresses: 1,500 clients to train on, 800
fresh ones, with labels, to evaluate on.

Runs, each ``logbert train`` then ``logbert evaluate`` on the fresh log at the stored threshold:

* **labelled**: the training log with its labels (its anomalous clients are held back, as ``train`` does);
* **unlabelled**: without labels, every client counts as normal, the anomalous ones too (a new user's usual
  case); ``scoring.contamination`` at 0 (the default), at half the true share of anomalous clients and at it.

For the labelled run the baselines ``new_event`` and ``count_nearest`` are evaluated too, on the training log's
held-back clients (``evaluate`` runs baselines only on a file that holds the artifact's training sessions).
"""

from __future__ import annotations

import datetime as dt
import json
import random
import time
from pathlib import Path

from benchmarks._report import draw_kind, generated_logs_cli, header, one_thread_in

AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/131.0",
    "Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Safari/604.1",
)
PROBES = ("/.env", "/wp-login.php", "/.git/config", "/admin", "/phpmyadmin/", "/config.php", "/backup.zip",
          "/server-status")
#: kind -> share of the clients (the rest are visitors)
ANOMALOUS = {"scanner": 0.02, "stuffing": 0.02, "checkout_fail": 0.02}


def _visit(rng: random.Random, ip: str, start: dt.datetime, kind: str) -> list[tuple[dt.datetime, str]]:
    lines: list[tuple[dt.datetime, str]] = []
    agent = "python-requests/2.31" if kind == "scanner" else rng.choice(AGENTS)
    t = start

    def request(method: str, target: str, status: int) -> None:
        nonlocal t
        t += dt.timedelta(seconds=rng.uniform(0.05, 8))
        stamp = f"{t:%d/%b/%Y:%H:%M:%S} +0000"
        size = rng.randint(200, 40_000)
        lines.append((t, f'{ip} - - [{stamp}] "{method} {target} HTTP/1.1" {status} {size} "-" "{agent}"'))

    if kind == "scanner":
        for target in rng.sample(PROBES, 5):
            request("GET", target, 404)
        return lines
    request("GET", "/", 200)
    request("GET", "/static/app.3f2a9c.js", 200)
    request("GET", "/static/style.css", 200)
    for _ in range(rng.randint(1, 4)):
        request("GET", f"/api/products?page={rng.randint(1, 9)}", 200)
        product = rng.randint(1, 9000)
        request("GET", f"/products/{product}", 200)
        request("GET", f"/api/products/{product}/reviews", 200)
        if rng.random() < 0.1:
            request("GET", f"/products/{product}", 304)
    if kind == "stuffing":
        for _ in range(rng.randint(6, 12)):
            request("POST", "/login", 401)
        return lines
    if rng.random() < 0.5:
        request("GET", "/login", 200)
        if rng.random() < 0.05:  # a mistyped password, then the right one
            request("POST", "/login", 401)
        request("POST", "/login", 302)
        request("GET", "/account", 200)
        if rng.random() < 0.6:
            request("POST", "/api/cart", 201)
            request("GET", f"/api/cart/{rng.randint(1, 99_999)}", 200)
            if kind == "checkout_fail":
                for status in (502, 502, 500):
                    request("POST", "/api/checkout", status)
            else:
                request("POST", "/api/checkout", 200)
                request("GET", f"/orders/{rng.randint(1, 10**6)}/confirmation", 200)
        if rng.random() < 0.3:
            request("GET", "/logout", 302)
    elif kind == "checkout_fail":
        request("POST", "/api/cart", 201)
        for status in (502, 500):
            request("POST", "/api/checkout", status)
    return lines


def shop_log(path: Path, seed: int, n_clients: int, first_octet: int) -> tuple[Path, set[str]]:
    """Write the log and ``<path>.labels.csv`` (``session_id,Label``); returns the labels' path and the anomalous
    clients. Client addresses are ``<first_octet>.x.y.z``: logs with other first octets share no client."""
    rng = random.Random(seed)
    start = dt.datetime(2026, 11, 20)
    lines: list[tuple[dt.datetime, str]] = []
    kinds: dict[str, str] = {}
    while len(kinds) < n_clients:
        ip = f"{first_octet}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
        if ip in kinds:
            continue
        kind = draw_kind(rng, ANOMALOUS, "visitor")
        kinds[ip] = kind
        lines += _visit(rng, ip, start + dt.timedelta(seconds=rng.uniform(0, 2 * 86_400)), kind)
    path.write_text("".join(line + "\n" for _, line in sorted(lines)), encoding="utf-8")
    labels = path.with_suffix(".labels.csv")
    rows = [f"{ip},{'Normal' if kind == 'visitor' else 'Anomaly'}\n" for ip, kind in kinds.items()]
    labels.write_text("session_id,Label\n" + "".join(rows), encoding="utf-8")
    return labels, {ip for ip, kind in kinds.items() if kind != "visitor"}


def run(name: str, contamination: float, work: Path, extra: dict | None = None) -> dict:
    from logbert import api

    train_log, eval_log = work / "shop_train.log", work / "shop_eval.log"
    train_labels, anomalous = shop_log(train_log, seed=101, n_clients=1500, first_octet=10)
    eval_labels, _ = shop_log(eval_log, seed=202, n_clients=800, first_octet=172)
    labelled = name == "labelled"
    overrides = {"train.num_threads": 1, "scoring.contamination": contamination, **(extra or {})}
    config = api.load_config(None, overrides, preset="access")
    out = work / f"artifact-{name}-{contamination:g}"
    started = time.perf_counter()
    trained = api.train(train_log, out, config, labels=train_labels if labelled else None, overwrite=True,
                        progress=False)
    seconds = time.perf_counter() - started
    report = json.loads((out / "train_report.json").read_text())
    named = [e["session"] for e in report["calibration_above_threshold"] + report["calibration_at_threshold"]]
    metrics = api.evaluate(out, eval_log, labels=eval_labels).report
    row = {
        "threshold": trained.threshold,
        "calibration": trained.calibration,
        "n_templates": trained.n_templates,
        "named": len(named),
        "named_anomalous": len(anomalous.intersection(named)),
        "seconds": seconds,
        **{k: metrics[k] for k in ("precision", "recall", "f1", "fpr", "auroc", "n_normal", "n_abnormal")},
    }
    if labelled:  # the baselines, on the training log's held-back clients (they need the artifact's split)
        held = api.evaluate(out, train_log, labels=train_labels, baselines=("new_event", "count_nearest"))
        row["held_back"] = {"logbert": held.report["f1"], **{k: v["f1"] for k, v in held.baselines.items()}}
        row["held_back_counts"] = (held.report["n_normal"], held.report["n_abnormal"])
    return row


def main(argv: list[str] | None = None) -> int:
    cli = generated_logs_cli(__doc__, "access-logs")
    cli.add_argument("--labelled-only", action="store_true", help="only the run with labels")
    args = cli.parse_args(argv)
    from logbert.cli._common import parse_overrides

    extra = parse_overrides(args.set)
    one_thread_in(args.work)
    share = sum(ANOMALOUS.values())
    rows = [
        "| run | scoring.contamination | templates | threshold | training clients named as above / at it (anomalous) "
        "| precision | recall | F1 | FPR | AUROC | normal / anomalous test clients | train s |",
        "|---|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    notes = []
    for name, contamination in (("labelled", 0.0), ("unlabelled", 0.0), ("unlabelled", round(share / 2, 3)),
                                ("unlabelled", round(share, 3))):
        if args.labelled_only and name != "labelled":
            continue
        r = run(name, contamination, args.work, extra)
        rows.append(
            f"| {name} | {contamination:g} | {r['n_templates']} | {r['threshold']:.4f} | {r['named']} "
            f"({r['named_anomalous']}) | {r['precision']:.3f} | {r['recall']:.3f} | **{r['f1']:.3f}** | "
            f"{r['fpr']:.4f} | {r['auroc']:.3f} | {r['n_normal']} / {r['n_abnormal']} | {r['seconds']:.0f} |"
        )
        if "held_back" in r:
            n, a = r["held_back_counts"]
            f1s = ", ".join(f"{k} {v:.3f}" for k, v in r["held_back"].items())  # LogBERT, then the baselines
            notes.append(f"- Labelled run, the training log's {n} normal and {a} anomalous held-back clients, F1 {f1s}")
        print(rows[-1], flush=True)
    lines = header("Access logs (`--preset access`), a generated shop", "benchmarks.access_logs", argv,
                   "1 torch thread")
    lines += ["", __doc__.split("\n\n", 2)[2].strip(), "", *rows, "", *notes, ""]
    args.out.write_text("\n".join(lines), encoding="utf-8")
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
