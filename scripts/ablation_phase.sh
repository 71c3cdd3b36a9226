#!/usr/bin/env bash
# Ablation of the cycle-aware phase generator: what each change brings at the same training budget.
# Four runs of stage 2 on one cohort, identical but for the two changes, evaluated on its held-out
# subjects beside the yardsticks (zero, population prior):
#   paper      R2U-Net on frames t-1, t, t+1
#   window5    frames t-2 .. t+2
#   cycle      + FiLM conditioning on the cycle fraction and the slice position
#   both       window5 + cycle
#   prior      both + refining the population prior (the shipped generator)
#   bash scripts/ablation_phase.sh                       # on datasets/reference, 500 steps per run
#   STEPS=5000 DATAROOT=datasets/mine bash scripts/ablation_phase.sh
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup_env.sh"

DATAROOT="${DATAROOT:-datasets/reference}"
NAME="${NAME:-ablation}"
STEPS="${STEPS:-500}"                     # optimiser steps per run (batches of 8 crops of 64x64)
GPU="${GPU:--1}"
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
EPOCHS=$(( (STEPS + 99) / 100 ))
BASE=(--model phase --dataroot "$DATAROOT" --seed 0 --gpu "$GPU" --no_progress --num_workers 0 --batch_size 8
      --n_epochs "$EPOCHS" --steps_per_epoch 100 --netG r2unet --base_channels 16 --depth 3 --ndf 32
      --crop_size 64 --tissue_noise physics --lr_policy cosine --val_freq "$EPOCHS" --val_max_batches 20)
declare -A VARIANT=(
  [paper]="--temporal_window 3"
  [window5]="--temporal_window 5"
  [cycle]="--temporal_window 3 --cycle_conditioning"
  [both]="--temporal_window 5 --cycle_conditioning"
  [prior]="--temporal_window 5 --cycle_conditioning --prior population"
)
ORDER=(paper window5 cycle both prior)

train() {  # two runs at a time: one per core
  # shellcheck disable=SC2086  # the variant's options are words
  "$PY" train.py "${BASE[@]}" --name "${NAME}_$1" ${VARIANT[$1]} > "checkpoints/${NAME}_$1.log" 2>&1
}
mkdir -p checkpoints
for pair in "paper window5" "cycle both" "prior"; do
  read -r a b <<< "$pair"
  printf '== training %s (%s steps each)\n' "$pair" "$STEPS"
  if [[ -n "${b:-}" ]]; then train "$b" & pid=$!; fi
  train "$a"
  if [[ -n "${b:-}" ]]; then wait "$pid"; fi
done

for v in "${ORDER[@]}"; do
  "$PY" test.py --model phase --name "${NAME}_$v" --dataroot "$DATAROOT" --gpu "$GPU" --no_progress > /dev/null
done
printf '\n| variant | vel_mae_myo_true_cm_s | vel_skill | vel_mae_myo_cm_s |\n| --- | --- | --- | --- |\n'
for v in "${ORDER[@]}"; do
  "$PY" - "results/${NAME}_$v/phase/metrics.csv" "$v" <<'PYROW'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
model = rows[0]
print(f"| {sys.argv[2]} | {float(model['vel_mae_myo_true_cm_s']):.2f} | {float(model['vel_skill']):.3f} | "
      f"{float(model['vel_mae_myo_cm_s']):.2f} |")
if sys.argv[2] == "prior":
    for r in rows:
        if r["method"] in ("zero", "population"):
            print(f"| yardstick: {r['method']} | {float(r['vel_mae_myo_true_cm_s']):.2f} | "
                  f"{float(r['vel_skill']):.3f} | {float(r['vel_mae_myo_cm_s']):.2f} |")
PYROW
done
