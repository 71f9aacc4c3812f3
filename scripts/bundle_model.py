"""Copy a trained checkpoint into the package as the bundled model (weights stored as float16, config kept).

    python scripts/bundle_model.py runs/raw_x/last.safetensors raw
    python scripts/bundle_model.py runs/onehot_x/last.safetensors onehot
"""

import sys
from pathlib import Path

import torch

from dance2d.checkpoint import load_checkpoint, save_checkpoint
from dance2d.pipeline import bundled_model_path


def main(src: str, name: str) -> None:
    state, config = load_checkpoint(src)
    half = {k: v.to(torch.float16) if v.is_floating_point() else v for k, v in state.items()}
    out = bundled_model_path(name)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    save_checkpoint(out, half, config)
    print(f"{out}: {Path(out).stat().st_size / 2**20:.1f} MiB")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
