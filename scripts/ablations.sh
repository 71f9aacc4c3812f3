#!/usr/bin/env bash
# The paper's ablations (Tables 4-6) at our scale: four runs with the same data, preset, steps, batch and seed,
# differing only in one switch each, then generation on the held-out Dance with Melody songs and evaluation.
#   bash scripts/ablations.sh ../shared/data/dance_with_melody
# Writes runs/abl_*/ and runs/eval_ablations/results.json (the table in docs/RESULTS.md).
set -euo pipefail
DWM=${1:-../shared/data/dance_with_melody}
STEPS=${STEPS:-1200}
COMMON="--preset tiny --steps $STEPS --batch 16 --frames 128 --seed 0 --threads 1 --sample-every 0 --ckpt-every 200 --log-every 50"
# one-hot + TAEF2 cache (shared with the bundled model) and the raw thin-image cache
dance2d prepare --dataset dwm --root "$DWM" --out cache/dwm_w256 --width 256 --sigma 2.0 --fps 25 --views 1 --mirror --frames 128
dance2d prepare --dataset dwm --root "$DWM" --out cache/dwm_raw --codec raw --fps 25 --views 1 --mirror --frames 128
dance2d train --cache cache/dwm_w256 --out runs/abl_base $COMMON --patch-w 4                        # one-hot, time-shared, reference
dance2d train --cache cache/dwm_raw --out runs/abl_raw $COMMON                                       # (a) raw 2D thin image
dance2d train --cache cache/dwm_w256 --out runs/abl_seq $COMMON --patch-w 4 --index sequential      # (b) sequential indices
dance2d train --cache cache/dwm_w256 --out runs/abl_noref $COMMON --patch-w 4 --reference off       # (c) no reference
python scripts/eval_models.py --root "$DWM" --seconds 30 --out runs/eval_ablations \
    --model base=runs/abl_base/last.safetensors --model raw2d=runs/abl_raw/last.safetensors \
    --model sequential=runs/abl_seq/last.safetensors --model no-reference=runs/abl_noref/last.safetensors
