"""OpenPose-style skeleton frames, drawn the way DWPose / ControlNet's openpose annotator draw them.

Pose-to-video models (Animate Anyone, MimicMotion, Wan-Animate; paper §4 drives Wan-Animate) were
trained on DWPose renderings, so this module reproduces that look: the 17 body limbs of OpenPose
body-18 as filled ellipses in 18 fixed colours, dimmed to 60 % over black, then the joints as
full-colour discs on top, then the hands as HSV-coloured lines with blue points.

Joints whose confidence is not above `RenderStyle.threshold` (0.3, the cut-off DWPose applies to its
detector scores) are not drawn, nor any limb that touches them. Sizes follow DWPose at its
512-pixel detection resolution (stick 4 px, joint radius 4 px, hand line 2 px, hand point 4 px) and
scale with the shorter canvas side, which is what drawing at 512 and resizing would give.
"""

from __future__ import annotations

import colorsys
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from dance2d.atomic import atomic_path
from dance2d.errors import Dance2DError
from dance2d.pose.layouts import BODY18_LIMBS, HAND21_LIMBS

BODY_K = 18  # OpenPose body-18 joints
HAND_K = 21  # OpenPose hand joints per hand
BODY_HANDS_K = BODY_K + 2 * HAND_K  # body-18, then left hand, then right hand

BODY_LIMBS = BODY18_LIMBS  # OpenPose's drawing order; limb i uses colour i

# The 18 OpenPose colours (RGB): joint j and limb j share colour j (a hue wheel in 18 steps).
BODY_COLORS = (
    (255, 0, 0), (255, 85, 0), (255, 170, 0), (255, 255, 0), (170, 255, 0), (85, 255, 0),
    (0, 255, 0), (0, 255, 85), (0, 255, 170), (0, 255, 255), (0, 170, 255), (0, 85, 255),
    (0, 0, 255), (85, 0, 255), (170, 0, 255), (255, 0, 255), (255, 0, 170), (255, 0, 85),
)

HAND_EDGES = HAND21_LIMBS  # wrist to each finger base, then along each finger (thumb first)
# Hand edge e is coloured with hue e / 20 at full saturation and value.
HAND_COLORS = tuple(
    tuple(int(c * 255) for c in colorsys.hsv_to_rgb(e / len(HAND_EDGES), 1.0, 1.0))
    for e in range(len(HAND_EDGES))
)
HAND_POINT_COLOR = (0, 0, 255)  # DWPose draws hand points in pure blue on its RGB canvas


@dataclass(frozen=True)
class RenderStyle:
    """Sizes and cut-offs of the DWPose look; sizes are in pixels at a 512-pixel shorter side."""

    threshold: float = 0.3  # joints with confidence <= this are skipped (DWPose's score cut-off)
    stick_width: float = 4.0  # half-width (minor semi-axis) of a body limb ellipse
    joint_radius: float = 4.0  # radius of a body joint disc
    hand_line_width: float = 2.0  # width of a hand edge line
    hand_point_radius: float = 4.0  # radius of a hand point disc
    limb_alpha: float = 0.6  # limbs are dimmed to this fraction over black before joints go on top
    reference_side: int = 512  # shorter canvas side at which the sizes above apply unscaled
    ellipse_points: int = 72  # vertices of each limb polygon (5° steps)


def _limb_colors(alpha: float) -> tuple[tuple[int, int, int], ...]:
    """Limb colours after DWPose's `(canvas * alpha).astype(uint8)` over black (truncation, not rounding)."""
    return tuple(tuple(int(np.floor(c * alpha)) for c in col) for col in BODY_COLORS)


def _ellipse_polygon(p: np.ndarray, q: np.ndarray, half_width: float, n: int) -> list[tuple[float, float]]:
    """Vertices of the ellipse spanning segment p→q with the given minor semi-axis (OpenPose limb shape)."""
    centre = (p + q) / 2  # (2,)
    d = q - p
    half_len = float(np.hypot(d[0], d[1])) / 2
    angle = float(np.arctan2(d[1], d[0]))
    t = np.linspace(0.0, 2 * np.pi, n, endpoint=False)  # (n,)
    ex, ey = half_len * np.cos(t), half_width * np.sin(t)  # (n,), (n,)
    ca, sa = np.cos(angle), np.sin(angle)
    xs = centre[0] + ex * ca - ey * sa  # (n,)
    ys = centre[1] + ex * sa + ey * ca  # (n,)
    return list(zip(xs.tolist(), ys.tolist(), strict=True))


def _disc(draw: ImageDraw.ImageDraw, p: np.ndarray, r: float, color: tuple[int, int, int]) -> None:
    """Filled circle of radius r centred on pixel p."""
    draw.ellipse((p[0] - r, p[1] - r, p[0] + r, p[1] + r), fill=color)


def draw_frame(
    keypoints: np.ndarray,
    canvas_wh: tuple[int, int],
    layout_k: int | None = None,
    style: RenderStyle | None = None,
) -> np.ndarray:
    """Draw one pose (K, 3) with x, y in [0, 1] of the canvas as an OpenPose/DWPose image (H, W, 3) uint8.

    `layout_k` is 18 (body-18) or 60 (body-18 + left hand + right hand); it defaults to K.
    """
    style = style or RenderStyle()
    kp = np.asarray(keypoints, dtype=np.float64)
    k = kp.shape[0] if layout_k is None else layout_k
    if kp.ndim != 2 or kp.shape[1] != 3 or kp.shape[0] != k:
        raise Dance2DError(f"Keypoints of shape {kp.shape} are not a ({k}, 3) pose; pass one (K, 3) frame.")
    if k not in (BODY_K, BODY_HANDS_K):
        raise Dance2DError(
            f"Cannot draw a {k}-joint pose; convert it to OpenPose body-18 (18) or body+hands (60) first."
        )
    width, height = int(canvas_wh[0]), int(canvas_wh[1])
    if width < 1 or height < 1:
        raise Dance2DError(f"Canvas size {canvas_wh} is not positive; pass (width, height) in pixels.")

    scale = min(width, height) / style.reference_side
    xy = kp[:, :2] * np.array([width, height])  # (K, 2) pixels
    # Compared in float32, the dtype of pose sequences, so a confidence equal to the threshold is skipped.
    visible = (kp[:, 2].astype(np.float32) > np.float32(style.threshold)) & np.isfinite(kp).all(axis=1)  # (K,)

    image = Image.new("RGB", (width, height))
    draw = ImageDraw.Draw(image)

    # Body limbs: opaque ellipses in pre-dimmed colours (same result as DWPose dimming the whole canvas).
    half_width = max(style.stick_width * scale, 1.0)  # at least 1 px so tiny canvases keep solid limbs
    for (a, b), color in zip(BODY_LIMBS, _limb_colors(style.limb_alpha), strict=False):
        if visible[a] and visible[b]:
            draw.polygon(_ellipse_polygon(xy[a], xy[b], half_width, style.ellipse_points), fill=color)
    # Body joints on top, full colour.
    radius = max(style.joint_radius * scale, 1.0)
    for j in range(BODY_K):
        if visible[j]:
            _disc(draw, xy[j], radius, BODY_COLORS[j])

    if k == BODY_HANDS_K:
        line_width = max(round(style.hand_line_width * scale), 1)
        point_radius = max(style.hand_point_radius * scale, 1.0)
        for start in (BODY_K, BODY_K + HAND_K):  # left hand, then right hand
            hand_xy, hand_vis = xy[start:start + HAND_K], visible[start:start + HAND_K]
            for (a, b), color in zip(HAND_EDGES, HAND_COLORS, strict=True):
                if hand_vis[a] and hand_vis[b]:
                    draw.line([tuple(hand_xy[a]), tuple(hand_xy[b])], fill=color, width=line_width)
            for j in np.flatnonzero(hand_vis):
                _disc(draw, hand_xy[j], point_radius, HAND_POINT_COLOR)

    return np.array(image)  # (H, W, 3) uint8, writable copy


def overlay(rgb: np.ndarray, keypoints: np.ndarray, dim: float = 0.55) -> np.ndarray:
    """A photo (H, W, 3) uint8, dimmed, with one pose (K, 3; x, y in [0, 1] of the photo) drawn over it in
    OpenPose colours: the preview of a reference detected in a photo."""
    h, w = rgb.shape[:2]
    skel = draw_frame(keypoints, (w, h))
    drawn = skel.any(axis=-1, keepdims=True)
    return np.where(drawn, skel, (rgb.astype(np.float32) * dim).astype(np.uint8))


def write_overlay(rgb: np.ndarray, keypoints: np.ndarray, path: str | os.PathLike) -> Path:
    """Write `overlay` as a PNG, atomically."""
    path = Path(path)
    with atomic_path(path, suffix=".png") as tmp:
        Image.fromarray(overlay(rgb, keypoints)).save(tmp, format="PNG")
    return path
