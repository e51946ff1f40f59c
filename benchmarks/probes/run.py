"""Re-run the hostile and unlucky probes of issue 10 against the real CLI and a real ``logbert serve``.

    .venv/bin/python -m benchmarks.probes [--out benchmarks/results/probes] [--only security ...] [--keep]

In a temporary folder: a simulated OpenStack log (40 VMs), two tiny artifacts trained by
``logbert train`` (a few seconds each; the first one signed), and ``logbert serve`` on free
loopback ports: without a key, with ``--api-key-file``, and with small engine limits. Every probe
is a small function judged as one outcome (see :mod:`benchmarks.probes.core`):
ok / clear_error / crash / silent_wrong / data_loss / security_hole.

Categories: security (keys, made-up methods, artifact tampering), http_500 (hostile JSON, huge
numbers and bodies, wrong content types), cli_traceback (outputs that cannot be written, unreadable
weights, bad regexes, labels, markup), silent_wrong (inputs of the wrong kind or with odd line
endings, NaN thresholds), unbounded_growth (many sources, many sessions), and data_loss, which is
not probed here: it is the result of ``pytest tests/faults`` (the fault drills) when that folder
exists, each passed test ok and each failed one data_loss; otherwise "not run".

Writes OUT/probes.md (a table by category, then every probe that was not ``ok`` with its detail)
and OUT/probes.json. Takes about 2-4 minutes on 2 busy cores.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from benchmarks._report import header
from benchmarks.probes.core import OUTCOMES, ROOT, Probe, Result, Workspace
from benchmarks.probes.probes import CATEGORIES, DATA_LOSS, all_probes

FAULTS = ROOT / "tests" / "faults"
FAULTS_TIMEOUT_S = 300


def run_probe(ws: Workspace, probe: Probe) -> dict[str, Any]:
    """One probe; an exception in the probe itself is reported as a crash whose detail says so."""
    t0 = time.monotonic()
    try:
        result = probe.func(ws)
    except Exception as exc:  # the product failed in a way the probe did not foresee, or the probe broke
        result = Result("crash", f"PROBE ERROR {type(exc).__name__}: {' '.join(str(exc).split())[:300]}")
    return {
        "category": probe.category,
        "name": probe.name,
        "outcome": result.outcome,
        "detail": result.detail.replace(str(ws.root), "<tmp>"),  # the scratch folder's name changes every run
        "seconds": round(time.monotonic() - t0, 2),
    }


def run_faults(python: str = sys.executable) -> tuple[str, list[dict[str, Any]]]:
    """``pytest tests/faults -q``: one record per test (passed: ok, failed or error: data_loss)."""
    if not FAULTS.is_dir():
        return "not run: tests/faults does not exist yet", []
    t0 = time.monotonic()
    # -q comes from the project's addopts; -rA lists every test with its result
    argv = [python, "-m", "pytest", "tests/faults", "-rA", "-p", "no:warnings", "-p", "no:cacheprovider"]
    try:
        p = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=FAULTS_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return f"pytest tests/faults still running after {FAULTS_TIMEOUT_S} s (killed)", []
    records = []
    for line in p.stdout.splitlines():
        m = re.match(r"^(PASSED|FAILED|ERROR|SKIPPED)\s+(\S+)(?:\s+-\s+(.*))?", line)
        if not m:
            continue
        state, test, why = m.groups()
        if state == "SKIPPED":
            continue
        outcome = "ok" if state == "PASSED" else "data_loss"
        records.append({
            "category": DATA_LOSS, "name": test.split("::")[-1], "outcome": outcome,
            "detail": f"{test}: {state.lower()}" + (f": {why[:200]}" if why else ""), "seconds": 0.0,
        })  # fmt: skip
    counts = Counter(r["outcome"] for r in records)
    status = (
        f"`pytest tests/faults -q`: {counts['ok']} passed, {counts['data_loss']} failed "
        f"(exit {p.returncode}, {time.monotonic() - t0:.0f} s)"
    )
    if not records and p.returncode != 0:
        records.append({"category": DATA_LOSS, "name": "pytest tests/faults", "outcome": "crash",
                        "detail": f"{status}: {p.stdout[-300:]} {p.stderr[-300:]}", "seconds": 0.0})  # fmt: skip
    return status, records


def table(records: list[dict[str, Any]], faults_status: str) -> list[str]:
    lines = [
        "| category | probes tried | ok | clear error | crash | silent wrong | data loss | security hole |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for category in CATEGORIES:
        rows = [r for r in records if r["category"] == category]
        if category == DATA_LOSS and not rows:
            lines.append(f"| {category} | {faults_status} | | | | | | |")
            continue
        if not rows:
            continue
        counts = Counter(r["outcome"] for r in rows)
        lines.append(f"| {category} | {len(rows)} | " + " | ".join(str(counts.get(o, 0)) for o in OUTCOMES) + " |")
    total = Counter(r["outcome"] for r in records)
    lines.append(f"| **all** | {len(records)} | " + " | ".join(str(total.get(o, 0)) for o in OUTCOMES) + " |")
    return lines


def report(records: list[dict[str, Any]], faults_status: str, argv: list[str] | None, seconds: float) -> str:
    md = header("Probes of issue 10: hostile and unlucky inputs", "benchmarks.probes", argv,
                "a shared machine; tiny artifacts trained for the run")  # fmt: skip
    md += [
        "",
        "Each probe runs the real `logbert` CLI (subprocesses) or talks HTTP to a real `logbert serve` on "
        "loopback (without a key, with `--api-key-file`, and with small engine limits), and is judged as one "
        "outcome. **ok**: handled right; **clear error**: refused with a clear message (exit code not 0, no "
        "traceback; or HTTP 4xx with a JSON detail), the wanted answer to a hostile input; **crash**: a "
        "traceback, HTTP 5xx, a hang or a dead server (`PROBE ERROR` in the detail: the probe itself failed); "
        "**silent wrong**: accepted, wrong, and nothing said; **data loss**: the fault drills of `tests/faults`; "
        "**security hole**: in without the key, a tampered artifact that loads, or state an unauthenticated "
        "client can grow.",
        "",
        f"Whole run: {seconds:.0f} s. Data loss: {faults_status}.",
        "",
        *table(records, faults_status),
        "",
        "## Every probe that was not `ok`",
        "",
    ]
    bad = [r for r in records if r["outcome"] != "ok"]
    order = {o: i for i, o in enumerate(reversed(OUTCOMES))}  # security holes first, clear errors last
    for r in sorted(bad, key=lambda r: (order[r["outcome"]], CATEGORIES.index(r["category"]))):
        md.append(f"- **{r['outcome']}** · {r['category']} · {r['name']}: {r['detail']}")
    if not bad:
        md.append("None.")
    md += ["", "## The `ok` ones", ""]
    md += [f"- {r['category']} · {r['name']}: {r['detail']}" for r in records if r["outcome"] == "ok"]
    return "\n".join(md) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.probes", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "probes")
    parser.add_argument("--only", action="append", choices=CATEGORIES, help="run only these categories")
    parser.add_argument("--workdir", type=Path, help="scratch folder (default: a new temporary one)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder")
    parser.add_argument("--jobs", type=int, default=2, help="CLI probes run at once beside the server ones")
    args = parser.parse_args(argv)
    t0 = time.monotonic()
    root = args.workdir or Path(tempfile.mkdtemp(prefix="logbert-probes-"))
    ws = Workspace(root)
    chosen = [p for p in all_probes() if not args.only or p.category in args.only]
    slots: list[dict[str, Any] | None] = [None] * len(chosen)

    def run_one(i: int) -> None:
        slots[i] = record = run_probe(ws, chosen[i])
        print(f"{time.monotonic() - t0:6.1f}s {record['outcome']:>13}  {record['category']}: {record['name']}",
              file=sys.stderr, flush=True)  # fmt: skip

    try:
        if any(p.category != DATA_LOSS for p in chosen):
            _ = ws.artifact  # trained once, before the probes share it
        # the probes that share the workspace's servers run one after the other; the others (their own
        # subprocesses only) beside them, --jobs at a time
        with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            side = [pool.submit(run_one, i) for i, p in enumerate(chosen) if p.parallel]
            for i, p in enumerate(chosen):
                if not p.parallel:
                    run_one(i)
            for future in side:
                future.result()
    finally:
        ws.close()
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    records = [r for r in slots if r is not None]
    faults_status = "not asked (--only)"
    if not args.only or DATA_LOSS in args.only:
        faults_status, fault_records = run_faults()
        records += fault_records
        print(f"{time.monotonic() - t0:6.1f}s data_loss: {faults_status}", file=sys.stderr, flush=True)
    seconds = time.monotonic() - t0
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "probes.md").write_text(report(records, faults_status, argv, seconds))
    summary = {
        "command": " ".join([".venv/bin/python -m benchmarks.probes", *(argv if argv is not None else sys.argv[1:])]),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "seconds": round(seconds, 1),
        "data_loss": faults_status,
        "counts": {
            c: dict(Counter(r["outcome"] for r in records if r["category"] == c)) for c in CATEGORIES
        },
        "probes": records,
    }
    (args.out / "probes.json").write_text(json.dumps(summary, indent=1) + "\n")
    print(f"wrote {args.out / 'probes.md'} and probes.json in {seconds:.0f} s", file=sys.stderr)
    return 0
