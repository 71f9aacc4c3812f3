"""Representation benchmark: pose -> one-hot -> TAEF2 -> one-hot -> pose round-trip error on real AIST++ 2D
keypoints (paper §3), codec speed and music feature speed. Prints one JSON line.

    python benchmarks/representation.py
    python benchmarks/representation.py --max-windows 24 --dtype float32

Errors are Euclidean per joint in pixels of the 1920×1080 frame, over OpenPose body-18 joints of
non-overlapping T-frame windows; `_plain` fields use the argmax bin centre without sub-bin refinement.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from dance2d.codec import get_codec
from dance2d.music.audio import load_audio
from dance2d.music.features import extract_features
from dance2d.pose import onehot
from dance2d.pose.convert import coco17_to_body18

FRAME = np.array([1920.0, 1080.0], np.float32)  # AIST++ camera frame (w, h) in pixels


def load_windows(folder: Path, T: int) -> np.ndarray:
    """All non-overlapping T-frame windows of body-18 keypoints normalised to [0, 1]: (N, T, 18, 3)."""
    windows = []
    for path in sorted(folder.glob("*.npy")):
        px = np.load(path).astype(np.float32)  # (F, 17, 2)
        kp = np.concatenate([px / FRAME, np.ones_like(px[..., :1])], axis=-1)  # (F, 17, 3)
        body = coco17_to_body18(kp)  # (F, 18, 3)
        for s in range(0, len(body) - T + 1, T):
            windows.append(body[s : s + T])
    return np.stack(windows)


def roundtrip_errors(codec, windows: np.ndarray, W: int, sigma: float, batch: int) -> dict[str, np.ndarray]:
    """Per-joint pixel errors of pose -> one-hot -> codec -> one-hot -> pose: refined (matched filter + sub-bin
    fit, what dance2d uses) and plain (argmax of Eq. 1-2 at the bin centre)."""
    errs: dict[str, list[np.ndarray]] = {"refined": [], "plain": []}
    for s in range(0, len(windows), batch):
        kp = windows[s : s + batch]  # (b, T, K, 3)
        X = np.stack([onehot.encode(k, W, sigma) for k in kp])  # (b, C, W, T)
        C = X.shape[1]
        Y = codec.decode(codec.encode(torch.from_numpy(X)), C).numpy()  # (b, C, W, T)
        inside = ((kp[..., :2] >= 0) & (kp[..., :2] < 1)).all(-1)  # (b, T, K)
        for key, refine in (("refined", True), ("plain", False)):
            rec = onehot.decode(Y, refine=refine, smooth=sigma if refine else 0.0)  # (b, T, K, 3)
            d = np.linalg.norm((rec[..., :2] - kp[..., :2]) * FRAME, axis=-1)  # (b, T, K)
            errs[key].append(d[inside])
    return {k: np.concatenate(v) for k, v in errs.items()}


def codec_speed(codec, C: int, W: int, T: int, repeats: int) -> float:
    """Pose frames per second of encode + decode for one (1, C, W, T) window (median of `repeats`)."""
    X = torch.rand(1, C, W, T) ** 8  # sparse, one-hot-like intensities
    codec.decode(codec.encode(X), C)  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        codec.decode(codec.encode(X), C)
        times.append(time.perf_counter() - t0)
    return T / float(np.median(times))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--data",
        type=Path,
        default=Path("../shared/data/aistpp/keypoints2d_px"),
        help="folder of AIST++ (F, 17, 2) pixel keypoint .npy files",
    )
    ap.add_argument(
        "--music",
        type=Path,
        default=Path("../shared/music/nexuiz/ninesix.ogg"),
        help="audio file for the music feature speed",
    )
    ap.add_argument("--frames", type=int, default=128, help="window length T in frames")
    ap.add_argument("--sigma", type=float, default=2.0, help="Gaussian smoothing of the one-hot vectors, in bins")
    ap.add_argument("--fps", type=float, default=30.0, help="pose frame rate (AIST++ is 30 fps)")
    ap.add_argument("--max-windows", type=int, default=0, help="use at most this many windows (0 = all)")
    ap.add_argument("--batch", type=int, default=2, help="windows per codec call")
    ap.add_argument(
        "--dtype",
        choices=["auto", "float32", "bfloat16"],
        default="auto",
        help="codec compute dtype (auto: bfloat16 where the hardware runs it natively)",
    )
    ap.add_argument("--repeats", type=int, default=3, help="timing repeats for the codec speed")
    args = ap.parse_args()

    codec = get_codec("taef2", dtype=None if args.dtype == "auto" else getattr(torch, args.dtype))
    windows = load_windows(args.data, args.frames)
    if args.max_windows:
        idx = np.linspace(0, len(windows) - 1, min(args.max_windows, len(windows))).round().astype(int)
        windows = windows[np.unique(idx)]
    out: dict[str, float | int | str] = {
        "windows": len(windows),
        "frames": args.frames,
        "sigma": args.sigma,
        "dtype": str(codec.compute_dtype),
    }
    for W in (512, 256):
        errs = roundtrip_errors(codec, windows, W, args.sigma, args.batch)
        for key, suffix in (("refined", ""), ("plain", "_plain")):
            e = errs[key]
            out[f"roundtrip_px_mean_w{W}{suffix}"] = round(float(e.mean()), 3)
            out[f"roundtrip_px_p95_w{W}{suffix}"] = round(float(np.percentile(e, 95)), 3)
            out[f"roundtrip_px_max_w{W}{suffix}"] = round(float(e.max()), 1)
    C = 2 * windows.shape[2]
    out["codec_frames_per_s"] = round(codec_speed(codec, C, 256, args.frames, args.repeats), 1)

    sr = int(round(args.fps * 512))
    wave, sr = load_audio(args.music, sr)
    t0 = time.perf_counter()
    feats = extract_features(wave, sr, args.fps)  # (T, 35)
    elapsed = time.perf_counter() - t0
    out["music_feature_dim"] = int(feats.shape[1])
    out["music_audio_s_per_s"] = round(len(wave) / sr / elapsed, 1)
    out["torch_threads"] = torch.get_num_threads()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
