#!/usr/bin/env bash
# Train stage 1, the hybrid-UNet frame interpolator (magnitude + myocardium mask between key frames).
#   bash scripts/train_interp.sh                                   # defaults below
#   NAME=interp_r2 BLOCK=r2 bash scripts/train_interp.sh --augment # knobs from the environment; extra
#                                                                  # arguments go to train.py as they are
# The paper's recipe is the default: Adam 1e-3, batch 32, 200 epochs, L1 + myocardial L1 + tissue L1 +
# soft Dice. On a CPU, lower EPOCHS or set STEPS (optimiser steps per epoch) for a short run.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup_env.sh"

# ---- knobs ---------------------------------------------------------------------------------------
DATAROOT="${DATAROOT:-datasets/phantom}"
NAME="${NAME:-interp}"
GPU="${GPU:-}"                          # CUDA index; -1 = CPU; empty = first GPU if there is one
BATCH_SIZE="${BATCH_SIZE:-32}"
EPOCHS="${EPOCHS:-200}"                 # epochs at the initial learning rate
EPOCHS_DECAY="${EPOCHS_DECAY:-0}"       # further epochs with the rate decaying linearly to zero
STEPS="${STEPS:-0}"                     # cap on optimiser steps per epoch (0 = one pass over the data)
FACTOR="${FACTOR:-6}"                   # down-sampling factor used for validation
FACTORS="${FACTORS:-2 3 4 5 6}"         # factors drawn during training (one network for all of them)
BLOCK="${BLOCK:-unet}"                  # unet | r2 (R2U-Net blocks)
BASE_CHANNELS="${BASE_CHANNELS:-32}"
DEPTH="${DEPTH:-4}"                     # H and W (or CROP) must be divisible by 2**DEPTH
CROP="${CROP:-0}"                       # crop a square around the heart (0 = whole image)
PRECISION="${PRECISION:-fp32}"          # fp32 | bf16 | fp16
WORKERS="${WORKERS:-4}"
# ---------------------------------------------------------------------------------------------------

EXTRA=()
if [[ -n "$GPU" ]]; then EXTRA+=(--gpu "$GPU"); fi
read -r -a FACTOR_LIST <<<"$FACTORS"

"$PY" train.py --model interp --dataroot "$DATAROOT" --name "$NAME" \
  --batch_size "$BATCH_SIZE" --n_epochs "$EPOCHS" --n_epochs_decay "$EPOCHS_DECAY" --steps_per_epoch "$STEPS" \
  --factor "$FACTOR" --factors "${FACTOR_LIST[@]}" --block "$BLOCK" --base_channels "$BASE_CHANNELS" \
  --depth "$DEPTH" --crop_size "$CROP" --precision "$PRECISION" --num_workers "$WORKERS" \
  "${EXTRA[@]}" "$@"
