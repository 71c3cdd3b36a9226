#!/usr/bin/env bash
# Chained synthesis on your own data: down-sampled magnitude cines (+ key-frame masks) in, full 3Dir MVM
# digital twins with velocity curves out, next to the baseline chain, with the report page.
#   bash scripts/test_hdl.sh                                        # defaults below
#   DATAROOT=/data/mvm NAME=site_a FACTOR=4 bash scripts/test_hdl.sh --split all
#   bash scripts/test_hdl.sh --input_keyframes_only --subjects p01  # extra arguments go to test.py
#   bash scripts/test_hdl.sh --gif --workers 4     # cine GIFs on the subject pages; 4 subjects at a time
# Input: a folder of <subject>.h5 files (python -m data.scanner.import_dicom / data.scanner.import_nifti convert scans).
# Full cines are down-sampled by FACTOR and scored against the frames left out; files holding key frames
# only (frame_index/n_frames, or --input_keyframes_only) and files without velocity are synthesised and
# analysed without scores.
# Writes results/<NAME>/hdl/: index.html, metrics.csv, velocity_curves.csv, velocity_peaks.csv,
# figures/, subjects/<method>/<subject>.h5 (and nifti/ with EXPORT_NIFTI=1).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup_env.sh"

# ---- knobs ---------------------------------------------------------------------------------------
DATAROOT="${DATAROOT:-datasets/phantom}"
NAME="${NAME:-hdl}"                         # results go to results/<NAME>/hdl
INTERP_NAME="${INTERP_NAME:-interp}"        # trained stage-1 run under checkpoints/
PHASE_NAME="${PHASE_NAME:-phase}"           # trained stage-2 run under checkpoints/
BASELINE_PHASE_NAME="${BASELINE_PHASE_NAME-phase_l1}"  # L1-only stage-2 run; empty = baseline uses PHASE_NAME
FACTOR="${FACTOR:-6}"                       # key frame every FACTOR frames
GPU="${GPU:-}"                              # CUDA index; -1 = CPU; empty = first GPU if there is one
SPLIT="${SPLIT:-test}"                      # train | val | test | all
WHICH="${WHICH:-best}"                      # best | latest | an epoch number (both runs)
BATCH_SIZE="${BATCH_SIZE:-16}"              # frames per network call
SEED="${SEED:-0}"                           # seed of the background noise draws
EXPORT_NIFTI="${EXPORT_NIFTI:-0}"           # 1 = also write the twins as NIfTI
FID="${FID:-0}"                             # 1 = try FID (needs pytorch-fid and its weights)
# ---------------------------------------------------------------------------------------------------

EXTRA=()
if [[ -n "$GPU" ]]; then EXTRA+=(--gpu "$GPU"); fi
if [[ -n "$BASELINE_PHASE_NAME" ]]; then EXTRA+=(--baseline_phase_name "$BASELINE_PHASE_NAME"); fi
if [[ "$EXPORT_NIFTI" == "1" ]]; then EXTRA+=(--export_nifti); fi
if [[ "$FID" == "1" ]]; then EXTRA+=(--fid); fi

"$PY" test.py --model hdl --dataroot "$DATAROOT" --name "$NAME" --interp_name "$INTERP_NAME" \
  --phase_name "$PHASE_NAME" --factor "$FACTOR" --split "$SPLIT" --which_epoch "$WHICH" \
  --batch_size "$BATCH_SIZE" --seed "$SEED" "${EXTRA[@]}" "$@"
