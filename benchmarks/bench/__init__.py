"""Detection benchmark (issue 3): ``python -m benchmarks.bench [--quick]`` = ``logbert bench``."""
