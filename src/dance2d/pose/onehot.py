"""One-hot pose images (paper §3, Eq. 1–3) with Gaussian smoothing, sub-bin decoding and big-hand scaling."""

from __future__ import annotations

import numpy as np
import torch
from scipy.ndimage import gaussian_filter1d, grey_dilation

from dance2d.errors import Dance2DError
from dance2d.pose.layouts import get_layout

_EPS = 1e-4
# Decoding a generated image: a channel of the one-hot model often holds two peaks that take turns being the higher
# one (its wrists: the second peak is half the first in a typical frame, and a jump of over 8 bins happens in one
# frame in nine), so the per-frame argmax flickers between them. `track_peaks` picks one path through time instead:
# it maximises the summed log peak heights minus TRACK_COST per bin moved between frames (docs/decisions.md,
# "Tracking one-hot peaks"). A peak that really moves leaves nothing behind, so it is followed.
TRACK_COST = 0.3
TRACK_REACH = 24  # bins; a longer move between two frames costs as much as one of this length
_FLOOR = 1e-3  # image values below this count as this (log evidence −6.9)


def encode(keypoints, width: int, sigma: float = 1.5):
    """Pose (T, K, 3) → one-hot image X (C=2K, W, T); channel 2k is x of joint k, 2k+1 its y (paper §3).

    Each axis vector holds the confidence s_k at bin ⌊W·x⌋ (Eq. 1–2 inverted). With sigma > 0 the spike
    becomes a Gaussian of peak s_k and std `sigma` bins centred on the continuous position W·x − 0.5, so the
    argmax stays ⌊W·x⌋ while the sub-bin position survives for `decode(refine=True)`. Joints outside the
    canvas [0, 1) or with confidence 0 give all-zero vectors (they are "missing").
    A numpy array gives a numpy image; a torch tensor gives a float32 tensor on its device (the GPU cache build
    renders where its codec runs).
    """
    is_numpy = not isinstance(keypoints, torch.Tensor)
    kp = torch.from_numpy(np.asarray(keypoints, dtype=np.float32)) if is_numpy else keypoints.float()
    if kp.ndim != 3 or kp.shape[-1] != 3:
        raise Dance2DError(f"One-hot encoding needs keypoints of shape (T, K, 3); got {tuple(kp.shape)}.")
    if not bool(torch.isfinite(kp).all()):
        raise Dance2DError("Cannot one-hot encode keypoints containing NaN or infinite values.")
    if width < 2:
        raise Dance2DError(f"One-hot width W={width} must be at least 2.")
    xy, conf = kp[..., :2], kp[..., 2]
    inside = ((xy >= 0) & (xy < 1)).all(-1)
    conf = torch.where(inside, conf.clamp(0, 1), torch.zeros_like(conf))  # (T, K)
    grid = torch.arange(width, dtype=torch.float32, device=kp.device)  # (W,)
    if sigma > 0:
        centre = xy.clamp(0, 1) * width - 0.5  # (T, K, 2)
        d = grid - centre[..., None]  # (T, K, 2, W)
        h = torch.exp(-0.5 * (d / sigma) ** 2)
    else:
        idx = torch.floor(xy.clamp(0, 1) * width).clamp(0, width - 1)
        h = (grid == idx[..., None]).float()
    h = h * conf[..., None, None]  # (T, K, 2, W)
    t, k = kp.shape[:2]
    image = h.reshape(t, 2 * k, width).permute(1, 2, 0).contiguous()  # (C, W, T)
    return image.numpy() if is_numpy else image


def track_peaks(x: np.ndarray, cost: float, reach: int = TRACK_REACH) -> np.ndarray:
    """Bin (N, T) of each channel's peak in x (N, W, T) along the path that maximises the sum over frames of the log
    image value minus `cost` per bin moved between frames (moves longer than `reach` bins cost `cost` × reach): the
    max-sum path, found as the argmax of forward plus backward max-product messages (Viterbi without back
    pointers; ties aside it is the same path)."""
    score = np.log(np.maximum(x, _FLOOR))
    n, w, t = score.shape
    reach = min(reach, w - 1)
    cone = np.broadcast_to(-cost * np.abs(np.arange(-reach, reach + 1, dtype=np.float32)), (1, 2 * reach + 1))

    def messages(frames) -> np.ndarray:
        out, prev = np.empty_like(score), None
        for f in frames:
            cur = score[:, :, f].copy()
            if prev is not None:  # best way into each bin: a near move (cone) or any bin at the longest move's cost
                near = grey_dilation(prev, structure=cone, mode="constant", cval=-1e9)
                cur += np.maximum(near, prev.max(axis=1, keepdims=True) - cost * reach)
            cur -= cur.max(axis=1, keepdims=True)
            out[:, :, f] = prev = cur
        return out

    return (messages(range(t)) + messages(range(t - 1, -1, -1)) - score).argmax(axis=1)


def decode(image: np.ndarray, refine: bool = True, smooth: float = 0.0, track: float = 0.0) -> np.ndarray:
    """One-hot image X (C, W, T) or (B, C, W, T) → pose (T, K, 3) or (B, T, K, 3) by argmax (Eq. 1–3).

    x = (argmax + 0.5) / W (the bin centre; Eq. 1 uses the bin's left edge, a constant half-bin bias)
    and, with `refine`, a log-parabola fit through the peak and its two neighbours (exact for a Gaussian
    peak) moves it by at most one bin and reads the fitted peak height. Confidence = min of the two axis
    maxima (Eq. 3), clipped to [0, 1]. `smooth` > 0 first filters each axis vector with a Gaussian of that
    std in bins (a matched filter for the encoder's smoothing) before locating the peak; it suppresses codec
    noise (AIST++ at W=256: mean error 4.5 → 3.4 px) while the confidence still reads the unfiltered maxima.
    `track` > 0 picks each channel's peak along one path through time (`track_peaks`, that cost per bin moved)
    instead of each frame's argmax.
    """
    x = np.asarray(image, dtype=np.float32)
    batched = x.ndim == 4
    if not batched:
        x = x[None]
    if x.ndim != 4 or x.shape[1] % 2:
        raise Dance2DError(f"One-hot decoding needs an image (C, W, T) with even C; got {np.shape(image)}.")
    b, c, w, t = x.shape
    raw_max = x.max(axis=2)  # (B, C, T)
    if smooth > 0:
        x = gaussian_filter1d(x, smooth, axis=2, mode="constant")
    arg = track_peaks(x.reshape(b * c, w, t), track).reshape(b, c, t) if track > 0 else x.argmax(axis=2)  # (B, C, T)
    peak = np.take_along_axis(x, arg[:, :, None, :], axis=2)[:, :, 0]  # (B, C, T)
    pos = arg.astype(np.float32) + 0.5
    if refine and w >= 3:
        lo = np.take_along_axis(x, np.clip(arg - 1, 0, w - 1)[:, :, None, :], axis=2)[:, :, 0]
        hi = np.take_along_axis(x, np.clip(arg + 1, 0, w - 1)[:, :, None, :], axis=2)[:, :, 0]
        lm, l0, lp = (np.log(np.maximum(v, _EPS)) for v in (lo, peak, hi))
        denom = lm - 2 * l0 + lp
        ok = (denom < -1e-6) & (arg > 0) & (arg < w - 1)
        offset = np.clip(np.where(ok, 0.5 * (lm - lp) / np.where(ok, denom, -1.0), 0.0), -1.0, 1.0)
        pos = pos + offset
        peak = np.where(ok, np.exp(l0 - 0.25 * (lm - lp) * offset), peak)  # height of the fitted peak
    if smooth > 0:
        peak = raw_max
    coord = pos / w  # (B, C, T)
    k = c // 2
    out = np.empty((b, t, k, 3), np.float32)
    out[..., 0] = coord[:, 0::2].transpose(0, 2, 1)
    out[..., 1] = coord[:, 1::2].transpose(0, 2, 1)
    out[..., 2] = np.clip(np.minimum(peak[:, 0::2], peak[:, 1::2]), 0, 1).transpose(0, 2, 1)
    return out if batched else out[0]


def scale_hands(keypoints: np.ndarray, layout: str, factor: float) -> np.ndarray:
    """The paper's "big-hand" view (§4.1): move every hand point outward along its wrist ray by `factor`."""
    return _rescale_hands(keypoints, layout, factor)


def unscale_hands(keypoints: np.ndarray, layout: str, factor: float) -> np.ndarray:
    """Exact inverse of scale_hands."""
    return _rescale_hands(keypoints, layout, 1.0 / factor)


def _rescale_hands(keypoints: np.ndarray, layout: str, factor: float) -> np.ndarray:
    if factor <= 0:
        raise Dance2DError(f"Hand scale factor {factor} must be positive.")
    lay = get_layout(layout)
    out = np.array(keypoints, dtype=np.float32, copy=True)
    for start, stop in lay.hand_slices:
        root = out[..., start:start + 1, :2]  # the hand's own wrist point stays fixed
        out[..., start:stop, :2] = root + factor * (out[..., start:stop, :2] - root)
    return out
