"""``python -m benchmarks.bench [options]``: the same command as ``logbert bench``."""

import typer

from logbert.cli._common import setup_logging
from logbert.cli.bench import bench

if __name__ == "__main__":
    setup_logging(False)
    typer.run(bench)
