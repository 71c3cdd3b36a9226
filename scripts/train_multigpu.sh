#!/usr/bin/env bash
# Train one stage on all GPUs of one machine with torchrun (DDP, NCCL).
# --batch_size is per GPU: the global batch is BATCH_SIZE x NGPUS.
#   bash scripts/train_multigpu.sh                       # stage 2 (phase GAN) on every visible GPU
#   MODEL=interp NAME=my_interp bash scripts/train_multigpu.sh --factor 4
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup_env.sh"

# ---- knobs ---------------------------------------------------------------------------------------
MODEL="${MODEL:-phase}"                 # interp | phase
DATAROOT="${DATAROOT:-datasets/phantom}"
NAME="${NAME:-${MODEL}_ddp}"
NGPUS="${NGPUS:-$("$PY" -c 'import torch; print(max(1, torch.cuda.device_count()))')}"
BATCH_SIZE="${BATCH_SIZE:-12}"          # per GPU
EPOCHS="${EPOCHS:-100}"                 # at the initial learning rate
EPOCHS_DECAY="${EPOCHS_DECAY:-100}"     # linear decay to zero afterwards
PRECISION="${PRECISION:-bf16}"          # fp32 | bf16 | fp16
WORKERS="${WORKERS:-8}"                 # data-loading processes per GPU
EXTRA=()
if [[ "${COMPILE:-0}" == "1" ]]; then EXTRA+=(--compile); fi
# ---------------------------------------------------------------------------------------------------

"$PY" -m torch.distributed.run --standalone --nproc_per_node "$NGPUS" train.py \
  --model "$MODEL" --dataroot "$DATAROOT" --name "$NAME" \
  --batch_size "$BATCH_SIZE" --n_epochs "$EPOCHS" --n_epochs_decay "$EPOCHS_DECAY" \
  --precision "$PRECISION" --num_workers "$WORKERS" "${EXTRA[@]}" "$@"
