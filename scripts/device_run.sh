#!/usr/bin/env bash
# One call on a lent GPU, prepared so that a session spends its device minutes on training, not on set-up: the
# one-hot model with one latent column per token (the token-width fix, docs/decisions.md "Token width"), from
# scratch, with the low-terminal-SNR schedule that kept one-hot fine-tunes from scattering their joints
# (docs/RESULTS.md), and the raw model warm-started from the bundled weights on the one-canvas pack, side by side
# on the one GPU (each is far from filling it). Weights come back as ≤ 16 MB shards under OUT/oh and OUT/raw, the logs and
# summaries in OUT/meta.tar (the device tool returns at most 8 files). Needs device/dwm_pack.npz (all 396 views:
# `python scripts/pack_device_data.py CACHE device/dwm_pack.npz --max-mib 36`) and, for the 64 MiB the tree may
# take, the other .safetensors files moved out of src/dance2d/assets/model and weights/ for the call. ~8 minutes.
#   bash scripts/device_run.sh "$OUT" [MINUTES [train_device.py options for both runs, e.g. a tiny CPU check]]
set -uo pipefail
OUT=${1:?usage: device_run.sh OUT_FOLDER [TRAINING_MINUTES [OPTIONS]]}
MIN=${2:-6.0}
shift $(( $# < 2 ? $# : 2 ))
cd "$(dirname "$0")/.."
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
bash scripts/train_device.sh "$OUT/oh" --patch-w 1 --batch 256 --lr 4e-4 --schedule scaled_linear_low_snr \
  --cache-minutes 1.5 --minutes "$MIN" "$@" > "$OUT/oh.log" 2>&1 &
OH=$!
bash scripts/train_device.sh "$OUT/raw" --init src/dance2d/assets/model/raw.safetensors --batch 256 --lr 2e-4 \
  --cache-minutes 1.0 --minutes "$MIN" "$@" > "$OUT/raw.log" 2>&1 &
RAW=$!
FAILED=""
wait $OH || FAILED="$FAILED oh"
wait $RAW || FAILED="$FAILED raw"
cd "$OUT" || exit 1
for r in oh raw; do  # what went wrong, if anything, without the progress bars
  echo "== $r"; tr '\r' '\n' < $r.log | grep -v '^train:' | tail -6; tr '\r' '\n' < $r.log | grep '^train:' | tail -1
done
META="oh.log raw.log oh/log.jsonl oh/summary.json raw/log.jsonl raw/summary.json"
tar cf meta.tar $META && rm -f $META  # the logs stay loose if tar fails
ls -la oh raw
[ -z "$FAILED" ] || { echo "device_run.sh: the run(s)$FAILED failed; their logs are above and in $OUT/meta.tar." >&2; exit 1; }
