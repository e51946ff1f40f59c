"""Simulator time/value faults, model.signals=all, one seed: recall and false alarms at the stored threshold.

    PYTHONPATH=src:. python benchmarks/results/time_values/threshold_rules/simulator.py SEED SCRATCH_FOLDER
"""

import json
import sys
from pathlib import Path

from benchmarks.time_values.logbert_signals import run_simulator

KEPT = ("threshold", "recall_time_value_faults", "recall_category_faults", "false_alarms_normal", "auroc_all", "f1_all")

if __name__ == "__main__":
    seed, work = int(sys.argv[1]), Path(sys.argv[2])
    for row in run_simulator(work, ["all"], 10, seed, 1, 400):
        kept = {k: row[k] for k in (*KEPT, "train_seconds")}
        print(json.dumps({"seed": seed, **kept, "basis": row["threshold_basis"]}), flush=True)
