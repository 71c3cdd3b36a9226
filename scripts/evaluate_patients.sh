#!/usr/bin/env bash
# The reference evaluation of regional function: a phantom cohort of healthy subjects and patients (a
# hypokinetic or akinetic coronary territory, LBBB-like dyssynchrony, globally reduced function), the
# shipped twin chained from every 6th frame on its held-out subjects, and the kinematic prior's ablation.
#   bash scripts/evaluate_patients.sh                 # about 40-60 minutes on 2 CPU cores
#   SUBJECTS=30 bash scripts/evaluate_patients.sh     # a smaller cohort
# The split puts about two thirds of the subjects in the held-out test split (47 of 72: 24 healthy, 23
# patients for the default seed); the train split (18) gives the kinematic prior's templates and, with the
# validation split, the regional normals and the detection threshold. Knobs come from the environment.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup_env.sh"

DATAROOT="${DATAROOT:-datasets/patients}"
SUBJECTS="${SUBJECTS:-72}"
SEED="${SEED:-2027}"                       # cohort seed: not the shipped twin's training cohort (2026)
NAME="${NAME:-patients_shipped}"
FACTOR="${FACTOR:-6}"
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"

step() { printf '\n== %s\n' "$*"; }
if [[ ! -f "$DATAROOT/splits.json" ]]; then
  step "phantom: $SUBJECTS subjects (seed $SEED), half of them patients -> $DATAROOT"
  "$PY" -m data.phantom --out "$DATAROOT" --subjects "$SUBJECTS" --seed "$SEED" \
    --random_pathology territory lbbb global --pathology_fraction 0.5 --val_fraction 0.1 --test_fraction 0.65
fi
"$PY" -m assessment.phantom_normals "$DATAROOT" | tail -n 8

step "the shipped twin and every yardstick on the held-out subjects, k = $FACTOR"
"$PY" test.py --model hdl --name "$NAME" --pretrained --dataroot "$DATAROOT" --factor "$FACTOR" --no_progress \
  --workers 2

step "the kinematic prior's parts, on the held-out subjects' own masks"
"$PY" -m scripts.kinematic_ablation --dataroot "$DATAROOT" --split test --factor "$FACTOR"

step "the tables (README form)"
"$PY" -m assessment.tables "results/$NAME/hdl/metrics.csv" --columns method vel_mae_myo_true_cm_s \
  vel_mae_myo_true_cm_s_ci_low vel_mae_myo_true_cm_s_ci_high vel_mae_myo_true_cm_s_diff_ref curve_radial_r \
  curve_circumferential_r curve_longitudinal_r seg_peak_radial_systolic_r hypo_ratio detect_auc detect_healthy_fpr \
  dyssync_err_ms
echo
echo "results page: $HDL_ROOT/results/$NAME/hdl/index.html"
