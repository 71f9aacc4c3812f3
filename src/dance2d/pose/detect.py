"""Reference pose from a photo or a video frame: MediaPipe's bundled pose model → OpenPose body-18 (issue 11).

The detector is MediaPipe's legacy `solutions.pose` (BlazePose, "full" landmark model), a widely used pose
model whose weights ship inside its wheel, so it runs offline on CPU (docs/decisions.md, "From a photo, the web
page, installing"). It is an optional extra: `pip install 'dance2d[photo]'`.

BlazePose finds one person per call. To notice more people, the found person (their landmarks' box and their
segmentation mask) is painted over with the image's mean colour and the model runs again, over the whole image
and over squares sliding along its long side. The largest person is kept and the others are reported.
"""

from __future__ import annotations

import contextlib
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from dance2d.atomic import atomic_path
from dance2d.errors import Dance2DError
from dance2d.pose.convert import coco17_to_body18
from dance2d.pose.layouts import BODY18_JOINTS
from dance2d.pose.sequence import PoseSequence

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")
VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".webm", ".avi", ".m4v")
# BlazePose's 33 landmarks → COCO-17 order (nose, eyes, ears, shoulders, elbows, wrists, hips, knees, ankles).
BLAZEPOSE_FOR_COCO17 = (0, 2, 5, 7, 8, 11, 12, 13, 14, 15, 16, 23, 24, 25, 26, 27, 28)
REQUIRED = ("neck", "r_shoulder", "l_shoulder", "r_hip", "l_hip")  # what the dance model needs (pipeline.py)
MIN_VISIBILITY = 0.3  # a joint the detector gives less visibility than this is "not seen" (DWPose's cut-off)
MAX_PEOPLE = 4  # detector passes per image when looking for more people
VIDEO_SCAN_FPS = 4.0  # frames per second of video examined when looking for the first frame with a person
INSTALL_HINT = "pip install 'dance2d[photo]'"


def is_image(path: str | os.PathLike) -> bool:
    return Path(path).suffix.lower() in IMAGE_SUFFIXES


def is_video(path: str | os.PathLike) -> bool:
    return Path(path).suffix.lower() in VIDEO_SUFFIXES


# ---------------------------------------------------------------------------------------------- reading media
def read_image(path: str | os.PathLike) -> np.ndarray:
    """An image file as RGB (H, W, 3) uint8, turned upright by its EXIF orientation (phone photos)."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    path = Path(path)
    if not path.is_file():
        raise Dance2DError(f"Photo {path} does not exist; check the path.")
    try:
        with Image.open(path) as im:
            im = ImageOps.exif_transpose(im)
            if im.mode in ("RGBA", "LA") or (im.mode == "P" and "transparency" in im.info):
                im = im.convert("RGBA")
                white = Image.new("RGBA", im.size, (255, 255, 255, 255))
                white.alpha_composite(im)  # transparent cut-outs become a person on white
                im = white
            return np.asarray(im.convert("RGB"))
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        raise Dance2DError(f"Cannot read {path} as an image (not a PNG, JPEG or WebP picture, or damaged); save "
                           "the photo again in one of those formats.") from None


def _upright(frame) -> np.ndarray:
    """A decoded video frame as RGB (H, W, 3), rotated as its display matrix says (phone videos)."""
    rgb = frame.to_ndarray(format="rgb24")
    turns = int(round(getattr(frame, "rotation", 0) / 90)) % 4  # counter-clockwise quarter turns
    return np.ascontiguousarray(np.rot90(rgb, turns)) if turns else rgb


def video_frames(path: str | os.PathLike, start: float = 0.0, every: float = 0.0):
    """Yield (time in s, RGB frame) from `start` on, at most one frame per `every` seconds (0 = all frames)."""
    import av

    path = Path(path)
    if not path.is_file():
        raise Dance2DError(f"Video {path} does not exist; check the path.")
    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, OSError) as e:
        raise Dance2DError(f"Cannot read {path} as a video ({e}); use an MP4, MOV, MKV or WebM file.") from None
    with container:
        if not container.streams.video:
            raise Dance2DError(f"{path} has no video stream; pass a video file or a photo.")
        stream = container.streams.video[0]
        if start > 0:
            container.seek(int(start / stream.time_base), stream=stream, backward=True)
        last = -np.inf
        try:
            for frame in container.decode(stream):
                t = float(frame.time) if frame.time is not None else 0.0
                if t + 1e-6 < start or t - last + 1e-6 < every:
                    continue
                last = t
                yield t, _upright(frame)
        except av.error.FFmpegError as e:
            raise Dance2DError(f"Video {path} is damaged ({e}); re-encode it or pass a photo.") from None


def video_duration(path: str | os.PathLike) -> float | None:
    """Duration of a video file in seconds, if the container states it."""
    import av

    try:
        with av.open(str(path)) as c:
            if c.duration is not None:
                return c.duration / 1e6
            s = c.streams.video[0] if c.streams.video else None
            return float(s.duration * s.time_base) if s is not None and s.duration else None
    except (av.error.FFmpegError, OSError):
        return None


# ---------------------------------------------------------------------------------------------- the detector
@contextlib.contextmanager
def _native_stderr_silenced():
    """Silence what MediaPipe's C++ side prints on file descriptor 2 (TFLite/absl start-up lines)."""
    try:
        fd = sys.stderr.fileno()
    except (AttributeError, OSError, ValueError):  # no real stderr (pytest capture, a web server)
        yield
        return
    sys.stderr.flush()
    saved = os.dup(fd)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), fd)
        yield
    finally:
        os.dup2(saved, fd)
        os.close(saved)


def _load_mediapipe_pose():
    """MediaPipe's legacy pose solution, or a Dance2DError that says exactly what to install."""
    os.environ.setdefault("GLOG_minloglevel", "2")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        import mediapipe as mp
    except ImportError:
        if sys.version_info >= (3, 13):
            raise Dance2DError("Reading a pose from a photo needs MediaPipe 0.10.21, which has no wheels for Python "
                               f"{sys.version_info[0]}.{sys.version_info[1]}; use Python 3.10–3.12 and run "
                               f"{INSTALL_HINT}, or pass an OpenPose JSON as --ref.") from None
        raise Dance2DError(f"Reading a pose from a photo needs the optional detector: run {INSTALL_HINT}.") from None
    solutions = getattr(mp, "solutions", None)
    if solutions is None or not hasattr(solutions, "pose"):
        raise Dance2DError(f"MediaPipe {getattr(mp, '__version__', '?')} no longer ships its pose model; run "
                           "pip install 'mediapipe>=0.10.21,<0.10.30' (what dance2d[photo] installs).")
    return solutions.pose, getattr(mp, "__version__", "?")


@dataclass
class Person:
    """One detected person: COCO-17 keypoints in pixels (17, 3) with visibility as confidence."""

    coco: np.ndarray  # (17, 3) x, y in pixels, confidence in [0, 1]
    box: tuple[float, float, float, float]  # x0, y0, x1, y1 of the confident landmarks, pixels
    mask: np.ndarray | None = None  # (H, W) bool: the person's pixels (segmentation), in the searched image

    @property
    def area(self) -> float:
        return max(self.box[2] - self.box[0], 0.0) * max(self.box[3] - self.box[1], 0.0)

    def shifted(self, dx: int, dy: int) -> Person:
        coco = self.coco.copy()
        seen = coco[:, 2] > 0
        coco[seen, 0] += dx
        coco[seen, 1] += dy
        return Person(coco, (self.box[0] + dx, self.box[1] + dy, self.box[2] + dx, self.box[3] + dy))


def _windows(w: int, h: int) -> list[tuple[int, int, int, int]]:
    """Search windows (x0, y0, x1, y1): the whole image, then squares of the short side sliding along the long
    one by half a side. BlazePose's detector sees an image shrunk to 224 × 224, so a person beside others or in
    a wide picture is found more reliably in a square around them."""
    side = min(w, h)
    out = [(0, 0, w, h)]
    if max(w, h) - side > side // 8:
        starts = list(range(0, max(w, h) - side, side // 2)) + [max(w, h) - side]
        out += [(s, 0, s + side, h) if w > h else (0, s, w, s + side) for s in starts]
    return out


class PoseDetector:
    """MediaPipe BlazePose (full model, single-image mode) finding up to MAX_PEOPLE people in an RGB image."""

    def __init__(self) -> None:
        pose, self.version = _load_mediapipe_pose()
        with _native_stderr_silenced():
            self._pose = pose.Pose(static_image_mode=True, model_complexity=1, enable_segmentation=True,
                                   min_detection_confidence=0.5)
        self.name = f"mediapipe {self.version} pose (BlazePose full)"

    def close(self) -> None:
        with _native_stderr_silenced():
            self._pose.close()

    def __enter__(self) -> PoseDetector:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _one(self, rgb: np.ndarray) -> Person | None:
        """The person BlazePose finds in an image (it finds one at most), or None."""
        h, w = rgb.shape[:2]
        result = self._pose.process(np.ascontiguousarray(rgb))
        if result.pose_landmarks is None:
            return None
        lm = result.pose_landmarks.landmark
        pts = np.array([[lm[i].x * w, lm[i].y * h, lm[i].visibility] for i in range(len(lm))], np.float32)
        inside = (pts[:, 0] >= 0) & (pts[:, 0] < w) & (pts[:, 1] >= 0) & (pts[:, 1] < h)
        pts[:, 2] = np.where(inside, np.clip(pts[:, 2], 0.0, 1.0), 0.0)  # off the image = not seen
        coco = pts[list(BLAZEPOSE_FOR_COCO17)]
        coco[coco[:, 2] == 0] = 0.0
        seen = pts[pts[:, 2] > 0.5]
        if len(seen) < 4:  # a detection without four confident landmarks in the image is not a person to dance
            return None
        x0, y0 = seen[:, :2].min(0)
        x1, y1 = seen[:, :2].max(0)
        seg = result.segmentation_mask
        mask = seg > 0.3 if seg is not None and seg.shape == (h, w) else None
        return Person(coco, (float(x0), float(y0), float(x1), float(y1)), mask)

    def _search(self, rgb: np.ndarray, passes: int) -> list[Person]:
        """Up to `passes` people in one image: each one found is painted over before the next pass."""
        h, w = rgb.shape[:2]
        fill = rgb.reshape(-1, 3).mean(0).astype(np.uint8)
        found: list[Person] = []
        work = rgb
        for i in range(passes):
            person = self._one(work)
            if person is None:
                break
            found.append(person)
            if i == passes - 1:
                break
            work = work.copy() if work is rgb else work
            x0, y0, x1, y1 = person.box
            mx, my = 0.1 * (x1 - x0) + 4, 0.1 * (y1 - y0) + 4  # the landmarks' box misses hair, hands, feet
            work[max(int(y0 - my), 0):min(int(y1 + my) + 1, h), max(int(x0 - mx), 0):min(int(x1 + mx) + 1, w)] = fill
            if person.mask is not None:  # the person's own pixels (arms, coat), grown by a few pixels
                from scipy.ndimage import binary_dilation

                work[binary_dilation(person.mask, iterations=max(2, min(h, w) // 100))] = fill
        return found

    def people(self, rgb: np.ndarray, thorough: bool = True) -> list[Person]:
        """Everyone found (at most MAX_PEOPLE), largest first.

        The whole image is searched first; people found only in a sliding square must be clearly there (both
        shoulders seen, at least a fifth of the image tall), since BlazePose takes some objects in a crop for a
        person. thorough=False: one pass per window, stopping at the first person (is anyone there?)."""
        with _native_stderr_silenced():
            rgb = np.ascontiguousarray(rgb)
            h, w = rgb.shape[:2]
            found: list[Person] = []
            for k, (x0, y0, x1, y1) in enumerate(_windows(w, h)):
                for p in self._search(rgb[y0:y1, x0:x1], MAX_PEOPLE if thorough else 1):
                    p = p.shifted(x0, y0)
                    if k > 0 and not _clearly_a_person(p, h):
                        continue
                    if not any(_same_person(p, q) for q in found):
                        found.append(p)
                if found and not thorough:
                    break
            return sorted(found, key=lambda p: -p.area)[:MAX_PEOPLE]


def _clearly_a_person(p: Person, image_height: int) -> bool:
    """Both shoulders seen and the confident landmarks span at least a fifth of the image's height."""
    shoulders = p.coco[5:7, 2]  # COCO-17 left, right shoulder
    return bool((shoulders > 0.5).all()) and (p.box[3] - p.box[1]) >= 0.2 * image_height


def _same_person(a: Person, b: Person) -> bool:
    """True if two detections are one person: either box's centre lies inside the other box."""
    def centre_in(p: Person, q: Person) -> bool:
        cx, cy = (p.box[0] + p.box[2]) / 2, (p.box[1] + p.box[3]) / 2
        return q.box[0] <= cx <= q.box[2] and q.box[1] <= cy <= q.box[3]

    return centre_in(a, b) or centre_in(b, a)


# ---------------------------------------------------------------------------------------------- reference poses
@dataclass
class Detection:
    """The reference pose found in a photo or a video frame, and what the user should be told about it."""

    pose: PoseSequence  # one frame, openpose18, canvas = the image's size
    image: np.ndarray  # the RGB image (H, W, 3) it was found in
    notes: list[str] = field(default_factory=list)  # one sentence each (several people, video time used)


def _body18(person: Person, size: tuple[int, int]) -> np.ndarray:
    """Normalised body-18 (18, 3) of a person on an image of size (w, h)."""
    kp = coco17_to_body18(person.coco[None])[0]
    kp[:, 0] /= size[0]
    kp[:, 1] /= size[1]
    kp[kp[:, 2] <= 0] = 0.0
    return kp


def _check_body(kp: np.ndarray, name: str) -> None:
    """The one-sentence error for a person whose neck, shoulders or hips are cut off or hidden."""
    missing = [j.replace("_", " ").replace("r ", "right ").replace("l ", "left ")
               for j in REQUIRED if kp[BODY18_JOINTS.index(j), 2] <= MIN_VISIBILITY]
    if missing:
        raise Dance2DError(f"The person in {name} is cut off or hidden at the {', '.join(missing)}; use a photo that "
                           "shows the whole upper body down to the hips (best: head to feet).")


def _from_image(rgb: np.ndarray, detector: PoseDetector, name: str, source: str) -> Detection | None:
    """Detection in one image, None if nobody is in it; raises for a person cut off at the torso."""
    if not detector.people(rgb, thorough=False):  # the quick look first: most video frames stop here
        return None
    people = detector.people(rgb)
    if not people:
        return None
    h, w = rgb.shape[:2]
    kp = _body18(people[0], (w, h))
    _check_body(kp, name)
    notes = []
    if len(people) > 1:
        x0, y0, x1, y1 = people[0].box
        notes.append(f"Found {len(people)} people in {name}; using the largest (around x={(x0 + x1) / 2:.0f}, "
                     f"y={(y0 + y1) / 2:.0f} px); crop the photo to choose another.")
    meta = {"source": source, "detector": detector.name, "people": len(people)}
    return Detection(PoseSequence(kp[None], 30.0, "openpose18", (w, h), meta), rgb, notes)


def detect_reference(path: str | os.PathLike, time: float | None = None, progress: bool = False) -> Detection:
    """The reference pose of the (largest) person in a photo, or in a video frame: the first frame with a person,
    or the frame at `time` seconds. Errors are one sentence (no person, cut off, unreadable, detector missing)."""
    path = Path(path)
    name = path.name
    if is_video(path):
        return _detect_video(path, time, progress)
    if time is not None:
        raise Dance2DError(f"--ref-time applies to a video, but {name} is a photo; leave it out.")
    rgb = read_image(path)
    with PoseDetector() as det:
        found = _from_image(rgb, det, name, str(path))
    if found is None:
        raise Dance2DError(f"No person found in {name}; use a photo where one person is clearly visible, "
                           "ideally head to feet.")
    return found


def _detect_video(path: Path, time: float | None, progress: bool) -> Detection:
    name = path.name
    if time is not None and not (np.isfinite(time) and time >= 0):
        raise Dance2DError(f"--ref-time {time} is not a time in seconds; pass a number ≥ 0.")
    duration = video_duration(path)
    if time is not None and duration is not None and time >= duration:
        raise Dance2DError(f"--ref-time {time:g} s is past the end of {name} ({duration:.1f} s); pick an earlier time.")
    bar = None
    if progress and time is None and duration:
        from tqdm import tqdm

        bar = tqdm(total=round(duration, 1), desc="find person", unit="s", dynamic_ncols=True)
    try:
        with PoseDetector() as det:
            frames = video_frames(path, start=time or 0.0, every=0.0 if time is not None else 1 / VIDEO_SCAN_FPS)
            found, t = None, None
            for t, rgb in frames:
                if bar is not None:
                    bar.n = round(min(t, bar.total), 1)
                    bar.refresh()
                found = _from_image(rgb, det, f"{name} at {t:.2f} s", f"{path}@{t:.3f}")
                if found is not None or time is not None:
                    break
            if t is None:
                raise Dance2DError(f"{name} has no decodable video frames; re-encode it or pass a photo.")
    finally:
        if bar is not None:
            bar.close()
    if found is None:
        if time is not None:
            raise Dance2DError(f"No person found in {name} at {t:.2f} s; pick another --ref-time or leave it out "
                               "to use the first frame with a person.")
        raise Dance2DError(f"No person found in any frame of {name}; use a video or photo where one person is "
                           "clearly visible.")
    if time is None:
        found.notes.append(f"Using the frame of {name} at {t:.2f} s, the first with a person.")
    found.pose.meta["time"] = t
    return found


# ---------------------------------------------------------------------------------------------- outputs
def write_reference_json(pose: PoseSequence, path: str | os.PathLike) -> Path:
    """Write a one-frame OpenPose JSON (pixels, canvas_width/height = the image's size), atomically."""
    import json

    path = Path(path)
    px = pose.pixels()[0]
    doc = {"version": 1.3, "people": [{"pose_keypoints_2d": [round(float(v), 2) for v in px.reshape(-1)]}],
           "canvas_width": pose.canvas[0], "canvas_height": pose.canvas[1],
           "dance2d": {k: v for k, v in pose.meta.items() if k != "source"}}
    with atomic_path(path, suffix=".json") as tmp:
        tmp.write_text(json.dumps(doc, ensure_ascii=False))
    return path


def reference_from_media(ref: str | os.PathLike, time: float | None = None, progress: bool = False,
                         say=print) -> PoseSequence:
    """--ref as the pipeline takes it: a photo or video becomes a detected PoseSequence (its notes go to `say`)."""
    found = detect_reference(ref, time=time, progress=progress)
    for note in found.notes:
        say(note)
    return found.pose
