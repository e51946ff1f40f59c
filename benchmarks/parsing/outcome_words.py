"""What ``parser.outcome_words`` changes: templates and grouping accuracy with the rule and without it.

    .venv/bin/python -m benchmarks.parsing.outcome_words   # ~2 min -> benchmarks/results/parsing_outcome_words.md

For each log of ``../shared/datasets`` (the loghub 2k sets with their ground truth, HDFS 2 % and both OpenStack
logs), with the format's own masks and with the generic ones (``raw``: what a custom layout gets): the number of
templates with ``parser.outcome_words = []`` (Drain's rule alone) and with the built-in list, whether every line
keeps its group, grouping accuracy (GA / FGA) where there is ground truth, and the templates the rule adds.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

from benchmarks._report import header
from benchmarks.parsing.run import ACCURACY_SETS, DATASETS, THROUGHPUT_SETS, grouping_accuracy

from logbert.config import ParserConfig
from logbert.parsing.parser import LogParser
from logbert.parsing.reader import read_log

ROOT = Path(__file__).resolve().parents[2]


def _fit(contents: list[str], masks_of: str, outcome_words: tuple[str, ...] | None) -> tuple[list[int], list[str]]:
    """Each line's key and the templates."""
    parser = LogParser(ParserConfig(format=masks_of, outcome_words=outcome_words))  # type: ignore[arg-type]
    return parser.fit_transform(contents), parser.templates_


def main(argv: list[str] | None = None) -> int:
    cli = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    cli.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "parsing_outcome_words.md")
    args = cli.parse_args(argv)
    if not DATASETS.is_dir():
        print(f"skipped: {DATASETS} is absent (the shared datasets)", file=sys.stderr)
        return 0
    sets = [*ACCURACY_SETS, *((name, fmt, rel, None) for name, fmt, rel in THROUGHPUT_SETS)]
    rows = [
        "| log | masks | templates without / with | every line keeps its group | GA / FGA without | GA / FGA with "
        "| templates the rule adds |",
        "|---|---|---:|---|---:|---:|---|",
    ]
    for name, fmt, log_rel, truth_rel in sets:
        lines, _ = read_log(DATASETS / log_rel, ParserConfig(format=fmt))  # type: ignore[arg-type]
        contents = [line.content for line in lines]
        truth = None
        if truth_rel is not None:
            with (DATASETS / truth_rel).open(newline="", encoding="utf-8") as fh:
                truth = [row["EventId"] for row in csv.DictReader(fh)]
        for masks_of in (fmt, "raw"):
            (a, off), (b, on) = _fit(contents, masks_of, ()), _fit(contents, masks_of, None)
            same = len(set(zip(a, b, strict=True))) == len(set(a)) == len(set(b))
            ga = ["", ""]
            if truth is not None:
                ga = ["{:.3f} / {:.3f}".format(*grouping_accuracy(keys, truth)) for keys in (a, b)]
            added = sorted(set(on) - set(off))
            shown = "; ".join(f"`{t[:60]}`" for t in added[:4])
            shown += f" and {len(added) - 4} more" if len(added) > 4 else ""
            kept = "yes" if same else "no"
            rows.append(
                f"| {name} | {masks_of} | {len(set(a))} / {len(set(b))} | {kept} | {ga[0]} | {ga[1]} | {shown} |"
            )
            print(rows[-1], flush=True)
    text = [
        *header("Outcome words in template mining", "benchmarks.parsing.outcome_words", argv, "one process"),
        "",
        *rows,
    ]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(text) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
