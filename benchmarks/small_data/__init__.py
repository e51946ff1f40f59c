"""Issue 9: the automatic threshold on small training sets (25 and 50 normal sessions), before vs after.

.venv/bin/python -m benchmarks.small_data --out benchmarks/results/small_data
"""
