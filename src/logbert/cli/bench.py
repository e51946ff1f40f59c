"""``logbert bench``: every detector on every dataset, one table (thin wrapper over :mod:`logbert.bench`)."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import typer

from logbert.cli._common import SetOption, console, echo_step, err_console, library_errors, parse_overrides
from logbert.cli.markup import shown


def bench(
    out: Path = typer.Option(Path("benchmarks/results/bench"), help="folder for results.{json,md} and the plots"),
    datasets_dir: Path = typer.Option(Path("../shared/datasets"), help="root of the real datasets"),
    dataset: list[str] = typer.Option([], help="built-in dataset to run (repeatable; default: all)"),
    data: list[str] = typer.Option(
        [], help="user data 'FILE[,labels=F][,abnormal=F][,preset=P][,name=N]' (repeatable)"
    ),
    detector: list[str] = typer.Option([], help="detector to run (repeatable; default: all)"),
    quick: bool = typer.Option(
        False, help="smoke run: 1 seed, 2 epochs (no minimum of steps), at most 600/150 sessions per dataset"
    ),
    seeds: int | None = typer.Option(None, min=1, help="number of seeds (0..N-1)"),
    epochs: int | None = typer.Option(None, min=1, help="LogBERT epochs"),
    threads: int = typer.Option(0, min=0, help="torch threads (0 = automatic: usable cores - 1, 1 to 4)"),
    builtin: bool = typer.Option(True, "--builtin/--no-builtin", help="run the built-in datasets (with --data)"),
    sets: list[str] | None = SetOption,
) -> None:
    """Run LogBERT and the baselines on the same splits; write a Markdown table, JSON and plots."""
    from logbert import bench as b

    with library_errors():
        changes: dict[str, object] = {"num_threads": threads}
        if seeds is not None:
            changes["seeds"] = tuple(range(seeds))
        if epochs is not None:
            changes["epochs"] = epochs
        if detector:
            changes["detectors"] = tuple(detector)
        if sets:  # LogBERT settings over every dataset's preset, e.g. --set scoring.calibration=split (one training)
            changes["overrides"] = parse_overrides(sets)
        cfg = b.quick_config(**changes) if quick else b.BenchConfig(**changes)  # type: ignore[arg-type]
        specs = list(b.builtin_datasets(datasets_dir).values()) if builtin else []
        if dataset:
            specs = [s for s in specs if s.name in dataset]
        builtin_names = {s.name for s in specs}  # the datasets read from datasets_dir (--data files are not)
        specs += [b.parse_dataset_spec(text) for text in data]
        if not specs:
            raise typer.BadParameter("no dataset selected", param_hint="--dataset / --data")
        prog = "logbert" if Path(sys.argv[0]).name == "logbert" else "python -m benchmarks.bench"
        command = " ".join([prog, *(shlex.quote(a) for a in sys.argv[1:])])

        def partial(r: b.BenchResult) -> None:  # results so far, so that a long run can be read as it goes
            b.write_results(r, out, command, plots=False)

        result = b.run_benchmark(cfg, specs, say=echo_step, on_dataset=partial)
        paths = b.write_results(result, out, command)
    table_path, data_path = shown(str(paths["markdown"])), shown(str(paths["json"]))
    console.print(f"took {result.seconds / 60:.1f} min; table: {table_path}; data: {data_path}")
    failed = [d for d in result.datasets if d.error is not None]
    for d in failed:
        err_console.print(f"[bold yellow]skipped {shown(d.spec.name)}:[/] {shown(d.error or '')}")
    if failed and len(failed) == len(result.datasets):
        # the folder only where a built-in dataset failed: a --data run never reads it
        folder = f" (datasets folder: {datasets_dir})" if any(d.spec.name in builtin_names for d in failed) else ""
        err_console.print(f"[bold red]error:[/] no dataset could be run{shown(folder)}")
        raise typer.Exit(code=1)


def register(app: typer.Typer) -> None:
    app.command()(bench)
