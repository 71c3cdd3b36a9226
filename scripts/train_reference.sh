#!/usr/bin/env bash
# The reference training of the twin shipped in pretrained/ (see pretrained/MODEL_CARD.md): a phantom
# cohort, both stages, evaluation on its held-out subjects and on a cohort drawn differently, export.
#   bash scripts/train_reference.sh              # 2 CPU cores: stage 1, its frames of the cohort, stage 2; 45-60 min
#   DEVICE=gpu bash scripts/train_reference.sh   # one GPU: larger batches, bf16, a longer schedule
#   STAGES=phase EXPORT=1 bash scripts/train_reference.sh   # stage 2 only; the shipped stage 1 stays
#   PHASE_INPUTS=acquired LAMBDA_CORRECTION=0 bash scripts/train_reference.sh   # the earlier stage-2 recipe
# Knobs come from the environment. The shipped stage 2 is what this script produces with STAGES=phase and
# its defaults (CPU settings): trained on the shipped stage 1's frames of the cohort, its correction of the
# prior priced (the recipe docs/RESULTS.md's diagnosis led to). The shipped stage 1 is the earlier run of
# the same stage-1 recipe on the healthy 30-subject cohort of this seed. The model card gives the
# commands, the metrics and the hashes.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup_env.sh"

DATAROOT="${DATAROOT:-datasets/reference}"
SUBJECTS="${SUBJECTS:-40}"                # 32 train, 4 validation, 4 held out; half of them patients
SEED="${SEED:-2026}"                      # cohort seed: not the quick start's (0)
NAME="${NAME:-reference}"
DEVICE="${DEVICE:-cpu}"                   # cpu | gpu
EXPORT="${EXPORT:-0}"                     # 1: copy the best weights into pretrained/ and write the hashes
STAGES="${STAGES:-interp phase}"          # the stages to train (the evaluation uses both runs)
# stage1: stage 2 learns from stage 1's frames and masks of the non-key frames, the inputs the chain gives
# it (and validates on them, so that the share of its correction it keeps is chosen on chain inputs);
# acquired: from the acquired frames and masks.
PHASE_INPUTS="${PHASE_INPUTS:-stage1}"
LAMBDA_CORRECTION="${LAMBDA_CORRECTION:-25}"   # the price of stage 2's correction of its prior
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"

if [[ "$DEVICE" == "gpu" ]]; then
  # One GPU: both stages in turn, bf16, larger batches and about 10x the CPU schedule.
  HW=(--gpu 0 --precision bf16 --num_workers 8 --batch_size 32)
  INTERP_EPOCHS=100; PHASE_EPOCHS=100; PARALLEL=0
else
  # 2 CPU cores: one compute thread per stage, the stages side by side, data read in the same process.
  HW=(--gpu -1 --num_workers 0 --batch_size 8)
  INTERP_EPOCHS="${INTERP_EPOCHS:-20}"; PHASE_EPOCHS="${PHASE_EPOCHS:-25}"; PARALLEL=1
fi
COMMON=(--dataroot "$DATAROOT" --seed 0 --no_progress "${HW[@]}")
# Stage 1: hybrid UNet, width 16, 4 levels, trained on 96x96 crops around the heart (whole 128x128
# images at inference), augmented by quarter turns and mirrors.
INTERP=(--model interp --name "${NAME}_interp" --n_epochs "$INTERP_EPOCHS" --steps_per_epoch 75 --crop_size 96
        --base_channels 16 --depth 4 --lr 2e-3 --lr_policy cosine --augment --val_freq 5 --val_max_batches 20)
# Stage 2: R2U-Net refining the subject's kinematic prior (cross-fitted on the training subjects, read
# from the key frames at inference), cycle-aware (5 frames, FiLM on cycle fraction and
# slice), PatchGAN, tissue noise.
PHASE=(--model phase --name "${NAME}_phase" --n_epochs "$PHASE_EPOCHS" --steps_per_epoch 100
       --netG r2unet --base_channels 16 --depth 3 --ndf 32 --crop_size 64 --temporal_window 5
       --cycle_conditioning --prior kinematic --tissue_noise physics --lr_policy cosine --val_freq 5
       --val_max_batches 20 --lambda_correction "$LAMBDA_CORRECTION")

step() { printf '\n== %s\n' "$*"; }
if [[ ! -f "$DATAROOT/splits.json" ]]; then
  step "phantom: $SUBJECTS subjects (seed $SEED), half of them patients -> $DATAROOT"
  "$PY" -m data.phantom --out "$DATAROOT" --subjects "$SUBJECTS" --seed "$SEED" \
    --random_pathology territory lbbb global --pathology_fraction 0.5 --val_fraction 0.1 --test_fraction 0.1
fi

case "$PHASE_INPUTS" in stage1 | acquired) ;; *) echo "error: PHASE_INPUTS=$PHASE_INPUTS: use stage1 or acquired" >&2; exit 2 ;; esac
# Stage 1's frames and masks of every subject of the cohort, with the acquired velocities kept as targets
# (test.py --model interp writes complete subject files), for stage 2 to learn from.
stage1_inputs() {
  local interp=(--checkpoints_dir pretrained --name interp)
  [[ "$STAGES" != *interp* ]] || interp=(--name "${NAME}_interp")
  step "stage 1 over the cohort: the inputs stage 2 learns from"
  "$PY" test.py --model interp "${interp[@]}" --dataroot "$DATAROOT" --split all --factor 6 --gpu "${HW[1]}" \
    --no_progress --results_dir "checkpoints/${NAME}_stage1"
  local folder="checkpoints/${NAME}_stage1/$(basename "${interp[-1]}")/interp/subjects"
  cp "$DATAROOT/splits.json" "$folder/"
  PHASE_ROOT=(--dataroot "$folder")
}
PHASE_ROOT=()

step "training: $STAGES ($DEVICE)"
if [[ "$PHASE_INPUTS" == "stage1" && "$STAGES" == *phase* ]]; then
  [[ "$STAGES" != *interp* ]] || "$PY" train.py "${INTERP[@]}" "${COMMON[@]}"
  stage1_inputs
  "$PY" train.py "${PHASE[@]}" "${COMMON[@]}" "${PHASE_ROOT[@]}"
elif [[ "$PARALLEL" == "1" && "$STAGES" == "interp phase" ]]; then
  mkdir -p checkpoints
  "$PY" train.py "${INTERP[@]}" "${COMMON[@]}" > "checkpoints/${NAME}_interp.log" 2>&1 &
  interp_pid=$!
  "$PY" train.py "${PHASE[@]}" "${COMMON[@]}"
  wait "$interp_pid" || { cat "checkpoints/${NAME}_interp.log"; exit 1; }
  tail -n 2 "checkpoints/${NAME}_interp.log"
else
  [[ "$STAGES" != *interp* ]] || "$PY" train.py "${INTERP[@]}" "${COMMON[@]}"
  [[ "$STAGES" != *phase* ]] || "$PY" train.py "${PHASE[@]}" "${COMMON[@]}"
fi

# The chain: the stages trained here, the shipped one (--pretrained) for a stage not trained.
CHAIN=()
[[ "$STAGES" == *interp* && "$STAGES" == *phase* ]] || CHAIN+=(--pretrained)
[[ "$STAGES" != *interp* ]] || CHAIN+=(--interp_name "${NAME}_interp")
[[ "$STAGES" != *phase* ]] || CHAIN+=(--phase_name "${NAME}_phase")

step "held-out subjects of the training cohort, k = 6"
TEST=(--dataroot "$DATAROOT" --gpu "${HW[1]}" --no_progress)
[[ "$STAGES" != *interp* ]] || "$PY" test.py --model interp --name "${NAME}_interp" "${TEST[@]}" --factor 6
[[ "$STAGES" != *phase* ]] || "$PY" test.py --model phase --name "${NAME}_phase" "${TEST[@]}"
"$PY" test.py --model hdl --name "$NAME" "${TEST[@]}" --factor 6 "${CHAIN[@]}"

step "a cohort drawn differently: 30 frames, faster hearts, lower SNR"
OTHER="${DATAROOT}_shifted"
[[ -f "$OTHER/splits.json" ]] || "$PY" -m data.phantom --out "$OTHER" --subjects 6 --seed $((SEED + 1)) \
  --frames 30 --heart_rate 75 110 --snr 12 20
"$PY" test.py --model hdl --name "${NAME}_shifted" --dataroot "$OTHER" --split all --gpu "${HW[1]}" --no_progress \
  --factor 6 "${CHAIN[@]}"

if [[ "$EXPORT" == "1" ]]; then
  step "export to pretrained/"
  EXPORTED=()
  [[ "$STAGES" != *interp* ]] || EXPORTED+=(--interp "checkpoints/${NAME}_interp")
  [[ "$STAGES" != *phase* ]] || EXPORTED+=(--phase "checkpoints/${NAME}_phase")
  "$PY" -m models.pretrained export "${EXPORTED[@]}"
fi
