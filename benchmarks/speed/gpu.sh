#!/usr/bin/env bash
# The GPU check of issue 11, one script for a machine with one CUDA GPU (run from the repository root):
#
#     bash benchmarks/speed/gpu.sh OUTDIR [PART ...]      # PART: bench, e2e, steps (default: all three)
#
# 1. benchmarks.speed on the GPU (SPEED_N sequences, default 60,000; scoring batch 4096): the GPU arms (fp32 and
#    bf16, ours eager and compiled, plain) at training batch 512, the training arms at batch 4096
#    -> OUTDIR/speed_gpu_b512.md, OUTDIR/speed_gpu_b4096.md;
# 2. end to end: a simulated nova log (1,000 VMs, 15 % with faults), `logbert train` with
#    train.device=cuda, bf16 and torch.compile (labels given), then `score` and `tail` with --device cuda against
#    --device cpu: the decisions must be the same -> OUTDIR/e2e.txt;
# 3. benchmarks.speed.steps: one training step's time by variant, and the top GPU kernels of bf16.
# logbert's dependencies must be importable (PYTHONPATH may hold them); src/ is put first on the path.
set -u -o pipefail
OUT=${1:?usage: gpu.sh OUTDIR [bench] [e2e] [steps]}
shift
PARTS=${*:-bench e2e steps}
want() { [[ " $PARTS " == *" $1 "* ]]; }
mkdir -p "$OUT"
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
PY=${PYTHON:-python3}
lb() { "$PY" -c 'from logbert.cli import main; main()' "$@"; }

: >"$OUT/e2e.txt"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee -a "$OUT/e2e.txt"
"$PY" -c 'import torch; print("torch", torch.__version__, torch.cuda.get_device_name())' | tee -a "$OUT/e2e.txt"

# 1. the speed benchmark: 60,000 sequences x 3 epochs, 60,000 scored windows
N=${SPEED_N:-60000}
want bench && "$PY" -m benchmarks.speed --device cuda --n-train "$N" --n-score "$N" --epochs 3 --repeats 1 \
    --train-batch 512 --score-batch 4096 --arm-timeout 150 --out "$OUT/speed_gpu_b512.md" \
    --arms "train_encoder,train_encoder compiled,train_encoder bf16,train_encoder bf16 compiled,\
train_encoder MLKP only,plain train,plain train bf16,score_sequences,score_sequences bf16,plain score fp32,\
plain score bf16"

# 2. end to end on the GPU, decisions against the CPU's
want e2e && {
    set -x
    "$PY" -c 'from logbert.datasets.simulator import write_simulated; write_simulated("/tmp/gpu-demo", 1000, 0.15)'
    log=$(ls /tmp/gpu-demo/*.log)
    SECONDS=0
    # one training (split calibration, not 5 cross-fit folds): every training compiles anew
    # with the labels, as the demo: trained on normal sessions only, the model flags the faulty ones, so that
    # score's and tail's alerts on the two devices have something to agree on (stop 37 ran it without: no alert)
    timeout 240 "$PY" -c 'from logbert.cli import main; main()' train "$log" -o /tmp/gpu-artifact --force \
        --labels /tmp/gpu-demo/instance_labels.csv \
        --preset openstack --set train.device=cuda --set train.precision=bf16 --set train.compile=true \
        --set train.batch_size=256 --set train.epochs=10 --set scoring.calibration=split
    echo "train on cuda (bf16, compiled): ${SECONDS} s"
    for device in cuda cpu; do
        SECONDS=0
        lb score /tmp/gpu-artifact "$log" --device "$device" -o "/tmp/score_$device.jsonl"
        echo "score --device $device: ${SECONDS} s"
        lb tail "$log" -a /tmp/gpu-artifact --no-follow --json --device "$device" >"/tmp/tail_$device.jsonl"
    done
    set +x
    "$PY" - <<'EOF'
import json

def decisions(path, key):
    rows = [json.loads(line) for line in open(path)]
    return {(r[key], r.get("window_index")): (r["is_anomaly"] if "is_anomaly" in r else True, r["anomaly_score"])
            for r in rows}

for what, key in (("score", "session_id"), ("tail", "session_id")):
    gpu, cpu = decisions(f"/tmp/{what}_cuda.jsonl", key), decisions(f"/tmp/{what}_cpu.jsonl", key)
    same = sum(gpu.get(k, (None,))[0] == v[0] for k, v in cpu.items())
    diff = max((abs(gpu[k][1] - v[1]) for k, v in cpu.items() if k in gpu), default=0.0)
    flagged = sum(v[0] for v in cpu.values())
    print(f"{what}: {len(cpu)} cpu rows, {len(gpu)} cuda rows, {same} decisions equal, {flagged} flagged on cpu, "
          f"largest score difference {diff:.2e}")
EOF
} 2>&1 | tee -a "$OUT/e2e.txt"

# the training arms at batch 4096
want bench && "$PY" -m benchmarks.speed --device cuda --n-train "$N" --n-score "$N" --epochs 3 --repeats 1 \
    --train-batch 4096 --score-batch 4096 --arm-timeout 150 \
    --arms "train_encoder,train_encoder compiled,train_encoder bf16 compiled,plain train,plain train bf16" \
    --out "$OUT/speed_gpu_b4096.md"

# 3. one training step by variant
want steps && {
    "$PY" -m benchmarks.speed.steps --device cuda --batch 512 --profile
    "$PY" -m benchmarks.speed.steps --device cuda --batch 4096
} 2>&1 | tee "$OUT/steps.txt"
