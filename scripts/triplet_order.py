"""Does the assignment of one-hot channels to RGB triplets matter? Round trip of real poses through TAEF2 with the
paper's order (x0 y0 x1 | y1 x2 y2 | …) and with an order that keeps channels whose peaks often sit on the same
bins out of the same image (docs/RESULTS.md).

    python scripts/triplet_order.py --cache cache/dwm_raw --root ../shared/data/dance_with_melody

The spread order is found on the training cache (how often two channels' peaks lie within 3σ bins of each other
in the same frame) by greedy swaps that lower the summed co-location inside triplets; the round trip is measured
on windows of the held-out songs. Prints one JSON line per order.
"""

from __future__ import annotations

import argparse
import json

import numpy as np
import torch

from dance2d.codec.base import TRIPLET
from dance2d.data.windows import WindowDataset
from dance2d.evaluate import ground_truth
from dance2d.representation import Representation


def colocation(kp: np.ndarray, width: int, sigma: float) -> np.ndarray:
    """(C, C) fraction of frames in which channels c and d both have a peak and the peaks are within 3σ bins."""
    bins = kp[..., :2].reshape(len(kp), -1) * width  # (N, C): channel 2k = x of joint k, 2k+1 = y
    on = np.repeat(kp[..., 2] > 0, 2, axis=1)  # (N, C)
    close = np.abs(bins[:, :, None] - bins[:, None, :]) < 3 * sigma
    both = on[:, :, None] & on[:, None, :]
    return (close & both).mean(0)


def spread_order(co: np.ndarray, iters: int = 20000, seed: int = 0) -> list[int]:
    """A channel order (triplets = consecutive threes) with low summed co-location inside triplets."""
    rng = np.random.default_rng(seed)
    c = len(co)
    order = np.arange(c)

    def cost(o: np.ndarray, g: int) -> float:
        t = o[g * TRIPLET:(g + 1) * TRIPLET]
        return float(co[t[0], t[1]] + co[t[0], t[2]] + co[t[1], t[2]])

    for _ in range(iters):
        i, j = rng.integers(0, c, 2)
        gi, gj = i // TRIPLET, j // TRIPLET
        if gi == gj:
            continue
        before = cost(order, gi) + cost(order, gj)
        order[[i, j]] = order[[j, i]]
        if cost(order, gi) + cost(order, gj) > before:
            order[[i, j]] = order[[j, i]]
    return order.tolist()


def round_trip(rep: Representation, kp: np.ndarray, order: list[int], canvas) -> dict:
    """Mean and 99th-percentile joint error (px) and the share of joints off by more than 3σ bins (a neighbour's
    line), for windows kp (B, T, K, 3) through the codec with channels in `order`."""
    inv = np.argsort(order)
    errs, lost = [], 0
    for w in kp:
        x = torch.from_numpy(rep.to_image(w)[order][None])  # (1, C, W, T), channels reordered
        with torch.inference_mode():
            y = rep.codec.decode(rep.codec.encode(x), x.shape[1]).float().numpy()[0][inv]
        out = rep.from_image(y)  # (T, K, 3)
        seen = w[..., 2] > 0
        lost += int((seen & (out[..., 2] <= 0)).sum())
        ok = seen & (out[..., 2] > 0)
        errs.append(np.linalg.norm((out[..., :2] - w[..., :2]) * np.asarray(canvas), axis=-1)[ok])
    e = np.concatenate(errs)
    bin_px = max(canvas) / rep.width
    return {"mean_px": float(e.mean()), "p99_px": float(np.percentile(e, 99)),
            "off_by_3sigma": float((e > 3 * rep.sigma * bin_px).mean()), "lost": lost, "joints": int(e.size)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cache", required=True, help="a raw-codec cache of the training songs (keypoints)")
    ap.add_argument("--root", required=True, help="Dance with Melody folder (held-out songs)")
    ap.add_argument("--width", type=int, default=256)
    ap.add_argument("--sigma", type=float, default=2.0)
    ap.add_argument("--windows", type=int, default=3, help="128-frame windows per held-out song")
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    data = WindowDataset(a.cache, 128)
    rng = np.random.default_rng(0)
    train = np.concatenate([data[int(i)]["keypoints"].numpy() for i in rng.integers(0, len(data), 200)])
    co = colocation(train, a.width, a.sigma)
    paper = list(range(co.shape[0]))
    spread = spread_order(co)
    tests = ground_truth("dwm", a.root, "test", 25.0, with_music=False)
    windows = np.stack([s.keypoints[i * 128:(i + 1) * 128] for s, _ in tests for i in range(a.windows)])
    rep = Representation.build("taef2", a.width, a.sigma)
    canvas = tests[0][0].canvas
    for name, order in (("paper", paper), ("spread", spread)):
        inside = sum(co[order[g], order[g + 1]] + co[order[g], order[g + 2]] + co[order[g + 1], order[g + 2]]
                     for g in range(0, len(order), TRIPLET))
        print(json.dumps({"order": name, "colocation_in_triplets": round(float(inside), 4),
                          **round_trip(rep, windows, order, canvas), "channels": order}), flush=True)


if __name__ == "__main__":
    main()
