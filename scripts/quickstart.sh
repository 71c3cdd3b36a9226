#!/usr/bin/env bash
# The main job, end to end on a fresh machine (CPU is enough; a GPU is used when present):
#   1. set up the Python environment (.venv unless one is active),
#   2. generate a digital-twin phantom cohort,
#   3. render an overview figure of one subject into img/,
#   4. train stage 1 (frame interpolation) briefly and evaluate it at k = 6 on held-out subjects,
#   5. train stage 2 (velocity GAN) and its L1-only baseline briefly and evaluate them,
#   6. run the whole chain on a test subject and write its results page.
# Knobs: override any of these from the environment, e.g. SUBJECTS=40 bash scripts/quickstart.sh
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup_env.sh"

DATAROOT="${DATAROOT:-datasets/phantom}"
SUBJECTS="${SUBJECTS:-10}"                # 6 train, 2 validation, 2 test
FRAMES="${FRAMES:-30}"
SIZE="${SIZE:-96}"
SEED="${SEED:-0}"
NAME="${NAME:-quickstart}"
FACTOR="${FACTOR:-6}"                     # temporal down-sampling of the input
INTERP_EPOCHS="${INTERP_EPOCHS:-12}"      # x 67 steps of 8 samples
PHASE_EPOCHS="${PHASE_EPOCHS:-8}"         # x 67 steps of 8 samples, for the GAN and for its L1 baseline
# One compute thread per process: the data loader is the other process on a 2-core machine, and
# oversubscribed thread pools are much slower than one thread each.
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
COMMON=(--dataroot "$DATAROOT" --seed "$SEED" --no_progress)
PHASE_NET=(--netG r2unet --base_channels 16 --depth 3 --ndf 32 --crop_size 64)

step() { printf '\n== %s\n' "$*"; }
started=$SECONDS

step "1/6 phantom: $SUBJECTS subjects x 3 slices x $FRAMES frames at ${SIZE}x${SIZE} -> $DATAROOT"
"$PY" -m data.phantom --out "$DATAROOT" --subjects "$SUBJECTS" --frames "$FRAMES" --size "$SIZE" --seed "$SEED"

step "2/6 overview figure -> img/phantom_overview.png"
first_subject="$("$PY" -c "import json,sys; print(json.load(open(sys.argv[1]))['test'][0])" "$DATAROOT/splits.json")"
"$PY" -m data.overview "$DATAROOT/$first_subject.h5" img/phantom_overview.png

step "3/6 stage 1: frame interpolation, then evaluation at k = $FACTOR on the test subjects"
"$PY" train.py --model interp --name "${NAME}_interp" "${COMMON[@]}" --num_workers 1 --batch_size 8 \
  --n_epochs "$INTERP_EPOCHS" --steps_per_epoch 67 --base_channels 16 --depth 3 --lr 2e-3 --lr_policy cosine \
  --val_freq 4 --print_freq 100
"$PY" test.py --model interp --name "${NAME}_interp" "${COMMON[@]}" --factor "$FACTOR"

step "4/6 stage 2: velocity GAN and its L1-only baseline, then evaluation on the test subjects"
"$PY" train.py --model phase --name "${NAME}_phase" "${COMMON[@]}" --num_workers 0 --batch_size 8 \
  --n_epochs "$PHASE_EPOCHS" "${PHASE_NET[@]}" --val_max_batches 10 --print_freq 100 --tissue_noise physics
"$PY" train.py --model phase --name "${NAME}_phase_l1" "${COMMON[@]}" --num_workers 0 --batch_size 8 \
  --n_epochs "$PHASE_EPOCHS" "${PHASE_NET[@]}" --val_max_batches 10 --print_freq 100 --l1_only
"$PY" test.py --model phase --name "${NAME}_phase" "${COMMON[@]}" --baseline_name "${NAME}_phase_l1"

step "5/6 chained synthesis of the test subjects from every ${FACTOR}th magnitude frame"
"$PY" test.py --model hdl --name "$NAME" "${COMMON[@]}" --factor "$FACTOR" \
  --interp_name "${NAME}_interp" --phase_name "${NAME}_phase" --baseline_phase_name "${NAME}_phase_l1"

step "6/6 done in $(( (SECONDS - started) / 60 )) min"
echo "stage 1 table: $HDL_ROOT/results/${NAME}_interp/interp/metrics.csv"
echo "stage 2 table: $HDL_ROOT/results/${NAME}_phase/phase/metrics.csv"
echo "results page:  $HDL_ROOT/results/$NAME/hdl/index.html"
