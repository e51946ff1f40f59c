"""The import rule of docs/architecture.md, checked on the real imports of every module.

Imports go one way: foundations <- stages <- pipeline <- api <- cli / service / bench. A package
may import only the packages listed for it here; the architecture doc states the same table.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "logbert"

FOUNDATIONS = {"errors", "config", "records", "results", "threads", "files"}
#: package -> the logbert packages (besides itself and the foundations) it may import
ALLOWED: dict[str, set[str]] = {
    # foundations
    "errors": set(),
    "config": set(),
    "records": set(),
    "results": set(),
    "configs": set(),  # the built-in presets (TOML data)
    "threads": set(),  # torch thread count chosen for the machine, and the allocator's settings
    "files": set(),  # how a log file is opened (compressed or not): parsing and datasets both read files
    # stages of the data flow
    "parsing": set(),
    "datasets": set(),
    "windowing": set(),
    "model": set(),
    "training": {"model", "windowing"},
    "scoring": {"model", "windowing"},
    "evaluation": set(),
    "baselines": set(),
    "artifact": {"model", "parsing", "__init__"},  # __init__: the package version, saved in meta.json
    # the pipeline over the stages, and the facade over the pipeline
    "pipeline": {
        "parsing",
        "datasets",
        "windowing",
        "model",
        "training",
        "scoring",
        "evaluation",
        "baselines",
        "artifact",
    },
    "api": {"pipeline"},
    # streaming depends on a Scorer protocol, not on the pipeline; the layers on top
    "streaming": {"windowing"},
    "service": {"streaming", "__init__"},
    "bench": {"baselines", "datasets", "evaluation", "pipeline"},
    # queue-fed replicas: the engine per partition, the alert store, the session rule
    # and the envelope of a container runtime's lines (parsing.envelope): a producer routes by the app's message
    "queue": {"streaming", "service", "windowing", "parsing"},
    "cli": {"api", "evaluation", "service", "streaming", "bench", "queue", "__init__"},
}


def _package(path: Path) -> str:
    rel = path.relative_to(SRC).with_suffix("")
    return rel.parts[0]


def _imported_packages(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names: list[str] = []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] == "logbert":
                found.add(parts[1] if len(parts) > 1 else "__init__")
    return found


MODULES = sorted(p for p in SRC.rglob("*.py") if p.name != "__init__.py" or p.parent != SRC)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(SRC)))
def test_imports_go_one_way(path: Path) -> None:
    package = _package(path)
    assert package in ALLOWED, f"{package} is not in the architecture table: add it (and to docs/architecture.md)"
    allowed = ALLOWED[package] | FOUNDATIONS | {package}
    stray = _imported_packages(path) - allowed
    assert not stray, f"{path.relative_to(SRC)} imports {sorted(stray)}; {package} may import {sorted(allowed)}"


def test_the_table_covers_every_package() -> None:
    packages = {_package(p) for p in MODULES}
    assert packages == set(ALLOWED)
