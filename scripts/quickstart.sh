#!/usr/bin/env bash
# The main job, end to end on a fresh machine (CPU is enough; a GPU is used when present):
#   1. set up the Python environment (.venv unless one is active),
#   2. generate a digital-twin phantom cohort (half of the subjects patients with a regional pathology),
#   3. render an overview figure of one subject into img/,
#   4. train stage 1 (frame interpolation) briefly and evaluate it at k = 6 on held-out subjects,
#   5. train stage 2 (velocity GAN) and its L1-only baseline briefly and evaluate them,
#   6. run the whole chain on the test subjects and write their results pages,
#   7. run the twin shipped in pretrained/ on the same subjects, and print the tables as in the README.
# Every table shows the yardsticks beside the models: linear and Fourier interpolation for stage 1;
# zero velocity and the training set's mean curves (population) for stage 2; for the chain also the
# population plus the key frames' bulk motion, the optical-flow reading of the key frames, the kinematic
# prior (the subject's timing, gains, rotation and segments read from its key frames) and the ceilings.
# Knobs: override any of these from the environment, e.g. SUBJECTS=40 bash scripts/quickstart.sh
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup_env.sh"

DATAROOT="${DATAROOT:-datasets/phantom}"
SUBJECTS="${SUBJECTS:-10}"                # 6 train, 2 validation, 2 test
FRAMES="${FRAMES:-30}"
SIZE="${SIZE:-96}"
FOV="${FOV:-135 150}"                     # mm: the default phantom's 1.4-1.6 mm pixels, as the shipped twin saw
SEED="${SEED:-0}"
NAME="${NAME:-quickstart}"
FACTOR="${FACTOR:-6}"                     # temporal down-sampling of the input
INTERP_EPOCHS="${INTERP_EPOCHS:-3}"       # x 67 steps of 8 samples
PHASE_EPOCHS="${PHASE_EPOCHS:-2}"         # x 67 steps of 8 samples, for the GAN and for its L1 baseline
# One compute thread per process: the data loader is the other process on a 2-core machine, and
# oversubscribed thread pools are much slower than one thread each.
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
COMMON=(--dataroot "$DATAROOT" --seed "$SEED" --no_progress)
# Stage 2 refines the subject's kinematic prior: fitting the training subjects' cross-fitted priors adds about
# 12 s to each phase run's start on 6 training subjects (2 cores). Its correction of the prior starts at zero
# and is priced (--lambda_correction), as in the shipped recipe; unlike that recipe it learns from the
# acquired frames, not from stage 1's (running stage 1 over the training cohort first is the longer way).
PHASE_NET=(--netG r2unet --base_channels 16 --depth 3 --ndf 32 --crop_size 64 --temporal_window 5 --cycle_conditioning
           --prior kinematic --lambda_correction 25)

# Each step says when it starts (minutes:seconds since the set-up ended), so a slow step shows.
step() { local t=$(( SECONDS - started )); printf '\n== %s [%d:%02d]\n' "$*" $(( t / 60 )) $(( t % 60 )); }
started=$SECONDS

step "1/7 phantom: $SUBJECTS subjects x 3 slices x $FRAMES frames at ${SIZE}x${SIZE} -> $DATAROOT"
# shellcheck disable=SC2086  # FOV is two numbers
"$PY" -m data.phantom --out "$DATAROOT" --subjects "$SUBJECTS" --frames "$FRAMES" --size "$SIZE" --seed "$SEED" \
  --fov $FOV --random_pathology territory lbbb global --pathology_fraction 0.5

step "2/7 overview figure -> img/phantom_overview.png"
first_subject="$("$PY" -c "import json,sys; print(json.load(open(sys.argv[1]))['test'][0])" "$DATAROOT/splits.json")"
"$PY" -m data.overview "$DATAROOT/$first_subject.h5" img/phantom_overview.png

step "3/7 stage 1: frame interpolation, then evaluation at k = $FACTOR on the test subjects"
"$PY" train.py --model interp --name "${NAME}_interp" "${COMMON[@]}" --num_workers 1 --batch_size 8 \
  --n_epochs "$INTERP_EPOCHS" --steps_per_epoch 67 --base_channels 16 --depth 3 --lr 2e-3 --lr_policy cosine \
  --val_freq "$INTERP_EPOCHS" --print_freq 100
"$PY" test.py --model interp --name "${NAME}_interp" "${COMMON[@]}" --factor "$FACTOR"

step "4/7 stage 2: velocity GAN and its L1-only baseline side by side, then evaluation on the test subjects"
# Each run is one single-threaded process: on 2 cores the two train at once in the time of one. The
# baseline's console goes to a file, printed when both are done (a failure prints it and stops here).
mkdir -p checkpoints
l1_console="checkpoints/${NAME}_phase_l1.console.txt"
"$PY" train.py --model phase --name "${NAME}_phase_l1" "${COMMON[@]}" --num_workers 0 --batch_size 8 \
  --n_epochs "$PHASE_EPOCHS" "${PHASE_NET[@]}" --val_max_batches 10 --print_freq 100 --l1_only > "$l1_console" 2>&1 &
l1_pid=$!
trap 'kill "$l1_pid" 2>/dev/null || true' EXIT  # not left running if the GAN's training fails
"$PY" train.py --model phase --name "${NAME}_phase" "${COMMON[@]}" --num_workers 0 --batch_size 8 \
  --n_epochs "$PHASE_EPOCHS" "${PHASE_NET[@]}" --val_max_batches 10 --print_freq 100 --tissue_noise physics
if ! wait "$l1_pid"; then
  cat "$l1_console" >&2
  echo "error: the L1-only baseline's training failed (its console above, also in $l1_console)" >&2
  exit 1
fi
trap - EXIT
printf '\n-- the L1-only baseline, trained beside it (%s):\n' "$l1_console"
cat "$l1_console"
"$PY" test.py --model phase --name "${NAME}_phase" "${COMMON[@]}" --baseline_name "${NAME}_phase_l1"

step "5/7 chained synthesis of the test subjects from every ${FACTOR}th magnitude frame"
"$PY" test.py --model hdl --name "$NAME" "${COMMON[@]}" --factor "$FACTOR" --gif --workers 2 \
  --interp_name "${NAME}_interp" --phase_name "${NAME}_phase" --baseline_phase_name "${NAME}_phase_l1"

step "6/7 the shipped twin (pretrained/, trained on another phantom cohort) on the same subjects"
"$PY" -m models.pretrained verify
"$PY" test.py --model hdl --name "${NAME}_shipped" "${COMMON[@]}" --factor "$FACTOR" --pretrained --workers 2

step "7/7 done; the tables (README form)"
table() { printf '\n%s\n\n' "$1"; shift; "$PY" -m assessment.tables "$@"; }
table "Stage 1, non-key frames at k = $FACTOR:" "results/${NAME}_interp/interp/metrics.csv" \
  --columns method psnr psnr_fg ssim ssim_fg dice
table "Stage 2, velocities from the acquired magnitude:" "results/${NAME}_phase/phase/metrics.csv" \
  --columns method vel_mae_myo_cm_s vel_mae_myo_true_cm_s vel_skill vel_psnr_tissue_x vel_psnr_tissue_z \
  vel_hp_std_tissue_cm_s vel_bg_std_cm_s
CHAIN=(--columns method mag_psnr_nonkey myo_dice_nonkey vel_mae_myo_true_cm_s vel_skill curve_radial_r
       curve_circumferential_r curve_longitudinal_r peak_err_mean_cm_s ttp_err_mean_frames seg_peak_radial_systolic_r
       dyssync_err_ms correction_myo_cm_s)
table "Chain, briefly trained twin:" "results/$NAME/hdl/metrics.csv" "${CHAIN[@]}"
table "Chain, shipped twin:" "results/${NAME}_shipped/hdl/metrics.csv" "${CHAIN[@]}"
echo
echo "results pages: $HDL_ROOT/results/$NAME/hdl/index.html"
echo "               $HDL_ROOT/results/${NAME}_shipped/hdl/index.html"
