#!/usr/bin/env bash
# Prediction-target ablation (docs/RESULTS.md): `tiny` DiTs with identical data, steps, batch and seed, differing
# only in what the network predicts (eps | v | x), the loss space and the velocity loss. Raw coordinates first
# (cheap), then one-hot + TAEF2 (set ONEHOT=1).
#   bash scripts/ablate_targets.sh ../shared/data/dance_with_melody runs/targets
set -euo pipefail
DWM=${1:-../shared/data/dance_with_melody}
OUT=${2:-runs/targets}
STEPS=${STEPS:-1200}
COMMON="--preset tiny --steps $STEPS --batch 16 --frames 128 --seed 0 --threads 1 --sample-every 0 --ckpt-every 400 --log-every 50"
CACHE=${CACHE:-cache}
[ -f $CACHE/dwm_raw/index.json ] || dance2d prepare --dataset dwm --root "$DWM" --out $CACHE/dwm_raw --codec raw \
    --fps 25 --views 1 --mirror --frames 128
run() { [ -f "$OUT/$1/last.safetensors" ] && [ ! -f "$OUT/$1/train_state.pt.tmp" ] && grep -q "\"step\": $STEPS" "$OUT/$1/log.jsonl" 2>/dev/null \
        || dance2d train --out "$OUT/$1" "${@:2}" $COMMON; }
run raw-eps --cache $CACHE/dwm_raw --prediction eps
run raw-x-xloss --cache $CACHE/dwm_raw --prediction x --loss x
run raw-x-vloss --cache $CACHE/dwm_raw --prediction x --loss v
run raw-x-vloss-vel --cache $CACHE/dwm_raw --prediction x --loss v --velocity-loss 1.0
MODELS="--model raw-eps=$OUT/raw-eps/last.safetensors --model raw-x-xloss=$OUT/raw-x-xloss/last.safetensors
        --model raw-x-vloss=$OUT/raw-x-vloss/last.safetensors --model raw-x-vloss-vel=$OUT/raw-x-vloss-vel/last.safetensors"
# One-hot cache: the 8-song, one-camera set of the probes. TAEF2 encodes ~50 frames/s on one CPU core, so all 33
# songs with a mirror would take about an hour of a core.
if [ "${ONEHOT:-0}" = 1 ]; then
  [ -f $CACHE/dwm_w256_s8/index.json ] || dance2d prepare --dataset dwm --root "$DWM" --out $CACHE/dwm_w256_s8 \
      --width 256 --sigma 2.0 --fps 25 --views 1 --frames 128 --limit 8
  run onehot-eps --cache $CACHE/dwm_w256_s8 --patch-w 4 --prediction eps
  run onehot-v --cache $CACHE/dwm_w256_s8 --patch-w 4 --prediction v
  run onehot-x-xloss --cache $CACHE/dwm_w256_s8 --patch-w 4 --prediction x --loss x
  MODELS="--model onehot-eps=$OUT/onehot-eps/last.safetensors --model onehot-v=$OUT/onehot-v/last.safetensors
          --model onehot-x-xloss=$OUT/onehot-x-xloss/last.safetensors"
fi
python scripts/eval_models.py --root "$DWM" --seconds 30 --out "$OUT/eval${ONEHOT:+_onehot}" $MODELS
