"""Wall time of the 2D pose-space metrics; prints ONE JSON line (median of a few repeats).

    python benchmarks/metrics.py
    python benchmarks/metrics.py --sequences 100 --seconds 20 --fps 25 --repeats 5

Synthetic data: OpenPose body-18 random-walk-ish motions (smoothed noise on every joint plus a beat-rate
pulse on the whole body) for the generated set and, with another seed, the ground-truth set.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time

import numpy as np
from scipy.ndimage import gaussian_filter1d

from dance2d.metrics import EvalConfig, div_k, evaluate_set, fid_k, kinetic_features, sequence_bas

REF18 = np.array([  # a standing body-18 pose in [0,1] canvas coordinates
    [0.50, 0.20], [0.50, 0.30], [0.42, 0.30], [0.38, 0.40], [0.36, 0.50], [0.58, 0.30], [0.62, 0.40],
    [0.64, 0.50], [0.45, 0.55], [0.45, 0.70], [0.45, 0.85], [0.55, 0.55], [0.55, 0.70], [0.55, 0.85],
    [0.48, 0.18], [0.52, 0.18], [0.46, 0.19], [0.54, 0.19],
])


def synthetic_motion(rng: np.random.Generator, frames: int, fps: float, bpm: float) -> np.ndarray:
    """(T, 18, 3) x, y, confidence: smoothed random walk per joint plus a body bounce at the beat rate."""
    walk = gaussian_filter1d(rng.normal(0, 0.01, (frames, 18, 2)), 3.0, axis=0).cumsum(axis=0) * 0.2
    t = np.arange(frames) / fps
    bounce = 0.01 * np.cos(2 * np.pi * bpm / 60.0 * t)[:, None]  # (T, 1): at rest (turning) on each beat
    xy = REF18[None] + walk
    xy[..., 1] += bounce
    return np.concatenate([xy, np.ones((frames, 18, 1))], axis=2)


def timed(fn, repeats: int) -> tuple[float, object]:
    """Median wall time (s) of fn() over repeats, and its last result."""
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def main() -> None:
    """Build the synthetic sets, time each metric, print one JSON line."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sequences", type=int, default=100, help="generated sequences (and as many GT sequences)")
    ap.add_argument("--seconds", type=float, default=20.0, help="length of each sequence in seconds")
    ap.add_argument("--fps", type=float, default=25.0, help="frame rate of the synthetic sequences")
    ap.add_argument("--repeats", type=int, default=3, help="timing repeats; the median is reported")
    ap.add_argument("--seed", type=int, default=0, help="random seed of the synthetic data")
    args = ap.parse_args()

    rng = np.random.default_rng(args.seed)
    frames = int(round(args.seconds * args.fps)) + 1
    bpms = rng.uniform(80, 140, args.sequences)
    gen = []
    for bpm in bpms:
        kp = synthetic_motion(rng, frames, args.fps, bpm)
        music = np.arange(0.0, args.seconds, 60.0 / bpm)
        gen.append((kp, args.fps, music, REF18, list(range(112, frames, 112))))
    gt = [(synthetic_motion(rng, frames, args.fps, bpm)[..., :2], args.fps) for bpm in bpms]
    cfg = EvalConfig()

    t_eval, result = timed(lambda: evaluate_set(gen, gt, cfg), args.repeats)
    t_kin, feats = timed(lambda: np.stack([kinetic_features(g[0][..., :2], args.fps) for g in gen]), args.repeats)
    gt_feats = np.stack([kinetic_features(g[0], args.fps) for g in gt])
    t_fid, _ = timed(lambda: (fid_k(feats, gt_feats), div_k(feats, gt_feats)), args.repeats)
    t_bas, _ = timed(lambda: [sequence_bas(g[0][..., :2], args.fps, g[2]) for g in gen], args.repeats)
    print(json.dumps({
        "benchmark": "metrics",
        "sequences": args.sequences,
        "seconds": args.seconds,
        "fps": args.fps,
        "repeats": args.repeats,
        f"evaluate_{args.sequences}x{args.seconds:g}s_s": round(t_eval, 4),
        "kinetic_per_seq_ms": round(1e3 * t_kin / args.sequences, 3),
        "fid_s": round(t_fid, 4),
        "bas_per_seq_ms": round(1e3 * t_bas / args.sequences, 3),
        "FID_k": round(result["FID_k"], 4),
        "BAS_music_to_motion": round(result["BAS_music_to_motion"], 4),
        "python": platform.python_version(),
        "machine": platform.machine(),
    }))


if __name__ == "__main__":
    main()
