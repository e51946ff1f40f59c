"""Hostile and unlucky probes of issue 10, re-run against the real CLI and a real ``logbert serve``.

    .venv/bin/python -m benchmarks.probes --out benchmarks/results/probes

See :mod:`benchmarks.probes.run` for what is probed and how outcomes are judged.
"""
