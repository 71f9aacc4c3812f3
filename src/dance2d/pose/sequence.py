"""PoseSequence: keypoints (T, K, 3) in canvas-normalised coordinates, with npz and OpenPose JSON IO."""

from __future__ import annotations

import functools
import json
import os
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from dance2d.atomic import atomic_path
from dance2d.errors import Dance2DError
from dance2d.pose.layouts import LIMB_ENDS, Layout, get_layout

NPZ_FORMAT = "dance2d.pose/1"


@dataclass
class PoseSequence:
    """A 2D pose sequence: x, y in [0,1] of the canvas, confidence in [0,1] (0 = missing joint)."""

    keypoints: np.ndarray  # (T, K, 3) float32: x, y (fraction of canvas width/height), confidence
    fps: float  # frames per second
    layout: str = "openpose18"  # layout name (dance2d.pose.layouts)
    canvas: tuple[int, int] = (512, 512)  # (width, height) in pixels
    meta: dict = field(default_factory=dict)  # free-form provenance (source file, camera, ...)

    def __post_init__(self) -> None:
        kp = np.asarray(self.keypoints, dtype=np.float32)
        lay = get_layout(self.layout)
        if kp.ndim == 2:
            kp = kp[None]
        if kp.ndim != 3 or kp.shape[2] != 3 or kp.shape[1] != lay.num_joints:
            raise Dance2DError(
                f"Pose keypoints have shape {tuple(np.shape(self.keypoints))}; expected (T, {lay.num_joints}, 3) "
                f"for layout {lay.name!r}.")
        if not np.isfinite(kp).all():
            raise Dance2DError("Pose keypoints contain NaN or infinite values; fill or drop those frames first.")
        if kp[..., 2].min(initial=0) < 0 or kp[..., 2].max(initial=0) > 1 + 1e-5:
            raise Dance2DError("Pose confidences must lie in [0, 1]; rescale the third keypoint value.")
        if not (np.isfinite(self.fps) and self.fps > 0):
            raise Dance2DError(f"Pose frame rate {self.fps!r} is not a positive number.")
        try:
            w, h = (int(v) for v in self.canvas)
        except (TypeError, ValueError, OverflowError):
            w = h = 0
        if w <= 0 or h <= 0:
            raise Dance2DError(f"Canvas size {self.canvas!r} must be two positive pixel counts (width, height).")
        self.keypoints, self.canvas, self.fps, self.layout = kp, (w, h), float(self.fps), lay.name

    # ------------------------------------------------------------------ basic views
    def __len__(self) -> int:
        return self.keypoints.shape[0]

    @property
    def num_joints(self) -> int:
        return self.keypoints.shape[1]

    @property
    def duration(self) -> float:
        return len(self) / self.fps

    def pixels(self) -> np.ndarray:
        """Keypoints with x, y in pixels of the canvas, (T, K, 3)."""
        out = self.keypoints.copy()
        out[..., 0] *= self.canvas[0]
        out[..., 1] *= self.canvas[1]
        return out

    def replace(self, keypoints: np.ndarray | None = None, **kw) -> PoseSequence:
        """A copy with some fields replaced."""
        args = dict(keypoints=self.keypoints if keypoints is None else keypoints, fps=self.fps,
                    layout=self.layout, canvas=self.canvas, meta=dict(self.meta))
        args.update(kw)
        return PoseSequence(**args)

    def slice(self, start: int, stop: int) -> PoseSequence:
        return self.replace(self.keypoints[start:stop])

    # ------------------------------------------------------------------ transforms
    def resample(self, fps: float) -> PoseSequence:
        """Resample to another frame rate: linear in x, y; a joint missing at either neighbour stays missing."""
        if abs(fps - self.fps) < 1e-9:
            return self.replace()
        n = max(1, int(round(len(self) * fps / self.fps)))
        return self.replace(sample_frames(self.keypoints, np.arange(n) * (self.fps / fps)), fps=fps)

    def mirror(self) -> PoseSequence:
        """Left-right mirror: x → 1 − x and left/right joints swapped."""
        kp = self.keypoints[:, list(get_layout(self.layout).mirror)].copy()
        kp[..., 0] = np.where(kp[..., 2] > 0, 1.0 - kp[..., 0], kp[..., 0])
        return self.replace(kp)

    # ------------------------------------------------------------------ npz
    def save_npz(self, path: str | os.PathLike) -> None:
        """Write keypoints and metadata to an .npz file atomically."""
        path = Path(path)
        meta = json.dumps({"format": NPZ_FORMAT, "fps": self.fps, "layout": self.layout,
                           "canvas": list(self.canvas), "meta": self.meta})
        with atomic_path(path, suffix=".npz") as tmp:
            with open(tmp, "wb") as f:
                np.savez_compressed(f, keypoints=self.keypoints, meta=np.array(meta))

    @classmethod
    def load_npz(cls, path: str | os.PathLike) -> PoseSequence:
        """Read a sequence written by save_npz."""
        path = Path(path)
        try:
            with np.load(path, allow_pickle=False) as z:
                kp, meta = z["keypoints"], json.loads(str(z["meta"]))
        except FileNotFoundError:
            raise Dance2DError(f"Pose file {path} does not exist.") from None
        except IsADirectoryError:
            raise Dance2DError(f"Pose path {path} is a folder; pass its poses.npz.") from None
        except (OSError, ValueError, KeyError, EOFError, RecursionError, zipfile.BadZipFile, zlib.error) as e:
            why = "truncated or damaged" if isinstance(e, (EOFError, zipfile.BadZipFile, zlib.error)) else str(e)
            raise Dance2DError(f"Pose file {path} is not a readable dance2d poses.npz ({why}); write it again "
                               "with dance2d.") from None
        return cls._from_npz(path, kp, meta)

    @classmethod
    def _from_npz(cls, path: Path, kp: np.ndarray, meta) -> PoseSequence:
        """Check the metadata of a loaded npz (a dict with fps, layout and canvas) before building the sequence."""
        if not isinstance(meta, dict):
            raise Dance2DError(f"Pose file {path} has metadata of type {type(meta).__name__}, not the dict dance2d "
                               "writes; write it again with dance2d.")
        missing = [k for k in ("fps", "layout", "canvas") if k not in meta]
        if missing:
            raise Dance2DError(f"Pose file {path} lacks {', '.join(missing)} in its metadata; write it again with "
                               "dance2d.")
        fps, canvas, extra = meta["fps"], meta["canvas"], meta.get("meta", {})
        if not isinstance(fps, (int, float)) or isinstance(fps, bool):
            raise Dance2DError(f"Pose file {path} has a frame rate {fps!r} that is not a number.")
        if not (isinstance(canvas, list) and len(canvas) == 2 and all(isinstance(v, (int, float)) for v in canvas)
                and all(np.isfinite(canvas))):
            raise Dance2DError(f"Pose file {path} has a canvas {canvas!r} that is not two pixel counts.")
        if not isinstance(meta["layout"], str):
            raise Dance2DError(f"Pose file {path} has a layout {meta['layout']!r} that is not a layout name.")
        if not np.issubdtype(np.asarray(kp).dtype, np.number):
            raise Dance2DError(f"Pose file {path} holds keypoints of type {np.asarray(kp).dtype}, not numbers.")
        return cls(kp, fps, meta["layout"], tuple(canvas), extra if isinstance(extra, dict) else {})

    # ------------------------------------------------------------------ OpenPose JSON
    def save_openpose(self, folder: str | os.PathLike, pattern: str = "{:06d}.json") -> None:
        """One OpenPose JSON per frame (people[0], pixels of the canvas, hands in hand_*_keypoints_2d)."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        px = self.pixels()
        lay = get_layout(self.layout)
        for t in range(len(self)):
            person = {"pose_keypoints_2d": _flat(px[t, :18] if lay.hand_slices else px[t])}
            if lay.hand_slices:
                (l0, l1), (r0, r1) = lay.hand_slices
                person["hand_left_keypoints_2d"] = _flat(px[t, l0:l1])
                person["hand_right_keypoints_2d"] = _flat(px[t, r0:r1])
            doc = {"version": 1.3, "people": [person], "canvas_width": self.canvas[0],
                   "canvas_height": self.canvas[1]}
            with atomic_path(folder / pattern.format(t)) as tmp:
                tmp.write_text(json.dumps(doc))

    @classmethod
    def load_openpose(cls, path: str | os.PathLike, fps: float = 30.0, canvas: tuple[int, int] | None = None,
                      hands: bool = False) -> PoseSequence:
        """Read one OpenPose/DWPose JSON file (one frame) or a folder of per-frame JSON files (sorted by name)."""
        path = Path(path)
        if not path.exists():
            raise Dance2DError(f"Pose path {path} does not exist.")
        files = sorted(path.glob("*.json")) if path.is_dir() else [path]
        if not files:
            raise Dance2DError(f"Pose folder {path} holds no .json files.")
        frames, sizes = [], set()
        for f in files:
            kp, size = read_openpose_frame(f, hands=hands)
            frames.append(kp)
            sizes.add(size)
        sizes.discard(None)
        if canvas is None:
            if not sizes:
                raise Dance2DError(f"OpenPose JSON in {path} gives no canvas_width/canvas_height; add them to the "
                                   "file or pass --canvas WxH (the size of the image the pose was taken from).")
            canvas = sizes.pop()
        kp = np.stack(frames).astype(np.float32)
        w, h = canvas
        if kp[..., :2].max(initial=0) > 1.0 + 1e-6:  # pixels (normalised files have all values ≤ 1)
            kp[..., 0] /= w
            kp[..., 1] /= h
        return cls(kp, fps, "openpose18_hands" if hands else "openpose18", (int(w), int(h)),
                   {"source": str(path)})


def _flat(a: np.ndarray) -> list[float]:
    return [round(float(v), 4) for v in a.reshape(-1)]


# BODY_25 → body-18: BODY_25 has a mid-hip at 8 and feet at 19–24; the rest is body-18 with an offset.
_BODY25_TO_18 = (0, 1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18)


def read_openpose_frame(path: Path, hands: bool = False) -> tuple[np.ndarray, tuple[int, int] | None]:
    """Parse one OpenPose JSON frame into body-18 (or body+hands) keypoints (K, 3) in the file's units."""
    from dance2d.pose.convert import coco17_to_body18

    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8-sig"))  # utf-8-sig: a byte-order mark is fine
    except IsADirectoryError:
        raise Dance2DError(f"Pose JSON path {path} is a folder; pass one .json file.") from None
    except (OSError, UnicodeDecodeError) as e:
        raise Dance2DError(f"Cannot read pose JSON {path}: {e}.") from None
    except json.JSONDecodeError as e:
        raise Dance2DError(
            f"Pose JSON {path} is malformed ({e.msg} at line {e.lineno}); fix or regenerate it.") from None
    except RecursionError:
        raise Dance2DError(f"Pose JSON {path} is nested too deeply to be an OpenPose file; fix or regenerate "
                           "it.") from None
    people = doc.get("people") if isinstance(doc, dict) else None
    if not isinstance(people, list):
        raise Dance2DError(f"Pose JSON {path} has no 'people' list; expected OpenPose format.")
    size = None
    if doc.get("canvas_width") is not None or doc.get("canvas_height") is not None:
        from dance2d.validate import canvas_size

        size = canvas_size((doc.get("canvas_width"), doc.get("canvas_height")), f"pose JSON {path}")
    k = 60 if hands else 18
    if not people:
        return np.zeros((k, 3), np.float32), size
    person = people[0]
    try:
        body = np.asarray(person["pose_keypoints_2d"], dtype=np.float64)
    except (KeyError, TypeError, ValueError):
        raise Dance2DError(f"Pose JSON {path}: people[0] has no numeric 'pose_keypoints_2d'.") from None
    if body.size not in (54, 51, 75):
        raise Dance2DError(f"Pose JSON {path}: pose_keypoints_2d has {body.size} numbers; expected 54 "
                           "(OpenPose body-18), 51 (COCO-17) or 75 (BODY_25).")
    body = body.reshape(-1, 3)
    if not np.isfinite(body).all():
        raise Dance2DError(f"Pose JSON {path} contains NaN or infinite keypoint values.")
    if len(body) == 17:
        body = coco17_to_body18(body[None])[0]
    elif len(body) == 25:
        body = body[list(_BODY25_TO_18)]
    body[:, 2] = np.clip(body[:, 2], 0.0, 1.0)
    if not hands:
        return body.astype(np.float32), size
    parts = [body]
    for key in ("hand_left_keypoints_2d", "hand_right_keypoints_2d"):
        hand = np.asarray(person.get(key) or np.zeros(63), dtype=np.float64)
        if hand.size != 63:
            raise Dance2DError(f"Pose JSON {path}: {key} has {hand.size} numbers; expected 63 (21 joints × 3).")
        hand = hand.reshape(21, 3)
        hand[:, 2] = np.clip(hand[:, 2], 0.0, 1.0)
        parts.append(hand)
    return np.concatenate(parts).astype(np.float32), size


def as_layout(seq: PoseSequence, layout: str | Layout) -> PoseSequence:
    """Convert a sequence to another layout (coco17 → openpose18, openpose18_hands ↔ openpose18)."""
    from dance2d.pose.convert import coco17_to_body18

    target = get_layout(layout).name
    if target == seq.layout:
        return seq
    if seq.layout == "coco17" and target == "openpose18":
        return seq.replace(coco17_to_body18(seq.keypoints), layout=target)
    if seq.layout == "openpose18_hands" and target == "openpose18":
        return seq.replace(seq.keypoints[:, :18], layout=target)
    if seq.layout == "openpose18" and target == "openpose18_hands":
        kp = np.concatenate([seq.keypoints, np.zeros((len(seq), 42, 3), np.float32)], axis=1)
        return seq.replace(kp, layout=target)
    raise Dance2DError(f"Cannot convert poses from layout {seq.layout!r} to {target!r}.")


def sample_frames(keypoints: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """Keypoints (..., T, K, 3) at fractional frame positions (N,) (clipped to the sequence): linear in x, y; a joint
    missing at either neighbour is missing."""
    kp = np.asarray(keypoints)
    t = kp.shape[-3]
    src = np.clip(np.asarray(positions, np.float64), 0, t - 1)
    i0 = np.floor(src).astype(int)
    i1 = np.minimum(i0 + 1, t - 1)
    a = (src - i0)[:, None, None].astype(np.float32)  # 0 at the last frame, where i1 == i0
    k0, k1 = kp[..., i0, :, :], kp[..., i1, :, :]
    out = (1 - a) * k0 + a * k1
    both = (k0[..., 2] > 0) & ((k1[..., 2] > 0) | (a[..., 0] == 0))
    out[..., 2] = np.where(both, out[..., 2], 0.0)
    return out.astype(np.float32)


EASE_IN_S = 1.0  # seconds over which a generated dance moves from the reference pose into the model's dance


def smoothstep(n: int) -> np.ndarray:
    """n float32 weights rising along a smoothstep from 0 (first) towards 1 (1 would be the frame after the last)."""
    w = np.arange(n, dtype=np.float32) / max(n, 1)
    return w * w * (3 - 2 * w)


def start_at_pose(keypoints: np.ndarray, pose: np.ndarray, frames: int, canvas, layout: str | Layout) -> np.ndarray:
    """Dances (..., T, K, 3), x and y in [0, 1] of `canvas`, that start at `pose` (K, 3) and move into the dance over
    their first `frames` frames (a smoothstep weight w, 0 at the first frame). The neck slides from the pose's
    place to the dance's, and the other joints follow from it along the layout's limb tree: an arm's or leg's bone
    both show (LIMB_ENDS) turns from the pose's direction to the dance's by the shorter way while its length goes
    from the pose's to the dance's, so a limb keeps its length on the way instead of shrinking where the two poses
    point it apart; a shoulder, hip or face bone blends its vector, narrowing as a body that turns does. A joint
    both show whose parent one of them lacks is blended in place. A joint only the pose shows is the pose's while w < ½,
    hanging from its eased parent by the pose's bone (then the dance's: missing); a joint only the dance shows
    stays missing while w < ½, so the first frame shows exactly the joints the pose shows."""
    kp = np.array(keypoints, np.float32, copy=True)
    n = min(int(frames), kp.shape[-3])
    if n <= 0:
        return kp
    lay = get_layout(layout)
    c = np.asarray(canvas, np.float64)
    w = smoothstep(n).astype(np.float64)  # (n,)
    early = (w < 0.5)[:, None]  # (n, 1)
    head = kp[..., :n, :, :]  # a view: written in place
    has_pose, has_frame = pose[:, 2] > 0, head[..., 2] > 0  # (K,), (..., n, K)
    both, pose_only = has_pose & has_frame, has_pose & ~has_frame & early
    a, b = pose[:, :2].astype(np.float64) * c, head[..., :2].astype(np.float64) * c  # (K, 2), (..., n, K, 2)
    # in place: the neck, and joints without a parent; a joint only the pose shows, where the pose has it
    out = np.where(pose_only[..., None], a, (1 - w[:, None, None]) * a + w[:, None, None] * b)
    for p, ch in lay.limbs:  # parents before children: a tree rooted at the neck
        va, vb = a[ch] - a[p], b[..., ch, :] - b[..., p, :]
        if lay.joints[ch] in LIMB_ENDS:
            turn = np.arctan2(va[0] * vb[..., 1] - va[1] * vb[..., 0], vb @ va)  # signed angle va → vb, (−π, π]
            angle = np.arctan2(va[1], va[0]) + w * turn
            length = (1 - w) * np.hypot(*va) + w * np.linalg.norm(vb, axis=-1)
            bone = length[..., None] * np.stack([np.cos(angle), np.sin(angle)], -1)
        else:
            bone = (1 - w[:, None]) * va + w[:, None] * vb
        out[..., ch, :] = np.where((both[..., p] & both[..., ch])[..., None], out[..., p, :] + bone, out[..., ch, :])
        hangs = pose_only[..., ch] & (both[..., p] | pose_only[..., p])
        out[..., ch, :] = np.where(hangs[..., None], out[..., p, :] + va, out[..., ch, :])
    head[..., :2] = np.where((both | pose_only)[..., None], out / c, head[..., :2]).astype(np.float32)
    head[..., 2] = np.where(pose_only, pose[:, 2], head[..., 2])
    head[..., 2] = np.where(~has_pose & has_frame & early, 0.0, head[..., 2])  # where it was, hidden
    return kp


def per_dance(fn):
    """Let fn(kp (T, K, 3), *args) also take a batch of dances (..., T, K, 3), each processed on its own."""
    @functools.wraps(fn)
    def each(kp: np.ndarray, *args, **kwargs) -> np.ndarray:
        if kp.ndim <= 3:
            return fn(kp, *args, **kwargs)
        flat = kp.reshape((-1,) + kp.shape[-3:])
        return np.stack([fn(d, *args, **kwargs) for d in flat]).reshape(kp.shape)

    return each


REST_EASE_S = 0.5  # seconds over which the dancer slows to a stop when the music falls silent, and starts again
REST_RETURN_S = 2.0  # seconds over which a dancer who rested walks back onto the path the dance has moved on to


def _stop(kp: np.ndarray, a: int, b: int, frames: int) -> np.ndarray:
    """Play the dance (T, K, 3) ever slower from frame a, to a stop within `frames` frames; return the pose it
    stops in, which the rest [a, b) then holds."""
    stop = min(frames, b - a)
    moving = sample_frames(kp, a + np.concatenate([[0.0], np.cumsum(1.0 - smoothstep(stop))]))  # stop + 1 poses
    kp[a:a + stop] = moving[:stop]
    kp[a + stop:b] = moving[stop]
    return moving[stop]


def _return(after: np.ndarray, held: np.ndarray, frames: int) -> None:
    """Shift the dance after a rest (T', K, 3; in place) to start where the dancer stands, the shift fading out over
    `frames` frames: the dance moved on about the canvas during the rest, and the dancer walks back onto its path."""
    both = (held[:, 2] > 0) & (after[0, :, 2] > 0)
    if not both.any():
        return
    shift = held[both, :2].mean(0) - after[0, both, :2].mean(0)
    fade = np.zeros((len(after), 1, 1), np.float32)
    n = min(len(after), frames)
    fade[:n, 0, 0] = 1 - smoothstep(n)
    after[..., :2] = np.where(after[..., 2:] > 0, after[..., :2] + fade * shift, after[..., :2])


@per_dance
def start_and_rest(kp: np.ndarray, pose: np.ndarray, rests, fps: float, canvas, layout: str | Layout,
                   ease_in: float = EASE_IN_S) -> np.ndarray:
    """Dances (..., T, K, 3) that start from `pose` (K, 3; the reference) and stand still through the music's rests,
    frame spans [a, b) (music/drive.py silent_spans).

    The dance moves from the pose into the model's dance over ease_in seconds (`start_at_pose`), from where the
    music starts: a silent intro is a rest in the pose (with ease_in 0, in the dance's first frame). At a later rest
    the dance plays ever slower and comes to a stop over REST_EASE_S (its own frames, so every pose on the way is
    one it made) and holds that pose. After a rest the dancer starts where it stood, moves back into the dance over
    REST_EASE_S (ease_in after an intro) and drifts back onto the dance's path over REST_RETURN_S."""
    kp = np.array(kp, np.float32, copy=True)
    t, ease = len(kp), int(round(ease_in * fps))
    settle, back = (max(1, int(round(s * fps))) for s in (REST_EASE_S, REST_RETURN_S))
    spans = [(max(0, int(a)), min(t, int(b))) for a, b in rests]
    spans = [(a, b) for a, b in spans if a < b]
    if not spans or spans[0][0] > 0:
        kp = start_at_pose(kp, pose, ease, canvas, layout)  # the music starts with the dance
    for a, b in spans:
        if a == 0 and ease > 0:
            held, rise = np.asarray(pose, np.float32), ease
            kp[:b] = held
        else:
            held, rise = _stop(kp, a, b, settle), settle
        if b < t:
            _return(kp[b:], held, back)
            kp[b:] = start_at_pose(kp[b:], held, rise, canvas, layout)
    return kp
