"""Dance2D: music + a reference pose → dances for a whole song by segment-and-stitch (paper §3, §4.1).

    from dance2d import Dance2D
    pipe = Dance2D.from_pretrained()                      # the bundled model; or a checkpoint path
    [dance] = pipe.generate("song.mp3", "me.json")        # a list of PoseSequence, one per sample
"""

from __future__ import annotations

import inspect
import math
import os
import time
import warnings
from importlib import resources
from pathlib import Path

import numpy as np
import torch
from scipy.ndimage import gaussian_filter1d

from dance2d import validate
from dance2d.checkpoint import load_checkpoint
from dance2d.codec import codec_class, fast_dtype
from dance2d.codec.base import PRESENCE_FRACTION
from dance2d.conditioning import POSE_AWARE_FRAMES, pose_aware, pose_aware_columns
from dance2d.data.config import DataConfig
from dance2d.diffusion.guidance import cfg_denoiser
from dance2d.diffusion.samplers import SAMPLERS, Sampler, sample_dpmpp_2m
from dance2d.diffusion.schedule import NoiseSchedule
from dance2d.diffusion.target import DiffusionConfig, eps_model
from dance2d.errors import Dance2DError, notice
from dance2d.model.config import DiTConfig
from dance2d.model.dit import DiT
from dance2d.music.audio import load_audio
from dance2d.music.drive import (
    BEAT_ACCENT,
    frame_db,
    loudness_db,
    playback_positions,
    pulse,
    silent_spans,
    sync_rate,
    warp_features,
)
from dance2d.music.features import MusicEncoder, get_music_encoder
from dance2d.music.tokens import pack_tokens
from dance2d.pose import PoseSequence, as_layout
from dance2d.pose.anatomy import hide_implausible
from dance2d.pose.complete import complete_legs
from dance2d.pose.dynamics import STRENGTH, apply_dynamics, dynamics_gain
from dance2d.pose.gaps import GAP_S, bridge_gaps, join_orphans
from dance2d.pose.inframe import follow_in_frame
from dance2d.pose.jumps import spread_jumps
from dance2d.pose.layouts import REQUIRED_JOINTS
from dance2d.pose.onehot import TRACK_COST
from dance2d.pose.retarget import Framing, foreshortened_note, retarget_bones
from dance2d.pose.sequence import EASE_IN_S, sample_frames, start_and_rest
from dance2d.representation import Representation

STEPS = 10  # DPM-Solver++(2M) steps: 10 and 20 give the same dances, 6 worse ones (docs/RESULTS.md)
GUIDANCE = 2.0  # classifier-free guidance scale on the music, unless the model sets its own (docs/RESULTS.md)
BLEND = 16  # frames after the N pose-aware ones where the previous and the new segment are cross-faded (0 = plain)


# Models shipped inside the package, by name (docs/MODEL_CARD_<name>.md); DEFAULT_MODEL measures best (RESULTS.md).
MODELS = {"raw": "raw.safetensors", "onehot": "onehot.safetensors"}
DEFAULT_MODEL = "raw"


def model_settings(config: dict | None) -> dict[str, float]:
    """A model's own generation settings, from its checkpoint's "generation" section (scripts/bundle_model.py
    --smooth --guidance --beat-accent --dynamics --presence --track), with the tool's defaults for those it does not
    set: the one-hot model jitters, dances better without classifier-free guidance, follows loudness less by itself
    and may want its own one-hot presence fraction and peak tracking; the smoothed raw model keeps the tempo with a
    lighter beat accent (docs/RESULTS.md). smooth, guidance, beat_accent and dynamics are the pipeline's defaults,
    presence and track the representation's."""
    own = (config or {}).get("generation") or {}
    return {"smooth": float(own.get("smooth", 0.0)), "guidance": float(own.get("guidance", GUIDANCE)),
            "beat_accent": float(own.get("beat_accent", BEAT_ACCENT)), "dynamics": float(own.get("dynamics", STRENGTH)),
            "presence": float(own.get("presence", PRESENCE_FRACTION)), "track": float(own.get("track", TRACK_COST))}


def model_representation(config: dict, fast: bool = True) -> Representation:
    """The Representation a checkpoint config decodes with: its "data" section's codec, W, σ and triplet order, and
    its own presence fraction and peak-tracking cost (`model_settings`); an image codec computes in bf16 where the
    hardware runs it natively unless fast is False (float32: the same result on every CPU). Raises Dance2DError for
    settings that would not load."""
    data, own = DataConfig.from_dict(config["data"]), model_settings(config)
    codec_kw = {} if fast or not codec_class(data.codec).uses_triplets else {"dtype": torch.float32}
    return Representation.build(data.codec, data.width, data.sigma, triplets=data.triplets,
                                presence=own["presence"], track=own["track"], **codec_kw)


def bundled_model_path(name: str = DEFAULT_MODEL) -> Path:
    """Path of a model shipped inside the package."""
    if name not in MODELS:
        raise Dance2DError(f"There is no bundled model {name!r}; choose one of {', '.join(MODELS)} or pass the path "
                           "of a .safetensors checkpoint.")
    return Path(str(resources.files("dance2d") / "assets" / "model" / MODELS[name]))


def resolve_model(model: str | os.PathLike | None) -> Path:
    """A bundled model's name (raw | onehot), a checkpoint path, or None for the default model."""
    if model is None:
        return bundled_model_path()
    if isinstance(model, str) and model in MODELS:
        return bundled_model_path(model)
    path = Path(model)
    if not path.suffix and not path.exists():
        raise Dance2DError(f"Model {model!r} is neither a bundled model ({', '.join(MODELS)}) nor a file; pass a "
                           "name or the path of a .safetensors checkpoint.")
    return path


def default_reference_path() -> Path:
    """Path of the bundled default reference pose (OpenPose JSON)."""
    return Path(str(resources.files("dance2d") / "assets" / "default_reference.json"))


class Dance2D:
    """Music + reference pose → PoseSequences, from injected parts: the DiT, the representation (codec and its pose
    image), the music encoder, the data and diffusion configs, the noise schedule and a sampler callable
    sampler(denoise, noise, schedule, steps=, inpaint=, generator=) (diffusion/samplers.py, k-diffusion style; the
    generators, one per sample, seed any noise the sampler adds along the way)."""

    def __init__(self, model: DiT, rep: Representation, music_encoder: MusicEncoder, data: DataConfig,
                 diffusion: DiffusionConfig | None = None, *, schedule: NoiseSchedule | None = None,
                 sampler: Sampler = sample_dpmpp_2m, device: str | torch.device = "cpu", fast: bool = True,
                 config: dict | None = None):
        self.data = data
        self.diffusion = diffusion if diffusion is not None else DiffusionConfig()
        self.schedule = schedule if schedule is not None else self.diffusion.make_schedule()
        self.sampler = sampler
        self.rep = rep
        self.music_encoder = music_encoder
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        self.config = config  # the checkpoint's config, when loaded from one
        own = model_settings(config)
        self.smooth, self.guidance, self.beat_accent = own["smooth"], own["guidance"], own["beat_accent"]
        self.dynamics = own["dynamics"]
        self.fps = data.fps
        self.frames = data.frames  # T: frames per segment
        self.overlap = data.pose_aware_frames  # N: frames of a segment given to the next as its reference
        self.stride = data.time_stride
        self.timings: dict[str, float] = {}
        # bf16 autocast for the DiT where the hardware runs it natively (CUDA; AMX or AVX-512 BF16 CPUs): about 2×
        # faster sampling (docs/decisions.md, "bf16 sampling"); fast=False keeps float32, the same on every machine
        self.autocast = fast and fast_dtype(self.device) == torch.bfloat16

    @classmethod
    def from_config(cls, model: DiT, config: dict, device: str | torch.device = "cpu", fast: bool = True) -> Dance2D:
        """The parts a checkpoint config names (its "data" and "diffusion" sections) around a model."""
        data = DataConfig.from_dict(config["data"])
        return cls(model, model_representation(config, fast), get_music_encoder(data.music_encoder), data,
                   DiffusionConfig.from_dict(config.get("diffusion")), device=device, fast=fast, config=config)

    @classmethod
    def from_pretrained(cls, model: str | os.PathLike | None = None, device: str = "cpu", fast: bool = True) -> Dance2D:
        """Load a bundled model by name ("raw", "onehot"), a dance2d checkpoint path, or None = the default model."""
        path = resolve_model(model)
        state, config = load_checkpoint(path)
        model = DiT(DiTConfig.from_dict(config["model"]))
        try:
            model.load_state_dict(state)
        except RuntimeError as e:
            raise Dance2DError(f"Checkpoint {path} weights do not fit its config ({str(e)[:120]}…).") from None
        return cls.from_config(model, config, device, fast)

    # ------------------------------------------------------------------ inputs
    def reference_pose(self, reference=None, fit: bool = True) -> tuple[np.ndarray, tuple[int, int]]:
        """(pose (K, 3) normalised, canvas) from a PoseSequence, an array (K, 3) in [0,1], or an OpenPose JSON.
        Cut-off knees and ankles are completed from the torso; fit: rescale the person if they then leave the
        canvas (generate passes fit=not reframe: a reframed reference may reach below its canvas, as in the photo)."""
        if reference is None:
            reference = default_reference_path()
        if isinstance(reference, (str, os.PathLike)):
            seq = PoseSequence.load_openpose(reference)
        elif isinstance(reference, PoseSequence):
            seq = reference
        else:
            arr = np.asarray(reference, np.float32)
            arr = arr[0] if arr.ndim == 3 else arr
            seq = PoseSequence(arr[None], self.fps, canvas=self.data.canvas)
        seq = as_layout(seq, self.data.layout)
        pose = seq.keypoints[0]
        name = seq.meta.get("source", "the reference pose")
        if pose[:, 2].max() == 0:
            raise Dance2DError(f"{name} has no person (all joints missing); pass a pose with a visible person.")
        from dance2d.pose import get_layout

        lay = get_layout(self.data.layout)
        inside = (pose[:, :2] >= 0).all(-1) & (pose[:, :2] < 1).all(-1)
        visible = (pose[:, 2] > 0.3) & inside
        bad = [j for j in REQUIRED_JOINTS if not visible[lay.index(j)]]
        if bad:
            where = "outside its canvas" if any(pose[lay.index(j), 2] > 0.3 for j in bad) else "missing"
            raise Dance2DError(f"{name}: joints {', '.join(bad)} are {where}; the reference needs a visible "
                               "neck, shoulders and hips inside the canvas.")
        pose = np.where((pose[:, 2:] > 0.3) & inside[:, None], pose, 0.0).astype(np.float32)
        pose, done, scale = complete_legs(pose, seq.canvas, lay, fit=fit)
        if done:
            fit = f" and scaled the person by {scale:.2f} to fit the canvas" if scale < 0.995 else ""
            notice(f"{name}: {', '.join(done)} were missing or outside the canvas, so they were completed from "
                   f"the torso with typical proportions{fit}.")
        if note := foreshortened_note(pose, seq.canvas, lay.name):
            notice(f"{name}: {note}")
        return pose, seq.canvas

    def music_features(self, wave: np.ndarray, sr: int, n_frames: int, progress=None) -> np.ndarray:
        """Raw (unnormalised) frame features (n_frames, D); the waveform is zero-padded (silence) to cover n_frames.
        progress(done, total) is passed to encoders that report their stages."""
        need = int(math.ceil(n_frames / self.fps * sr)) + 1
        if len(wave) < need:
            wave = np.pad(wave, (0, need - len(wave)))
        takes_progress = "progress" in inspect.signature(self.music_encoder.__call__).parameters
        kw = {"progress": progress} if progress is not None and takes_progress else {}
        return self.music_encoder(wave, sr, self.fps, **kw)[:n_frames]

    # ------------------------------------------------------------------ sampling
    def _denoise_segment(self, tokens, ref, mask, known, noise, steps, guidance, sampler: Sampler, generators):
        """Sample one segment's normalised latents (B, Cz, W', T') with CFG (paper §3, Inference)."""
        cond = {"music": tokens}
        if self.model.config.reference:
            cond.update(ref=ref, mask=mask)
        guided = cfg_denoiser(eps_model(self.model, self.schedule, self.diffusion), guidance, cond)

        def denoise(z: torch.Tensor, tau: torch.Tensor) -> torch.Tensor:
            with warnings.catch_warnings(), torch.autocast(self.device.type, torch.bfloat16, enabled=self.autocast):
                warnings.filterwarnings("ignore", "Mismatch dtype between input and weight")  # RMSNorm fallback
                return guided(z, tau).float()

        with torch.inference_mode():
            return sampler(denoise, noise, self.schedule, steps=steps, inpaint=known, generator=generators)

    def generate_window(self, features: np.ndarray, ref_pose: np.ndarray, *, seed: int = 0, steps: int = STEPS,
                        guidance: float | None = None) -> PoseSequence:
        """One window of raw (unnormalised) frame features (T, D) → poses, shape-only reference (training previews)."""
        feats = self.data.normalize_music(features).astype(np.float32)
        guidance = self.guidance if guidance is None else guidance
        kp = self._generate(feats, ref_pose, [seed], steps, guidance, self.sampler, None)[0, :len(feats)]
        return PoseSequence(kp, self.fps, self.data.layout, self.data.canvas)

    def plan(self, n: int, blend: bool = True) -> tuple[int, int, int]:
        """(segments, hop, frames covered) for n frames: segments of T frames, each starting at the previous
        one's last N (+ BLEND with cross-fading) frames (paper §4.1)."""
        fade = min(BLEND, (self.frames - self.overlap) // 2 // self.stride * self.stride) if blend else 0  # short T
        hop = self.frames - self.overlap - fade
        n_seg = max(1, math.ceil((n - self.frames) / hop) + 1)
        return n_seg, hop, (n_seg - 1) * hop + self.frames

    def _generate(self, feats: np.ndarray, ref_pose: np.ndarray, seeds: list[int], steps: int, guidance: float,
                  sampler: Sampler, progress, blend: bool = True) -> np.ndarray:
        """Segment-and-stitch over normalised features (covered, D) → keypoints (B, covered, K, 3) (§4.1)."""
        b, T, st = len(seeds), self.frames, self.stride
        n_seg, hop, total = self.plan(len(feats), blend)
        feats = np.pad(feats, ((0, max(0, total - len(feats))), (0, 0)))
        t0 = time.perf_counter()
        ref_z = self.data.normalize_latents(self.rep.shape_reference(ref_pose[None], T))  # (1, Cz, W', T')
        self.timings["codec"] = self.timings.get("codec", 0.0) + time.perf_counter() - t0
        cz, wl, tl = ref_z.shape[1:]
        gens = [torch.Generator().manual_seed(int(s)) for s in seeds]
        lat_prev, segments = None, []
        ov = pose_aware_columns(self.overlap, st)
        t_den = t_dec = 0.0
        for k in range(n_seg):
            s = k * hop
            tokens = torch.from_numpy(pack_tokens(feats[s:s + T], st))[None].expand(b, -1, -1)  # (B, T', Dm)
            known = None
            prev = None if lat_prev is None else lat_prev[..., hop // st:]  # (B, Cz, W', ·): frames from s on
            # shape-only reference for the first segment, pose-aware (previous segment's last N frames) after (§4.1)
            n = self.overlap if prev is not None and self.model.config.reference else 0
            ref, mask = pose_aware(ref_z.expand(b, -1, -1, -1), prev, n, st)
            if prev is not None and not self.model.config.reference:  # no reference channels: EDGE-style inpainting
                km = torch.zeros(b, 1, 1, tl)
                km[..., :ov] = 1
                known = (torch.cat([prev[..., :ov], torch.zeros(b, cz, wl, tl - ov)], -1), km)
            noise = torch.stack([torch.randn((cz, wl, tl), generator=g) for g in gens])  # per-sample seeds
            t1 = time.perf_counter()
            lat = self._denoise_segment(tokens, ref, mask, known, noise, steps, guidance, sampler, gens)
            t_den += time.perf_counter() - t1
            if not torch.isfinite(lat).all():
                raise Dance2DError("The model produced NaN latents; the checkpoint may be corrupt — reload it.")
            lat_prev = lat
            t2 = time.perf_counter()  # decode now: memory stays flat however long the song is
            segments.append(self.rep.decode(self.data.denormalize_latents(lat), ref_pose.shape[0]))  # (B, T, K, 3)
            t_dec += time.perf_counter() - t2
            if progress is not None:
                progress(k + 1, n_seg)
        self.timings["denoise"] = self.timings.get("denoise", 0.0) + t_den
        self.timings["codec"] += t_dec
        return stitch(np.stack(segments), hop, total, self.overlap)  # segments (n_seg, B, T, K, 3)

    def generate(self, music, reference=None, *, seed: int = 0, steps: int = STEPS, guidance: float | None = None,
                 start: float | None = None, end: float | None = None, num_samples: int = 1,
                 sampler: Sampler | str | None = None, progress=None, blend: bool = True,
                 smooth: float | None = None, reframe: bool = True, retarget: bool = True, tempo_sync: bool = True,
                 beat_accent: float | None = None, dynamics: float | None = None, ease_in: float = EASE_IN_S,
                 rest: bool = True, max_gap: float = GAP_S, keep_in_frame: bool = True, feature_progress=None,
                 music_file: str | os.PathLike | None = None, bpm: float | None = None,
                 run_up: float | None = None) -> list[PoseSequence]:
        """num_samples dances for the whole track (or [start, end) seconds): frames = round(duration × fps).

        music: a path or (waveform, sample_rate); reference: PoseSequence, (K, 3) array or OpenPose JSON path
        (None = the bundled default). Sample i uses seed + i, so results do not depend on num_samples.
        sampler: a sampler callable or the name of one in SAMPLERS (None = the pipeline's).
        progress(done, total) counts the music-feature step and then each segment (total = segments + 1; it is
        first called with done = 0 before the features); feature_progress(done, total) reports the feature stages.
        blend: segments advance by T − N − 16 and the 16 frames after each pose-aware reference are cross-faded
        between the previous and the new segment (False: the paper's plain stitch, advancing by T − N).
        guidance: classifier-free guidance scale on the music; None = the model's own (GUIDANCE = 2 for `raw`, 1 =
        none for `onehot`).
        smooth: std in model frames of a temporal Gaussian low-pass on the model's motion, before tempo sync,
        loudness dynamics, retargeting and the ease-in; None = the model's own setting (its
        checkpoint's "generation" section; the bundled models' are listed by `dance2d generate --help`);
        0 = the model output.
        reframe: move the reference into the training data's framing for the model and the dance back into the
        reference's canvas (pose/retarget.py); retarget: give every bone the reference's proportions.
        tempo_sync: the model dances at its home tempo and the dance plays back at the song's (music/drive.py),
        its pace dipping to 1 − beat_accent on each beat and rising to 1 + beat_accent between beats (0 = even;
        None = the model's own, else BEAT_ACCENT).
        bpm: the song's tempo, for music whose tempo the tool hears wrong or to dance at half or double time (None =
        heard from the music at the octave inside 78–156 BPM, music/drive.py TEMPO_RANGE: a 70 BPM ballad is danced
        at 140); the dance plays at most MAX_RATE (2.25) times faster or slower than the model's home tempo; needs
        tempo_sync.
        dynamics: how strongly the music's loudness sets the size of the movements (pose/dynamics.py; 0 = off; None =
        the model's own, else STRENGTH).
        ease_in: seconds over which the dance starts from the reference pose and moves into the model's dance (the
        model's first frames, made without any earlier motion, are its least steady; 0 = start with the model's).
        rest: where the music falls silent for a second or more (a silent intro, a break, the end), the dancer slows
        to a stop and stands until it plays again; through a silent intro it stands in the reference pose and the
        ease-in starts with the music (music/drive.py silent_spans, pose/sequence.py start_and_rest).
        max_gap: seconds; where a joint drops out of the model's dance for at most this long, it is bridged from
        the frames on both sides, following its parent, and a body joint missing between a shown parent and child
        (a wrist without its elbow) is put back between them (pose/gaps.py; 0 = leave missing joints missing).
        keep_in_frame: pan the dance sideways, as a camera would, so the body stays inside the width of the
        reference's canvas (pose/inframe.py; the training cameras follow the dancer the same way; False lets the
        steps carry the body out of the picture).
        run_up: with a `start`, seconds of the music before it that the model dances first and the output leaves
        out (None = all of it: the excerpt is the song's whole dance cut there, then eased in from the reference
        pose; 0 = start cold, quicker). Started cold mid-song, with no motion of its own before it, the model's
        dance of the held-out songs' 30–60 s scored FID_k 46 against the dancers' 27; with a 10 s run-up 43, with
        all of the song before it 32 (docs/RESULTS.md).
        music_file: the file a (waveform, sample_rate) `music` was decoded from, recorded in the dances' meta (as a
        path `music` is) so `dance2d evaluate` can find the song again.
        """
        smooth = self.smooth if smooth is None else smooth
        guidance = self.guidance if guidance is None else guidance
        beat_accent = self.beat_accent if beat_accent is None else beat_accent
        dynamics = self.dynamics if dynamics is None else dynamics
        if isinstance(sampler, str) and sampler not in SAMPLERS:
            raise Dance2DError(f"Unknown sampler {sampler!r}; choose one of {', '.join(SAMPLERS)}.")
        sampler = SAMPLERS[sampler] if isinstance(sampler, str) else sampler or self.sampler
        sampler_name = next((k for k, v in SAMPLERS.items() if v is sampler), getattr(sampler, "__name__", "custom"))
        validate.generation_options(seed=seed, steps=steps, guidance=guidance, num_samples=num_samples, start=start,
                                    end=end, smooth=smooth, dynamics=dynamics,
                                    beat_accent=beat_accent, ease_in=ease_in, max_gap=max_gap, bpm=bpm,
                                    run_up=run_up, tempo_sync=tempo_sync)
        ref_pose, canvas = self.reference_pose(reference, fit=not reframe)  # fails before the music is decoded
        self.timings = {}
        t0 = time.perf_counter()
        sr = int(round(self.fps * 512))
        wave, sr = load_audio(music, sr)
        if isinstance(music, (str, os.PathLike)):
            music_file = music
        name, first = music_file or "the music passed in", float(start or 0.0)  # first: song time of output frame 0
        n_out = max(1, int(round(len(crop(wave, sr, start, end, name)) / sr * self.fps)))  # the frames asked for
        n_lead = int(first * self.fps)  # run-up frames: all the music before the start, or run_up seconds of it
        n_lead = n_lead if run_up is None else min(int(round(run_up * self.fps)), n_lead)
        wave = crop(wave, sr, first - n_lead / self.fps, end, name)
        n = n_lead + n_out
        if progress is not None:  # one step for the music features, one per segment
            progress(0, self.plan(n, blend)[0] + 1)
        # song-time features and a segment of silence after the song (warp_features repeats its last frame)
        raw = self.music_features(wave, sr, n + self.frames, feature_progress)
        level = frame_db(wave, sr, self.fps, n)
        gain = dynamics_gain(loudness_db(level, self.fps), dynamics) if dynamics > 0 else None
        rests = [(max(a - n_lead, 0), b - n_lead) for a, b in silent_spans(level, self.fps) if b > n_lead] \
            if rest else []  # in output frames
        if rests:
            where = ", ".join(f"{first + a / self.fps:.1f}–{first + b / self.fps:.1f} s" for a, b in rests)
            notice(f"{music_file or 'the music'} is silent at {where}: the dancer stands still there "
                   "(--no-rest dances through).")
        del wave
        column = self.music_encoder.onset_column
        bpm, beats = pulse(raw[:n, column], self.fps, bpm) if tempo_sync and column is not None else (bpm, None)
        rate = sync_rate(bpm, self.data.home_tempo)
        n_model = max(1, int(round(n * rate)))  # frames the model dances, at its home tempo
        n_seg, hop, covered = self.plan(n_model, blend)
        feats = self.data.normalize_music(warp_features(raw, rate, covered, self.music_encoder.indicator_columns))
        self.timings["music"] = time.perf_counter() - t0
        if progress is not None:
            progress(1, n_seg + 1)
        seg_progress = None if progress is None else (lambda done, total: progress(done + 1, total + 1))
        layout = self.data.layout
        framing = Framing.canonical(ref_pose, canvas, self.data.canvas, layout) if reframe else None
        model_ref = framing.to_model(ref_pose) if framing else ref_pose
        kp = self._generate(feats, model_ref, [seed + i for i in range(num_samples)], steps, guidance, sampler,
                            seg_progress, blend)[:, :n_model]
        kp = hide_implausible(kp, self.data.canvas, layout)  # a stray eye or elbow: hidden, not drawn
        kp = spread_jumps(kp, self.data.canvas, layout)
        if max_gap > 0:
            kp = bridge_gaps(kp, int(round(max_gap * self.fps)), layout)  # a joint that blinks out for a moment
            kp = join_orphans(kp, self.data.canvas, layout)  # a wrist drawn without its elbow gets the elbow back
        # smoothing removes the model's own jitter, so it runs on the model's frames: the beat accent, tempo and
        # loudness applied below are the music's and must not be blurred away, and retargeting and the ease-in
        # come after it so bone lengths and the first frame stay exact (docs/decisions.md, "Smoothing first")
        kp = smooth_poses(kp, smooth)
        # model frame of each song frame: the song's tempo, slowing into its beats (music/drive.py)
        at = np.arange(n, dtype=np.float64)
        if beats is not None:
            at = playback_positions(n, rate, beats, beat_accent)
            kp = sample_frames(kp, at)
        if framing:
            kp = framing.to_user(kp)
        if gain is not None:
            kp = apply_dynamics(kp, gain, canvas, self.fps, layout)
        if retarget:
            kp = retarget_bones(kp, ref_pose, canvas, layout)
        if keep_in_frame:  # before the ease-in: the dance starts in the reference pose, which is inside the frame
            kp = follow_in_frame(kp, self.fps)
        kp = kp[:, n_lead:]  # the run-up is left out
        # between two poses of the same person
        kp = start_and_rest(kp, ref_pose, rests, self.fps, canvas, layout, ease_in)
        seams = np.searchsorted(at, [k * hop + self.overlap for k in range(1, n_seg)]) - n_lead  # first output frame
        meta = {"seed": seed, "steps": steps, "sampler": sampler_name, "guidance": guidance,
                "start": first, "run_up": n_lead / self.fps, "blend": blend,
                "smooth": smooth, "reframe": reframe, "retarget": retarget,
                "dynamics": dynamics, "ease_in": ease_in, "max_gap": max_gap, "keep_in_frame": keep_in_frame,
                "rests": [[a / self.fps, b / self.fps] for a, b in rests],
                "beat_accent": beat_accent if beats is not None else 0.0,
                "end": None if end is None else float(end),
                "music": None if music_file is None else str(Path(music_file).resolve()),
                "reference": ref_pose.tolist(),
                "tempo": {"music_bpm": bpm, "home_bpm": self.data.home_tempo, "rate": rate},
                "seams": [int(f) for f in seams if 0 < f < n_out]}
        return [PoseSequence(k, self.fps, self.data.layout, canvas, dict(meta, seed=seed + i))
                for i, k in enumerate(kp)]


def crop(wave: np.ndarray, sr: int, start: float | None, end: float | None, name) -> np.ndarray:
    """The [start, end) seconds of a waveform, with clear errors for empty or too-short ranges."""
    dur = len(wave) / sr
    s = 0.0 if start is None else float(start)
    e = dur if end is None else min(float(end), dur)
    if s < 0 or s >= dur or e <= s:
        raise Dance2DError(f"Time range start={start} end={end} is outside the {dur:.1f} s of {name}.")
    if e - s < 1.0:
        raise Dance2DError(f"The selected music ({e - s:.2f} s of {name}) is shorter than 1 s; choose a longer range.")
    return wave[int(round(s * sr)):int(round(e * sr))]


def smooth_poses(kp: np.ndarray, sigma: float) -> np.ndarray:
    """Temporal Gaussian low-pass (std `sigma` frames) of x, y along axis −3, weighted by presence so a missing
    joint (confidence 0) does not pull its neighbours; confidences are kept."""
    if sigma <= 0:
        return kp
    w = (kp[..., 2:] > 0).astype(np.float32)
    num = gaussian_filter1d(kp[..., :2] * w, sigma, axis=-3, mode="nearest")
    den = gaussian_filter1d(w, sigma, axis=-3, mode="nearest")
    out = kp.copy()
    out[..., :2] = np.where(w > 0, num / np.maximum(den, 1e-6), kp[..., :2])
    return out


def stitch(segments: np.ndarray, hop: int, total: int, overlap: int = POSE_AWARE_FRAMES) -> np.ndarray:
    """Join segments (S, B, T, K, 3) spaced by `hop` frames (paper §4.1): each new segment's first N frames
    re-create the previous segment's (its pose-aware reference) and are dropped; the next T − hop − N frames,
    which both segments cover, are cross-faded linearly, so the step where the new segment leaves its
    reference never shows (hop = T − N: the paper's plain stitch, nothing to cross-fade)."""
    n_seg, b, t = segments.shape[:3]
    out = np.zeros((b, max(total, (n_seg - 1) * hop + t)) + segments.shape[3:], np.float32)
    n_mix = t - hop - overlap
    ramp = ((np.arange(n_mix) + 1) / (n_mix + 1)).astype(np.float32)[None, :, None, None]  # (1, n_mix, 1, 1)
    out[:, :t] = segments[0]
    for k in range(1, n_seg):
        a = k * hop + overlap  # first frame the new segment contributes
        seg = segments[k, :, overlap:]  # (B, T − N, K, 3)
        if n_mix > 0:
            prev = out[:, a:a + n_mix]
            mixed = (1 - ramp) * prev + ramp * seg[:, :n_mix]
            conf = np.minimum(prev[..., 2:], seg[:, :n_mix, :, 2:])
            mixed[..., 2:] = np.where(conf > 0, mixed[..., 2:], 0.0)
            out[:, a:a + n_mix] = mixed
        out[:, a + max(n_mix, 0):k * hop + t] = seg[:, max(n_mix, 0):]
    return out
