"""Training loop (paper §3 objective, §4 implementation): one code path for one process and torchrun (DDP).

    dance2d prepare --dataset dwm --root ../shared/data/dance_with_melody --out cache/dwm
    dance2d train --cache cache/dwm --out runs/small --preset small --steps 3000
    torchrun --nproc_per_node=2 -m dance2d train --cache cache/dwm --out runs/ddp --preset tiny --steps 20
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch.nn.parallel import DistributedDataParallel

from dance2d import distributed as dist
from dance2d import validate
from dance2d.atomic import atomic_path, remove_stale_temps
from dance2d.checkpoint import load_checkpoint, read_config, save_checkpoint
from dance2d.codec import codec_class, fast_dtype
from dance2d.conditioning.reference import POSE_AWARE_FRAMES, pose_aware, sample_replacement
from dance2d.data.cache import view_tempo
from dance2d.data.config import DataConfig
from dance2d.data.windows import WindowDataset, read_index
from dance2d.diffusion.target import DiffusionConfig, diffusion_loss
from dance2d.errors import Dance2DError
from dance2d.model.config import DiTConfig, make_config
from dance2d.model.dit import DiT
from dance2d.music.features import get_music_encoder
from dance2d.music.tokens import pack_tokens


@dataclass
class TrainConfig:
    """Run flags of `dance2d train` (model settings live in DiTConfig)."""

    cache: str  # folder written by `dance2d prepare`
    out: str  # run folder: checkpoints, log.jsonl, samples/
    preset: str = "small"  # DiT size preset (tiny | small | base | paper)
    rope_index: str = "time_shared"  # RoPE index of music tokens: time_shared | sequential (Table 5)
    reference: bool = True  # reference conditioning on/off (Table 6)
    frames: int = 128  # T: frames per training window (multiple of the codec's time stride)
    steps: int = 3000  # optimizer steps
    batch: int = 16  # windows per optimizer step per process (before accumulation split)
    accum: int = 1  # gradient accumulation micro-steps per optimizer step
    lr: float = 3e-4  # peak AdamW learning rate
    weight_decay: float = 0.01  # AdamW weight decay
    warmup: int = 200  # linear warm-up steps
    min_lr_ratio: float = 0.1  # cosine decay floor as a fraction of lr
    ema: float = 0.999  # EMA decay of the weights used for sampling
    clip: float = 1.0  # gradient-norm clip
    pose_aware_frames: int = POSE_AWARE_FRAMES  # N: known frames of a pose-aware reference (paper §4: N = 16)
    ref_prob: float = 0.5  # p: probability of pose-aware replacement in training
    seed: int = 0  # base seed; step s of rank r draws its windows, τ, ε and dropout from (seed, r, s)
    log_every: int = 25  # steps between log lines
    ckpt_every: int = 250  # steps between checkpoints
    sample_every: int = 500  # steps between sample renders (0 = never)
    tensorboard: bool = False  # also log to TensorBoard (needs the tensorboard package)
    prediction: str = "eps"  # network output: eps (paper) | v | x (clean latent, JiT) (diffusion/target.py)
    loss: str = "eps"  # MSE space: eps | v | x
    velocity_weight: float = 0.0  # EDGE-style velocity loss on the predicted clean latent (0 = off)
    schedule: str = "scaled_linear"  # noise schedule kind (diffusion/schedule.py SCHEDULES)
    eps_skip: bool = True  # ε-prediction only: ε̂ = σ_τ·Z_τ + F(·), the network predicts the residual
    anchor: bool = False  # with reference: ε̂ = σ_τ(Z_τ − α_τ Z_ref) + F, anchored on the reference latent
    init: str | None = None  # warm start: a released dance2d checkpoint with the same model config
    threads: int = 0  # torch CPU threads per process (0 = torch's default; 1 avoids oversubscription)
    time_limit: float = 0.0  # stop (and checkpoint) after this many minutes of training even before `steps` (0 = off)
    preload: bool = False  # hold the whole cache in memory on the training device (a GPU: no file reads per step)
    precision: str = "auto"  # auto = bf16 autocast where the device runs it natively (fast_dtype) | bf16 | float32
    overrides: dict = field(default_factory=dict)  # extra DiTConfig field overrides


def lr_at(step: int, cfg: TrainConfig) -> float:
    """Linear warm-up then cosine decay to min_lr_ratio·lr."""
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    frac = min(1.0, (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup))
    return cfg.lr * (cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * frac)))


def music_stats(dataset: WindowDataset, n: int = 256, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Per-feature mean/std of the music features over n random windows (stored in the checkpoint)."""
    rng = np.random.default_rng(seed)
    feats = np.concatenate([dataset[int(i)]["music"].numpy() for i in rng.integers(0, len(dataset), n)])
    return feats.mean(0), np.maximum(feats.std(0), 1e-3)


def home_tempo(dataset: WindowDataset) -> float | None:
    """Median tempo (BPM) over the cached views' music, read by music/drive.py `pulse_tempo` from the encoder's onset
    column (None without one): the tempo the model learns to dance at. Caches record each view's tempo when made
    (a GPU machine without librosa cannot read it); older ones are read here."""
    column = get_music_encoder(dataset.data.music_encoder).onset_column
    if column is None:
        return None
    tempi = [view["tempo"] if "tempo" in view else view_tempo(dataset.dir / view["file"], column, dataset.data.fps)
             for view in dataset.index["views"]]
    tempi = [t for t in tempi if t]
    return float(np.median(tempi)) if tempi else None


def build_model_config(cfg: TrainConfig, data: DataConfig) -> DiTConfig:
    """DiT settings from the preset plus the data's latent size (from the cache)."""
    overrides = dict(cfg.overrides)
    if codec_class(data.codec).image_width(data.width) == 1:
        overrides.setdefault("patch_w", 1)  # a one-column pose image (the raw codec's thin image): one latent row
    return make_config(cfg.preset, latent_channels=data.latent_channels, music_dim=data.time_stride * data.music_dim,
                       mask_phases=data.time_stride, reference=cfg.reference, index=cfg.rope_index, **overrides)


def run_config(cfg: TrainConfig, model_cfg: DiTConfig, data: DataConfig) -> dict:
    """Everything needed to rebuild the model and its data path, stored in every checkpoint."""
    eps = cfg.prediction == "eps"
    diffusion = DiffusionConfig(prediction=cfg.prediction, loss=cfg.loss, velocity_weight=cfg.velocity_weight,
                                schedule=cfg.schedule,
                                eps_skip=cfg.eps_skip and eps, anchor=cfg.anchor and cfg.reference and eps)
    return {"model": model_cfg.to_dict(), "data": data.to_dict(), "diffusion": diffusion.to_dict(),
            "train": dataclasses.asdict(cfg)}


def make_batch(windows: dict, data: DataConfig, cfg: TrainConfig, gen: torch.Generator, reference: bool) -> dict:
    """DiT inputs from stacked windows (WindowDataset.batch): normalised Z, music tokens, and [Z_ref ‖ M] (paper §3,
    supp. §6), computed on the windows' device."""
    z = data.normalize_latents(windows["z"])  # (B, Cz, W', T')
    tl, stride = z.shape[-1], data.time_stride
    m = data.normalize_music(windows["music"])  # (B, T, D)
    batch = {"z0": z, "music": pack_tokens(m.float(), stride)}  # tokens (B, T', stride·D)
    if reference:
        ref = data.normalize_latents(windows["ref_z"])  # (B, Cz, W', T'): the pose held still
        if ref.shape[-1] != tl:
            raise Dance2DError(f"The cache's reference latents span {ref.shape[-1] * stride} frames but training "
                               f"windows have {tl * stride}; rebuild the cache with --frames {tl * stride}.")
        # pose-aware with probability p: the first N frames from ground truth, else shape-only (§3); one call per
        # drawn N (the draws are made in window order, so the result does not depend on the grouping)
        ns = [sample_replacement(cfg.pose_aware_frames, cfg.ref_prob, gen) for _ in range(len(z))]
        out_ref, out_mask = torch.empty_like(ref), None
        for n in sorted(set(ns)):
            idx = torch.tensor([i for i, v in enumerate(ns) if v == n], device=z.device)
            r, mk = pose_aware(ref[idx], z[idx], n, stride)
            if out_mask is None:
                out_mask = mk.new_empty((len(z), *mk.shape[1:]))
            out_ref[idx], out_mask[idx] = r, mk
        batch.update(ref=out_ref, mask=out_mask)
    return batch


class Trainer:
    """AdamW + warm-up/cosine + EMA + clipping + accumulation + bf16 autocast where native + resume."""

    def __init__(self, cfg: TrainConfig):
        validate.train_options(cfg)  # --batch 0, --lr nan, ... fail before the cache is read
        init = read_config(cfg.init) if cfg.init else None  # a warm start's header: its model and its statistics
        if init and "head_hidden" not in cfg.overrides:  # a warm start keeps the released head unless grown
            head = DiTConfig.from_dict(init["model"]).head_hidden
            cfg = dataclasses.replace(cfg, overrides={**cfg.overrides, "head_hidden": head})
        self.cfg = cfg
        if cfg.threads > 0:
            torch.set_num_threads(cfg.threads)
        self.device = dist.init()
        # weights, optimizer state and the EMA stay float32; the forward pass runs in bf16 where the device has native
        # bf16 (CUDA; AMX or AVX-512 BF16 CPUs: a `small` step 1.4× faster here, docs/decisions.md "bf16 sampling")
        self.autocast = cfg.precision == "bf16" or (cfg.precision == "auto"
                                                    and fast_dtype(self.device) == torch.bfloat16)
        self.rank, self.world = dist.rank(), dist.world_size()
        torch.manual_seed(cfg.seed)  # identical initial weights on every rank
        cache_data = DataConfig.from_dict(read_index(cfg.cache)["data"])
        if cfg.accum < 1 or cfg.batch % cfg.accum:
            raise Dance2DError(f"--batch {cfg.batch} must be a positive multiple of --accum {cfg.accum} "
                               "(each accumulation micro-step takes batch/accum windows).")
        if cfg.reference and cache_data.frames != cfg.frames:
            raise Dance2DError(f"Cache {cfg.cache} holds reference latents for {cache_data.frames}-frame windows but "
                               f"--frames is {cfg.frames}; pass --frames {cache_data.frames} or rebuild the cache "
                               f"with --frames {cfg.frames}.")
        self.dataset = WindowDataset(cfg.cache, cfg.frames, seed=cfg.seed + 1000 * self.rank)
        if cfg.preload:
            self.dataset.preload(self.device)
        m_mean, m_std = music_stats(self.dataset, seed=cfg.seed)
        self.model_cfg = build_model_config(cfg, cache_data)
        self.data = dataclasses.replace(cache_data, frames=cfg.frames, pose_aware_frames=cfg.pose_aware_frames,
                                        music_mean=[float(v) for v in m_mean], music_std=[float(v) for v in m_std],
                                        home_tempo=home_tempo(self.dataset))
        self.config = run_config(cfg, self.model_cfg, self.data)
        self.model = DiT(self.model_cfg).to(self.device)
        self.ema = copy.deepcopy(self.model).eval().requires_grad_(False)
        self.opt = torch.optim.AdamW(self.model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay,
                                     betas=(0.9, 0.99))
        self.diffusion = DiffusionConfig.from_dict(self.config["diffusion"])
        self.schedule = self.diffusion.make_schedule()
        self.step = 0
        self.out = Path(cfg.out)
        self.gen = torch.Generator().manual_seed(cfg.seed + 7919 * self.rank)
        self.noise_gen = torch.Generator(device=self.device)  # ε on the training device, reseeded every step
        if init:
            self._adopt_init(Path(cfg.init), init)  # before resume: it sets the statistics
        unfloored = self.data
        # the floor is part of the recipe: a warm start's statistics are floored too
        self.data = self.data.floor_latent_std(codec_class(self.data.codec).latent_std_floor)
        self.config["data"] = self.data.to_dict()
        if not self._resume(unfloored) and init:
            self._warm_start(Path(cfg.init))
        self.ddp = DistributedDataParallel(self.model) if self.world > 1 else self.model

    # ------------------------------------------------------------------ checkpoints
    def _adopt_init(self, path: Path, saved: dict) -> None:
        """Check a warm-start checkpoint (`saved`: its header) fits this model and adopt its data normalisation (its
        weights expect it)."""
        old_model = DiTConfig.from_dict(saved["model"])
        # the one change a warm start allows: a linear head grown by a zero-initialised MLP (--head-hidden)
        if dataclasses.replace(old_model, head_hidden=self.model_cfg.head_hidden) != self.model_cfg or (
                old_model.head_hidden not in (0, self.model_cfg.head_hidden)):
            mine, theirs = self.model_cfg.to_dict(), old_model.to_dict()
            diff = sorted(k for k in mine if theirs[k] != mine[k])
            raise Dance2DError(f"--init {path} has another model config ({', '.join(diff)} differ); train with the "
                               "same preset and a cache of the same codec, width and layout.")
        old = DataConfig.from_dict(saved["data"])
        # the pose image itself must be the same, or the weights learned another representation
        diff = old.representation_diff(self.data)
        if diff:
            raise Dance2DError(f"--init {path} was trained on another pose representation than cache {self.cfg.cache} "
                               f"({'; '.join(diff)}); rebuild the cache with the checkpoint's settings.")
        stats = {k: getattr(old, k) for k in ("latent_mean", "latent_std", "music_mean", "music_std")
                 if len(getattr(old, k) or []) == len(getattr(self.data, k))}
        if self.data.home_tempo is None:
            stats["home_tempo"] = old.home_tempo
        self.data = dataclasses.replace(self.data, **stats)
        self.config["data"] = self.data.to_dict()
        if saved.get("generation"):  # its sampling settings (smoothing, guidance, presence) still suit its weights
            self.config["generation"] = dict(saved["generation"])

    def _warm_start(self, path: Path) -> None:
        """Start from a released model's weights (model and EMA; a file or a folder of shards), so training adds
        steps instead of starting over."""
        state, _ = load_checkpoint(path)
        grown = {k: v for k, v in self.model.state_dict().items() if k.startswith("final.mlp.") and k not in state}
        state = {**state, **grown}  # a grown head keeps its zero-output initialisation: the model starts unchanged
        self.model.load_state_dict(state)
        self.ema.load_state_dict(state)
        dist.print0(f"warm start from {path}" + (f" (head grown to {self.model_cfg.head_hidden} hidden)"
                                                  if grown else ""))

    def _resume(self, unfloored: DataConfig) -> bool:
        """Continue the run in self.out if it has a train state; `unfloored`: the data config before the latent std
        floor, which a run begun before the floor existed still trains with."""
        state_path = self.out / "train_state.pt"
        if not state_path.exists():
            return False
        saved = read_config(self.out / "last.safetensors")
        saved_data = DataConfig.from_dict(saved["data"])
        if saved_data == unfloored:
            self.data = unfloored
            self.config["data"] = self.data.to_dict()
        if (DiTConfig.from_dict(saved["model"]) != self.model_cfg or saved_data != self.data
                or DiffusionConfig.from_dict(saved.get("diffusion")) != self.diffusion):
            raise Dance2DError(f"Run folder {self.out} was trained with a different model or data config; "
                               "use a new --out folder or the original settings to resume.")
        state = torch.load(state_path, map_location="cpu", weights_only=True)
        self.model.load_state_dict(state["model"])
        self.ema.load_state_dict(state["ema"])
        self.opt.load_state_dict(state["opt"])
        self.step = int(state["step"])
        dist.print0(f"resumed {self.out} at step {self.step}")
        return True

    def save(self) -> None:
        if self.rank != 0:
            return
        self.out.mkdir(parents=True, exist_ok=True)
        save_checkpoint(self.out / "last.safetensors", self.ema.state_dict(), self.config)
        state = {"model": self.model.state_dict(), "ema": self.ema.state_dict(), "opt": self.opt.state_dict(),
                 "step": self.step}
        with atomic_path(self.out / "train_state.pt") as tmp:
            torch.save(state, tmp)

    # ------------------------------------------------------------------ loop
    def draw(self, n: int) -> dict:
        """n random windows, stacked on the training device (WindowDataset.batch)."""
        idx = torch.randint(0, len(self.dataset), (n,), generator=self.gen)
        return self.dataset.batch([int(i) for i in idx], self.device)

    def train_step(self) -> float:
        """One optimizer step over cfg.batch windows split into cfg.accum micro-batches; returns the mean loss."""
        cfg = self.cfg
        # Reseed from (seed, rank, step): windows, τ, ε and the model's music dropout (global RNG) then repeat
        # exactly after a resume on every rank, although only rank 0 writes the train state.
        step_seed = int(np.random.SeedSequence([cfg.seed, self.rank, self.step]).generate_state(1)[0])
        self.gen.manual_seed(step_seed)
        self.noise_gen.manual_seed(step_seed)
        torch.manual_seed(step_seed)
        for group in self.opt.param_groups:
            group["lr"] = lr_at(self.step, cfg)
        self.model.train()
        self.opt.zero_grad(set_to_none=True)
        micro = cfg.batch // cfg.accum
        total = 0.0
        for _ in range(cfg.accum):
            batch = make_batch(self.draw(micro), self.data, cfg, self.gen, self.model_cfg.reference)
            batch = {k: v.to(self.device) for k, v in batch.items()}
            z0 = batch.pop("z0")
            tau = self.schedule.sample_tau(z0.shape[0], self.gen).to(self.device)
            eps = torch.randn(z0.shape, generator=self.noise_gen, device=self.device)  # drawn where it is used
            with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.autocast):
                loss = diffusion_loss(self.ddp, z0, tau, eps, self.schedule, self.diffusion, **batch)
            (loss / cfg.accum).backward()
            total += float(loss.detach()) / cfg.accum
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.clip)
        self.opt.step()
        with torch.no_grad():
            decay = min(cfg.ema, (1 + self.step) / (10 + self.step))
            for pe, pm in zip(self.ema.parameters(), self.model.parameters(), strict=True):
                pe.lerp_(pm, 1 - decay)
        self.step += 1
        return total

    def fit(self) -> None:
        from tqdm import tqdm

        cfg = self.cfg
        writer = _tensorboard(self.out) if cfg.tensorboard and self.rank == 0 else None
        log = (self.out / "log.jsonl") if self.rank == 0 else None
        if log:
            self.out.mkdir(parents=True, exist_ok=True)
            (self.out / "config.json").write_text(json.dumps(self.config, indent=1))
            truncate_log(log, self.step)  # a resumed run logs its steps after the checkpoint again
            clean_stale_temps(self.out)
        bar = tqdm(total=cfg.steps, initial=self.step, disable=self.rank != 0, desc="train", dynamic_ncols=True)
        t0, losses = time.time(), []

        def write_log() -> None:  # the mean loss of the steps since the last record
            rec = {"step": self.step, "loss": float(np.mean(losses)), "lr": lr_at(self.step - 1, cfg),
                   "elapsed_s": round(time.time() - t0, 1)}
            losses.clear()
            bar.set_postfix(loss=f"{rec['loss']:.4f}")
            if log:
                with open(log, "a") as f:
                    f.write(json.dumps(rec) + "\n")
            if writer:
                writer.add_scalar("loss", rec["loss"], self.step)

        while self.step < cfg.steps:
            if cfg.time_limit and dist.any_rank(time.time() - t0 > 60 * cfg.time_limit, self.device):
                dist.print0(f"time limit of {cfg.time_limit:g} min reached at step {self.step}")
                if losses:  # the steps since the last record are logged too
                    write_log()
                self.save()
                break
            losses.append(self.train_step())
            bar.update(1)
            if self.step % cfg.log_every == 0 or self.step == cfg.steps:
                write_log()
            if self.step % cfg.ckpt_every == 0 or self.step == cfg.steps:
                self.save()
            if cfg.sample_every and self.rank == 0 and (self.step % cfg.sample_every == 0 or self.step == cfg.steps):
                self.render_sample()
        bar.close()
        dist.barrier()

    def render_sample(self) -> None:
        """Denoise one training window's music with the EMA model and save a preview strip PNG."""
        from dance2d.pipeline import Dance2D
        from dance2d.render import preview_strip

        item = self.dataset[0]
        pipe = Dance2D.from_config(self.ema, self.config)
        seq = pipe.generate_window(item["music"].numpy(), item["ref_pose"].numpy(), seed=0)
        out = self.out / "samples" / f"step{self.step:07d}.png"
        out.parent.mkdir(parents=True, exist_ok=True)
        preview_strip(seq.keypoints, seq.canvas, out, n=8, fps=seq.fps)


def truncate_log(log: Path, step: int) -> None:
    """Keep only the records of log.jsonl up to `step` (the step training resumes from), dropping the lines of
    steps the killed run logged after its last checkpoint and a line cut off mid-write."""
    if not log.exists():
        return
    keep = []
    with open(log, encoding="utf-8", errors="replace") as f:
        for line in f:
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if isinstance(rec, dict) and isinstance(rec.get("step"), int) and rec["step"] <= step \
                    and line.endswith("\n"):
                keep.append(line)
    with atomic_path(log) as tmp:
        tmp.write_text("".join(keep), encoding="utf-8")


def clean_stale_temps(out: Path) -> None:
    """Remove checkpoint temp files a killed run left in its run folder."""
    for name in ("last.safetensors", "log.jsonl", "train_state.pt"):
        remove_stale_temps(out / name)


def _tensorboard(out: Path):
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        raise Dance2DError("--tensorboard needs the tensorboard package: pip install 'dance2d[tensorboard]'.") from None
    return SummaryWriter(str(out / "tb"))


def train(cfg: TrainConfig) -> Path:
    """Run training to cfg.steps and return the path of the last checkpoint."""
    trainer = Trainer(cfg)
    try:
        trainer.fit()
    finally:
        dist.cleanup()
    return Path(cfg.out) / "last.safetensors"
