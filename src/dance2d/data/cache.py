"""Latent cache: target latents of whole augmented views, music features and shape-only reference latents.

The codec is frozen, so every view (camera × tempo × mirror) of every clip is encoded once. One safetensors file per
view holds
    z          (Cz, W', T/ts) float16   latents of the whole view, encoded in time chunks with context
    music      (T, D)         float32   frame features of the (time-stretched) audio, frame i ↔ pose frame i
    keypoints  (T, K, 3)      float32   the view's poses
    ref_z      (R, Cz, W', F/ts) float16 shape-only reference latents: R random frames of the view, each pose
                                         held still for F = frames (the training window T) and encoded
    ref_poses  (R, K, 3)      float32   those reference poses
    ref_index  (R,)           int64     their frame indices in the view
    z_sum, z_sumsq (Cz,)      float64   per-channel sums over z (for the cache-wide latent statistics)
and `index.json` holds {"format", "data": the DataConfig (with the per-channel latent mean/std the model normalises
with), "build": how the views were made, "num_views", "views"}.
"""

from __future__ import annotations

import dataclasses
import json
import os
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from dance2d.atomic import atomic_path
from dance2d.data.clip import Clip
from dance2d.data.config import DataConfig
from dance2d.errors import Dance2DError
from dance2d.music.drive import TEMPO_RANGE, pulse_tempo, sync_rate
from dance2d.music.features import MusicEncoder
from dance2d.pose import PoseSequence
from dance2d.pose.retarget import Framing
from dance2d.representation import Representation

CACHE_FORMAT = "dance2d.cache/2"  # /1: the same settings as one flat dict (still read by read_index)
INDEX_NAME = "index.json"
CONTEXT_FRAMES = 64  # frames of context encoded on each side of a time chunk and cropped away (TAEF2 at W=128:
# chunk-seam error max 0.31 / mean 0.007 against a one-piece encode, latent mean |z| ≈ 0.53; 0.90 / 0.024 at 32)


def encode_sequence(rep: Representation, keypoints: np.ndarray, chunk: int = 512,
                    context: int = CONTEXT_FRAMES) -> np.ndarray:
    """Latents (Cz, W', T/ts) of a whole pose sequence, encoded in chunks of `chunk` frames plus context."""
    ts = rep.codec.time_stride
    T = len(keypoints)
    if T % ts or chunk % ts or context % ts:
        raise Dance2DError(f"Frames {T}, chunk {chunk} and context {context} must be multiples of {ts}.")
    out = []
    for a in range(0, T, chunk):
        b = min(T, a + chunk)
        a0, b0 = max(0, a - context), min(T, b + context)
        z = rep.encode(keypoints[None, a0:b0])[0]  # (Cz, W', t/ts)
        out.append(z[:, :, (a - a0) // ts:(b - a0) // ts])
    return torch.cat(out, dim=-1).numpy()  # (Cz, W', T/ts)


def _view_plan(clip: Clip, views_per_clip: int, mirror: bool, tempo_rates: Sequence[float]) -> list[tuple]:
    """(camera index, tempo rate, mirrored) for every view of a clip; 2D clips have one camera."""
    cams = views_per_clip if clip.reproject is not None else 1
    return [(c, float(r), m) for c in range(cams) for r in tempo_rates for m in ((False, True) if mirror else (False,))]


def _to_tempo(clip: Clip, bpm: float, fps: float, encoder: MusicEncoder) -> float:
    """The rate that plays a clip at `bpm`: bpm / its own tempo (pulse_tempo on its onset column, as generation
    reads a song's), bounded as tempo sync bounds it; 1 where it has no tempo to read."""
    if encoder.onset_column is None:
        raise Dance2DError("The music encoder has no onset column to read a clip's tempo from; build the cache "
                           "without a target tempo (--tempo-to).")
    return 1.0 / sync_rate(pulse_tempo(encoder(clip.wave, clip.sr, fps)[:, encoder.onset_column], fps), bpm)


def _safe(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name)


def make_view(clip: Clip, rng: np.random.Generator, fps: float, rate: float, mirrored: bool,
              time_stride: int, music_memo: dict | None = None,
              music_encoder: MusicEncoder | None = None,
              canvas: tuple[int, int] | None = None) -> tuple[PoseSequence, np.ndarray] | None:
    """One augmented view: poses at `fps` and music features, both `rate`× faster, trimmed to a common length.

    Tempo augmentation plays music AND motion rate× faster: the audio is time-stretched, the poses are
    relabelled at rate·fps and resampled to fps. Returns None when fewer than `time_stride` frames remain.
    `music_memo` keeps the features per (clip, rate): every camera and mirror of a clip hears the same music.
    music_encoder: the frame features (None = the baseline 35-d encoder).
    canvas: the cache's canvas; a view drawn on another one is letterboxed into it (Framing.letterbox), because
    normalised coordinates of canvases of different aspect ratios would stretch the body by different factors in x
    and y, and generation frames every reference isotropically into this one canvas.
    """
    from dance2d.music.features import get_music_encoder
    from dance2d.music.tokens import time_stretch

    poses = clip.reproject(rng) if clip.reproject is not None else clip.poses
    if canvas is not None and tuple(poses.canvas) != tuple(canvas):
        poses = poses.replace(Framing.letterbox(poses.canvas, canvas).to_model(poses.keypoints), canvas=tuple(canvas))
    if mirrored:
        poses = poses.mirror()
    poses = poses.replace(fps=poses.fps * rate).resample(fps)
    key = (clip.name, rate)
    music = None if music_memo is None else music_memo.get(key)
    if music is None:
        wave = time_stretch(clip.wave, clip.sr, rate) if rate != 1.0 else clip.wave
        music = (music_encoder or get_music_encoder())(wave, clip.sr, fps)  # (T_m, D)
        if music_memo is not None:
            if any(k[0] != clip.name for k in music_memo):
                music_memo.clear()  # views of a clip come together: one clip's features in memory at a time
            music_memo[key] = music
    T = min(len(poses), len(music)) // time_stride * time_stride
    if T < time_stride:
        return None
    return poses.slice(0, T), np.ascontiguousarray(music[:T], dtype=np.float32)


def build_cache(clips: Sequence[Clip], out_dir: str | os.PathLike, *, codec_name: str = "taef2", width: int = 256,
                sigma: float = 1.5, fps: float = 30.0, views_per_clip: int = 4, mirror: bool = True,
                tempo_rates: Sequence[float] = (1.0,), refs_per_view: int = 4, rng_seed: int = 0,
                progress: bool = True, chunk_frames: int = 512, frames: int = 32, music_encoder: str = "baseline35",
                codec=None, triplets: str = "paper", tempo_to: float | None = None) -> Path:
    """Precompute the training set (one file per view + index.json); resumable: views already written are skipped.

    frames: the training window T, which the shape-only reference latents span. codec: a built codec (else
    get_codec(codec_name)). triplets: the one-hot image's channel order (codec/base.py TRIPLET_ORDERS).
    tempo_to: play every clip at this tempo (BPM) before its tempo_rates, as generation plays every song to the
    model at its home tempo (music/drive.py): a clip's rates are multiplied by tempo_to / its own tempo (read from
    its onset envelope like a song's, within the rate bounds of tempo sync).
    The cache's canvas is the first clip's; views of clips on other canvases are letterboxed into it (make_view).
    """
    from dance2d.codec import get_codec
    from dance2d.music.features import get_music_encoder

    if not clips:
        raise Dance2DError("No clips to cache; check the dataset folder and split.")
    if tempo_to is not None and not TEMPO_RANGE[0] <= tempo_to <= TEMPO_RANGE[1]:
        raise Dance2DError(f"--tempo-to {tempo_to} must be a tempo in {TEMPO_RANGE[0]:g}–{TEMPO_RANGE[1]:g} BPM, where "
                           "generation reads a song's tempo (e.g. 125).")
    codec = codec if codec is not None else get_codec(codec_name)
    rep = Representation(codec, codec.image_width(width), sigma, triplets=triplets)
    encoder = get_music_encoder(music_encoder)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    ts = codec.time_stride
    if frames < ts or frames % ts:
        raise Dance2DError(f"frames={frames} must be a positive multiple of the codec's {ts}-frame stride.")
    first = clips[0].poses
    data = DataConfig(codec=codec.name, width=rep.width, sigma=float(sigma), fps=float(fps), layout=first.layout,
                      canvas=first.canvas, time_stride=ts,
                      latent_channels=codec.latent_channels(codec.image_channels(first.num_joints)), frames=frames,
                      music_encoder=music_encoder, music_dim=encoder.feature_dim, triplets=triplets)
    config = cache_settings(data, refs_per_view=refs_per_view, rng_seed=rng_seed, chunk_frames=chunk_frames,
                            tempo_to=tempo_to)
    _check_existing_index(out, config)
    views, stats_all, music_memo, tempi = [], [], {}, {}
    rates = {clip.name: tempo_rates if tempo_to is None else
             tuple(np.multiply(tempo_rates, _to_tempo(clip, tempo_to, fps, encoder)).tolist()) for clip in clips}
    plan = [(ci, clip, v) for ci, clip in enumerate(clips)
            for v in enumerate(_view_plan(clip, views_per_clip, mirror, rates[clip.name]))]
    bar = plan
    if progress:
        from tqdm import tqdm

        bar = tqdm(plan, desc="caching views", unit="view")
    column = encoder.onset_column  # each view's tempo is recorded for train.home_tempo (the GPU machine has no librosa)
    for _ci, clip, (vi, (cam, rate, mirrored)) in bar:
        fname = f"{_safe(clip.name)}__v{vi:03d}.safetensors"
        key = (clip.name, rate)  # every camera and mirror of a clip at a rate hears the same music: one tempo
        stats = _read_view_stats(out / fname, config, out)
        if stats is None:
            rng = np.random.default_rng([rng_seed, zlib.crc32(clip.name.encode()), vi])
            made = make_view(clip, rng, fps, rate, mirrored, ts, music_memo, encoder, canvas=data.canvas)
            if made is None:
                continue
            poses, music = made
            stats = write_view(out / fname, config, codec, poses, music, rng, name=clip.name, rate=rate,
                               mirrored=mirrored)
            if column is not None and key not in tempi:
                tempi[key] = pulse_tempo(music[:, column], fps)
        stats_all.append(stats)
        view = {"file": fname, "name": clip.name, "frames": stats[3], "rate": rate, "mirrored": mirrored,
                "camera_view": cam}
        if column is not None:
            if key not in tempi:  # cached by an earlier, interrupted build: read back from its file
                tempi[key] = view_tempo(out / fname, column, fps)
            view["tempo"] = tempi[key]
        views.append(view)
    return write_index(out, config, views, stats_all, len(clips))


def view_tempo(path: Path, column: int, fps: float) -> float | None:
    """The tempo (BPM) of a cached view's music, read from its onset column as generation reads a song's."""
    from safetensors import safe_open

    with safe_open(str(path), framework="np") as f:
        onset = f.get_slice("music")[:, column:column + 1][:, 0]
    return pulse_tempo(np.asarray(onset, np.float32), fps)


def _read_view_stats(path: Path, config: dict, out: Path) -> tuple | None:
    """(z_sum, z_sumsq, count, frames) of a view file already in the cache, None when it is not there yet."""
    from safetensors import safe_open

    if not path.is_file():
        return None
    with safe_open(str(path), framework="np") as f:
        meta = f.metadata() or {}
        if json.loads(meta.get("config", "{}")) != config:
            raise Dance2DError(f"Cache file {path} was built with other settings; delete {out} or choose "
                               "another cache folder.")
        return f.get_tensor("z_sum"), f.get_tensor("z_sumsq"), int(meta["z_count"]), int(meta["frames"])


def cache_settings(data: DataConfig, *, refs_per_view: int = 4, rng_seed: int = 0, chunk_frames: int = 512,
                   tempo_to: float | None = None) -> dict:
    """What every view file of a cache is made with: the data config (no statistics yet) and the build settings."""
    build = {"refs_per_view": int(refs_per_view), "rng_seed": int(rng_seed), "chunk_frames": int(chunk_frames),
             "context_frames": CONTEXT_FRAMES, "other_canvases": "letterboxed"}  # make_view; caches without this
    # key may hold views normalised by canvases of other aspect ratios, and a resumed build must not reuse them
    if tempo_to is not None:
        build["tempo_to"] = float(tempo_to)
    return {"format": CACHE_FORMAT, "data": data.to_dict(), "build": build}


def write_view(path: Path, config: dict, codec, poses: PoseSequence, music: np.ndarray, rng: np.random.Generator,
               *, name: str, rate: float = 1.0, mirrored: bool = False) -> tuple:
    """Encode one view (poses + frame-aligned music features) into a cache file; returns its latent statistics."""
    from safetensors.numpy import save_file

    data, build = DataConfig.from_dict(config["data"]), config["build"]
    rep = Representation(codec, data.width, data.sigma, triplets=data.triplets)
    kp = poses.keypoints
    T = len(kp)
    z = encode_sequence(rep, kp, build["chunk_frames"])  # (Cz, W', T/ts)
    visible = (kp[..., 2] > 0).sum(1)
    pool = np.flatnonzero(visible >= visible.max() * 0.75)  # prefer frames with most joints visible
    refs = build["refs_per_view"]
    ref_idx = np.sort(rng.choice(pool, size=refs, replace=len(pool) < refs))
    ref_z = rep.shape_reference(kp[ref_idx], data.frames).numpy()  # (R, Cz, W', T/ts)
    z64 = z.astype(np.float64)
    s, q, n = z64.sum((1, 2)), (z64 ** 2).sum((1, 2)), z.shape[1] * z.shape[2]
    meta = {"config": json.dumps(config), "name": name, "frames": str(T), "z_count": str(n),
            "rate": str(rate), "mirrored": str(mirrored), "camera": json.dumps(poses.meta.get("camera"))}
    tensors = {"z": z.astype(np.float16), "music": np.ascontiguousarray(music, np.float32),
               "keypoints": kp.astype(np.float32), "ref_z": ref_z.astype(np.float16),
               "ref_poses": kp[ref_idx].astype(np.float32), "ref_index": ref_idx.astype(np.int64),
               "z_sum": s, "z_sumsq": q}
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata=meta)
    return s, q, n, T


def write_index(out: Path, config: dict, views: list[dict], stats: list[tuple], n_clips: int) -> Path:
    """index.json: the data config with the cache-wide per-channel latent mean/std, the build settings, the views.
    stats: (z_sum, z_sumsq, count, frames) of every view, as write_view returns them."""
    if not views:
        raise Dance2DError(f"No view of the {n_clips} clips is long enough to cache; use longer clips.")
    z_n = sum(st[2] for st in stats)
    mean = sum(st[0] for st in stats) / z_n
    std = np.sqrt(np.maximum(sum(st[1] for st in stats) / z_n - mean ** 2, 1e-12))
    data = dataclasses.replace(DataConfig.from_dict(config["data"]), latent_mean=[float(v) for v in mean],
                               latent_std=[float(v) for v in std])
    index = {"format": CACHE_FORMAT, "data": data.to_dict(), "build": config["build"], "num_views": len(views),
             "views": views}
    with atomic_path(out / INDEX_NAME) as tmp:
        tmp.write_text(json.dumps(index, indent=1))
    return out / INDEX_NAME


def _check_existing_index(out: Path, config: dict) -> None:
    """Refuse to mix settings in one cache folder."""
    p = out / INDEX_NAME
    if not p.is_file():
        return
    try:
        old = json.loads(p.read_text())
    except json.JSONDecodeError:
        return  # rewritten at the end
    if old.get("format") != config["format"]:
        raise Dance2DError(f"Cache folder {out} holds a cache of format {old.get('format')}; delete it or choose "
                           "another cache folder.")
    old_data = {k: v for k, v in old.get("data", {}).items() if k not in ("latent_mean", "latent_std")}
    diff = [k for k, v in config["data"].items() if old_data.get(k) != v]
    diff += [k for k, v in config["build"].items() if old.get("build", {}).get(k) != v]
    if diff:
        raise Dance2DError(f"Cache folder {out} was built with other settings ({', '.join(diff)} differ); "
                           "delete it or choose another cache folder.")
