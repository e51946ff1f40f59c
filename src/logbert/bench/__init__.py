"""Detection benchmark: every detector on every dataset, same splits, realistic and paper protocols.

``run_benchmark(BenchConfig(), builtin_datasets(root).values())`` then ``write_results``; the
``logbert bench`` command and ``python -m benchmarks.bench`` do exactly that.
"""

from logbert.bench.config import BenchConfig, quick_config
from logbert.bench.datasets import (
    BUILTIN_DATASETS,
    BenchData,
    DatasetSpec,
    InputFile,
    builtin_datasets,
    load_dataset,
    parse_dataset_spec,
)
from logbert.bench.detectors import ALL_DETECTORS, DetectorSpec, detector_specs
from logbert.bench.report import write_results
from logbert.bench.runner import BenchResult, DatasetResult, aggregate, run_benchmark, run_dataset

__all__ = [
    "ALL_DETECTORS",
    "BUILTIN_DATASETS",
    "BenchConfig",
    "BenchData",
    "BenchResult",
    "DatasetResult",
    "DatasetSpec",
    "DetectorSpec",
    "InputFile",
    "aggregate",
    "builtin_datasets",
    "detector_specs",
    "load_dataset",
    "parse_dataset_spec",
    "quick_config",
    "run_benchmark",
    "run_dataset",
    "write_results",
]
