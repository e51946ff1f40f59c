"""Parsing benchmark: grouping accuracy (GA, FGA) and end-to-end throughput.

One command, from the repository root::

    .venv/bin/python -m benchmarks.parsing            # writes benchmarks/results/parsing.{json,md}
    .venv/bin/python -m benchmarks.parsing --repeats 3 --out /tmp/parsing   # elsewhere

Accuracy, on the loghub 2k ground truth in ../shared/datasets (BGL and Thunderbird also with the
corrected loghub-2.0 labels), for three parsers:
  * ``logbert``: ``LogParser(ParserConfig(format=...))``, i.e. the built-in defaults a user gets;
    a line's group is its key from ``fit_transform``.
  * ``drain3-default``: ``drain3.TemplateMiner`` with ``TemplateMinerConfig()`` defaults
    (sim_th 0.4, depth 4, no masking); a line's group is the cluster it was added to.
  * ``drain3-loghub``: drain3 with the loghub benchmark's Drain settings (regex preprocessing to
    ``<*>``, per-dataset sim_th and depth from loghub's ``Drain_benchmark.py``).
GA = share of lines whose predicted group is exactly their true group; FGA = F1 of the groups
(a predicted group is correct when it equals a true group), as in loghub-2.0.

Throughput, end to end (read the file, split the header, mask, get a key for every line), each
parser in its own subprocess, all in the same run, interleaved, best of ``--repeats`` (default 3)
per parser. Peak RSS is the subprocess's high-water mark ``VmHWM`` (``/proc/self/status``) at
its end, so it counts the interpreter and the parser's imports; ``import baseline`` is the same
after the imports, before the file is read; worker processes (``logbert`` with idle cores) are
reported apart, by their largest ``ru_maxrss``. Not ``ru_maxrss`` of the subprocess itself: on
Linux it also counts the pages of the benchmark's own process, which the subprocess shares
between its fork and its exec (every parser read about 43 MiB that way).
  * ``logbert``: ``logbert.pipeline.parse.parse`` (what ``logbert parse`` and ``logbert.api.parse``
    do, without ``logbert.api``'s import of torch) with the format's defaults: the file is read in
    blocks, only each line's key is kept; after 50k lines masking moves to worker processes when
    cores are idle (``n_jobs=0``: ``auto_workers``, by the load average).
  * ``logbert-1proc``: the same with ``n_jobs=1``: one process, like the other parsers.
  * ``drain3+masking``: what a drain3 user writes, with no logbert code per line: read the file
    line by line, split the header with one regex (the same pattern as logbert's), mask with
    drain3's own ``MaskingInstruction``s (the regexes of LogLead's ``drain3.ini``: ID, IP, SEQ,
    HEX, NUM, CMD), ``TemplateMiner.add_log_message``.
  * ``loglead-drain`` (the ``bench`` extra; a ``PYTHONPATH`` given to the benchmark reaches the
    subprocesses): LogLead's path: polars reads the file and splits the header (regex),
    ``EventLogEnhancer.mask()`` (polars regexes), ``EventLogEnhancer.parse_drain()`` (drain3).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import re
import shlex
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
DATASETS = (REPO / ".." / "shared" / "datasets").resolve()
RESULTS = REPO / "benchmarks" / "results"

# (name, format, log file, structured ground truth)
ACCURACY_SETS: list[tuple[str, str, str, str]] = [
    ("OpenStack_2k", "openstack", "openstack/loghub_2k/OpenStack_2k.log",
     "openstack/loghub_2k/OpenStack_2k.log_structured.csv"),
    ("HDFS_2k", "hdfs", "hdfs/loghub_2k/HDFS_2k.log", "hdfs/loghub_2k/HDFS_2k.log_structured.csv"),
    ("BGL_2k (loghub-2.0 corrected)", "bgl", "bgl/loghub_2k/BGL_2k.log",
     "bgl/loghub2_2k_corrected/BGL_2k.log_structured_corrected.csv"),
    ("BGL_2k (loghub original)", "bgl", "bgl/loghub_2k/BGL_2k.log", "bgl/loghub_2k/BGL_2k.log_structured.csv"),
    ("Thunderbird_2k (loghub-2.0 corrected)", "thunderbird", "thunderbird/loghub_2k/Thunderbird_2k.log",
     "thunderbird/loghub2_2k_corrected/Thunderbird_2k.log_structured_corrected.csv"),
    ("Thunderbird_2k (loghub original)", "thunderbird", "thunderbird/loghub_2k/Thunderbird_2k.log",
     "thunderbird/loghub_2k/Thunderbird_2k.log_structured.csv"),
]

# loghub benchmark/Drain_benchmark.py settings: preprocessing regexes, sim_th (st), depth.
LOGHUB_DRAIN: dict[str, tuple[list[str], float, int]] = {
    "hdfs": ([r"blk_-?\d+", r"(\d+\.){3}\d+(:\d+)?"], 0.5, 4),
    "bgl": ([r"core\.\d+"], 0.5, 4),
    "thunderbird": ([r"(\d+\.){3}\d+"], 0.5, 4),
    "openstack": ([r"((\d+\.){3}\d+,?)+", r"/.+?\s", r"\d+"], 0.5, 5),
}

# drain3's masking as shipped in LogLead's drain3.ini (the drain3 README example set).
DRAIN3_MASKING: list[tuple[str, str]] = [
    (r"((?<=[^A-Za-z0-9])|^)(([0-9a-f]{2,}:){3,}([0-9a-f]{2,}))((?=[^A-Za-z0-9])|$)", "ID"),
    (r"((?<=[^A-Za-z0-9])|^)(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})((?=[^A-Za-z0-9])|$)", "IP"),
    (r"((?<=[^A-Za-z0-9])|^)([0-9a-f]{6,} ?){3,}((?=[^A-Za-z0-9])|$)", "SEQ"),
    (r"((?<=[^A-Za-z0-9])|^)([0-9A-F]{4} ?){4,}((?=[^A-Za-z0-9])|$)", "SEQ"),
    (r"((?<=[^A-Za-z0-9])|^)(0x[a-f0-9A-F]+)((?=[^A-Za-z0-9])|$)", "HEX"),
    (r"((?<=[^A-Za-z0-9])|^)([\-\+]?\d+)((?=[^A-Za-z0-9])|$)", "NUM"),
    (r"(?<=executed cmd )(\".+?\")", "CMD"),
]

# (name, format, file) for throughput
THROUGHPUT_SETS: list[tuple[str, str, str]] = [
    ("HDFS_2pct.log", "hdfs", "hdfs/loglead_2pct/HDFS_2pct.log"),
    ("openstack_normal1 (DeepLog)", "openstack", "openstack/deeplog_openstack/openstack_normal1.instance_lines.log"),
    ("openstack-nova-sample (DevStack)", "openstack_devstack", "openstack/kalaki_devstack/openstack-nova-sample.log"),
]
THROUGHPUT_PARSERS = ("logbert", "logbert-1proc", "drain3+masking", "loglead-drain")


# ---------------------------------------------------------------- accuracy
def grouping_accuracy(pred: Sequence[Any], truth: Sequence[str]) -> tuple[float, float]:
    """(GA, FGA) of predicted groups against true groups."""
    pred_groups: dict[Any, set[int]] = defaultdict(set)
    true_groups: dict[str, set[int]] = defaultdict(set)
    for i, (p, t) in enumerate(zip(pred, truth, strict=True)):
        pred_groups[p].add(i)
        true_groups[t].add(i)
    correct_lines = correct_groups = 0
    for members in pred_groups.values():
        t = truth[next(iter(members))]
        if true_groups[t] == members:
            correct_lines += len(members)
            correct_groups += 1
    precision = correct_groups / len(pred_groups)
    recall = correct_groups / len(true_groups)
    fga = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return correct_lines / len(truth), fga


def _drain3(sim_th: float, depth: int, masking: list[tuple[str, str]] | None = None) -> Any:
    from drain3 import TemplateMiner
    from drain3.masking import MaskingInstruction
    from drain3.template_miner_config import TemplateMinerConfig

    tmc = TemplateMinerConfig()  # explicit: never reads drain3.ini from the working directory
    tmc.drain_sim_th = sim_th
    tmc.drain_depth = depth
    tmc.masking_instructions = [MaskingInstruction(p, n) for p, n in (masking or [])]
    return TemplateMiner(config=tmc)


def accuracy() -> list[dict[str, Any]]:
    from logbert.config import ParserConfig
    from logbert.parsing.parser import LogParser
    from logbert.parsing.reader import read_log

    rows = []
    for name, fmt, log_rel, truth_rel in ACCURACY_SETS:
        with (DATASETS / truth_rel).open(encoding="utf-8") as fh:
            structured = list(csv.DictReader(fh))
        truth = [r["EventId"] for r in structured]
        lines, _ = read_log(DATASETS / log_rel, ParserConfig(format=fmt))  # type: ignore[arg-type]
        contents = [line.content for line in lines]
        mismatch = sum(c.strip() != r["Content"].strip() for c, r in zip(contents, structured, strict=True))
        ours = LogParser(ParserConfig(format=fmt)).fit_transform(contents)  # type: ignore[arg-type]
        default_tm = _drain3(0.4, 4)
        default = [default_tm.add_log_message(c)["cluster_id"] for c in contents]
        regexes, sim_th, depth = LOGHUB_DRAIN[fmt]
        compiled = [re.compile(r) for r in regexes]
        bench_tm = _drain3(sim_th, depth)
        bench = []
        for c in contents:
            for rx in compiled:
                c = rx.sub("<*>", c)
            bench.append(bench_tm.add_log_message(c)["cluster_id"])
        row: dict[str, Any] = {"dataset": name, "n_lines": len(truth), "true_groups": len(set(truth)),
                               "content_mismatches": mismatch}
        for parser, pred in (("logbert", ours), ("drain3-default", default), ("drain3-loghub", bench)):
            ga, fga = grouping_accuracy(pred, truth)
            row[parser] = {"GA": round(ga, 4), "FGA": round(fga, 4), "groups": len(set(pred))}
        rows.append(row)
        print(f"{name:40s} " + "  ".join(f"{p}: GA {row[p]['GA']:.3f} FGA {row[p]['FGA']:.3f}"
                                          for p in ("logbert", "drain3-default", "drain3-loghub")), flush=True)
    return rows


# -------------------------------------------------------------- throughput
def _worker(parser: str, fmt: str, path: str) -> dict[str, Any]:
    """Runs inside a fresh subprocess: parse one file end to end, report the time and the RSS
    after the imports (the parent reads the peak RSS when this process ends)."""
    if parser in ("logbert", "logbert-1proc"):
        from logbert.config import LogBertConfig, ParserConfig
        from logbert.pipeline.parse import parse

        baseline = _peak_mib()
        t0 = time.perf_counter()  # imports are not timed, for any parser
        # logbert-1proc: masking in this process only (n_jobs=1), like the other parsers
        n_jobs = 1 if parser == "logbert-1proc" else 0
        summary = parse(path, LogBertConfig(parser=ParserConfig(format=fmt, n_jobs=n_jobs)))  # type: ignore[arg-type]
        n, n_templates = len(summary.key_ids), len(summary.templates)
    elif parser == "drain3+masking":
        import drain3  # noqa: F401  # imported before the baseline, like the other parsers' imports

        from logbert.parsing.headers import BUILTIN_FORMATS, compile_format

        baseline = _peak_mib()
        t0 = time.perf_counter()
        # What a drain3 user writes: read the file line by line, split the header with a regex (the
        # same pattern as logbert's, so both pay the same for it), mask with drain3's own
        # MaskingInstructions, add to the miner. No logbert code runs per line.
        header = re.compile(compile_format(BUILTIN_FORMATS[fmt])[0].pattern)  # type: ignore[index]
        tm = _drain3(0.4, 4, DRAIN3_MASKING)
        keys = []
        with open(path, encoding="utf-8", errors="replace") as fh:
            for raw in fh:
                m = header.match(raw.rstrip("\r\n"))
                if m is not None:
                    keys.append(tm.add_log_message(m.group("Content"))["cluster_id"])
        n, n_templates = len(keys), len(tm.drain.clusters)
    elif parser == "loglead-drain":
        import polars as pl
        from loglead.enhancers import EventLogEnhancer

        from logbert.parsing.headers import BUILTIN_FORMATS, compile_format

        baseline = _peak_mib()
        t0 = time.perf_counter()
        regex, _ = compile_format(BUILTIN_FORMATS[fmt])  # type: ignore[index]
        pattern = regex.pattern.replace("(?P<", "(?<")  # Rust regex named-group syntax
        df = pl.read_csv(path, has_header=False, separator="\x1f", quote_char=None, new_columns=["raw"],
                         infer_schema_length=0, truncate_ragged_lines=True)
        df = df.select(pl.col("raw").str.extract(pattern, group_index=regex.groupindex["Content"]).alias("m_message"))
        df = df.filter(pl.col("m_message").is_not_null())
        enhancer = EventLogEnhancer(df)
        enhancer.mask()
        df = enhancer.parse_drain()
        n, n_templates = df.height, df["e_event_drain_id"].n_unique()
    else:
        raise ValueError(f"unknown parser {parser!r}")
    seconds = time.perf_counter() - t0
    import resource

    workers = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # pool processes, if any
    return {"lines": n, "seconds": round(seconds, 3), "lines_per_s": round(n / seconds),
            "peak_rss_mib": round(_peak_mib(), 1), "baseline_rss_mib": round(baseline, 1),
            "worker_peak_rss_mib": round(workers, 1) if workers else None, "templates": n_templates,
            "torch_imported": "torch" in sys.modules}


def _peak_mib() -> float:
    """This process's peak RSS so far in MiB: ``VmHWM``, the high-water mark of its own memory
    since it started this program (Linux); elsewhere ``ru_maxrss``."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _run_worker(parser: str, fmt: str, path: Path, tmp: Path) -> dict[str, Any]:
    pythonpath = [str(REPO / "src"), str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(pythonpath)}
    # cwd in a scratch dir: LogLead's parsers module opens drain3 state files in the cwd
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.parsing.run", "--worker", parser, fmt, str(path)],
        capture_output=True, text=True, env=env, cwd=tmp, check=False,
    )
    if out.returncode != 0:
        return {"error": out.stderr.strip().splitlines()[-1] if out.stderr.strip() else f"rc {out.returncode}"}
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def throughput(repeats: int, tmp: Path) -> list[dict[str, Any]]:
    rows = []
    for name, fmt, rel in THROUGHPUT_SETS:
        path = DATASETS / rel
        runs: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for _ in range(repeats):  # interleaved, so that load on the shared machine hits all alike
            for parser in THROUGHPUT_PARSERS:
                runs[parser].append(_run_worker(parser, fmt, path, tmp))
        row: dict[str, Any] = {"file": name, "format": fmt}
        for parser, results in runs.items():
            ok = [r for r in results if "error" not in r]
            row[parser] = min(ok, key=lambda r: r["seconds"]) if ok else results[0]
        base = row["logbert"].get("lines_per_s")
        for parser in THROUGHPUT_PARSERS[2:]:
            other = row[parser].get("lines_per_s")
            row[f"speedup_vs_{parser}"] = round(base / other, 2) if base and other else None
        one, d3 = row["logbert-1proc"].get("lines_per_s"), row["drain3+masking"].get("lines_per_s")
        row["speedup_1proc_vs_drain3+masking"] = round(one / d3, 2) if one and d3 else None
        rows.append(row)
        print(f"{name:34s} " + "  ".join(f"{p}: {row[p].get('lines_per_s')} l/s {row[p].get('peak_rss_mib')} MiB"
                                          for p in THROUGHPUT_PARSERS), flush=True)
    return rows


# ------------------------------------------------------------------ report
def _markdown(result: dict[str, Any]) -> str:
    out = [f"Machine: {result['machine']}. Command: `{result['command']}`.", "",
           "| dataset | lines | true groups | logbert GA | FGA | drain3 default GA | FGA "
           "| drain3 loghub settings GA | FGA |",
           "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in result["accuracy"]:
        out.append(f"| {r['dataset']} | {r['n_lines']} | {r['true_groups']} | **{r['logbert']['GA']:.3f}** | "
                   f"{r['logbert']['FGA']:.3f} | {r['drain3-default']['GA']:.3f} | {r['drain3-default']['FGA']:.3f} | "
                   f"{r['drain3-loghub']['GA']:.3f} | {r['drain3-loghub']['FGA']:.3f} |")
    out += ["", "| file | parser | lines/s | seconds | peak RSS MiB | import baseline MiB | worker peak MiB "
            "| templates |", "|---|---|---:|---:|---:|---:|---:|---:|"]
    for r in result["throughput"]:
        for p in THROUGHPUT_PARSERS:
            x = r[p]
            if "error" in x:
                out.append(f"| {r['file']} | {p} | error: {x['error']} | | | | | |")
            else:
                workers = x.get("worker_peak_rss_mib") or ""
                out.append(f"| {r['file']} | {p} | {x['lines_per_s']:,} | {x['seconds']} | {x['peak_rss_mib']} | "
                           f"{x.get('baseline_rss_mib', '')} | {workers} | {x['templates']} |")
        one_proc = r.get("speedup_1proc_vs_drain3+masking")
        one_proc = f", logbert-1proc vs drain3+masking **{one_proc}x**" if one_proc else ""
        loglead = r.get("speedup_vs_loglead-drain")
        loglead = f"**{loglead}x**" if loglead else "n/a (LogLead did not run)"
        out.append(f"| {r['file']} | **logbert speed-up** | vs drain3+masking "
                   f"**{r['speedup_vs_drain3+masking']}x**, vs LogLead {loglead}"
                   f"{one_proc} | | | | | |")
    out += ["", "Peak RSS: `VmHWM` of each parser's subprocess at its end (the interpreter and its imports "
            "count); import baseline: the same after the imports, before the file is read; worker peak: the largest "
            "worker process, if the parser started any (`ru_maxrss`, pages shared with the parent included). "
            f"An idle interpreter: {result.get('idle_rss_mib')} MiB."]
    return "\n".join(out) + "\n"


def _idle_rss_mib() -> float:
    """Peak RSS of an interpreter that imports nothing but this module's standard library
    imports, measured like the parsers'."""
    code = "from benchmarks.parsing.run import _peak_mib; print(_peak_mib())"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    return round(float(out.stdout.strip()), 1)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--worker"]:
        print(json.dumps(_worker(*argv[1:4])))
        return 0
    cli = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    cli.add_argument("--repeats", type=int, default=3, help="throughput runs per parser (best counts)")
    cli.add_argument("--out", type=Path, default=RESULTS, help="folder for parsing.{json,md}")
    args = cli.parse_args(argv)  # --help prints this and exits before anything runs or is written
    if not DATASETS.exists():
        print(f"datasets not found at {DATASETS}", file=sys.stderr)
        return 1
    repeats = args.repeats
    with tempfile.TemporaryDirectory() as tmp:
        result = {
            "command": shlex.join([".venv/bin/python", "-m", "benchmarks.parsing", *argv]),
            "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
                       f"Python {platform.python_version()}, {platform.system()}",
            "accuracy": accuracy(),
            "throughput": throughput(repeats, Path(tmp)),
            "idle_rss_mib": _idle_rss_mib(),
        }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "parsing.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    (args.out / "parsing.md").write_text(_markdown(result), encoding="utf-8")
    print(_markdown(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
