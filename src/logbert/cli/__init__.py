"""The ``logbert`` command line."""

import typer

app = typer.Typer(help="LogBERT log anomaly detection.", no_args_is_help=True)


@app.command()
def version() -> None:
    """Print the version."""
    from logbert import __version__

    typer.echo(__version__)


def main() -> None:
    app()
