"""The accelerator recipe runs end to end on CPU with a tiny model: pack → one-hot or raw cache → train → shards."""

import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file

from dance2d.checkpoint import load_checkpoint, read_config, save_sharded
from dance2d.errors import Dance2DError
from dance2d.pipeline import Dance2D

ROOT = Path(__file__).resolve().parents[1]


def fake_cache(folder: Path, reference_pose: np.ndarray, views: int = 3, frames: int = 160) -> Path:
    """A cache folder with what the pack reads: index.json and per-view keypoints + music."""
    folder.mkdir()
    rng = np.random.default_rng(0)
    entries = []
    for i in range(views):
        kp = np.repeat(reference_pose[None], frames, 0).copy()
        kp[..., 0] += 0.03 * np.sin(np.arange(frames) / 6 + i)[:, None]
        name = f"song{i % 2}"
        save_file({"keypoints": kp.astype(np.float32), "music": rng.standard_normal((frames, 35)).astype(np.float32)},
                  str(folder / f"{name}__v{i:03d}.safetensors"))
        entries.append({"file": f"{name}__v{i:03d}.safetensors", "name": name, "frames": frames})
    (folder / "index.json").write_text(json.dumps({"fps": 25.0, "layout": "openpose18", "canvas": [512, 512],
                                                   "views": entries}))
    return folder


@pytest.mark.slow
def test_device_recipe_runs_on_cpu_with_a_tiny_model(tmp_path, reference_pose):
    cache = fake_cache(tmp_path / "cache", reference_pose)
    pack = tmp_path / "pack.npz"
    subprocess.run([sys.executable, str(ROOT / "scripts" / "pack_device_data.py"), str(cache), str(pack)], check=True)
    out = tmp_path / "weights"
    env = dict(os.environ, PACK=str(pack), PYTHON=sys.executable)
    tiny = ["--preset", "tiny", "--steps", "5", "--batch", "4", "--max-views", "2"]
    res = subprocess.run(["bash", str(ROOT / "scripts" / "train_device.sh"), str(out), *tiny, "--triplets", "paper"],
                         env=env, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr[-2000:]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["steps"] == 5 and summary["mib"] <= 60
    assert summary["views"] == 2  # the packed view and its mirror (the pack leaves mirrors to the GPU machine)
    assert all((out / s).stat().st_size <= 16 * 2**20 for s in summary["shards"])
    config = read_config(out)
    assert config["data"]["codec"] == "taef2" and config["diffusion"]["prediction"] == "x"
    pipe = Dance2D.from_pretrained(out)  # the shard folder loads like a checkpoint
    assert pipe.model.config.latent_channels == 384
    # a later run warm-starts from those shards and encodes its cache in their triplet order (the default is spread)
    more = tmp_path / "more"
    res = subprocess.run(["bash", str(ROOT / "scripts" / "train_device.sh"), str(more), *tiny, "--init", str(out),
                          "--schedule", "scaled_linear_low_snr"], env=env, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr[-2000:]
    assert "warm start from" in res.stdout + res.stderr
    assert read_config(more)["data"]["triplets"] == "paper"
    assert read_config(more)["diffusion"]["schedule"] == "scaled_linear_low_snr"
    # the raw-coordinate model trains from the same pack (no codec weights), and a raw warm start keeps raw
    raw = tmp_path / "raw"
    res = subprocess.run(["bash", str(ROOT / "scripts" / "train_device.sh"), str(raw), *tiny, "--codec", "raw"],
                         env=env, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr[-2000:]
    config = read_config(raw)
    assert config["data"]["codec"] == "raw" and config["model"]["patch_w"] == 1
    assert Dance2D.from_pretrained(raw).model.config.latent_channels == 54
    res = subprocess.run(["bash", str(ROOT / "scripts" / "train_device.sh"), str(tmp_path / "raw2"), *tiny,
                          "--init", str(raw)], env=env, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr[-2000:]
    assert read_config(tmp_path / "raw2")["data"]["codec"] == "raw"


@pytest.mark.slow
def test_prepared_device_call_trains_both_models(tmp_path, reference_pose):
    """scripts/device_run.sh, the one call a lent GPU gets, runs both runs to shards (here: `small`, 2 steps, on
    CPU) and packs their logs into one file, so the call that costs device minutes has run before."""
    pack = tmp_path / "pack.npz"
    subprocess.run([sys.executable, str(ROOT / "scripts" / "pack_device_data.py"),
                    str(fake_cache(tmp_path / "cache", reference_pose)), str(pack)], check=True)
    out = tmp_path / "out"
    res = subprocess.run(["bash", str(ROOT / "scripts" / "device_run.sh"), str(out), "1", "--steps", "2",
                          "--batch", "2", "--max-views", "1"],
                         env=dict(os.environ, PACK=str(pack), PYTHON=sys.executable), capture_output=True, text=True)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    oh, raw = read_config(out / "oh"), read_config(out / "raw")
    assert (oh["data"]["codec"], oh["model"]["patch_w"], oh["diffusion"]["schedule"]) == \
        ("taef2", 1, "scaled_linear_low_snr")
    assert raw["data"]["codec"] == "raw" and raw["train"]["init"].endswith("raw.safetensors")
    with tarfile.open(out / "meta.tar") as t:
        assert sorted(t.getnames()) == sorted(["oh.log", "raw.log", "oh/log.jsonl", "oh/summary.json",
                                               "raw/log.jsonl", "raw/summary.json"])
    files = [f for f in out.rglob("*") if f.is_file()]
    assert len(files) <= 8 and all(f.stat().st_size <= 16 * 2**20 for f in files)  # what the device tool returns


def test_pack_codes_keypoints_to_an_eighth_of_a_pixel(reference_pose):
    """The pack's delta-coded int16 keypoints decode to within half a quantisation step, visibility exact."""
    sys.path.insert(0, str(ROOT / "scripts"))
    from pack_device_data import QUANT, dequantize, quantize

    rng = np.random.default_rng(0)
    kp = np.repeat(reference_pose[None], 200, 0).astype(np.float32)
    kp[..., :2] += np.cumsum(rng.normal(0, 0.004, (200, 18, 2)), 0)  # a random walk, partly off the canvas
    kp[5:9, 3, 2] = 0
    d, visible = quantize(kp)
    assert d.dtype == np.int16 and visible.dtype == np.uint8
    back = dequantize(d, visible)
    assert np.abs(back[..., :2] - kp[..., :2]).max() <= 0.5 / QUANT + 1e-7
    assert np.array_equal(back[..., 2], kp[..., 2])


def test_missing_pack_is_one_sentence(tmp_path):
    res = subprocess.run(["bash", str(ROOT / "scripts" / "train_device.sh"), str(tmp_path / "w")],
                         env=dict(os.environ, PACK=str(tmp_path / "none.npz")), capture_output=True, text=True)
    assert res.returncode == 2 and "pack_device_data.py" in res.stderr


def test_sharded_checkpoints_round_trip_and_report_missing_shards(tmp_path):
    import torch

    state = {f"w{i}": torch.randn(300, 300) for i in range(5)}  # 360 kB each
    paths = save_sharded(tmp_path / "m", state, {"model": {}, "data": {}}, max_bytes=800_000)
    assert len(paths) == 3
    loaded, config = load_checkpoint(tmp_path / "m")
    assert set(loaded) == set(state) and all(torch.equal(loaded[k], state[k]) for k in state)
    paths[1].unlink()
    with pytest.raises(Dance2DError, match="2 of the 3 shards"):
        load_checkpoint(tmp_path / "m")
