#!/usr/bin/env bash
# Train stage 2, the foreground-background GAN that synthesises vx, vy, vz from magnitude frames.
#   bash scripts/train_phase.sh                                   # defaults below (the paper's recipe)
#   NAME=phase_emp bash scripts/train_phase.sh --noise_model empirical
#   L1_ONLY=1 bash scripts/train_phase.sh                         # the L1-only baseline (no GAN, no
#                                                                 # foreground-background scheme), run phase_l1
# Knobs come from the environment; extra arguments go to train.py as they are.
# The paper's recipe is the default: R2U-Net generator, PatchGAN (70x70) discriminator, LSGAN +
# 100 * L1 over tissue + 100 * L1 over myocardium, Adam 2e-4 (betas 0.5, 0.999), batch 12, 200 epochs,
# plus the scanner's phase noise on the synthesised tissue (TISSUE_NOISE=physics; none = the paper's
# exact scheme, whose tissue comes out smoother than an acquisition's: see README, stage 2).
# Train the L1-only baseline with the same knobs (L1_ONLY=1) so test_phase.sh can compare the two.
# The shipped twin's generator (scripts/train_reference.sh) adds three options, passed through here:
#   bash scripts/train_phase.sh --temporal_window 5 --cycle_conditioning --prior kinematic
# On a CPU, lower EPOCHS or set STEPS (optimiser steps per epoch), BASE_CHANNELS, DEPTH, NDF and CROP,
# e.g. the quick start on a small phantom (about 4 minutes on 2 cores):
#   OMP_NUM_THREADS=1 EPOCHS=8 NETG=r2unet BASE_CHANNELS=16 DEPTH=3 NDF=32 CROP=64 BATCH_SIZE=8 WORKERS=0 \
#     bash scripts/train_phase.sh --val_max_batches 10
# (OMP_NUM_THREADS=1 avoids the heavy slow-down of two compute threads on a busy 2-core machine.)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup_env.sh"

# ---- knobs ---------------------------------------------------------------------------------------
DATAROOT="${DATAROOT:-datasets/phantom}"
L1_ONLY="${L1_ONLY:-0}"                 # 1: train the L1-only baseline instead of the GAN
if [[ "$L1_ONLY" == "1" ]]; then NAME="${NAME:-phase_l1}"; else NAME="${NAME:-phase}"; fi
GPU="${GPU:-}"                          # CUDA index; -1 = CPU; empty = first GPU if there is one
BATCH_SIZE="${BATCH_SIZE:-12}"
EPOCHS="${EPOCHS:-200}"                 # epochs at the initial learning rate
EPOCHS_DECAY="${EPOCHS_DECAY:-0}"       # further epochs with the rate decaying linearly to zero
STEPS="${STEPS:-0}"                     # cap on optimiser steps per epoch (0 = one pass over the data)
NETG="${NETG:-r2unet}"                  # r2unet (paper) | unet
BASE_CHANNELS="${BASE_CHANNELS:-32}"    # generator width at full resolution
DEPTH="${DEPTH:-4}"                     # H and W (or CROP) must be divisible by 2**DEPTH
NDF="${NDF:-64}"                        # discriminator width
GAN_MODE="${GAN_MODE:-lsgan}"           # lsgan | vanilla | hinge
LAMBDA_TISSUE="${LAMBDA_TISSUE:-100}"
LAMBDA_MYO="${LAMBDA_MYO:-100}"
NOISE="${NOISE:-uniform}"               # background noise: uniform | empirical
TISSUE_NOISE="${TISSUE_NOISE:-physics}" # tissue phase noise from the magnitude SNR: physics | none
CROP="${CROP:-0}"                       # crop a square around the heart (0 = whole image)
PRECISION="${PRECISION:-fp32}"          # fp32 | bf16 | fp16
WORKERS="${WORKERS:-4}"
# ---------------------------------------------------------------------------------------------------

EXTRA=()
if [[ -n "$GPU" ]]; then EXTRA+=(--gpu "$GPU"); fi
# The L1-only baseline has no composite, so no tissue noise either.
if [[ "$L1_ONLY" == "1" ]]; then EXTRA+=(--l1_only); else EXTRA+=(--tissue_noise "$TISSUE_NOISE"); fi

"$PY" train.py --model phase --dataroot "$DATAROOT" --name "$NAME" \
  --batch_size "$BATCH_SIZE" --n_epochs "$EPOCHS" --n_epochs_decay "$EPOCHS_DECAY" --steps_per_epoch "$STEPS" \
  --netG "$NETG" --base_channels "$BASE_CHANNELS" --depth "$DEPTH" --ndf "$NDF" --gan_mode "$GAN_MODE" \
  --lambda_tissue "$LAMBDA_TISSUE" --lambda_myo "$LAMBDA_MYO" --noise_model "$NOISE" \
  --crop_size "$CROP" --precision "$PRECISION" --num_workers "$WORKERS" \
  "${EXTRA[@]}" "$@"
