#!/usr/bin/env bash
# Evaluate a trained stage-1 run: rebuild every test cine from every FACTOR-th frame and score the
# interpolated frames against the real ones, next to linear interpolation.
#   bash scripts/test_interp.sh                          # defaults below
#   NAME=interp_r2 FACTOR=4 bash scripts/test_interp.sh --split all
# Writes results/<NAME>/interp/metrics.csv, metrics_per_slice.csv and subjects/<subject>.h5.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup_env.sh"

# ---- knobs ---------------------------------------------------------------------------------------
DATAROOT="${DATAROOT:-datasets/phantom}"
NAME="${NAME:-interp}"
GPU="${GPU:-}"                          # CUDA index; -1 = CPU; empty = first GPU if there is one
FACTOR="${FACTOR:-6}"                   # keep every FACTOR-th frame, interpolate the rest
SPLIT="${SPLIT:-test}"                  # train | val | test | all
WHICH="${WHICH:-best}"                  # best | latest | an epoch number
BATCH_SIZE="${BATCH_SIZE:-16}"          # frames per network call
PRECISION="${PRECISION:-fp32}"          # fp32 | bf16 | fp16
# ---------------------------------------------------------------------------------------------------

EXTRA=()
if [[ -n "$GPU" ]]; then EXTRA+=(--gpu "$GPU"); fi

"$PY" test.py --model interp --dataroot "$DATAROOT" --name "$NAME" --factor "$FACTOR" --split "$SPLIT" \
  --which_epoch "$WHICH" --batch_size "$BATCH_SIZE" --precision "$PRECISION" "${EXTRA[@]}" "$@"
