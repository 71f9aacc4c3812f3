"""scripts/bundle_model.py: a trained checkpoint becomes a released file with its own generation settings and no
local paths."""

import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import tiny_config

from dance2d.checkpoint import load_checkpoint, read_config, save_checkpoint
from dance2d.pipeline import Dance2D

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "bundle_model.py"


def run(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *map(str, args)], capture_output=True, text=True)


def test_bundle_keeps_the_recipe_without_local_paths_and_merges_generation_settings(tmp_path):
    model, config = tiny_config("taef2")
    config["data"]["home_tempo"] = 110.0
    config["generation"] = {"smooth": 4.0, "guidance": 1.0}
    config["train"] = {"cache": "/home/someone/cache/dwm_w256", "out": "/tmp/runs/oh", "init": None, "lr": 1e-4}
    trained = tmp_path / "last.safetensors"
    save_checkpoint(trained, model.state_dict(), config)
    out = tmp_path / "released" / "oh.safetensors"
    done = run(trained, "--presence", 0.2, "--beat-accent", 0.5, "--track", 0.3, "--dynamics", 1.4, "--out", out)
    assert done.returncode == 0, done.stderr
    saved = read_config(out)
    assert saved["generation"] == {"smooth": 4.0, "guidance": 1.0, "presence": 0.2, "beat_accent": 0.5, "track": 0.3,
                                   "dynamics": 1.4}
    assert saved["train"] == {"cache": "dwm_w256", "out": "oh", "init": None, "lr": 1e-4}
    state, _ = load_checkpoint(out)
    assert all(v.dtype == torch.float16 for v in state.values() if v.is_floating_point())
    pipe = Dance2D.from_pretrained(out)
    assert (pipe.rep.presence, pipe.rep.track) == (0.2, 0.3)
    assert (pipe.smooth, pipe.guidance, pipe.beat_accent, pipe.dynamics) == (4.0, 1.0, 0.5, 1.4)


def test_bundle_refuses_a_presence_the_model_could_not_load(tmp_path):
    model, config = tiny_config("taef2")
    config["data"]["home_tempo"] = 110.0
    trained = tmp_path / "last.safetensors"
    save_checkpoint(trained, model.state_dict(), config)
    done = run(trained, "--presence", 1.5, "--out", tmp_path / "oh.safetensors")
    assert done.returncode != 0 and "presence fraction 1.5" in done.stderr
    assert not (tmp_path / "oh.safetensors").exists()


def test_bundle_sets_a_calibrated_home_tempo_and_nothing_else(tmp_path):
    model, config = tiny_config("raw")
    config["data"]["home_tempo"] = 110.0
    trained = tmp_path / "last.safetensors"
    save_checkpoint(trained, model.state_dict(), config)
    out = tmp_path / "raw.safetensors"
    done = run(trained, "--home-tempo", 86, "--out", out)
    assert done.returncode == 0, done.stderr
    assert Dance2D.from_pretrained(out).data.home_tempo == 86.0
    before, after = load_checkpoint(trained)[0], load_checkpoint(out)[0]
    assert all(torch.equal(before[k].half(), after[k]) for k in before if before[k].is_floating_point())
    for bad in (["--home-tempo", 1e4], ["--home-tempo", "nan"], ["--home-tempo", 86, "--cache", tmp_path]):
        done = run(trained, *bad, "--out", tmp_path / "bad.safetensors")
        assert done.returncode != 0 and "--home-tempo" in done.stderr
    assert not (tmp_path / "bad.safetensors").exists()


@pytest.mark.parametrize("args", [(), ("raw", "--out", "x.safetensors")])
def test_bundle_needs_exactly_one_destination(tmp_path, args):
    done = run(tmp_path / "missing.safetensors", *args)
    assert done.returncode != 0 and "exactly one" in done.stderr


def test_average_of_a_lineage_is_the_mean_of_its_weights_and_refuses_another_model(tmp_path):
    model, config = tiny_config("taef2")
    config["data"]["home_tempo"] = 110.0
    config["generation"] = {"smooth": 4.0}
    states = []
    for i in range(3):  # three checkpoints of one run: the same model, weights moved apart
        torch.manual_seed(i)
        state = {k: v + torch.randn_like(v) if v.is_floating_point() else v for k, v in model.state_dict().items()}
        save_checkpoint(tmp_path / f"c{i}.safetensors", state, dict(config, train={"out": f"/runs/s{i}"}))
        states.append(state)
    out = tmp_path / "avg.safetensors"
    done = run(tmp_path / "c2.safetensors", "--average", tmp_path / "c0.safetensors", "--average",
               tmp_path / "c1.safetensors", "--out", out)
    assert done.returncode == 0, done.stderr
    avg, saved = load_checkpoint(out)
    for k, v in avg.items():
        want = sum(s[k].double() for s in states) / 3 if v.is_floating_point() else states[2][k]
        torch.testing.assert_close(v.double(), want.to(v.dtype).double(), rtol=0, atol=0)
    assert saved["train"] == {"out": "s2", "averaged_with": ["c0.safetensors", "c1.safetensors"]}
    assert saved["generation"] == {"smooth": 4.0}  # the first checkpoint's settings
    other_model, other = tiny_config("raw")
    other["data"]["home_tempo"] = 110.0
    save_checkpoint(tmp_path / "raw.safetensors", other_model.state_dict(), other)
    done = run(tmp_path / "c0.safetensors", "--average", tmp_path / "raw.safetensors", "--out", tmp_path / "x.st")
    assert done.returncode != 0 and "raw.safetensors is not the same model" in done.stderr
    assert not (tmp_path / "x.st").exists()
