"""The bundled model loads by default and makes a plausible dance (slow: it runs the real model)."""

import numpy as np
import pytest
from conftest import click_track

from dance2d.metrics.fidelity import body_proportion_error, scale_fidelity, seam_continuity
from dance2d.pipeline import Dance2D, bundled_model_path

pytestmark = pytest.mark.slow
EXAMPLE = bundled_model_path().parents[4] / "examples" / "sixtyfour_excerpt.ogg"


@pytest.fixture(scope="module")
def dance():
    pipe = Dance2D.from_pretrained()
    return pipe, pipe.generate(EXAMPLE, None, seed=0, end=12.0)[0]


def test_bundled_model_is_the_default_and_small():
    path = bundled_model_path()
    assert path.is_file() and path.stat().st_size < 60 * 2**20
    pipe = Dance2D.from_pretrained()
    assert pipe.config["data"]["fps"] == 25.0 and pipe.config["train"]["preset"] == "small"


def test_bundled_dance_keeps_the_reference_and_moves(dance):
    pipe, seq = dance
    assert len(seq) == 300 and np.isfinite(seq.keypoints).all()
    ref, _ = pipe.reference_pose(None)
    kp = seq.pixels()
    r = ref.copy()
    r[:, 0] *= seq.canvas[0]
    r[:, 1] *= seq.canvas[1]
    body = list(range(14))
    conf = kp[:, body, 2]
    assert np.median(conf) > 0.5  # body joints are present, not faded out
    # on-screen scale within ±35 % of the reference (a dancer bends and steps, so some change is real)
    assert abs(scale_fidelity(kp[:, body, :2], r[body, :2], confidence=conf)["scale_ratio"] - 1) < 0.35
    assert body_proportion_error(kp[:, :, :2], r[:, :2], confidence=kp[..., 2], reference_confidence=r[:, 2]) < 0.5
    speed = np.linalg.norm(np.diff(seq.keypoints[:, body, :2], axis=0), axis=-1)
    assert np.median(speed) > 1e-3  # it dances rather than standing still


def test_bundled_seams_are_no_rougher_than_the_rest(dance):
    """Stitching, without the beat accent's pace changes (a seam that falls between two beats is played 1.7× as fast
    as the median frame, whatever the stitch)."""
    pipe, _ = dance
    [seq] = pipe.generate(EXAMPLE, None, seed=0, end=12.0, beat_accent=0.0)
    ratio = seam_continuity(seq.keypoints[:, :14, :2], seq.meta["seams"], confidence=seq.keypoints[:, :14, 2])
    assert ratio["seam_ratio_max"] < 3.0  # a seam step is at most 3× the median step elsewhere


# Pin of the default bundled model src/dance2d/assets/model/raw.safetensors: a fingerprint of the generation in
# test_bundled_generation_fingerprint (defaults but no smoothing: reframing, retargeting, the model's beat accent,
# the in-frame pan). It proves that refactors leave the generation path unchanged. Different builds of numpy /
# librosa / torch move keypoints by ~1e-5, so the fingerprint is compared with a tolerance of 1e-3 (a fifth of a
# pixel on a 200-px canvas) rather than as a hash of rounded values, which flipped between two installs of the same
# versions. Whoever replaces the bundled model or deliberately changes the generation path regenerates it: run the
# test and copy the values it reports.
FINGERPRINT_AT = ((0, 1), (40, 4), (80, 7), (111, 10), (112, 13), (150, 2), (199, 9))  # (frame, joint), sample 0 and 1
BUNDLED_MODEL_FINGERPRINT = np.array([
    0.50000, 0.39000, 0.71663, 0.48054, 0.19198, 0.55195, 0.69223, 0.77194, 0.44021, 0.76615, 0.30688, 0.34556,
    0.31507, 0.67175, 0.50000, 0.39000, 0.57820, 0.37274, 0.90544, 0.31124, 0.51638, 0.76023, 0.28459, 0.77807,
    0.34576, 0.36340, 0.22587, 0.71424, 0.40212, 0.42897, 0.87583,
])


def fingerprint(kp: np.ndarray) -> np.ndarray:
    """x, y of a few (frame, joint) pairs of both samples, and the mean x, y and presence."""
    picks = [kp[s, t, k, :2] for s in range(2) for t, k in FINGERPRINT_AT]
    return np.concatenate([np.concatenate(picks), kp[..., :2].mean((0, 1, 2)), [kp[..., 2].mean()]])


def test_bundled_generation_fingerprint(tmp_path):
    """8 s of a 120 BPM click track, two samples (danced at the home tempo, 86 BPM: three segments each, shape-only,
    then pose-aware), float32, no smoothing, default reframing, retargeting, tempo sync and dynamics."""
    pipe = Dance2D.from_pretrained(fast=False)  # fast=True picks bf16 where the CPU runs it: results would vary
    seqs = pipe.generate(click_track(tmp_path / "song.wav", 8.0), None, seed=0, steps=4, smooth=0, num_samples=2)
    kp = np.stack([s.keypoints for s in seqs])  # (2, 200, 18, 3)
    rate = seqs[0].meta["tempo"]["rate"]  # tempo sync: the model danced 200 · rate frames, its first seam at 112
    seams = seqs[0].meta["seams"]  # the beat accent moves it by up to a frame (exact mapping: test_drive.py)
    assert kp.shape == (2, 200, 18, 3) and len(seams) == 2 and abs(seams[0] - 112 / rate) <= 1.5
    got = fingerprint(kp)
    assert np.allclose(got, BUNDLED_MODEL_FINGERPRINT, atol=1e-3), f"generation changed: {np.round(got, 5).tolist()}"


def test_both_models_ship_and_load_by_name():
    """`raw` (default) and `onehot` load by name; both files together stay within 60 MB."""
    from dance2d.pipeline import MODELS

    assert set(MODELS) == {"raw", "onehot"}
    assert sum(bundled_model_path(n).stat().st_size for n in MODELS) <= 60 * 2**20
    onehot = Dance2D.from_pretrained("onehot")
    assert onehot.data.codec == "taef2" and onehot.diffusion.prediction == "x"
    raw = Dance2D.from_pretrained("raw")
    assert raw.data.codec == "raw" and raw.diffusion.prediction == "x"


@pytest.mark.parametrize("name", ["raw", "onehot"])
def test_model_card_states_the_shipped_file(name):
    """The card's size, parameter count and transformer shape are those of the bundled file (they are typed by hand,
    and one card once gave the other model's parameter count)."""
    import re

    from safetensors import safe_open

    from dance2d.checkpoint import read_config

    path = bundled_model_path(name)
    card = (path.parents[4] / "docs" / f"MODEL_CARD_{name}.md").read_text(encoding="utf-8")
    with safe_open(str(path), "pt") as f:
        params = sum(int(np.prod(f.get_slice(k).get_shape())) for k in f.keys())
    model = read_config(path)["model"]
    assert f"{params / 1e6:.1f} M parameters" in card
    assert f"{path.stat().st_size / 2**20:.1f} MiB" in card
    assert re.search(rf"dim {model['dim']}, depth {model['depth']}\b", card)
