"""Shared CLI plumbing: config options and the one place library errors become exit codes."""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any, Literal

import typer
from rich.console import Console

from logbert.cli.markup import shown
from logbert.config import CONTROL_CHARACTERS, LogBertConfig, load_config
from logbert.errors import LogBertError

# ":a:" in a log line is text (emoji=False). soft_wrap: a message goes out as one line that the terminal wraps, and
# Rich puts no line break in it: messages carry commands and settings to copy (`try --set 'parser.log_format=<Pid>:
# <Role> ...'`), and a break inside one, on a terminal of 80 columns or in `2>hint.txt`, failed when pasted. Tables
# keep their layout: a column wraps its cells whatever print's soft_wrap
console = Console(width=None if sys.stdout.isatty() else 120, emoji=False, soft_wrap=True)
err_console = Console(stderr=True, emoji=False, soft_wrap=True)

ConfigOption = typer.Option(None, "--config", "-c", help="TOML config file; applied on top of --preset.")
PresetOption = typer.Option(
    None,
    "--preset",
    "-p",
    help="built-in settings for one kind of log: openstack, openstack_devstack, hdfs, bgl, thunderbird, access, keys "
    "(`logbert presets` shows what each sets).",
)
InputOption = typer.Option(
    "auto", "--input", help="what DATA holds: raw (a log), keys ('\\[id,]k1 k2 ...' per line) or auto (sniffed)"
)


def input_kind(value: str) -> Literal["raw", "keys"] | None:
    """``--input``'s value as the library's input kind (None = sniff)."""
    if value == "auto":
        return None
    if value in ("raw", "keys"):
        return "raw" if value == "raw" else "keys"
    raise typer.BadParameter(f"expected raw, keys or auto, got {value!r}", param_hint="--input")


def _rate(value: float | None) -> float | None:
    """``--target-fpr``: a rate strictly between 0 and 1, as the threshold's calibration takes it (at 0 no threshold
    would do, at 1 every session is flagged). typer declares closed ranges only (``min=0.0, max=1.0`` showed
    ``[0.0<=x<=1.0]`` in the help, then 0 and 1 were refused after the model had loaded), so a callback checks."""
    if value is not None and not 0.0 < value < 1.0:  # NaN too
        raise typer.BadParameter(f"{value} is not a rate in (0, 1), 0 and 1 excluded")
    return value


TargetFprOption = typer.Option(
    None,
    "--target-fpr",
    callback=_rate,
    help="decide at this false-alarm rate on normal sessions, in (0, 1) with 0 and 1 excluded, e.g. 0.001",
)
SetOption = typer.Option(None, "--set", help="override one setting, e.g. --set train.epochs=5 (repeatable).")


def parse_overrides(items: list[str] | None) -> dict[str, Any]:
    r"""``["train.epochs=5", "parser.format=hdfs"]`` -> ``{"train.epochs": 5, "parser.format": "hdfs"}``.

    A value is read as JSON (numbers, true/false, null, lists, quoted strings), else taken as text. A
    quoted value JSON cannot read is the text between its quotes, as written: a regex such as
    ``"request_id=(\S+)"`` would otherwise keep its quotes (``\S`` is no JSON escape) and never match. So is one
    that JSON reads into a control character: the ``\b`` of ``"\b[0-9a-f]{8}\b"`` is a backspace in JSON, a word
    boundary in a regex.

    >>> parse_overrides(["train.epochs=5", 'window.session_pattern="id=(\S+)"', "parser.format=hdfs"])
    {'train.epochs': 5, 'window.session_pattern': 'id=(\\S+)', 'parser.format': 'hdfs'}
    >>> parse_overrides(['window.session_pattern="\\b[0-9a-f]{8}\\b"'])
    {'window.session_pattern': '\\b[0-9a-f]{8}\\b'}
    """
    out: dict[str, Any] = {}
    for item in items or []:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"expected KEY=VALUE, got {item!r}", param_hint="--set")
        text = raw.strip()
        quoted = len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'"
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = text[1:-1] if quoted else raw
        else:
            if quoted and isinstance(value, str) and CONTROL_CHARACTERS.search(value):
                value = text[1:-1]
        out[key.strip()] = value
    return out


def build_config(config: Path | None, preset: str | None, sets: list[str] | None) -> LogBertConfig:
    return load_config(config, parse_overrides(sets), preset=preset)


@contextmanager
def library_errors() -> Iterator[None]:
    """Library errors print one clear line and exit with code 1 (no traceback for user mistakes); Ctrl-C exits 130,
    as the shell's, and says so (score and parse ended without a word)."""
    try:
        yield
    except KeyboardInterrupt:
        err_console.print("[bold yellow]interrupted:[/] stopped before its end; what it was writing is incomplete")
        raise typer.Exit(code=130) from None
    except LogBertError as exc:
        err_console.print(f"[bold red]error:[/] {shown(str(exc))}")  # user text: "[instance: …]" is not markup
        raise typer.Exit(code=1) from None
    except FileNotFoundError as exc:
        err_console.print(f"[bold red]error:[/] file not found: {shown(str(exc.filename))}")
        raise typer.Exit(code=1) from None
    except OSError as exc:  # a directory where a file was expected, a full disk, no permission ...
        where = f"{exc.filename}: " if exc.filename else ""
        err_console.print(f"[bold red]error:[/] {shown(where + (exc.strerror or str(exc)))}")
        raise typer.Exit(code=1) from None


def working(what: str) -> AbstractContextManager[object]:
    """A spinner with ``what`` on a terminal's stderr while a long step runs without steps of its own to show (score,
    parse and evaluate were silent for minutes on a large log); nothing where stderr is not a terminal."""
    if not err_console.is_terminal:
        return nullcontext()
    return err_console.status(f"{shown(what)} ...", spinner="dots")


def setup_logging(verbose: bool) -> None:
    level = logging.INFO if verbose else logging.WARNING
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")


def echo_step(message: str) -> None:
    console.print(f"[cyan]•[/] {shown(message)}")  # messages name user paths: "[/x]" is not markup


def output_file(path: Path | None, option: str, *, inputs: Sequence[str | Path | None] = ()) -> Path | None:
    """Check an output file before any work is done (a long run must not fail at its last step, and must not write
    over what it reads: ``inputs``, the command's input files; ``-`` and None are skipped).

    Raises:
        typer.BadParameter: the path is a directory, one of the inputs, or its folder cannot be made.
    """
    if path is None:
        return None
    if path.is_dir():
        raise typer.BadParameter(f"{path} is a directory; give a file name", param_hint=option)
    for given in inputs:
        if given is None or str(given) == "-":
            continue
        source = Path(given)
        same = path.exists() and source.exists() and os.path.samefile(path, source)
        if same or path.resolve() == source.resolve():
            raise typer.BadParameter(
                f"{path} is the input {source}: writing there would overwrite it; "
                "give another file name",
                param_hint=option,
            )
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise typer.BadParameter(f"cannot create the folder for {path}: {exc.strerror}", param_hint=option) from None
    return path

