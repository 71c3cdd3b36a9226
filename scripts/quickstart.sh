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
SUBJECTS="${SUBJECTS:-10}"
FRAMES="${FRAMES:-30}"
SIZE="${SIZE:-96}"
SEED="${SEED:-0}"
NAME="${NAME:-quickstart}"
FACTOR="${FACTOR:-6}"
INTERP_STEPS="${INTERP_STEPS:-400}"
PHASE_STEPS="${PHASE_STEPS:-300}"
BATCH="${BATCH:-8}"
COMMON=(--dataroot "$DATAROOT" --seed "$SEED" --num_workers 1 --no_progress)

step() { printf '\n== %s\n' "$*"; }

step "1/6 phantom: $SUBJECTS subjects x 3 slices x $FRAMES frames at ${SIZE}x${SIZE} -> $DATAROOT"
"$PY" -m data.phantom --out "$DATAROOT" --subjects "$SUBJECTS" --frames "$FRAMES" --size "$SIZE" --seed "$SEED"

step "2/6 overview figure -> img/phantom_overview.png"
first_subject="$("$PY" -c "import json,sys; print(json.load(open(sys.argv[1]))['test'][0])" "$DATAROOT/splits.json")"
"$PY" -m util.report.overview "$DATAROOT/$first_subject.h5" img/phantom_overview.png

step "3/6 stage 1: frame interpolation ($INTERP_STEPS steps)"
"$PY" train.py --model interp --name "${NAME}_interp" "${COMMON[@]}" --batch_size "$BATCH" \
  --n_epochs 1 --steps_per_epoch "$INTERP_STEPS" --base_channels 16 --depth 3 --factors 2 3 4 5 6 --print_freq 50
"$PY" test.py --model interp --name "${NAME}_interp" "${COMMON[@]}" --factor "$FACTOR"

step "4/6 stage 2: velocity GAN and the L1-only baseline ($PHASE_STEPS steps each)"
"$PY" train.py --model phase --name "${NAME}_phase" "${COMMON[@]}" --batch_size "$BATCH" \
  --n_epochs 1 --steps_per_epoch "$PHASE_STEPS" --base_channels 16 --depth 3 --print_freq 50
"$PY" train.py --model phase --name "${NAME}_phase_l1" "${COMMON[@]}" --batch_size "$BATCH" \
  --n_epochs 1 --steps_per_epoch "$PHASE_STEPS" --base_channels 16 --depth 3 --print_freq 50 --l1_only
"$PY" test.py --model phase --name "${NAME}_phase" "${COMMON[@]}" --baseline_name "${NAME}_phase_l1"

step "5/6 chained synthesis of the test subjects (k = $FACTOR)"
"$PY" test.py --model hdl --name "$NAME" "${COMMON[@]}" --factor "$FACTOR" \
  --interp_name "${NAME}_interp" --phase_name "${NAME}_phase" --baseline_phase_name "${NAME}_phase_l1"

step "6/6 done"
echo "results page: $HDL_ROOT/results/$NAME/hdl/index.html"
