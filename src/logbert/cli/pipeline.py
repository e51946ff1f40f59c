"""``logbert demo | train | evaluate | score | parse``: thin wrappers over :mod:`logbert.api`."""

from __future__ import annotations

import dataclasses
import json
import shlex
import shutil
import sys
import tempfile
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import get_args

import typer

from logbert.cli._common import (
    ConfigOption,
    InputOption,
    PresetOption,
    SetOption,
    TargetFprOption,
    build_config,
    console,
    echo_step,
    err_console,
    input_kind,
    library_errors,
    output_file,
    working,
)
from logbert.cli.markup import shown
from logbert.config import BaselineName
from logbert.errors import InputDataError
from logbert.files import EMPTY_STDIN, input_file, require_text
from logbert.records import ReadReport
from logbert.results import SessionResult

#: rows of `score --format table` printed on a terminal (a file given with --out gets every row)
TABLE_ROWS_SHOWN = 50


def demo(
    out: Path = typer.Option(Path("logbert-demo"), help="folder for the simulated log, artifact and report"),
    instances: int = typer.Option(400, min=20, help="VM lifecycles to simulate"),
    anomaly_ratio: float = typer.Option(0.15, min=0.0, max=0.9, help="share of VMs with an injected fault"),
    seed: int = typer.Option(0, help="simulator seed"),
    epochs: int | None = typer.Option(None, min=1, help="training epochs (default: the demo config's)"),
) -> None:
    """Simulate OpenStack nova logs with injected faults, train LogBERT, evaluate it against baselines."""
    from logbert import api  # imported here: `logbert --help` must not wait for torch
    from logbert.cli.tables import results_table

    with library_errors():
        cfg = api.demo_config()
        if epochs is not None:
            cfg = cfg.with_overrides({"train.epochs": epochs})
        result = api.demo(
            out, n_instances=instances, anomaly_ratio=anomaly_ratio, seed=seed, config=cfg, on_step=echo_step
        )
    console.print(results_table(result.evaluation))
    for warning in result.train.warnings:
        console.print(f"[bold yellow]warning:[/] {shown(warning)}")
    console.print(f"simulated log : {shown(str(result.log_path))}")
    console.print(f"artifact      : {shown(str(result.artifact_dir))}")
    console.print(f"report        : {shown(str(result.report_path))}")
    console.print(f"took {result.seconds:.0f} s")


def train(
    data: Path = typer.Argument(..., help="raw log or key-sequence file"),
    out: Path = typer.Option(..., "--out", "-o", help="artifact directory to write"),
    labels: Path | None = typer.Option(None, help="labels file; anomalous sessions are kept out of training"),
    config: Path | None = ConfigOption,
    preset: str | None = PresetOption,
    sets: list[str] | None = SetOption,
    resume: bool = typer.Option(False, help="continue an interrupted run from OUT/checkpoint"),
    force: bool = typer.Option(False, "--force", help="replace a trained artifact already in OUT"),
    input_: str = InputOption,
) -> None:
    """Train LogBERT on the normal sessions of DATA and save an artifact."""
    from logbert import api

    with library_errors():
        cfg = build_config(config, preset, sets)
        try:
            result = api.train(
                data, out, cfg, labels=labels, resume=resume, overwrite=force, kind=input_kind(input_),
                on_step=echo_step,
            )
        except KeyboardInterrupt:  # Ctrl-C: exit 130, as the shell's, with what is left to go on from
            # the command as given, its settings included (a note of the paths alone trained with the defaults)
            given = [("--labels", labels), ("--config", config), ("--preset", preset), ("--input", input_)]
            words = ["logbert", "train", str(data), "-o", str(out)]
            words += [w for flag, value in given if value is not None and value != "auto" for w in (flag, str(value))]
            words += [w for s in sets or [] for w in ("--set", s)]
            note = api.interrupted_note(data, out, shlex.join(words))
            err_console.print(f"[bold yellow]interrupted:[/] {shown(note)}")
            raise typer.Exit(code=130) from None
    units = cfg.window.unit_noun  # what was split
    # cross-fit: the final model trains on every one, and each is scored out of fold for the threshold (the same
    # sessions twice, which "validated on" as many as it trained on read as)
    checked = (
        "each also scored out of fold for the threshold" if result.calibration == "cross_fit"
        else f"validated on {result.n_val_sessions}"
    )
    console.print(
        f"trained on {result.n_train_sessions} {units} ({result.n_train_windows} model inputs; {cfg.window.rule()}), "
        f"{checked}, {result.n_test_sessions} held back for evaluation; "
        f"{result.n_templates} templates, {result.epochs_run} epochs in {result.train_seconds:.1f} s"
    )
    rep = result.read_report
    console.print(
        f"lines: {rep.n_lines} read, {_parsed(rep)}, {rep.n_malformed} malformed, {rep.n_binary} binary, "
        f"{rep.n_truncated} truncated, {rep.n_without_session} without a session id"
    )
    console.print(f"threshold {result.threshold:.4f}: {shown(result.threshold_basis)}")
    console.print(f"artifact: {shown(str(result.artifact_dir))}")
    for warning in result.warnings:
        console.print(f"[bold yellow]warning:[/] {shown(warning)}")
    for note in result.notes:
        console.print(f"[cyan]note:[/] {shown(note)}")


def evaluate(
    artifact: Path = typer.Argument(..., help="artifact directory from `logbert train`"),
    data: Path | None = typer.Argument(None, help="raw log or key file to evaluate on (with --labels)"),
    labels: Path | None = typer.Option(None, help="labels file for DATA"),
    normal: Path | None = typer.Option(None, help="key or log file whose sessions are all normal"),
    abnormal: Path | None = typer.Option(None, help="key or log file whose sessions are all anomalous"),
    report: Path | None = typer.Option(None, help="where to write the JSON report (default: ARTIFACT/report.json)"),
    baseline: list[str] = typer.Option(
        ["new_event"],
        help=f"baselines to run alongside (repeatable, or comma-separated): {', '.join(get_args(BaselineName))}",
    ),
    input_: str = InputOption,
    training: Path | None = typer.Option(
        None, help="the log ARTIFACT was trained on: baselines are fitted on its training sessions when DATA is "
        "another file"
    ),
) -> None:
    """Precision, recall, F1, AUROC, AUPRC at the stored threshold, on sessions not used in training."""
    from logbert import api
    from logbert.cli.tables import results_table
    from logbert.evaluation.report import write_json

    report_path = output_file(report, "--report", inputs=(data, labels, normal, abnormal, training)) or (
        artifact / "report.json"
    )
    with library_errors(), working(f"reading and scoring {data or ''}".rstrip()):
        result = api.evaluate(
            artifact,
            data,
            labels=labels,
            normal=normal,
            abnormal=abnormal,
            baselines=[name.strip() for names in baseline for name in names.split(",") if name.strip()],
            kind=input_kind(input_),
            training=training,
        )
    console.print(results_table(result))
    for name, rep in result.baselines.items():
        if "skipped" in rep:
            err_console.print(f"[bold yellow]baseline {shown(name)} not run:[/] {shown(str(rep['skipped']))}")
    rep = result.report
    units = str(rep.get("unit", "sessions"))
    unit = units[:-1]  # "session", "sliding window", "time window"
    console.print(f"{rep['n_normal']} normal and {rep['n_abnormal']} anomalous {units}")
    if rep.get("n_in_flight"):
        console.print(
            f"{_in_flight_summary(rep['n_in_flight'])}, predicted normal ({rep['n_in_flight_abnormal']} of them "
            f"labelled anomalous, {rep['n_in_flight_over_threshold']} over the threshold)"
        )
    if rep.get("n_excluded_training_sessions"):
        console.print(
            f"{rep['n_excluded_training_sessions']} {units} of the input were training or validation {units} of the "
            "artifact: left out"
        )
    if rep.get("n_same_id_new_sessions"):
        console.print(
            f"{rep['n_same_id_new_sessions']} {units} have the id of a training {unit} but are not it (they start "
            f"elsewhere): scored as new {units}"
        )
    # what the reader said of each input (a header that never matched, CR-only line ends, binary lines), and of
    # sessions shorter than the calibration ones: `score` says these too
    said = [w for read in rep.get("read_report", []) for w in read.get("warnings", [])]
    if rep.get("shorter_than_calibration"):
        said.append(rep["shorter_than_calibration"])
    if rep.get("one_class"):  # why the table's F1 (or FPR) reads n/a
        said.append(rep["one_class"])
    for warning in dict.fromkeys(said):  # each once, where two inputs say the same
        err_console.print(f"[bold yellow]warning:[/] {shown(str(warning))}")
    # written last: a read-only artifact folder failed here after the whole evaluation, and nothing was shown
    try:
        write_json(result.report, report_path)
    except OSError as exc:
        err_console.print(
            f"[bold red]error:[/] the report could not be written to {shown(str(report_path))}: "
            f"{shown(exc.strerror or str(exc))} (--report FILE writes it elsewhere; the results are above)"
        )
        raise typer.Exit(code=1) from None
    console.print(f"report: {shown(str(report_path))}")


ThresholdOption = typer.Option(None, "--threshold", help="decide with this threshold instead of the stored one")


def score(
    artifact: Path = typer.Argument(..., help="artifact directory"),
    data: str = typer.Argument(
        ...,
        help="raw log or key file, or - for standard input (read to its end first, into a temporary file as large as "
        "it; `logbert tail ARTIFACT -` scores a stream as it comes)",
    ),
    out: Path | None = typer.Option(None, "--out", "-o", help="write here instead of stdout"),
    only_anomalies: bool = typer.Option(False, help="print only sessions over the threshold"),
    threshold: float | None = ThresholdOption,
    target_fpr: float | None = TargetFprOption,
    explain: bool = typer.Option(
        False,
        "--explain",
        help="add the missed keys of each anomalous session (where none is missed: the keys given less than even odds)",
    ),
    output_format: str = typer.Option("jsonl", "--format", help="jsonl (one JSON object per session) or table"),
    input_: str = InputOption,
    device: str = typer.Option("cpu", "--device", help="where the model scores: cpu, cuda, cuda:N, mps or auto"),
) -> None:
    """Score every session of DATA (higher = more anomalous): JSON lines, or a table.

    It reads the whole log before it writes, so its memory grows with the log.
    For a very large file, `logbert tail ARTIFACT LOG --no-follow` alerts on it in bounded memory.
    """
    from logbert import api
    from logbert.cli.tables import explanations_table, scores_table
    from logbert.evaluation.report import table_to_text

    if output_format not in ("jsonl", "table"):
        raise typer.BadParameter("expected jsonl or table", param_hint="--format")
    out = output_file(out, "--out", inputs=(data,))
    with library_errors(), _input_file(data) as path:
        detector = api.load_detector(artifact, device=device)
        basis = detector.use_threshold(threshold, target_fpr)
        with working(f"reading and scoring {data}"):
            scored, read_report = api.score_with_report(detector, path, explain=explain, kind=input_kind(input_))
        results = [r for r in scored if r.is_anomaly or not only_anomalies]
    n_anomalous = sum(r.is_anomaly for r in scored)
    units = detector.config.window.unit_noun
    in_flight = f"{_in_flight_summary(read_report.n_in_flight)}; " if read_report.n_in_flight else ""
    # every unit scored, whatever --only-anomalies prints ("0 sessions" read as "nothing was scored")
    summary = (
        f"{len(scored)} {units}, {n_anomalous} anomalous at threshold {detector.threshold:.4f} ({basis}); "
        f"{in_flight}{_read_summary(read_report)}"
    )
    for warning in read_report.warnings:  # e.g. a header that never matched, CR-only line ends
        err_console.print(f"[bold yellow]warning:[/] {shown(warning)}")
    if output_format == "table":
        unit = "session" if units == "sessions" else "window"
        # a terminal gets the highest-scoring rows, and is told so; a file gets every row it says it holds
        top = TABLE_ROWS_SHOWN if out is None else None
        tables = [scores_table(results, title=summary, top=top, unit=unit)]
        why = explanations_table(results, top=top, unit=unit) if explain else None
        if why is not None:
            tables.append(why)
        note = f"no anomalous {unit} to explain\n" if explain and why is None else ""  # not an empty table
        if out is None:
            for table in tables:
                console.print(table)
            console.out(note, end="")  # plain text: no markup read
            if top is not None and len(results) > top:
                console.out(
                    f"the {top} highest-scoring of {len(results)} {units} shown: --out FILE writes every one, "
                    "--format jsonl too\n"
                )
        else:
            out.write_text("".join(table_to_text(table, width=200) for table in tables) + note, encoding="utf-8")
            console.print(f"table of {len(results)} {units} written to {shown(str(out))}; {shown(summary)}")
        return
    rows = [json.dumps(session_row(r), ensure_ascii=False) for r in results]
    if out is None:
        for row in rows:
            typer.echo(row)
        err_console.print(shown(summary))
    else:
        out.write_text("".join(row + "\n" for row in rows), encoding="utf-8")
        console.print(f"{len(rows)} {units} written to {shown(str(out))}; {shown(summary)}")


def _in_flight_summary(n: int) -> str:
    """Sessions not alerted because the log began in their middle (logbert.scoring.capture): never silent."""
    return f"{n} session{'' if n == 1 else 's'} in flight at the capture start, not alerted"


def _parsed(rep: ReadReport) -> str:
    """'N parsed', how many of them continue a message (``parser.continuation = "attach"``), how many had terminal
    colour codes removed or a progress display read as its last step, and (``parser.envelope``) how many more lines
    were pieces joined into them, so that the counts add up to the lines read."""
    notes = [f"{rep.n_continued} continuation lines"] if rep.n_continued else []
    notes += [f"{rep.n_escaped} with terminal colour codes removed"] if rep.n_escaped else []
    notes += [f"{rep.n_redrawn} progress displays read as their last step"] if rep.n_redrawn else []
    notes += [f"{rep.n_pieces} more lines were pieces of split lines, joined into them"] if rep.n_pieces else []
    notes += [f"{rep.n_unended} split lines whose last piece never came"] if rep.n_unended else []
    return f"{rep.n_parsed} parsed" + (f" ({', '.join(notes)})" if notes else "")


def _read_summary(rep: ReadReport) -> str:
    """What happened to the input lines, in one line: nothing is ignored without being said."""
    return (
        f"lines: {rep.n_lines} read, {_parsed(rep)}, {rep.n_malformed} malformed, {rep.n_empty} empty, "
        f"{rep.n_binary} binary, {rep.n_truncated} truncated, {rep.n_without_session} without a session id, "
        f"{rep.n_unknown_template} with an unseen template"
    )


def session_row(r: SessionResult) -> dict[str, object]:
    """One scored session as JSON: the decision, how far above the threshold, where, and why."""
    row: dict[str, object] = {
        "session_id": r.session_id,
        # at full precision: rounded to 6 digits, 72 distinct scores of a test set became 39 and the AUPRC computed
        # from this output was not evaluate's
        "anomaly_score": r.score,
        "threshold": r.threshold,
        "is_anomaly": r.is_anomaly,
        "margin": r.score - r.threshold,  # how far above (+) or below (-) the threshold
        "p_value": r.p_value,  # share of normal sessions this high
        "n_keys": r.n_keys,
        "n_unknown": r.n_unknown,
        "first_line_no": r.first_line_no,
        "last_line_no": r.last_line_no,
        "start_time": _iso(r.start_time),
        "worst_window": r.worst_window,
    }
    if r.misses:
        row["misses"] = [dataclasses.asdict(m) for m in r.misses]
    if r.surprises:
        row["surprises"] = list(r.surprises)
    if r.partial is not None:
        row["partial"] = r.partial  # in flight at the capture start: scored, never flagged
    return row


def _iso(t: float | None) -> str | None:
    return None if t is None else datetime.fromtimestamp(t, UTC).isoformat()


@contextmanager
def _input_file(data: str) -> Iterator[Path]:
    """DATA as a path, checked (:func:`~logbert.files.input_file`) before the artifact loads; ``-`` reads standard
    input into a temporary file first."""
    if data != "-":
        yield input_file(Path(data), "input file")
        return
    with tempfile.TemporaryDirectory(prefix="logbert-stdin-") as tmp:
        path = Path(tmp) / "stdin.log"
        with path.open("wb") as f:
            shutil.copyfileobj(sys.stdin.buffer, f)
        try:  # said of standard input: the temporary file's name means nothing to the user
            require_text(path, "standard input")
        except InputDataError as exc:
            if str(exc).startswith("standard input is empty"):
                raise InputDataError(EMPTY_STDIN) from None
            raise
        yield path


def parse(
    data: Path = typer.Argument(..., help="raw log file"),
    config: Path | None = ConfigOption,
    preset: str | None = PresetOption,
    sets: list[str] | None = SetOption,
    out: Path | None = typer.Option(None, "--out", "-o", help="write templates and counts as JSON"),
    top: int = typer.Option(20, min=1, help="templates to show"),
    structured: Path | None = typer.Option(
        None, help="write every line (time, session, key, template, parameters) to FILE.csv|.jsonl|.parquet"
    ),
    typed: bool = typer.Option(
        False,
        "--typed",
        help="type each template's slots (numbers in s / bytes / counts, categories, ids): a `values` column "
        "in --structured and a slot_schema in --out",
    ),
) -> None:
    """Mine templates from a raw log and show the most frequent ones and the line counts."""
    from logbert import api  # lazy: api.parse loads no torch (a test checks that this command does not)
    from logbert.cli.tables import templates_table

    out = output_file(out, "--out", inputs=(data,))
    structured = output_file(structured, "--structured", inputs=(data,))
    with library_errors():
        cfg = build_config(config, preset, sets)
        with working(f"parsing {data}"):
            summary = api.parse(data, cfg)
        n_rows = api.write_structured(summary, cfg, structured, typed=typed) if structured is not None else 0
        if typed and structured is None:
            api.slot_schema(summary)
    console.print(templates_table(summary, top=top))
    rep = summary.report
    console.print(
        f"{rep.n_lines} lines: {_parsed(rep)}, {rep.n_malformed} malformed, {rep.n_binary} binary, "
        f"{rep.n_truncated} truncated, {rep.n_empty} empty; {len(summary.templates)} templates"
    )
    if typed and summary.schema is not None:  # what --typed found, said even where nothing is written
        kinds = Counter(t.kind for types in summary.schema.slots.values() for t in types)
        told = ", ".join(f"{n} {kind}" for kind, n in sorted(kinds.items())) or "none"
        where = "" if out is not None or structured is not None else " (--out writes the schema, --structured values)"
        console.print(f"typed slots: {told}{where}")
    with library_errors():
        found = [
            api.template_count_warning(summary), api.state_words_warning(summary), api.joined_numbers_warning(summary)
        ]
        sessions = api.session_pattern_note(summary, cfg)
    if sessions is not None and sessions[0]:  # how many lines the pattern names: said where it names none too
        console.print(f"session ids: {shown(sessions[1])}")
    elif sessions is not None:
        found.append(sessions[1])
    for warning in [*rep.warnings, *(w for w in found if w)]:
        console.print(f"[bold yellow]warning:[/] {shown(warning)}")
    if out is not None:
        api.write_parse_summary(summary, out)
        console.print(f"written to {shown(str(out))}")
    if structured is not None:
        console.print(f"{n_rows} lines written to {shown(str(structured))}")


def presets() -> None:
    """List the built-in presets and header formats, and what each sets.

    A preset (--preset NAME) is a whole set of settings for one kind of log: header format, masks,
    session ids or windows, score. A header format (--set parser.format=NAME) is only the header
    layout with its masks and Drain settings; combine it with parser.log_format for your own layout.
    """
    from logbert.cli.tables import formats_table, presets_table

    with library_errors():
        console.print(presets_table())
        console.print(formats_table())


def register(app: typer.Typer) -> None:
    for command in (demo, train, evaluate, score, parse, presets):
        app.command()(command)
