"""Up-front checks of options and inputs, so a bad value fails in one sentence before any slow work (issue 10).

Every check raises a Dance2DError that names the option or file, the value and what to do. The generate command
calls these before loading music; the library's Dance2D.generate and the trainer call them too.
"""

from __future__ import annotations

import math
import os
import shutil
from pathlib import Path

import numpy as np

from dance2d.errors import Dance2DError

MAX_SEED = 2**63 - 1  # torch and numpy generators take seeds up to here
MAX_STEPS = 1000  # sampler steps: more is never useful and only costs time
MAX_GUIDANCE = 20.0  # classifier-free guidance scale: beyond this the model leaves the data manifold
MAX_SAMPLES = 100  # dances per run
MAX_FPS = 240.0  # output frame rate
MAX_SMOOTH = 100.0  # temporal smoothing std in frames
MAX_EASE_IN_S = 60.0  # seconds a dance may take to move from the reference pose into the model's dance
MAX_GAP_S = 5.0  # seconds: the longest gap of a dropped joint that may be bridged (longer ones are guesses)
MAX_BEAT_ACCENT = 0.9  # the playback pace on a beat is at least 1 − this (1 would stop the dancer on every beat)
MAX_DYNAMICS = 4.0  # loudness-to-movement strength: beyond it every level difference hits the gain bounds
MIN_BPM, MAX_BPM = 30.0, 300.0  # a stated song tempo: beyond these it is a beat's subdivision or a bar, not a beat
MAX_CANVAS_SIDE = 65535  # any canvas (poses, JSON, preview)
MAX_VIDEO_SIDE = 8192  # dance.mp4: H.264 (libx264 stops at 16384 a side) and memory per frame
MAX_VIDEO_AREA = 8192 * 4320  # 35 Mpx, the largest frame of H.264 level 6.2
OUTPUT_BOX = 50.0  # generated joints may lie up to this many canvas sizes outside the canvas before it is garbage
# (an untrained model reframed into a small canvas reaches ~14; a runaway guidance scale reaches 1e6)
JSON_BYTES_PER_FRAME = 4096  # one OpenPose JSON per frame: a file-system block each
VIDEO_BYTES_PER_PIXEL_FRAME = 0.02  # skeleton H.264 at crf 18 (measured ≈ 0.004; 5× margin)
AUDIO_BYTES_PER_SECOND = 24_000  # AAC mono in dance.mp4


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def _show(value) -> str:
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value) if isinstance(value, str) else f"{value}"


def number(name: str, value, *, lo: float | None = None, hi: float | None = None, integer: bool = False,
           above: bool = False, example: str | None = None) -> float | int:
    """`value` as a finite number (an int if `integer`) in [lo, hi] ((lo, hi] if `above`), else a Dance2DError
    naming the option `name`."""
    hint = f", e.g. {name} {example}" if example else ""
    low = None if lo is None else (f"above {_num(lo)}" if above else f"at least {_num(lo)}")
    high = None if hi is None else f"at most {_num(hi)}"
    if low and high and not above:
        rng = f"from {_num(lo)} to {_num(hi)}"
    else:
        rng = " and ".join(x for x in (low, high) if x) or "of any size"
    try:
        if integer:
            if isinstance(value, float) and not value.is_integer():
                raise ValueError
            v = int(value)
        else:
            v = float(value)
    except (TypeError, ValueError, OverflowError):
        kind = "a whole number" if integer else "a number"
        raise Dance2DError(f"{name} {_show(value)} is not {kind}; use {kind} {rng}{hint}.") from None
    if not integer and not math.isfinite(v):
        raise Dance2DError(f"{name} {_show(value)} is not a finite number; use a number {rng}{hint}.")
    kind = "a whole number" if integer else "a number"
    if (lo is not None and (v <= lo if above else v < lo)) or (hi is not None and v > hi):
        raise Dance2DError(f"{name} {_show(value)} is out of range; use {kind} {rng}{hint}.")
    return v


def generation_options(*, steps=None, guidance=None, seed=0, num_samples=1, start=None, end=None, smooth=None,
                       dynamics=None, beat_accent=0.0, ease_in=0.0, max_gap=0.0, fps=None, bpm=None, run_up=None,
                       tempo_sync=True, prefix: str = "") -> None:
    """Check generate's numeric options (prefix "--" names them as CLI options); None: not given (the default)."""
    p = prefix
    n = number(f"{p}samples" if p else "num_samples", num_samples, lo=1, hi=MAX_SAMPLES, integer=True, example="3")
    number(f"{p}seed", seed, lo=0, hi=MAX_SEED - n + 1, integer=True, example="7")
    if steps is not None:
        number(f"{p}steps", steps, lo=1, hi=MAX_STEPS, integer=True, example="10")
    if guidance is not None:  # None: the model's own
        number(f"{p}guidance", guidance, lo=0, hi=MAX_GUIDANCE, example="2")
    if smooth is not None:  # None: the model's own
        number(f"{p}smooth", smooth, lo=0, hi=MAX_SMOOTH, example="1.5")
    if dynamics is not None:  # None: the model's own
        number(f"{p}dynamics", dynamics, lo=0, hi=MAX_DYNAMICS, example="1")
    if beat_accent is not None:  # None: the model's own
        number(f"{p}beat-accent" if p else "beat_accent", beat_accent, lo=0, hi=MAX_BEAT_ACCENT, example="0.5")
    number(f"{p}ease-in" if p else "ease_in", ease_in, lo=0, hi=MAX_EASE_IN_S, example="1")
    number(f"{p}max-gap" if p else "max_gap", max_gap, lo=0, hi=MAX_GAP_S, example="0.4")
    if start is not None:
        number(f"{p}start", start, lo=0, example="30")
    if end is not None:
        e = number(f"{p}end", end, lo=0, above=True, example="60")
        if start is not None and e <= float(start):
            raise Dance2DError(f"{p}end {_show(end)} is not after {p}start {_show(start)}; "
                               "choose an end later than the start.")
    if fps is not None:
        number(f"{p}fps", fps, lo=1, hi=MAX_FPS, example="25")
    if run_up is not None:  # None: all the music before the start
        number(f"{p}run-up" if p else "run_up", run_up, lo=0, example="10")
    if bpm is not None:  # None: heard from the music
        b = tempo(f"{p}bpm", bpm)
        if not tempo_sync:
            off = "--no-tempo-sync turns off" if p else "tempo_sync=False turns off"
            raise Dance2DError(f"{p}bpm {_show(b)} sets the pace of tempo sync, which {off}; drop one of the two.")


def tempo(name: str, value, example: str = "120") -> float:
    """`value` as a stated tempo in BPM (a song's, or a model's home tempo), MIN_BPM to MAX_BPM, else a
    Dance2DError naming the option `name`."""
    return float(number(name, value, lo=MIN_BPM, hi=MAX_BPM, example=example))


def canvas_size(canvas, what: str = "the canvas", video: bool = False,
                advice: str = "pass --no-video, or a smaller --canvas WxH") -> tuple[int, int]:
    """(width, height) as positive pixel counts the writers can handle; with video, within the encoder's limits."""
    try:
        w, h = (float(v) for v in canvas)
    except (TypeError, ValueError):
        raise Dance2DError(f"Canvas size of {what} ({canvas!r}) is not two numbers (width, height).") from None
    if not (math.isfinite(w) and math.isfinite(h)) or w != int(w) or h != int(h):
        raise Dance2DError(f"Canvas size of {what} ({canvas!r}) is not two whole pixel counts; "
                           "fix canvas_width/canvas_height or pass --canvas WxH.")
    w, h = int(w), int(h)
    if not (1 <= w <= MAX_CANVAS_SIDE and 1 <= h <= MAX_CANVAS_SIDE):
        raise Dance2DError(f"Canvas size {w}×{h} of {what} is outside 1 to {MAX_CANVAS_SIDE} pixels a side; "
                           "fix canvas_width/canvas_height or pass --canvas WxH.")
    if video and (max(w, h) > MAX_VIDEO_SIDE or w * h > MAX_VIDEO_AREA):
        raise Dance2DError(f"Canvas {w}×{h} of {what} is too large for dance.mp4 (at most {MAX_VIDEO_SIDE} pixels "
                           f"a side and 8192×4320 in area); {advice}.")
    return w, h


def parse_canvas(text: str) -> tuple[int, int]:
    """--canvas WxH → (W, H)."""
    parts = str(text).lower().replace("×", "x").split("x")
    if len(parts) != 2:
        raise Dance2DError(f"--canvas {text!r} is not WIDTHxHEIGHT; pass e.g. --canvas 1080x1920.")
    vals = []
    for p in parts:
        try:
            vals.append(float(p))
        except ValueError:
            raise Dance2DError(f"--canvas {text!r} is not WIDTHxHEIGHT; pass e.g. --canvas 1080x1920.") from None
    return canvas_size(vals, f"--canvas {text}")


def expected_bytes(frames: int, canvas: tuple[int, int], samples: int, video: bool, num_joints: int = 18) -> int:
    """A generous estimate of the size of a generated folder: poses.npz, JSON per frame, preview, video."""
    per = frames * num_joints * 12 + frames * JSON_BYTES_PER_FRAME + 200_000
    return (per + (video_bytes(frames, canvas) if video else 0)) * samples


def video_bytes(frames: int, canvas: tuple[int, int], fps: float = 25.0) -> int:
    """A generous estimate of the size of a skeleton video with its music."""
    return int(frames * canvas[0] * canvas[1] * VIDEO_BYTES_PER_PIXEL_FRAME + frames / fps * AUDIO_BYTES_PER_SECOND)


def free_space(folder: str | os.PathLike, need: int, what: str) -> None:
    """Refuse before the slow part when the disk holding `folder` (or its nearest existing parent) lacks `need`."""
    p = Path(folder).resolve()
    while not p.exists() and p != p.parent:
        p = p.parent
    try:
        free = shutil.disk_usage(p).free
    except OSError:
        return  # nothing to judge by; writing will report a full disk itself
    if free < need:
        raise Dance2DError(f"{what} needs about {need / 1e6:.0f} MB but only {free / 1e6:.0f} MB are free on the disk "
                           f"of {p}; free some space or choose another output folder.")


def output_poses(keypoints: np.ndarray, canvas: tuple[int, int], what: str = "The generated dance") -> None:
    """Refuse to write poses that are not finite or leave the canvas by more than OUTPUT_BOX canvas sizes:
    such output is garbage, not a dance (keypoints are canvas-normalised: [0, 1] is the canvas)."""
    kp = np.asarray(keypoints)
    if not np.isfinite(kp).all():
        raise Dance2DError(f"{what} contains NaN or infinite coordinates; nothing was written — try another --seed "
                           "or a lower --guidance, or check the model.")
    present = kp[..., 2] > 0
    xy = kp[..., :2][present]
    if xy.size and (xy.min() < -OUTPUT_BOX or xy.max() > 1 + OUTPUT_BOX):
        far = float(np.abs(xy - 0.5).max() - 0.5)
        raise Dance2DError(f"{what} places joints {far:.3g} canvas sizes outside the {canvas[0]}×{canvas[1]} canvas; "
                           "nothing was written — use a lower --guidance or another --seed, or check the model.")


PRECISIONS = ("auto", "bf16", "float32")  # `dance2d train --precision` (TrainConfig.precision)


def train_options(cfg) -> None:
    """Check `dance2d train` numeric settings before the cache is read (a TrainConfig)."""
    number("--steps", cfg.steps, lo=1, integer=True, example="3000")
    number("--batch", cfg.batch, lo=1, hi=65536, integer=True, example="16")
    number("--accum", cfg.accum, lo=1, hi=cfg.batch, integer=True, example="1")
    number("--frames", cfg.frames, lo=1, hi=100_000, integer=True, example="128")
    number("--lr", cfg.lr, lo=0, hi=1.0, above=True, example="3e-4")
    number("--warmup", cfg.warmup, lo=0, integer=True, example="200")
    number("--ema", cfg.ema, lo=0, hi=1.0, example="0.999")
    number("--seed", cfg.seed, lo=0, hi=2**32 - 1, integer=True, example="0")
    number("--log-every", cfg.log_every, lo=1, integer=True, example="25")
    number("--ckpt-every", cfg.ckpt_every, lo=1, integer=True, example="250")
    number("--sample-every", cfg.sample_every, lo=0, integer=True, example="500")
    number("--threads", cfg.threads, lo=0, hi=1024, integer=True, example="1")
    number("--velocity-loss", cfg.velocity_weight, lo=0, hi=1e6, example="1.0")
    number("--time-limit", cfg.time_limit, lo=0, example="60")
    if cfg.precision not in PRECISIONS:
        raise Dance2DError(f"--precision {cfg.precision!r} is not one of {', '.join(PRECISIONS)}; use auto.")
