"""Convert the TAEF2 PyTorch weights (MIT, Ollin Boer Bohan) into the packaged safetensors asset.

Run once, from the repository root:

    python scripts/convert_taef2.py --src ../shared/weights/taef2 --out src/dance2d/assets

It reads taef2_encoder.pth, taef2_decoder.pth and LICENSE from --src and writes
--out/taef2.safetensors (keys prefixed `encoder.` / `decoder.`, dtype kept) and --out/LICENSE.taef2.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import tempfile
from pathlib import Path

import torch
from safetensors.torch import save_file


def atomic_write(path: Path, write) -> None:
    """Call write(tmp_path) on a temporary file next to `path`, then move it into place."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--src", type=Path, required=True, help="folder with taef2_encoder.pth, taef2_decoder.pth, LICENSE")
    ap.add_argument("--out", type=Path, required=True, help="folder that receives taef2.safetensors and LICENSE.taef2")
    args = ap.parse_args()

    tensors: dict[str, torch.Tensor] = {}
    digests = {}
    for part in ("encoder", "decoder"):
        src = args.src / f"taef2_{part}.pth"
        digests[part] = hashlib.sha256(src.read_bytes()).hexdigest()
        state = torch.load(src, map_location="cpu", weights_only=True)
        tensors.update({f"{part}.{k}": v.contiguous() for k, v in state.items()})
    metadata = {
        "source": "github.com/madebyollin/taesd taef2_encoder.pth / taef2_decoder.pth",
        "license": "MIT, Copyright (c) 2023 Ollin Boer Bohan (see LICENSE.taef2)",
        "sha256_encoder_pth": digests["encoder"],
        "sha256_decoder_pth": digests["decoder"],
    }
    args.out.mkdir(parents=True, exist_ok=True)
    atomic_write(args.out / "taef2.safetensors", lambda tmp: save_file(tensors, tmp, metadata=metadata))
    license_text = (args.src / "LICENSE").read_text()
    atomic_write(args.out / "LICENSE.taef2", lambda tmp: Path(tmp).write_text(license_text))
    print(f"wrote {len(tensors)} tensors to {args.out / 'taef2.safetensors'} and {args.out / 'LICENSE.taef2'}")


if __name__ == "__main__":
    main()
