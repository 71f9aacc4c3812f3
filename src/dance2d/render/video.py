"""Skeleton videos with the music muxed in (H.264 + AAC via PyAV) and PNG preview strips.

Every file is written atomically: into a temporary file in the destination folder, then moved
over the destination with os.replace, so a crash never leaves a half-written video or image.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image, ImageDraw
from tqdm import tqdm

from dance2d.atomic import atomic_path, remove_stale_temps
from dance2d.errors import Dance2DError
from dance2d.render.skeleton import draw_frame

# Container format for each accepted video file extension.
VIDEO_FORMATS = {".mp4": "mp4", ".mov": "mov", ".mkv": "matroska"}
# Sample rates the AAC encoder accepts; other rates are resampled to AAC_FALLBACK_RATE.
AAC_RATES = (96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000)
AAC_FALLBACK_RATE = 48000
X264_OPTIONS = {"crf": "18", "preset": "veryfast"}  # near-lossless for flat pose colours, fast to encode
VIDEO_TAG = "written by dance2d"  # container comment of every video dance2d writes
STRIP_GAP = 4  # pixels between preview tiles
STRIP_GAP_COLOR = (64, 64, 64)  # grey separator between preview tiles


def written_by_dance2d(path: str | os.PathLike) -> bool:
    """True if `path` is a video whose container comment says dance2d wrote it."""
    try:
        with av.open(str(path)) as c:
            return c.metadata.get("comment") == VIDEO_TAG
    except Exception:  # not a readable video at all
        return False


def check_video_target(path: str | os.PathLike, inputs=(), ours: bool = False) -> Path:
    """Refuse, before any work, a video path that is one of the inputs, has an unknown extension, lies in a
    missing folder, or already holds a file dance2d did not write (`ours`: known to be dance2d's already)."""
    path = Path(path)
    target = path.expanduser().resolve()
    for item in inputs:
        if item is not None and Path(item).expanduser().resolve() == target:
            raise Dance2DError(f"Video path {path} is also an input of this run; choose another --out.")
    if path.suffix.lower() not in VIDEO_FORMATS:
        raise Dance2DError(f"Video path {path} must end in one of {', '.join(VIDEO_FORMATS)}.")
    if not target.parent.is_dir():
        raise Dance2DError(f"Output folder {target.parent} does not exist; create it or choose another --out.")
    if target.is_dir() or (target.exists() and not ours and not written_by_dance2d(target)):
        raise Dance2DError(f"{path} already exists and was not written by dance2d; choose another --out or move "
                           "it away first.")
    return target


def _pad_even(frame: np.ndarray, width: int, height: int) -> np.ndarray:
    """Pad an (H, W, 3) frame with black on the right/bottom to even dimensions (yuv420p needs them)."""
    pad_h, pad_w = (-height) % 2, (-width) % 2
    if pad_h == 0 and pad_w == 0:
        return frame
    return np.pad(frame, ((0, pad_h), (0, pad_w), (0, 0)))


def _hold_last(frames: Iterable[np.ndarray], n: int | None, width: int, height: int) -> Iterator[np.ndarray]:
    """Yield exactly n frames (all if n is None), holding the last (or black) if the input ends early."""
    last = np.zeros((height, width, 3), np.uint8)
    count = 0
    for frame in frames:
        if n is not None and count >= n:
            return
        last = frame
        count += 1
        yield frame
    while n is not None and count < n:
        count += 1
        yield last


def _check_sequence(keypoints: np.ndarray) -> np.ndarray:
    """Return keypoints as an array after checking it is a non-empty (T, K, 3) sequence."""
    keypoints = np.asarray(keypoints)
    if keypoints.ndim != 3 or keypoints.shape[0] == 0 or keypoints.shape[2] != 3:
        raise Dance2DError(f"Keypoints of shape {keypoints.shape} are not a (T, K, 3) sequence with T > 0.")
    return keypoints


def write_video(
    frames: Iterable[np.ndarray],
    path: str | os.PathLike,
    fps: float,
    size: tuple[int, int],
    audio: tuple[np.ndarray, int] | None = None,
    *,
    audio_start: float = 0.0,
    duration: float | None = None,
) -> Path:
    """Encode RGB frames (H, W, 3) uint8 of `size` = (width, height) to H.264 with optional AAC music.

    `audio` is (mono float32 waveform, sample rate); the music from `audio_start` seconds is muxed in.
    The video lasts `duration` seconds if given, else the rest of the music from `audio_start`, else
    as many frames as `frames` yields; it has round(duration·fps) frames, holding the last frame if
    `frames` ends early and dropping any extra. Odd sizes are padded by one black pixel.
    """
    path = Path(path)
    fmt = VIDEO_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise Dance2DError(f"Video path {path} must end in one of {', '.join(VIDEO_FORMATS)}.")
    if not fps > 0:
        raise Dance2DError(f"Frame rate {fps} is not positive; pass frames per second, e.g. 25.")
    width, height = int(size[0]), int(size[1])
    if width < 1 or height < 1:
        raise Dance2DError(f"Video size {size} is not positive; pass (width, height) in pixels.")

    wave, sr = None, 0
    if audio is not None:
        wave, sr = np.asarray(audio[0], dtype=np.float32), int(audio[1])
        if wave.ndim != 1 or sr <= 0:
            raise Dance2DError(
                f"Audio must be a mono waveform (n,) at a positive sample rate, got {wave.shape} at {sr} Hz."
            )
        music_left = len(wave) / sr - audio_start
        if audio_start < 0 or music_left <= 0:
            raise Dance2DError(
                f"audio_start {audio_start} s is outside the {len(wave) / sr:.2f} s music; pick a time in it."
            )
        if duration is None:
            duration = music_left
    if duration is not None and not duration > 0:
        raise Dance2DError(f"Video duration {duration} s is not positive.")
    n_frames = None if duration is None else max(round(duration * fps), 1)

    rate = Fraction(fps).limit_denominator(1001)
    remove_stale_temps(path)  # what a killed earlier render of this file left behind
    with atomic_path(path, mkdir=False) as tmp, av.open(str(tmp), mode="w", format=fmt) as container:
        container.metadata["comment"] = VIDEO_TAG  # lets a later run replace this file (and nothing else)
        vstream = container.add_stream("libx264", rate=rate, options=X264_OPTIONS)
        vstream.width, vstream.height = width + width % 2, height + height % 2
        vstream.pix_fmt = "yuv420p"
        astream = None
        if wave is not None:
            out_rate = sr if sr in AAC_RATES else AAC_FALLBACK_RATE
            astream = container.add_stream("aac", rate=out_rate, layout="mono")
            # The music window [audio_start, audio_start + duration), zero-padded if the music ends first
            # (a view, not a copy: a 20-minute song at 44.1 kHz is 200 MB).
            first = round(audio_start * sr)
            n_samples = round(duration * sr)
            clip = wave[first:first + n_samples]
            if len(clip) < n_samples:
                clip = np.concatenate([clip, np.zeros(n_samples - len(clip), np.float32)])

        sent = 0  # audio samples sent to the encoder so far
        for i, frame in enumerate(_hold_last(frames, n_frames, width, height)):
            if frame.shape != (height, width, 3) or frame.dtype != np.uint8:
                raise Dance2DError(
                    f"Frame {i} has shape {frame.shape} {frame.dtype}; expected ({height}, {width}, 3) uint8."
                )
            vframe = av.VideoFrame.from_ndarray(_pad_even(frame, width, height), format="rgb24")
            vframe.pts = i
            container.mux(vstream.encode(vframe))
            if astream is not None:
                # Interleave: send the music up to the end of this video frame.
                upto = min(round((i + 1) * sr / fps), n_samples)
                if upto > sent:
                    aframe = av.AudioFrame.from_ndarray(np.ascontiguousarray(clip[None, sent:upto]), format="flt",
                                                        layout="mono")
                    aframe.sample_rate, aframe.pts, aframe.time_base = sr, sent, Fraction(1, sr)
                    container.mux(astream.encode(aframe))
                    sent = upto
        container.mux(vstream.encode(None))
        if astream is not None:
            container.mux(astream.encode(None))
    return path


def render_poses(
    keypoints: np.ndarray,
    canvas_wh: tuple[int, int],
    fps: float,
    out_path: str | os.PathLike,
    audio: tuple[np.ndarray, int] | None = None,
    progress: bool = False,
    *,
    audio_start: float = 0.0,
) -> Path:
    """Render poses (T, K, 3) as an OpenPose-style skeleton video, streaming one frame at a time.

    With `audio` the video lasts as long as the music (from `audio_start`); without, T / fps seconds.
    """
    keypoints = _check_sequence(keypoints)
    frames = (draw_frame(pose, canvas_wh) for pose in keypoints)
    if progress:
        total = keypoints.shape[0]
        if audio is not None:
            total = round((len(audio[0]) / audio[1] - audio_start) * fps)
        frames = tqdm(frames, total=total, desc="render", unit="frame")
    return write_video(frames, out_path, fps, canvas_wh, audio, audio_start=audio_start)


def preview_strip(
    keypoints: np.ndarray,
    canvas_wh: tuple[int, int],
    out_png: str | os.PathLike,
    n: int = 8,
    *,
    fps: float | None = None,
    tile_height: int = 256,
) -> Path:
    """Write a PNG of n evenly spaced frames side by side, `tile_height` px high, timed if fps is given."""
    keypoints = _check_sequence(keypoints)
    if n < 1:
        raise Dance2DError(f"Preview frame count {n} must be at least 1.")
    out_png = Path(out_png)
    t_total = keypoints.shape[0]
    n = min(n, t_total)
    tile_h = min(tile_height, int(canvas_wh[1]))
    tile_w = max(round(int(canvas_wh[0]) * tile_h / int(canvas_wh[1])), 1)
    strip = Image.new("RGB", (n * tile_w + (n - 1) * STRIP_GAP, tile_h), STRIP_GAP_COLOR)
    draw = ImageDraw.Draw(strip)
    for i, t in enumerate(np.linspace(0, t_total - 1, n).round().astype(int)):
        x0 = i * (tile_w + STRIP_GAP)
        strip.paste(Image.fromarray(draw_frame(keypoints[t], (tile_w, tile_h))), (x0, 0))
        if fps is not None:
            draw.text((x0 + 4, 4), f"{t / fps:.2f} s", fill=(255, 255, 255))
    with atomic_path(out_png, mkdir=False) as tmp:
        strip.save(tmp, format="PNG")
    return out_png
