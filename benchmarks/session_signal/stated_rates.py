"""The false-alarm rates an artifact states (its calibration record): the quantile's promise, the rate to expect
where scores tie (``Calibration.fpr_tied``), and how the scores tie. One JSON line per artifact.

    .venv/bin/python -m benchmarks.session_signal.stated_rates ARTIFACT [ARTIFACT ...]

With ``benchmarks.session_signal.whole_log NAME SEEDS OVERRIDES WORK`` (which keeps its artifacts in WORK and prints
each seed's realised false-alarm rate on the held-back normal sessions), the stated and the realised rates side by
side.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from logbert.artifact import CALIBRATION_FILE
from logbert.pipeline.calibrate import Calibration


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__, file=sys.stderr)
        return 2
    for folder in argv:
        record = Calibration.from_dict(json.loads((Path(folder) / CALIBRATION_FILE).read_text()))
        row = {
            "artifact": Path(folder).name,
            "n": record.n,
            "distinct_scores": len(set(record.normal_scores)),
            "threshold": round(record.threshold, 4),
            "above_threshold": record.n_above,
            "fpr_nominal": None if record.fpr_nominal is None else round(record.fpr_nominal, 5),
            "fpr_tied": None if record.fpr_tied is None else round(record.fpr_tied, 5),
        }
        print(json.dumps(row), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
