#!/usr/bin/env bash
# Accelerator recipe: train the one-hot + TAEF2 model (or, with --codec raw or a raw --init, the raw-coordinate
# model) on one lent GPU within ~9 minutes and write fp16 weights in
# ≤ 16 MB shards to OUT (load them with `dance2d generate --model OUT`). The GPU machine has PyTorch with CUDA
# but no librosa / soundfile and no network: it needs the repository plus a pose + music pack made here with
# scripts/pack_device_data.py (carried as device/dwm_pack.npz: all 33 training songs, 396 camera × tempo views, in 32.8 MiB; with the bundled
# models left behind the repository and pack stay under 64 MiB). Extra arguments go to train_device.py. On one H200:
# 792 views cached in 62 s, then ~63 ms per step of batch 256 (docs/RESULTS.md).
#   bash scripts/train_device.sh weights/onehot --batch 256 --patch-w 1      # the token-width fix, untried
#   bash scripts/train_device.sh weights/onehot_gpu --init weights/onehot_stage3c_33songs.safetensors  # warm start
#   bash scripts/train_device.sh weights/raw_gpu --init src/dance2d/assets/model/raw.safetensors --batch 256
#   bash scripts/device_run.sh OUT      # the prepared call: both of the above side by side on one GPU
#   bash scripts/train_device.sh /tmp/w --preset tiny --steps 5 --max-views 2     # CPU smoke test
set -euo pipefail
OUT=${1:?usage: train_device.sh OUT_FOLDER [train_device.py options]}
shift
cd "$(dirname "$0")/.."
PACK=${PACK:-device/dwm_pack.npz}
[ -f "$PACK" ] || { echo "No pose + music pack at $PACK; make it with scripts/pack_device_data.py (or set PACK=...)." >&2; exit 2; }
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"   # no install step: the GPU machine cannot download
PY=${PYTHON:-python3}   # the interpreter with torch (PYTHON=... to choose another)
"$PY" -c "import torch, numpy, safetensors, tqdm" 2>/dev/null || {
  echo "train_device.sh needs torch, numpy, safetensors and tqdm; install them (pip install safetensors tqdm)." >&2; exit 2; }
"$PY" scripts/train_device.py --pack "$PACK" --out "$OUT" "$@"
