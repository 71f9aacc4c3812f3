"""Layout conversions to OpenPose body-18: COCO-17 (2D) and Dance with Melody's 23 points (3D)."""

from __future__ import annotations

import numpy as np

# body-18 index ← COCO-17 index (neck is synthesised from the shoulders).
_COCO_FOR_BODY18 = {0: 0, 2: 6, 3: 8, 4: 10, 5: 5, 6: 7, 7: 9, 8: 12, 9: 14, 10: 16, 11: 11, 12: 13, 13: 15,
                    14: 2, 15: 1, 16: 4, 17: 3}


def coco17_to_body18(kp: np.ndarray) -> np.ndarray:
    """COCO-17 (..., 17, C) → body-18 (..., 18, C); neck = shoulder midpoint, confidence = min of the two."""
    kp = np.asarray(kp, dtype=np.float32)
    out = np.zeros(kp.shape[:-2] + (18, kp.shape[-1]), np.float32)
    for b, c in _COCO_FOR_BODY18.items():
        out[..., b, :] = kp[..., c, :]
    ls, rs = kp[..., 5, :], kp[..., 6, :]
    out[..., 1, :] = 0.5 * (ls + rs)
    if kp.shape[-1] == 3:
        out[..., 1, 2] = np.minimum(ls[..., 2], rs[..., 2])
    return out


# Dance with Melody (data/README.md): 0/1 head left/right points, 3/12 shoulders, 4/13 elbows,
# 6/15 wrists, 7/16 hips, 8/17 knees, 9/18 ankles.
_DWM_FOR_BODY18 = {2: 12, 3: 13, 4: 15, 5: 3, 6: 4, 7: 6, 8: 16, 9: 17, 10: 18, 11: 7, 12: 8, 13: 9}


def dwm_forward(points: np.ndarray) -> np.ndarray:
    """Body forward direction per frame (T, 3) for Dance with Melody points (data README: cross(p12 − p3, up))."""
    across = points[:, 12] - points[:, 3]
    across[:, 1] = 0.0
    fwd = np.cross(across, np.array([0.0, 1.0, 0.0], np.float32))
    return fwd / np.maximum(np.linalg.norm(fwd, axis=-1, keepdims=True), 1e-6)


def dwm23_to_body18(points: np.ndarray) -> np.ndarray:
    """Dance with Melody 3D points (T, 23, 3), cm, y up → body-18 3D points (T, 18, 3).

    The source has no face points; nose and eyes are synthesised from the head centre (midpoint of points 0
    and 1) and the body's forward direction, and the ears are the two head points. Which of these a camera
    sees is decided at projection time (dance2d.data.camera marks face points that face away as missing).
    """
    p = np.asarray(points, dtype=np.float32)
    out = np.zeros((p.shape[0], 18, 3), np.float32)
    for b, d in _DWM_FOR_BODY18.items():
        out[:, b] = p[:, d]
    out[:, 1] = 0.5 * (p[:, 3] + p[:, 12])  # neck
    head = 0.5 * (p[:, 0] + p[:, 1])
    fwd = dwm_forward(p)
    up = np.array([0.0, 1.0, 0.0], np.float32)
    side = p[:, 1] - p[:, 0]  # left head point → right head point
    side /= np.maximum(np.linalg.norm(side, axis=-1, keepdims=True), 1e-6)
    out[:, 0] = head + 9.0 * fwd - 2.0 * up  # nose
    out[:, 14] = head + 7.0 * fwd + 3.0 * up + 3.2 * side  # right eye
    out[:, 15] = head + 7.0 * fwd + 3.0 * up - 3.2 * side  # left eye
    out[:, 16] = p[:, 1]  # right ear
    out[:, 17] = p[:, 0]  # left ear
    return out
