"""A model's diffusion loss per noise level on held-fixed windows of a cache, to compare checkpoints.

    python scripts/loss_by_noise.py --cache cache/dwm_w256_sq8 shipped=onehot grown=runs/oh_s18/last.safetensors

Every model sees the same windows, the same references and the same noise at each τ, in its own normalisation and
loss space (its checkpoint's). At small τ the x loss is how much of a nearly clean latent a model can reproduce: a
linear output layer cannot go below the variance its dim-wide subspace leaves out (docs/decisions.md, "Token
width"). Prints one JSON line: {"tau": [...], "loss": {label: [...]}}.
"""

import argparse
import json

import torch

from dance2d.data.windows import WindowDataset
from dance2d.diffusion import diffusion_loss
from dance2d.pipeline import Dance2D
from dance2d.train import TrainConfig, make_batch


def loss_by_noise(model: str, cache: str, taus: list[int], windows: int = 64, batch: int = 16,
                  seed: int = 0) -> list[float]:
    """The mean diffusion loss of MODEL at each τ on `windows` windows of CACHE drawn with `seed`."""
    pipe = Dance2D.from_pretrained(model, fast=False)
    net, data = pipe.model.eval(), pipe.data
    dataset = WindowDataset(cache, data.frames, seed=seed)
    picks = torch.randperm(len(dataset), generator=torch.Generator().manual_seed(seed))[:windows].tolist()
    cfg = TrainConfig(cache=cache, out="", pose_aware_frames=data.pose_aware_frames)
    schedule = pipe.diffusion.make_schedule()
    sums = [0.0] * len(taus)
    for start in range(0, len(picks), batch):
        idx = picks[start:start + batch]
        gen = torch.Generator().manual_seed(seed + start)
        inputs = make_batch(dataset.batch(idx), data, cfg, gen, net.config.reference)
        z0 = inputs.pop("z0")
        for i, tau in enumerate(taus):
            eps = torch.randn(z0.shape, generator=torch.Generator().manual_seed(seed + start + 7 * tau))
            with torch.no_grad():
                loss = diffusion_loss(net, z0, torch.full((len(z0),), tau), eps, schedule, pipe.diffusion, **inputs)
            sums[i] += float(loss) * len(idx)
    return [round(s / len(picks), 4) for s in sums]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="+", help="LABEL=MODEL (a bundled name or a checkpoint path)")
    ap.add_argument("--cache", required=True, help="cache folder from `dance2d prepare` (the models' representation)")
    ap.add_argument("--taus", default="20,50,100,200,400,700,950", help="comma-separated diffusion steps τ")
    ap.add_argument("--windows", type=int, default=64, help="windows drawn from the cache")
    ap.add_argument("--batch", type=int, default=16, help="windows per forward pass")
    ap.add_argument("--seed", type=int, default=0, help="seed of the windows, references and noise")
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = default)")
    a = ap.parse_args()
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    taus = [int(t) for t in a.taus.split(",")]
    out = {"tau": taus, "loss": {}}
    for spec in a.models:
        label, _, model = spec.partition("=")
        out["loss"][label] = loss_by_noise(model or label, a.cache, taus, a.windows, a.batch, a.seed)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
