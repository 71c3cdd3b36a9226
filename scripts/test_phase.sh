#!/usr/bin/env bash
# Evaluate a trained stage-2 run: synthesise vx, vy, vz for every frame of the test subjects and compare
# with the measured maps, next to the L1-only baseline and (on the phantom) the measurement noise floor.
#   bash scripts/test_phase.sh                                  # defaults below
#   NAME=phase_emp BASELINE= bash scripts/test_phase.sh          # without a baseline run
#   bash scripts/test_phase.sh --split all                       # extra arguments go to test.py
# Train the baseline first: NAME=phase_l1 L1_ONLY=1 bash scripts/train_phase.sh
# Writes results/<NAME>/phase/metrics.csv, metrics_per_slice.csv and subjects/<subject>.h5.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup_env.sh"

# ---- knobs ---------------------------------------------------------------------------------------
DATAROOT="${DATAROOT:-datasets/phantom}"
NAME="${NAME:-phase}"
BASELINE="${BASELINE-phase_l1}"         # run name of the L1-only baseline; empty = none
GPU="${GPU:-}"                          # CUDA index; -1 = CPU; empty = first GPU if there is one
SPLIT="${SPLIT:-test}"                  # train | val | test | all
WHICH="${WHICH:-best}"                  # best | latest | an epoch number
BATCH_SIZE="${BATCH_SIZE:-12}"          # frames per network call
PRECISION="${PRECISION:-fp32}"          # fp32 | bf16 | fp16
SEED="${SEED:-0}"                       # seed of the background noise draws
# ---------------------------------------------------------------------------------------------------

EXTRA=()
if [[ -n "$GPU" ]]; then EXTRA+=(--gpu "$GPU"); fi
if [[ -n "$BASELINE" ]]; then EXTRA+=(--baseline_name "$BASELINE"); fi

"$PY" test.py --model phase --dataroot "$DATAROOT" --name "$NAME" --split "$SPLIT" --which_epoch "$WHICH" \
  --batch_size "$BATCH_SIZE" --precision "$PRECISION" --seed "$SEED" "${EXTRA[@]}" "$@"
