"""Is the OpenStack Drain depth (14) right on data that is not the GA test set (OpenStack_2k)?

    .venv/bin/python -m benchmarks.parsing.depth_check     # ~1 min, prints a markdown table

For each depth, on the DeepLog OpenStack logs and the DevStack nova log: the number of templates,
how many pairs of known-distinct events (phrases below, e.g. "VM Started" vs "VM Paused") share a
key ("merges"), and how many templates have a wildcard where Drain generalised plain words (not
masked values), i.e. where two event words or states were merged.
"""

from __future__ import annotations

import re
import sys
from collections import defaultdict
from itertools import combinations

from benchmarks.parsing.run import DATASETS

from logbert.config import ParserConfig
from logbert.parsing.parser import LogParser
from logbert.parsing.reader import read_log

FILES = [
    ("openstack", "openstack/deeplog_openstack/openstack_normal1.instance_lines.log"),
    ("openstack", "openstack/deeplog_openstack/openstack_abnormal.instance_lines.log"),
    ("openstack_devstack", "openstack/kalaki_devstack/openstack-nova-sample.log"),
]
DEPTHS = (4, 5, 6, 8, 10, 12, 14, 16, 20)
# Phrases that each name one event; no line holds two of them.
EVENTS = [
    *(f"VM {s} (Lifecycle Event)" for s in ("Started", "Paused", "Resumed", "Stopped")),
    "Instance spawned successfully", "Instance destroyed successfully",
    "seconds to spawn the instance", "seconds to destroy the instance", "seconds to build instance",
    "seconds to deallocate network", "Total memory:", "Total disk:", "Total vcpu:", "disk limit", "vcpu limit",
    "Claim successful", "Terminating instance", "pending task (spawning)", "pending task (deleting)",
    "Deleting instance files", "Successfully plugged vif", "Successfully unplugged vif",
]
_WORD = re.compile(r"^[A-Za-z][A-Za-z_()\-:.,']*$")


def check(fmt: str, contents: list[str], depth: int) -> tuple[int, list[tuple[str, str]], list[str]]:
    parser = LogParser(ParserConfig(format=fmt, drain_depth=depth))  # type: ignore[arg-type]
    keys = parser.fit_transform(contents)
    keys_of: dict[str, set[int]] = defaultdict(set)
    generalised: dict[int, dict[int, set[str]]] = defaultdict(lambda: defaultdict(set))
    for content, key in zip(contents, keys, strict=True):
        for event in EVENTS:
            if event in content:
                keys_of[event].add(key)
        template = parser.templates_[key].split()
        tokens = parser.mask(content).split()
        if len(template) == len(tokens):
            for i, (t, tok) in enumerate(zip(template, tokens, strict=True)):
                if t == "<*>" and tok != "<*>":
                    generalised[key][i].add(tok)
    merges = [(a, b) for a, b in combinations(keys_of, 2) if keys_of[a] & keys_of[b]]
    word_wildcards = [
        parser.templates_[k] for k, positions in generalised.items()
        if any(len(v) > 1 and all(_WORD.match(x) for x in v) for v in positions.values())
    ]
    return len(parser.templates_), merges, word_wildcards


def main() -> int:
    print("| file | depth | templates | merged event pairs | word wildcards |\n|---|---:|---:|---:|---:|")
    notes = []
    for fmt, rel in FILES:
        lines, _ = read_log(DATASETS / rel, ParserConfig(format=fmt))  # type: ignore[arg-type]
        contents = [line.content for line in lines]
        for depth in DEPTHS:
            n, merges, words = check(fmt, contents, depth)
            print(f"| {rel.rsplit('/', 1)[-1]} | {depth} | {n} | {len(merges)} | {len(words)} |", flush=True)
            if depth in (12, 14):
                notes += [f"{rel.rsplit('/', 1)[-1]} depth {depth}: merged {a!r} + {b!r}" for a, b in merges]
                notes += [f"{rel.rsplit('/', 1)[-1]} depth {depth}: word wildcard in {t[:100]!r}" for t in words]
    print("\n" + "\n".join(notes))
    return 0


if __name__ == "__main__":
    sys.exit(main())
