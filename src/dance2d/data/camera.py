"""Virtual perspective cameras for 3D→2D projection (paper §5: 3D motion projected to 2D poses).

World frame: right-handed, centimetres, y up. Camera frame (OpenCV convention): x right, y down, z forward,
so pixel x grows rightwards and pixel y downwards. A camera at yaw θ looks at its target from the direction
(sin θ, ·, cos θ): at θ = 0 it stands on the +z side looking towards −z, and world +x appears on the image right.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from dance2d.errors import Dance2DError

UP = np.array([0.0, 1.0, 0.0])  # world up axis
_NEAR = 1.0  # cm: points closer than this in front of the camera are treated as behind it (invisible)


def _look_rotation(yaw_deg: float, elevation_deg: float) -> tuple[np.ndarray, np.ndarray]:
    """World→camera rotation R (3, 3) and the unit direction from the target to the camera (3,)."""
    yaw, elev = np.radians(yaw_deg), np.radians(elevation_deg)
    back = np.array([np.sin(yaw) * np.cos(elev), np.sin(elev), np.cos(yaw) * np.cos(elev)])  # target → camera
    fwd = -back  # optical axis (camera z)
    right = np.cross(fwd, UP)
    right /= np.linalg.norm(right)
    down = np.cross(fwd, right)  # camera y
    return np.stack([right, down, fwd]), back


@dataclass
class Camera:
    """A pinhole camera orbiting a (possibly moving) target: yaw, elevation, distance, focal length, framing."""

    canvas: tuple[int, int]  # (width, height) of the image in pixels
    yaw: float = 0.0  # degrees around the vertical axis; 0 = camera on the +z side of the target
    elevation: float = 0.0  # degrees above the horizontal (positive = looking down at the dancer)
    distance: float = 500.0  # cm from the target to the camera centre
    focal: float = 500.0  # focal length in pixels (fx = fy)
    principal: tuple[float, float] = (256.0, 256.0)  # pixel position of the optical axis (cx, cy)
    target: np.ndarray = field(default_factory=lambda: np.zeros(3))  # (3,) fixed or (T, 3) per-frame target, cm

    @property
    def rotation(self) -> np.ndarray:
        """World→camera rotation matrix (3, 3)."""
        return _look_rotation(self.yaw, self.elevation)[0]

    def centres(self, n_frames: int) -> np.ndarray:
        """Camera centre per frame (T, 3) in world cm."""
        back = _look_rotation(self.yaw, self.elevation)[1]
        tgt = np.asarray(self.target, dtype=np.float64)
        tgt = np.broadcast_to(tgt if tgt.ndim == 2 else tgt[None], (n_frames, 3))
        return tgt + self.distance * back

    def to_camera(self, points: np.ndarray) -> np.ndarray:
        """World points (T, J, 3) cm → camera coordinates (T, J, 3) (x right, y down, z depth)."""
        p = np.asarray(points, dtype=np.float64)
        if p.ndim != 3 or p.shape[-1] != 3:
            raise Dance2DError(f"Points to project must have shape (T, J, 3); got {p.shape}.")
        c = self.centres(p.shape[0])  # (T, 3)
        return (p - c[:, None, :]) @ self.rotation.T  # (T, J, 3)

    def project(self, points: np.ndarray) -> np.ndarray:
        """World points (T, J, 3) cm → pixels (T, J, 2); points behind the camera get NaN."""
        cam = self.to_camera(points)  # (T, J, 3)
        z = cam[..., 2:3]
        uv = self.focal * cam[..., :2] / np.where(z > _NEAR, z, np.nan) + np.asarray(self.principal)
        return uv  # (T, J, 2)

    def view_directions(self, points: np.ndarray) -> np.ndarray:
        """Unit vectors from each world point (T, J, 3) towards the camera centre, (T, J, 3)."""
        p = np.asarray(points, dtype=np.float64)
        d = self.centres(p.shape[0])[:, None, :] - p
        return d / np.maximum(np.linalg.norm(d, axis=-1, keepdims=True), 1e-9)

    def describe(self) -> dict:
        """JSON-friendly summary (for PoseSequence.meta)."""
        tgt = np.asarray(self.target)
        return {"yaw": float(self.yaw), "elevation": float(self.elevation), "distance": float(self.distance),
                "focal": float(self.focal), "principal": [float(v) for v in self.principal],
                "follow": bool(tgt.ndim == 2)}


# Body-18 indices of the face points whose visibility depends on the head orientation.
NOSE, R_EYE, L_EYE, R_EAR, L_EAR = 0, 14, 15, 16, 17
FACE_AWAY_COS = 0.0  # nose and eyes hidden when cos(forward, head→camera) ≤ this (the face points away)
SIDE_VIEW_COS = 0.5  # an ear/eye is "far" when cos(its side, head→camera) < −this (head turned > 30° from frontal)


def face_visibility(camera: Camera, body18: np.ndarray, forward: np.ndarray) -> np.ndarray:
    """Confidence (T, 18) of body-18 points seen by `camera`: 0 for hidden face points and points behind it.

    Rule (kept simple on purpose): nose and both eyes are hidden when the face points away from the camera
    (cos(forward, head→camera) ≤ 0). Seen from the side (the head's left→right axis within 60° of the viewing
    direction), the far ear and the far eye are hidden. From the back both ears stay visible, as a 2D
    detector typically reports them.
    """
    pts = np.asarray(body18, dtype=np.float64)  # (T, 18, 3)
    conf = np.ones(pts.shape[:2], np.float32)
    head = 0.5 * (pts[:, R_EAR] + pts[:, L_EAR])  # (T, 3)
    to_cam = camera.view_directions(head[:, None])[:, 0]  # (T, 3)
    f = np.asarray(forward, dtype=np.float64)
    away = (f * to_cam).sum(-1) <= FACE_AWAY_COS  # (T,)
    conf[np.ix_(away, [NOSE, R_EYE, L_EYE])] = 0.0
    side = pts[:, R_EAR] - pts[:, L_EAR]
    side /= np.maximum(np.linalg.norm(side, axis=-1, keepdims=True), 1e-9)  # (T, 3) left → right
    s = (side * to_cam).sum(-1)  # > 0: the right side faces the camera
    conf[np.ix_(s < -SIDE_VIEW_COS, [R_EAR, R_EYE])] = 0.0  # right side turned away
    conf[np.ix_(s > SIDE_VIEW_COS, [L_EAR, L_EYE])] = 0.0  # left side turned away
    depth = camera.to_camera(pts)[..., 2]  # (T, 18)
    conf[depth <= _NEAR] = 0.0
    return conf


def pixels_to_pose(uv: np.ndarray, conf: np.ndarray, canvas: tuple[int, int]) -> np.ndarray:
    """Pixels (T, J, 2) + confidence (T, J) → keypoints (T, J, 3) in [0,1] of the canvas; off-canvas → (0, 0, 0)."""
    w, h = canvas
    xy = np.asarray(uv, dtype=np.float64) / np.array([w, h], np.float64)
    ok = np.isfinite(xy).all(-1) & (xy >= 0).all(-1) & (xy < 1).all(-1)
    xy = np.where(ok[..., None], xy, 0.0)
    c = np.where(ok, conf, 0.0)
    return np.concatenate([xy, c[..., None]], axis=-1).astype(np.float32)


def smooth_track(track: np.ndarray, window: int) -> np.ndarray:
    """Moving average (edge-padded) of a (T, D) track over `window` frames."""
    if window <= 1:
        return np.asarray(track, dtype=np.float64).copy()
    pad = window // 2
    x = np.pad(np.asarray(track, dtype=np.float64), ((pad, window - 1 - pad), (0, 0)), mode="edge")
    c = np.cumsum(np.vstack([np.zeros((1, x.shape[1])), x]), axis=0)
    return (c[window:] - c[:-window]) / window


def sample_camera(rng: np.random.Generator, canvas: tuple[int, int], points: np.ndarray, *,
                  root: np.ndarray | None = None, fps: float = 25.0,
                  height_range: tuple[float, float] = (0.35, 0.85),
                  elevation_range: tuple[float, float] = (0.0, 20.0),
                  distance_range: tuple[float, float] = (300.0, 900.0),
                  yaw: float | None = None, follow_seconds: float | None = 4.0,
                  margin: float = 0.04, clip_quantile: float = 0.005) -> Camera:
    """Draw a random camera that frames a whole 3D sequence `points` (T, J, 3) (world cm, y up).

    yaw ~ U[0°, 360°) (unless given), elevation ~ U(elevation_range), distance ~ U(distance_range); the focal
    length makes the dancer's median on-screen height a fraction ~ U(height_range) of the canvas height.
    The camera looks at the mean root position (static camera) or, with `follow_seconds`, at the root path
    smoothed over that many seconds (a camera operator panning after the dancer; the horizontal travel of the
    capture paths, 3–10 m, cannot fit a static shot at these heights). The sequence's on-screen extent
    (all joints, all frames, trimmed by `clip_quantile` on each side so that joints leave the frame only
    rarely) is then fitted inside the canvas minus `margin`: the focal length shrinks if needed, and the
    principal point is placed at a random position that keeps the extent inside.
    """
    p = np.asarray(points, dtype=np.float64)
    if p.ndim != 3 or p.shape[-1] != 3 or not len(p):
        raise Dance2DError(f"Points for camera framing must have shape (T, J, 3) with T ≥ 1; got {p.shape}.")
    w, h = canvas
    root = p.mean(axis=1) if root is None else np.asarray(root, dtype=np.float64)  # (T, 3)
    centre_y = float(np.median(0.5 * (p[..., 1].max(1) + p[..., 1].min(1))))  # height of the body centre
    if follow_seconds:
        target = smooth_track(root, max(1, int(round(follow_seconds * fps))))
        target[:, 1] = centre_y
    else:
        target = root.mean(axis=0)
        target[1] = centre_y
    cam = Camera(canvas=(int(w), int(h)),
                 yaw=float(rng.uniform(0.0, 360.0)) if yaw is None else float(yaw),
                 elevation=float(rng.uniform(*elevation_range)),
                 distance=float(rng.uniform(*distance_range)), focal=1.0, principal=(0.0, 0.0), target=target)
    uv = cam.project(p)  # (T, J, 2) at focal 1, principal point 0
    uv = np.where(np.isfinite(uv), uv, np.nan)
    body_h = float(np.nanmedian(np.nanmax(uv[..., 1], 1) - np.nanmin(uv[..., 1], 1)))
    if not body_h > 0:
        raise Dance2DError("The 3D pose sequence has no vertical extent on screen; check its units and up axis.")
    focal = float(rng.uniform(*height_range)) * h / body_h
    lo = np.nanquantile(uv.reshape(-1, 2), clip_quantile, axis=0) * focal  # (2,)
    hi = np.nanquantile(uv.reshape(-1, 2), 1 - clip_quantile, axis=0) * focal
    room = np.array([w, h], np.float64) * (1 - 2 * margin)
    shrink = min(1.0, float(np.min(room / np.maximum(hi - lo, 1e-9))))
    focal, lo, hi = focal * shrink, lo * shrink, hi * shrink
    slack = room - (hi - lo)  # ≥ 0
    start = np.array([w, h], np.float64) * margin + rng.uniform(0, 1, 2) * slack  # where lo lands
    cam.focal = focal
    cam.principal = (float(start[0] - lo[0]), float(start[1] - lo[1]))
    return cam
