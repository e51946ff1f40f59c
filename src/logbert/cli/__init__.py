"""The ``logbert`` command line: thin commands over :mod:`logbert.api`."""

import sys

import typer

from logbert.cli import bench, pipeline, serve, worker
from logbert.cli._common import setup_logging

app = typer.Typer(help="LogBERT log anomaly detection: parse, train, evaluate, score, serve.", no_args_is_help=True)


@app.callback()
def _main(verbose: bool = typer.Option(False, "--verbose", "-v", help="log progress details")) -> None:
    setup_logging(verbose)


@app.command()
def version() -> None:
    """Print the version."""
    from logbert import __version__

    typer.echo(__version__)


pipeline.register(app)
serve.register(app)
bench.register(app)
worker.register(app)


#: The app-wide options, accepted anywhere on the command line (Click only takes them before the command).
_GLOBAL_FLAGS = ("-v", "--verbose")


def main() -> None:
    args = sys.argv[1:]
    front = [a for a in args if a in _GLOBAL_FLAGS]
    app(args=front + [a for a in args if a not in _GLOBAL_FLAGS])
