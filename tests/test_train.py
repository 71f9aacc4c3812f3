"""Training loop: outputs of a run, exact resume, config guards, bad inputs, lr schedule, accumulation, DDP."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import load_script
from fixtures_gen import synthetic_clip
from safetensors.torch import load_file

from dance2d import cli
from dance2d.checkpoint import load_checkpoint, read_config, save_checkpoint
from dance2d.codec.raw import RawCodec
from dance2d.data.cache import build_cache
from dance2d.data.windows import WindowDataset, read_index
from dance2d.diffusion import DiffusionConfig, diffusion_loss
from dance2d.errors import Dance2DError
from dance2d.pipeline import Dance2D
from dance2d.train import TrainConfig, Trainer, home_tempo, lr_at, make_batch, train

WINDOW = 32  # T: the cache is built for 32-frame windows (its reference latents span them), runs train on them


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    """A tiny raw-codec cache of two 5 s synthetic clips at 25 fps (125 frames each)."""
    out = tmp_path_factory.mktemp("cache")
    clips = [synthetic_clip(f"clip{i}", seconds=5.0, fps=25.0, seed=i) for i in range(2)]
    build_cache(clips, out, codec_name="raw", fps=25.0, views_per_clip=1, mirror=False, progress=False,
                frames=WINDOW)
    return out


def config(cache: Path, out: Path, **kw) -> TrainConfig:
    """A tiny run: T = 32, batch 4, short warm-up, a log line every step, no samples."""
    base = dict(cache=str(cache), out=str(out), preset="tiny", frames=WINDOW, steps=4, batch=4, warmup=2,
                log_every=1, ckpt_every=1000, sample_every=0, threads=1)
    return TrainConfig(**{**base, **kw})


def read_log(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]


def count_steps(monkeypatch) -> list[int]:
    """Record the step counter after every Trainer.train_step call."""
    calls, original = [], Trainer.train_step

    def wrapped(self):
        loss = original(self)
        calls.append(self.step)
        return loss

    monkeypatch.setattr(Trainer, "train_step", wrapped)
    return calls


def test_run_writes_checkpoint_log_and_sample(cache, tmp_path):
    steps = 40
    cfg = config(cache, tmp_path / "run", steps=steps, lr=3e-3, warmup=4, sample_every=steps, ema=0.9)
    path = train(cfg)
    run = tmp_path / "run"
    assert path == run / "last.safetensors"
    saved = read_config(path)
    assert saved["train"]["preset"] == "tiny" and saved["train"]["steps"] == steps
    assert saved == json.loads((run / "config.json").read_text())
    assert saved["data"]["frames"] == WINDOW and saved["data"]["codec"] == "raw"
    assert saved["data"]["home_tempo"] == pytest.approx(120.0, rel=0.05)  # the clips click twice a second
    # The checkpoint holds the EMA weights, which differ from the raw weights in train_state.pt.
    state = torch.load(run / "train_state.pt", weights_only=True)
    assert state["step"] == steps
    weights = load_file(str(path))
    assert all(torch.equal(weights[k], state["ema"][k]) for k in weights)
    assert any(not torch.equal(weights[k], state["model"][k]) for k in weights)
    pipe = Dance2D.from_pretrained(path)
    assert all(torch.equal(v, weights[k]) for k, v in pipe.model.state_dict().items())
    log = read_log(run)
    assert [r["step"] for r in log] == list(range(1, steps + 1))
    losses = np.array([r["loss"] for r in log])
    assert np.isfinite(losses).all()
    assert losses[-10:].mean() < losses[:10].mean()  # the loss falls
    png = run / "samples" / f"step{steps:07d}.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_time_limit_logs_the_steps_since_the_last_record(cache, tmp_path, monkeypatch):
    """A run stopped by --time-limit between two log records still logs its last steps (and checkpoints them)."""
    clock = iter(range(0, 10**6, 10))  # every reading of the clock is 10 s later, so the minute passes mid-run
    monkeypatch.setattr("dance2d.train.time.time", lambda: next(clock))
    run = tmp_path / "run"
    train(config(cache, run, steps=100, log_every=50, time_limit=1.0))
    log = read_log(run)
    step = torch.load(run / "train_state.pt", weights_only=True)["step"]
    assert 0 < step < 50 and [r["step"] for r in log] == [step] and np.isfinite(log[0]["loss"])


def test_resume_continues_and_matches_uninterrupted_run(cache, tmp_path, monkeypatch):
    # A constant lr after warm-up (min_lr_ratio = 1) makes "4 steps, then up to 8" the same schedule as 8 at once;
    # with the cosine the horizon depends on --steps, so extending a finished run changes the later lrs.
    kw = dict(seed=3, min_lr_ratio=1.0, ref_prob=0.5)
    train(config(cache, tmp_path / "whole", steps=8, **kw))
    calls = count_steps(monkeypatch)
    train(config(cache, tmp_path / "split", steps=4, **kw))
    assert calls == [1, 2, 3, 4]
    calls.clear()
    train(config(cache, tmp_path / "split", steps=8, **kw))
    assert calls == [5, 6, 7, 8]  # the run resumed at step 4 and did only 4 more
    assert [r["step"] for r in read_log(tmp_path / "split")] == list(range(1, 9))
    whole = torch.load(tmp_path / "whole" / "train_state.pt", weights_only=True)
    split = torch.load(tmp_path / "split" / "train_state.pt", weights_only=True)
    assert split["step"] == 8
    for part in ("model", "ema"):
        for k, v in whole[part].items():
            torch.testing.assert_close(split[part][k], v, rtol=0, atol=0)
    a = load_file(str(tmp_path / "whole" / "last.safetensors"))
    b = load_file(str(tmp_path / "split" / "last.safetensors"))
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_resume_after_crash_between_checkpoints(cache, tmp_path, monkeypatch):
    cfg = config(cache, tmp_path / "run", steps=8, ckpt_every=4, seed=1)
    train(config(cache, tmp_path / "whole", steps=8, seed=1))
    original = Trainer.train_step

    def crashing(self):
        if self.step == 6:
            raise RuntimeError("simulated crash")
        return original(self)

    monkeypatch.setattr(Trainer, "train_step", crashing)
    with pytest.raises(RuntimeError, match="simulated"):
        train(cfg)
    assert torch.load(tmp_path / "run" / "train_state.pt", weights_only=True)["step"] == 4
    monkeypatch.setattr(Trainer, "train_step", original)
    calls = count_steps(monkeypatch)
    train(cfg)
    assert calls == [5, 6, 7, 8]  # steps 5–6 of the crashed run are redone from the step-4 checkpoint
    a = load_file(str(tmp_path / "whole" / "last.safetensors"))
    b = load_file(str(tmp_path / "run" / "last.safetensors"))
    assert all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("change", [dict(preset="small"), dict(reference=False), dict(rope_index="sequential")])
def test_resume_into_changed_config_is_refused(cache, tmp_path, change):
    train(config(cache, tmp_path / "run", steps=1))
    with pytest.raises(Dance2DError, match="new --out"):
        train(config(cache, tmp_path / "run", steps=2, **change))
    assert torch.load(tmp_path / "run" / "train_state.pt", weights_only=True)["step"] == 1


def with_data(src: Path, dst: Path, **data) -> Path:
    """A copy of checkpoint src whose data config has the given fields changed."""
    state, cfg = load_checkpoint(src)
    cfg["data"].update(data)
    save_checkpoint(dst, state, cfg)
    return dst


def test_warm_start_takes_weights_and_statistics(cache, tmp_path):
    train(config(cache, tmp_path / "first", steps=2))
    # a released model whose normalisation differs from this cache's: the weights expect the released statistics
    first = read_config(tmp_path / "first" / "last.safetensors")["data"]
    latent_mean = [v + 0.25 for v in first["latent_mean"]]
    music_mean = [v + 0.5 for v in first["music_mean"]]
    init = with_data(tmp_path / "first" / "last.safetensors", tmp_path / "init.safetensors",
                     latent_mean=latent_mean, music_mean=music_mean)
    state, cfg = load_checkpoint(init)
    cfg["generation"] = {"smooth": 4.0, "guidance": 1.0}  # a released model's own sampling settings
    save_checkpoint(init, state, cfg)
    tr = Trainer(config(cache, tmp_path / "warm", init=str(init)))
    assert all(torch.equal(tr.model.state_dict()[k], v) and torch.equal(tr.ema.state_dict()[k], v)
               for k, v in state.items())
    assert tr.data.latent_mean == latent_mean and tr.data.music_mean == music_mean
    assert tr.step == 0  # a new run: its own step count and schedule
    tr.save()  # the new run's checkpoints keep the settings, so bundling it needs no --smooth/--guidance again
    assert read_config(tmp_path / "warm" / "last.safetensors")["generation"] == {"smooth": 4.0, "guidance": 1.0}


def test_raw_training_floors_near_constant_latent_channels(cache, tmp_path):
    """A confidence channel that almost never changes has a tiny std; normalised by it, the rare frame where the joint
    goes missing is a target hundreds of σ away. Training (from the cache or a warm start) floors the std."""
    floor = RawCodec.latent_std_floor
    cache_std = read_index(cache)["data"]["latent_std"]
    assert min(cache_std) < floor  # the synthetic dancers never lose a joint
    tr = Trainer(config(cache, tmp_path / "run"))
    assert tr.data.latent_std == [max(v, floor) for v in cache_std]
    tr.save()
    assert read_config(tmp_path / "run" / "last.safetensors")["data"]["latent_std"] == tr.data.latent_std
    tiny = [0.01] * len(cache_std)  # a released model normalised before the floor: its statistics are floored too
    init = with_data(tmp_path / "run" / "last.safetensors", tmp_path / "init.safetensors", latent_std=tiny)
    assert Trainer(config(cache, tmp_path / "warm", init=str(init))).data.latent_std == [floor] * len(tiny)
    # a run begun before the floor existed resumes with the statistics it has been training with
    train(config(cache, tmp_path / "old", steps=2, ckpt_every=1))
    with_data(tmp_path / "old" / "last.safetensors", tmp_path / "old" / "last.safetensors", latent_std=cache_std)
    resumed = Trainer(config(cache, tmp_path / "old", steps=3))
    assert resumed.step == 2 and resumed.data.latent_std == cache_std


@pytest.mark.parametrize("change", [dict(fps=20.0), dict(music_encoder="mel")])
def test_warm_start_from_another_representation_is_refused(cache, tmp_path, change):
    train(config(cache, tmp_path / "first", steps=1))
    init = with_data(tmp_path / "first" / "last.safetensors", tmp_path / "init.safetensors", **change)
    (name, value), = change.items()
    with pytest.raises(Dance2DError, match=f"another pose representation.*{name} {value}"):
        train(config(cache, tmp_path / "warm", init=str(init)))
    assert not (tmp_path / "warm" / "last.safetensors").exists()


def test_raw_warm_start_ignores_the_one_hot_sigma(cache, tmp_path):
    """The raw codec draws no Gaussians: a raw checkpoint whose cache recorded another σ is the same representation
    (the GPU recipe's raw caches record its --sigma)."""
    train(config(cache, tmp_path / "first", steps=1))
    init = with_data(tmp_path / "first" / "last.safetensors", tmp_path / "init.safetensors", sigma=0.25)
    tr = Trainer(config(cache, tmp_path / "warm", init=str(init)))
    assert tr.data.codec == "raw" and tr.data.sigma != 0.25


def test_representation_diff_counts_what_the_codec_draws():
    from dance2d.data.config import DataConfig

    def data(codec, **kw):
        return DataConfig(**{**dict(codec=codec, width=256 if codec == "taef2" else 1, sigma=2.0, fps=25.0,
                                    layout="openpose18", canvas=(512, 512), time_stride=8 if codec == "taef2" else 1,
                                    latent_channels=384 if codec == "taef2" else 54), **kw})

    assert data("taef2").representation_diff(data("taef2")) == []
    assert data("taef2").representation_diff(data("taef2", sigma=1.5)) == ["sigma 2.0 vs 1.5"]
    assert data("taef2").representation_diff(data("taef2", triplets="spread")) == ["triplets paper vs spread"]
    assert data("raw").representation_diff(data("raw", sigma=1.5)) == []
    assert data("raw").representation_diff(data("raw", fps=30.0)) == ["fps 25.0 vs 30.0"]
    assert data("raw").representation_diff(data("taef2")) == ["codec raw vs taef2", "width 1 vs 256",
                                                             "time_stride 1 vs 8"]


def test_warm_start_grows_the_head_without_changing_the_model(cache, tmp_path):
    """--head-hidden with --init: the released weights load, the new MLP starts at zero output, so the grown model
    predicts what the released one does; shrinking a head back is refused."""
    train(config(cache, tmp_path / "first", steps=2))
    first = tmp_path / "first" / "last.safetensors"
    tr = Trainer(config(cache, tmp_path / "grown", init=str(first), overrides={"head_hidden": 32}))
    released = Dance2D.from_pretrained(first, fast=False).model
    batch = make_batch(tr.dataset.batch([0, 1], "cpu"), tr.data, tr.cfg, torch.Generator().manual_seed(0), True)
    tau = torch.tensor([300, 900])
    args = (torch.randn_like(batch["z0"]), tau, batch["music"], batch["ref"], batch["mask"])
    with torch.no_grad():
        assert torch.equal(tr.model.eval()(*args), released(*args))
    assert tr.model_cfg.head_hidden == 32 and tr.model.final.mlp is not None
    tr.save()
    grown = tmp_path / "grown" / "last.safetensors"
    assert Trainer(config(cache, tmp_path / "again", init=str(grown))).model_cfg.head_hidden == 32  # kept
    with pytest.raises(Dance2DError, match="another model config \\(head_hidden differ\\)"):
        Trainer(config(cache, tmp_path / "other", init=str(grown), overrides={"head_hidden": 16}))


def test_warm_start_from_another_model_is_refused(cache, tmp_path):
    train(config(cache, tmp_path / "first", steps=1))
    with pytest.raises(Dance2DError, match="another model config"):
        train(config(cache, tmp_path / "warm", preset="small", init=str(tmp_path / "first" / "last.safetensors")))


def test_missing_or_empty_cache(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "no_index").mkdir()
    (tmp_path / "no_index" / "clip__v000.safetensors").write_bytes(b"")
    for folder in ("missing", "empty", "no_index"):
        with pytest.raises(Dance2DError, match="index.json"):
            train(config(tmp_path / folder, tmp_path / "run"))
    assert not (tmp_path / "run").exists()


def test_cli_reports_bad_cache_in_one_sentence(tmp_path, capsys):
    code = cli.main(["train", "--cache", str(tmp_path / "missing"), "--out", str(tmp_path / "run"),
                     "--preset", "tiny", "--steps", "1", "--threads", "1"])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1 and err.startswith("dance2d: error:") and "missing" in err


def test_preloaded_training_takes_the_same_steps(cache, tmp_path):
    """train --preload (windows held on the training device) logs the same losses as reading windows from files."""
    args = ["--preset", "tiny", "--frames", str(WINDOW), "--steps", "3", "--batch", "4", "--warmup", "2",
            "--log-every", "1", "--sample-every", "0", "--threads", "1"]
    assert cli.main(["train", "--cache", str(cache), "--out", str(tmp_path / "files"), *args]) == 0
    assert cli.main(["train", "--cache", str(cache), "--out", str(tmp_path / "held"), *args, "--preload"]) == 0
    assert read_config(tmp_path / "held" / "last.safetensors")["train"]["preload"] is True
    files, held = read_log(tmp_path / "files"), read_log(tmp_path / "held")
    assert [r["loss"] for r in files] == [r["loss"] for r in held] and len(held) == 3


def test_train_stores_the_noise_schedule(cache, tmp_path):
    """--schedule reaches the checkpoint, so generation samples with the schedule the weights were trained on."""
    args = ["--preset", "tiny", "--frames", str(WINDOW), "--steps", "1", "--batch", "2", "--warmup", "1",
            "--sample-every", "0", "--threads", "1", "--prediction", "x", "--loss", "x"]
    assert cli.main(["train", "--cache", str(cache), "--out", str(tmp_path / "low"), *args,
                     "--schedule", "scaled_linear_low_snr"]) == 0
    saved = read_config(tmp_path / "low" / "last.safetensors")
    assert saved["diffusion"]["schedule"] == "scaled_linear_low_snr"
    assert DiffusionConfig.from_dict(saved["diffusion"]).make_schedule().kind == "scaled_linear_low_snr"


def test_home_tempo_uses_the_tempo_a_cache_recorded(cache, tmp_path):
    """A cache records each view's tempo when it is made (the GPU recipe has no librosa to read it); training reads
    it instead of reading the music again, and still reads the music of an older cache that has none."""
    import shutil

    made = json.loads((Path(cache) / "index.json").read_text())["views"]
    assert all(v["tempo"] == pytest.approx(120.0, rel=0.05) for v in made)  # the clips click twice a second
    copy = Path(shutil.copytree(cache, tmp_path / "cache"))
    index = json.loads((copy / "index.json").read_text())
    recorded = [[90.0, 100.0, None][i % 3] for i in range(len(index["views"]))]
    for view, tempo in zip(index["views"], recorded, strict=True):
        view["tempo"] = tempo
    (copy / "index.json").write_text(json.dumps(index))
    assert home_tempo(WindowDataset(copy, WINDOW)) == float(np.median([t for t in recorded if t]))
    for view in index["views"]:
        del view["tempo"]
    (copy / "index.json").write_text(json.dumps(index))
    assert home_tempo(WindowDataset(copy, WINDOW)) == pytest.approx(120.0, rel=0.05)  # read from the clicks


def test_unknown_preset(cache, tmp_path, capsys):
    with pytest.raises(SystemExit) as e:  # argparse rejects it before anything runs
        cli.main(["train", "--cache", str(cache), "--out", str(tmp_path / "run"), "--preset", "huge"])
    assert e.value.code == 2
    assert "invalid choice: 'huge'" in capsys.readouterr().err
    with pytest.raises(Dance2DError, match="preset 'huge'"):
        train(config(cache, tmp_path / "run", preset="huge"))


def test_frames_must_match_reference_latents(cache, tmp_path):
    with pytest.raises(Dance2DError, match="--frames"):
        train(config(cache, tmp_path / "run", frames=2 * WINDOW))
    assert not (tmp_path / "run" / "last.safetensors").exists()


def test_batch_must_split_into_accumulation_steps(cache, tmp_path):
    with pytest.raises(Dance2DError, match="multiple of --accum"):
        train(config(cache, tmp_path / "run", batch=5, accum=2))


def test_lr_warmup_then_cosine_to_floor():
    cfg = TrainConfig(cache="", out="", lr=1e-3, warmup=10, steps=110, min_lr_ratio=0.1)
    lrs = np.array([lr_at(s, cfg) for s in range(cfg.steps + 1)])
    np.testing.assert_allclose(lrs[:10], cfg.lr * np.arange(1, 11) / 10)  # linear warm-up reaching lr
    assert np.all(np.diff(lrs[10:]) <= 1e-15)  # then non-increasing
    np.testing.assert_allclose(lrs[60], cfg.lr * (1 + cfg.min_lr_ratio) / 2)  # half-way through the cosine
    np.testing.assert_allclose(lrs[-1], cfg.lr * cfg.min_lr_ratio)  # the floor at the last step
    assert lr_at(10 * cfg.steps, cfg) == pytest.approx(cfg.lr * cfg.min_lr_ratio)


def test_accumulation_gives_the_same_gradient(cache, tmp_path):
    cfg = config(cache, tmp_path / "run")
    tr = Trainer(cfg)
    items = tr.draw(4)
    data, ref = tr.data, tr.model_cfg.reference
    full = make_batch(items, data, cfg, torch.Generator().manual_seed(0), ref)
    gen = torch.Generator().manual_seed(0)  # the split batches draw the same pose-aware replacements
    halves = [make_batch({k: v[:2] for k, v in items.items()}, data, cfg, gen, ref),
              make_batch({k: v[2:] for k, v in items.items()}, data, cfg, gen, ref)]
    for k, v in full.items():
        torch.testing.assert_close(torch.cat([h[k] for h in halves]), v)
    tau = tr.schedule.sample_tau(4, torch.Generator().manual_seed(1))
    eps = torch.randn(full["z0"].shape, generator=torch.Generator().manual_seed(2))

    def grads(batches, sl):
        tr.model.zero_grad(set_to_none=True)
        for b, s in zip(batches, sl, strict=True):
            b = dict(b)
            z0 = b.pop("z0")
            (diffusion_loss(tr.model, z0, tau[s], eps[s], tr.schedule, **b) / len(batches)).backward()
        return [p.grad.clone() for p in tr.model.parameters()]

    one = grads([full], [slice(0, 4)])
    two = grads(halves, [slice(0, 2), slice(2, 4)])
    assert any(g.abs().sum() > 0 for g in one)
    for a, b in zip(one, two, strict=True):
        torch.testing.assert_close(b, a, rtol=1e-4, atol=1e-6)
    # The loop's own accumulation path: two micro-batches of 2 windows each, one optimizer step.
    tr2 = Trainer(config(cache, tmp_path / "run2", accum=2))
    before = [p.detach().clone() for p in tr2.model.parameters()]
    assert np.isfinite(tr2.train_step()) and tr2.step == 1
    assert any(not torch.equal(a, p) for a, p in zip(before, tr2.model.parameters(), strict=True))


def autocast_seen(tr: Trainer) -> dict:
    """Autocast state and output dtype inside the model's forward during one train step."""
    seen = {}

    def hook(module, args, output):
        seen.update(cpu=torch.is_autocast_enabled("cpu"), cuda=torch.is_autocast_enabled("cuda"), dtype=output.dtype)

    handle = tr.model.register_forward_hook(hook)
    tr.train_step()
    handle.remove()
    return seen


@pytest.mark.parametrize(("precision", "native", "bf16"), [("float32", True, False), ("bf16", False, True),
                                                       ("auto", True, True), ("auto", False, False)])
def test_cpu_precision(cache, tmp_path, monkeypatch, precision, native, bf16):
    """--precision auto computes the forward pass in bf16 where the CPU runs it natively (AMX, AVX-512 BF16), bf16
    and float32 force it; the weights stay float32 either way."""
    import dance2d.train as train_module

    monkeypatch.setattr(train_module, "fast_dtype", lambda device: torch.bfloat16 if native else torch.float32)
    tr = Trainer(config(cache, tmp_path / "run", precision=precision))
    assert tr.device.type == "cpu"
    assert autocast_seen(tr) == dict(cpu=bf16, cuda=False, dtype=torch.bfloat16 if bf16 else torch.float32)
    assert all(p.dtype == torch.float32 for p in tr.model.parameters())
    with pytest.raises(Dance2DError, match="--precision 'half' is not one of auto, bf16, float32"):
        Trainer(config(cache, tmp_path / "bad", precision="half"))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="bf16 autocast is CUDA-only")
def test_bf16_autocast_on_cuda(cache, tmp_path):
    tr = Trainer(config(cache, tmp_path / "run"))
    assert tr.device.type == "cuda"
    seen = autocast_seen(tr)
    assert seen["cuda"] and seen["dtype"] == torch.bfloat16
    assert all(p.dtype == torch.float32 for p in tr.model.parameters())  # master weights stay fp32


DDP_SCRIPT = """
import json, sys
import torch
import torch.distributed as td
from dance2d.train import Trainer, TrainConfig

torch.set_num_threads(1)
cfg = TrainConfig(cache=sys.argv[1], out=sys.argv[2], preset="tiny", frames=int(sys.argv[3]), steps=2, batch=2,
                  warmup=1, sample_every=0, threads=1)
tr = Trainer(cfg)
flat = lambda m: torch.cat([p.detach().flatten() for p in m.parameters()])
start = flat(tr.model).clone()
losses = [tr.train_step() for _ in range(cfg.steps)]
mine = [flat(tr.model), flat(tr.ema), start, torch.tensor(losses, dtype=torch.float32)]
report = []
for t in mine:
    got = [torch.zeros_like(t) for _ in range(td.get_world_size())]
    td.all_gather(got, t)
    report.append([g.tolist() for g in got])
if td.get_rank() == 0:
    with open(sys.argv[4], "w") as f:
        json.dump(dict(model=report[0], ema=report[1], start=report[2], losses=report[3]), f)
td.barrier()  # both ranks leave together: a rank tearing down gloo while its peer still works can abort it
td.destroy_process_group()
"""


def torchrun(args: list[str], timeout: float = 240) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", *args]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)


def test_ddp_replicas_stay_identical(cache, tmp_path):
    script = tmp_path / "ddp_check.py"
    script.write_text(textwrap.dedent(DDP_SCRIPT))
    result = tmp_path / "ranks.json"
    proc = torchrun([str(script), str(cache), str(tmp_path / "run"), str(WINDOW), str(result)])
    assert proc.returncode == 0, proc.stderr[:4000] + " … " + proc.stderr[-2000:]  # the ranks speak first
    r = json.loads(result.read_text())
    assert r["start"][0] == r["start"][1]  # same initial weights
    assert r["model"][0] == r["model"][1] and r["ema"][0] == r["ema"][1]  # all-reduced gradients keep replicas equal
    assert r["model"][0] != r["start"][0]  # and training moved them
    assert r["losses"][0] != r["losses"][1]  # each rank drew its own windows


def test_torchrun_cli(cache, tmp_path):
    run = tmp_path / "run"
    proc = torchrun(["-m", "dance2d", "train", "--cache", str(cache), "--out", str(run), "--preset", "tiny",
                     "--steps", "3", "--batch", "2", "--threads", "1", "--frames", str(WINDOW), "--log-every",
                     "1", "--sample-every", "0"])
    assert proc.returncode == 0, proc.stderr[:4000] + " … " + proc.stderr[-2000:]  # the ranks speak first
    assert [r["step"] for r in read_log(run)] == [1, 2, 3]  # rank 0 alone writes the log
    assert read_config(run / "last.safetensors")["train"]["steps"] == 3
    assert torch.load(run / "train_state.pt", weights_only=True)["step"] == 3


def test_pose_aware_batches_take_the_first_n_frames_from_the_window(cache, tmp_path):
    """With p = 1 every window's reference is pose-aware: Z_ref starts with the window's own first N frames."""
    tr = Trainer(config(cache, tmp_path / "run", ref_prob=1.0, pose_aware_frames=12))
    batch = make_batch(tr.draw(3), tr.data, tr.cfg, torch.Generator().manual_seed(0), True)
    n = 12  # the raw codec has one frame per latent column
    assert torch.equal(batch["ref"][..., :n], batch["z0"][..., :n]) and not torch.equal(batch["ref"], batch["z0"])
    assert batch["mask"][..., :n].all() and not batch["mask"][..., n:].any()
    assert tr.config["data"]["pose_aware_frames"] == n  # generation reads N from the checkpoint


def test_resume_a_run_written_before_data_config(cache, tmp_path):
    """A run folder whose checkpoint has the old data keys ("ref_frames" for N) resumes instead of being refused."""
    run = tmp_path / "run"
    train(config(cache, run, steps=2))
    state, saved = load_checkpoint(run / "last.safetensors")
    saved["data"]["ref_frames"] = saved["data"].pop("pose_aware_frames")
    save_checkpoint(run / "last.safetensors", state, saved)
    train(config(cache, run, steps=3))
    assert [r["step"] for r in read_log(run)] == [1, 2, 3]


def test_benchmark_synthetic_cache_is_a_valid_cache(tmp_path):
    """benchmarks/train.py builds its cache with the library's writer: it must stay readable as a training cache."""
    bench = load_script("benchmarks/train.py")
    bench.synth_cache(tmp_path, 32, 64, views=2, length=64)
    data = WindowDataset(tmp_path, 32)
    assert len(data) > 0 and data.data.latent_mean == [0.0] * 384 and data.data.latent_std == [1.0] * 384


def test_loss_by_noise_ranks_a_trained_model_below_its_start(cache, tmp_path):
    """scripts/loss_by_noise.py: the same windows and noise for every model, so a trained model scores lower."""
    script = load_script("scripts/loss_by_noise.py")
    start = train(config(cache, tmp_path / "start", steps=1, lr=1e-6, warmup=1))
    trained = train(config(cache, tmp_path / "trained", steps=40, lr=3e-3, warmup=4))
    taus = [50, 400, 900]
    before = script.loss_by_noise(str(start), str(cache), taus, windows=8, batch=4)
    again = script.loss_by_noise(str(start), str(cache), taus, windows=8, batch=4)
    after = script.loss_by_noise(str(trained), str(cache), taus, windows=8, batch=4)
    assert before == again and len(before) == len(taus) and np.isfinite(before).all()
    assert sum(after) < sum(before)


def test_loss_plot_chains_stages_and_overlays_a_twin(tmp_path, monkeypatch):
    """scripts/plot_loss.py: stages chain, an --overlay run starts where the last stage starts, and a malformed
    overlay is one sentence."""
    from PIL import Image

    plot = load_script("scripts/plot_loss.py")
    logs = []
    for name, losses in (("a", [1.0, 0.5]), ("b", [0.4, 0.3]), ("twin", [0.6, 0.2])):
        p = tmp_path / f"{name}.jsonl"
        p.write_text("".join(json.dumps({"step": 10 * (i + 1), "loss": v}) + "\n" for i, v in enumerate(losses)))
        logs.append(p)
    steps, losses, starts = plot.chain([str(logs[0]), str(logs[1])])
    assert list(steps) == [10, 20, 30, 40] and list(losses) == [1.0, 0.5, 0.4, 0.3] and starts == [0.0, 20.0]
    out = tmp_path / "curve.png"
    monkeypatch.setattr("sys.argv", ["plot_loss.py", str(out), str(logs[0]), str(logs[1]),
                                     "--overlay", f"twin={logs[2]}", "--label", "b"])
    plot.main()
    img = Image.open(out).convert("RGB")
    colours = set(img.getdata())
    assert img.size == (plot.W, plot.H) and (200, 40, 40) in colours and (40, 90, 200) in colours  # both curves
    monkeypatch.setattr("sys.argv", ["plot_loss.py", str(out), str(logs[0]), "--overlay", str(logs[2])])
    with pytest.raises(SystemExit, match="LABEL=LOG"):
        plot.main()
