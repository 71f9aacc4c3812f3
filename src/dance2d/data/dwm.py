"""Dance with Melody (Tang et al. 2018): 3D ballroom mocap + songs, projected to 2D through virtual cameras (§5).

Layout (data README): DANCE_<style>_<n>/{config.json, skeletons.npz, audio.ogg}; 23 points, cm, y up, 25 fps,
skeletons relative to `center`. Skeleton frame i plays at song time (start_position + i) / 25 s. The source frame
is LEFT-handed: we build body-18 points and the forward direction in it (where the README's cross product points
forward), then mirror z → −z, which turns it into a right-handed frame with the same left/right labels, and
project with the right-handed cameras of dance2d.data.camera.
"""

from __future__ import annotations

import json
import os
import zlib
from pathlib import Path

import numpy as np

from dance2d.data.camera import Camera, face_visibility, pixels_to_pose, sample_camera, smooth_track
from dance2d.data.clip import Clip
from dance2d.data.dataset import DEFAULT_CANVAS, Beats, DanceDataset, crop_seconds, long_enough
from dance2d.errors import Dance2DError
from dance2d.pose import PoseSequence
from dance2d.pose.convert import dwm23_to_body18, dwm_forward

DWM_FPS = 25.0  # frame rate of the mocap and unit of start_position / end_position
STYLES = {"C": "cha-cha", "R": "rumba", "T": "tango", "W": "waltz"}
FLOOR_SMOOTH_SECONDS = 5.0  # window of the moving average that estimates the drifting floor height
# Held-out test songs, chosen among pairs with sync = ok in the data README: the cha-cha and rumba whose
# annotated, audio and motion tempi agree best (C_2, R_4) and three waltzes, one from each frame-0 group
# (W_3 from the large group, W_10 from the small one) plus W_24, which starts elsewhere. Within each group these
# are the ones sharing the fewest poses with the other waltzes (measured: 13–32 % of their frames lie within
# ≈2 cm of a pose in another waltz, against up to 57 % for the rest). Caveat: the waltzes still share figures
# with the training waltzes, so waltz test scores are optimistic; cha-cha and rumba share < 8 %. The only
# tango (T_5) stays in training.
DWM_TEST_SONGS = ("DANCE_C_2", "DANCE_R_4", "DANCE_W_3", "DANCE_W_10", "DANCE_W_24")


def list_dwm(root: str | os.PathLike) -> list[Path]:
    """All DANCE_* folders with a skeletons.npz under `root`, sorted by name."""
    root = Path(root)
    if not root.is_dir():
        raise Dance2DError(f"Dance with Melody folder {root} does not exist; pass the dance_with_melody/ folder.")
    found = sorted(p for p in root.iterdir() if p.name.startswith("DANCE_") and (p / "skeletons.npz").is_file())
    if not found:
        raise Dance2DError(f"No DANCE_*/skeletons.npz folders in {root}; pass the dance_with_melody/ folder.")
    return found


def dwm_split(root: str | os.PathLike, split: str = "train") -> list[Path]:
    """Song folders of a split: "test" = DWM_TEST_SONGS, "train" = all others, "all" = every song."""
    folders = list_dwm(root)
    if split == "all":
        return folders
    if split not in ("train", "test"):
        raise Dance2DError(f"Unknown Dance with Melody split {split!r}; use 'train', 'test' or 'all'.")
    return [f for f in folders if (f.name in DWM_TEST_SONGS) == (split == "test")]


def read_dwm_motion(folder: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict]:
    """Body-18 world points (T, 18, 3) cm and forward (T, 3) in a right-handed y-up frame, root (T, 3), config.

    The drifting floor (README: center_y + min joint y wanders 10–53 cm) is removed by subtracting its moving
    average over FLOOR_SMOOTH_SECONDS, so the feet stay near y = 0 while rise-and-fall survives.
    """
    try:
        cfg = json.loads((folder / "config.json").read_text())
        with np.load(folder / "skeletons.npz") as z:
            sk, centre = z["skeletons"].astype(np.float64), z["center"].astype(np.float64)
        start = int(cfg["start_position"])
    except FileNotFoundError as e:
        raise Dance2DError(f"Dance with Melody folder {folder} lacks {Path(e.filename).name}.") from None
    except (OSError, ValueError, KeyError, TypeError, json.JSONDecodeError) as e:
        raise Dance2DError(f"Dance with Melody folder {folder} is unreadable ({e}); restore its files.") from None
    if sk.ndim != 3 or sk.shape[1:] != (23, 3) or centre.shape != (len(sk), 3) or len(sk) < 2:
        raise Dance2DError(f"{folder}/skeletons.npz holds shapes {sk.shape}, {centre.shape}; expected (T,23,3), (T,3).")
    world = sk + centre[:, None, :]  # (T, 23, 3) left-handed
    floor = smooth_track(world[..., 1].min(1, keepdims=True), int(FLOOR_SMOOTH_SECONDS * DWM_FPS))  # (T, 1)
    world[..., 1] -= floor
    body = dwm23_to_body18(world.astype(np.float32)).astype(np.float64)  # (T, 18, 3), nose in front of the face
    fwd = dwm_forward(world.astype(np.float32)).astype(np.float64)  # (T, 3)
    root = centre.copy()
    root[:, 1] -= floor[:, 0]
    flip = np.array([1.0, 1.0, -1.0])  # left-handed → right-handed, labels kept
    return body * flip, fwd * flip, root * flip, {"start_position": start, **cfg}


def _front_camera(points: np.ndarray, root: np.ndarray, forward: np.ndarray, canvas: tuple[int, int]) -> Camera:
    """A deterministic camera facing the dancer's front at frame 0, 5° above, dancer at 60 % of the height."""
    yaw = float(np.degrees(np.arctan2(forward[0, 0], forward[0, 2])))
    return sample_camera(np.random.default_rng(0), canvas, points, root=root, fps=DWM_FPS, yaw=yaw,
                         elevation_range=(5.0, 5.0), height_range=(0.6, 0.6), distance_range=(500.0, 500.0))


def project_view(points: np.ndarray, forward: np.ndarray, camera: Camera, fps: float,
                 meta: dict | None = None) -> PoseSequence:
    """Body-18 world points (T, 18, 3) at 25 fps → openpose18 PoseSequence seen by `camera`, at `fps`."""
    uv = camera.project(points)  # (T, 18, 2)
    conf = face_visibility(camera, points, forward)  # (T, 18)
    kp = pixels_to_pose(uv, conf, camera.canvas)
    seq = PoseSequence(kp, DWM_FPS, "openpose18", camera.canvas, {**(meta or {}), "camera": camera.describe()})
    return seq.resample(fps)


def load_dwm(folder: str | os.PathLike, fps: float = 25.0, canvas: tuple[int, int] = (512, 512),
             camera: Camera | np.random.Generator | int | None = None, sr: int | None = None,
             follow_seconds: float | None = 4.0) -> Clip:
    """One Dance with Melody song → Clip: 2D poses through a virtual camera at `fps` + the audio under them.

    camera: a Camera, a Generator/seed for `sample_camera`, or None for a fixed camera facing the dancer's front
    at frame 0. The returned Clip's `reproject(rng)` draws fresh cameras (the view augmentation of the cache).
    """
    from dance2d.music.audio import load_audio

    folder = Path(folder)
    points, fwd, root, cfg = read_dwm_motion(folder)
    T, start = len(points), cfg["start_position"]
    wave, rate = load_audio(folder / "audio.ogg", sr=sr)
    a, b = round(start / DWM_FPS * rate), round((start + T) / DWM_FPS * rate)
    if a >= len(wave):
        raise Dance2DError(f"{folder}/audio.ogg ends before start_position {start} (frame at {start / DWM_FPS:.1f} s).")
    seg = wave[a:b]
    if len(seg) < b - a:  # song ends a little early: pad with silence so audio and motion lengths agree
        seg = np.pad(seg, (0, b - a - len(seg)))
    parts = folder.name.split("_")
    style = STYLES.get(parts[1] if len(parts) > 2 else "", "unknown")
    meta = {"source": str(folder), "dataset": "dwm", "style": style, "start_position": start}

    def reproject(rng: np.random.Generator) -> PoseSequence:
        cam = sample_camera(rng, canvas, points, root=root, fps=DWM_FPS, follow_seconds=follow_seconds)
        return project_view(points, fwd, cam, fps, meta)

    if isinstance(camera, Camera):
        cam = camera
    elif camera is None:
        cam = _front_camera(points, root, fwd, canvas)
    else:
        rng = camera if isinstance(camera, np.random.Generator) else np.random.default_rng(camera)
        cam = sample_camera(rng, canvas, points, root=root, fps=DWM_FPS, follow_seconds=follow_seconds)
    poses = project_view(points, fwd, cam, fps, meta)
    return Clip(poses, np.ascontiguousarray(seg, dtype=np.float32), int(rate), folder.name, meta, reproject)


class DanceWithMelody(DanceDataset):
    """Dance with Melody through virtual cameras: seeded random cameras for training, one seeded camera per song for
    evaluation (fixed by the seed and the song name, so a table does not depend on the split or its order)."""

    name = "dwm"
    gt_split, reference_split = "test", "train"

    def clips(self, root, split="train", *, fps=25.0, seed=0, limit=None, music_dir=None, sr=None) -> list[Clip]:
        """Song i of the split through a random camera seeded seed + i, on the square DEFAULT_CANVAS: generation
        frames every reference isotropically into the model's canvas (pose/retarget.py), so the training views
        share one canvas and one pixel aspect (docs/decisions.md, "Data")."""
        return [load_dwm(f, fps=fps, canvas=DEFAULT_CANVAS, camera=seed + i, sr=sr)
                for i, f in enumerate(dwm_split(root, split)[:limit])]

    def ground_truth(self, root, split, *, fps, canvas=DEFAULT_CANVAS, seed=0, with_music=True,
                     clip_seconds=None, skip_seconds=0.0) -> list[tuple[PoseSequence, Beats]]:
        from dance2d.music.features import beat_times

        out = []
        for folder in dwm_split(root, split):
            points, fwd, body_root, cfg = read_dwm_motion(folder)
            rng = np.random.default_rng([int(seed), zlib.crc32(folder.name.encode())])
            cam = sample_camera(rng, canvas, points, root=body_root, fps=DWM_FPS)
            music = {"music": str(folder / "audio.ogg"), "start": cfg["start_position"] / DWM_FPS}
            if not with_music:
                seq = project_view(points, fwd, cam, fps, {"source": str(folder), **music})
                out.append((crop_seconds(seq, clip_seconds, skip_seconds), None))
                continue
            clip = load_dwm(folder, fps=fps, canvas=canvas, camera=cam)
            clip.poses.meta.update(music)
            seq = crop_seconds(clip.poses, clip_seconds, skip_seconds)
            a = int(round(skip_seconds * clip.sr))
            wave = clip.wave[a: a + int(round(seq.duration * clip.sr))]
            out.append((seq, beat_times(wave, clip.sr, fps) if len(seq) > 1 else None))
        return long_enough(out, clip_seconds, skip_seconds)
