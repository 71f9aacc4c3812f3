"""Generation: frame counts, stitching, reproducibility, checkpoints and bad inputs (tiny random model)."""

import json

import numpy as np
import pytest
import soundfile as sf
import torch
from conftest import click_track, tiny_config

from dance2d.checkpoint import read_config, save_checkpoint
from dance2d.conditioning import POSE_AWARE_FRAMES as OVERLAP
from dance2d.errors import Dance2DError
from dance2d.pipeline import BLEND, Dance2D, stitch
from dance2d.pose import PoseSequence


@pytest.fixture(scope="module")
def pipe(tiny_checkpoint):
    return Dance2D.from_pretrained(tiny_checkpoint)


@pytest.mark.parametrize("seconds", [1.0, 2.57, 7.3])
def test_frame_count_covers_music_exactly(pipe, tmp_path, reference_pose, seconds):
    song = click_track(tmp_path / "s.wav", seconds)
    [seq] = pipe.generate(song, reference_pose, steps=2)
    assert len(seq) == round(seconds * pipe.fps)
    assert np.isfinite(seq.keypoints).all()


def test_start_end_excerpt(pipe, tmp_path, reference_pose):
    song = click_track(tmp_path / "s.wav", 6.0)
    [seq] = pipe.generate(song, reference_pose, steps=2, start=1.5, end=4.0)
    assert len(seq) == round(2.5 * pipe.fps)


def test_an_excerpt_is_danced_as_the_dance_through_it_and_the_run_up_left_out(pipe, tmp_path, reference_pose):
    """start=4 with a 2 s run-up is the dance from 2 s with its first 2 s left out (after its own ease-in from the
    reference); without a run-up the excerpt starts cold and differs; the run-up never reaches before the song."""
    song = click_track(tmp_path / "s.wav", 8.0)
    fps, ease = pipe.fps, 1.0
    [warm] = pipe.generate(song, reference_pose, steps=2, start=4.0, end=7.0, run_up=2.0, ease_in=ease)
    [through] = pipe.generate(song, reference_pose, steps=2, start=2.0, end=7.0, run_up=0.0, ease_in=ease)
    [cold] = pipe.generate(song, reference_pose, steps=2, start=4.0, end=7.0, run_up=0.0, ease_in=ease)
    assert len(warm) == len(cold) == round(3.0 * fps) and warm.meta["run_up"] == 2.0 and cold.meta["run_up"] == 0.0
    after = int(round(ease * fps))
    np.testing.assert_allclose(warm.keypoints[after:], through.keypoints[int(2 * fps) + after:], atol=1e-5)
    np.testing.assert_allclose(warm.keypoints[0, :, :2], cold.keypoints[0, :, :2], atol=1e-5)  # both: the reference
    assert not np.allclose(warm.keypoints[after:], cold.keypoints[after:], atol=1e-3)
    [whole] = pipe.generate(song, reference_pose, steps=2, start=4.0, end=7.0, ease_in=ease)  # default: all before
    assert whole.meta["run_up"] == 4.0 and len(whole) == len(warm)
    [early] = pipe.generate(song, reference_pose, steps=2, start=0.5, end=3.0, run_up=10.0)
    assert early.meta["run_up"] == pytest.approx(0.5, abs=1 / fps) and len(early) == round(2.5 * fps)  # whole frames
    with pytest.raises(Dance2DError, match="run_up"):
        pipe.generate(song, reference_pose, steps=2, start=4.0, run_up=-1.0)


def test_seed_reproducible_and_independent_of_batch(pipe, tmp_path, reference_pose):
    song = click_track(tmp_path / "s.wav", 4.0)
    [a] = pipe.generate(song, reference_pose, steps=3, seed=5)
    [b] = pipe.generate(song, reference_pose, steps=3, seed=5)
    many = pipe.generate(song, reference_pose, steps=3, seed=4, num_samples=3)
    [c] = pipe.generate(song, reference_pose, steps=3, seed=6)
    assert np.array_equal(a.keypoints, b.keypoints)
    assert np.allclose(many[1].keypoints, a.keypoints, atol=1e-5)
    assert not np.allclose(c.keypoints, a.keypoints)


def test_canvas_follows_reference(pipe, tmp_path, reference_pose):
    song = click_track(tmp_path / "s.wav", 2.0)
    ref = PoseSequence(reference_pose[None], 25.0, canvas=(576, 1024))
    assert pipe.generate(song, ref, steps=2)[0].canvas == (576, 1024)


def test_stitch_crossfade_is_continuous():
    t = 64
    hop = t - OVERLAP - BLEND
    segs = np.zeros((3, 1, t, 2, 3), np.float32)
    line = np.arange(2 * hop + t, dtype=np.float32) / 100
    for k in range(3):
        segs[k, 0, :, :, 0] = line[k * hop:k * hop + t, None] + 0.05 * k  # segments disagree by an offset
        segs[k, 0, OVERLAP, :, 0] += 0.3 * (k > 0)  # later ones jump where they leave their reference
        segs[k, 0, :, :, 2] = 1
    out = stitch(segs, hop, 2 * hop + t)[0, :, 0, 0]
    jumps = np.abs(np.diff(out))
    assert jumps.max() < 0.01 + (0.05 + 0.3) / (BLEND + 1) + 1e-6  # offsets are spread over the fade
    assert np.allclose(out[:hop + OVERLAP], line[:hop + OVERLAP])


def test_reference_errors(pipe, tmp_path, reference_pose):
    song = click_track(tmp_path / "s.wav", 2.0)
    bad = reference_pose.copy()
    bad[[8, 11], 2] = 0
    with pytest.raises(Dance2DError, match="r_hip, l_hip are missing"):
        pipe.generate(song, bad, steps=1)
    outside = reference_pose.copy()
    outside[1, 0] = 1.3
    with pytest.raises(Dance2DError, match="outside its canvas"):
        pipe.generate(song, outside, steps=1)
    (tmp_path / "none.json").write_text(json.dumps({"people": [], "canvas_width": 10, "canvas_height": 10}))
    with pytest.raises(Dance2DError, match="no person"):
        pipe.generate(song, tmp_path / "none.json", steps=1)


def test_music_errors(pipe, tmp_path, reference_pose):
    sf.write(tmp_path / "short.wav", np.random.default_rng(0).standard_normal(11025).astype(np.float32) * .1, 22050)
    with pytest.raises(Dance2DError, match="short"):
        pipe.generate(tmp_path / "short.wav", reference_pose, steps=1)
    song = click_track(tmp_path / "s.wav", 3.0)
    with pytest.raises(Dance2DError, match="shorter than 1 s"):
        pipe.generate(song, reference_pose, steps=1, start=2.5)
    with pytest.raises(Dance2DError, match="does not exist|not found|No such"):
        pipe.generate(tmp_path / "nope.mp3", reference_pose, steps=1)


def test_nan_model_output_is_reported(tmp_path, reference_pose):
    model, config = tiny_config()
    with torch.no_grad():
        for p in model.parameters():
            p.fill_(float("nan"))
    pipe = Dance2D.from_config(model, config)
    with pytest.raises(Dance2DError, match="NaN"):
        pipe.generate(click_track(tmp_path / "s.wav", 2.0), reference_pose, steps=1)


def test_checkpoint_errors(tmp_path):
    with pytest.raises(Dance2DError, match="does not exist"):
        Dance2D.from_pretrained(tmp_path / "missing.safetensors")
    (tmp_path / "garbage.safetensors").write_bytes(b"not a checkpoint at all")
    with pytest.raises(Dance2DError, match="not a readable"):
        Dance2D.from_pretrained(tmp_path / "garbage.safetensors")
    model, config = tiny_config()
    broken = dict(config, model=dict(config["model"], no_such_field=1))
    save_checkpoint(tmp_path / "other.safetensors", model.state_dict(), broken)
    assert read_config(tmp_path / "other.safetensors")["model"]["no_such_field"] == 1
    with pytest.raises(Dance2DError, match="another version|does not match"):
        Dance2D.from_pretrained(tmp_path / "other.safetensors")


def test_no_reference_model_stitches_by_inpainting(tmp_path, reference_pose):
    model, config = tiny_config(reference=False)
    pipe = Dance2D.from_config(model, config)
    [seq] = pipe.generate(click_track(tmp_path / "s.wav", 5.0), reference_pose, steps=2)
    assert len(seq) == 125 and np.isfinite(seq.keypoints).all()


def test_anchored_skip_with_zero_network_reproduces_the_reference(tmp_path, reference_pose):
    """ε̂ = σ(Z_τ − α Z_ref) + F with F = 0 is the exact ε of the prior N(Z_ref, I): samples are the reference
    latent plus unit noise (raw codec: coordinates = reference + 0.1·N(0, 1) with unit latent statistics)."""
    model, config = tiny_config()
    config["diffusion"] = {"eps_skip": True, "anchor": True}
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.startswith("final"):
                p.zero_()
    pipe = Dance2D.from_config(model, config)
    seqs = pipe.generate(click_track(tmp_path / "s.wav", 5.0), reference_pose, steps=20, num_samples=4, smooth=0,
                         reframe=False, retarget=False, dynamics=0, tempo_sync=False, ease_in=0, max_gap=0)
    dev = np.stack([s.keypoints[:48, :, :2] for s in seqs]) - reference_pose[None, None, :, :2]  # before any seam
    unit = dev / 0.1  # RawCodec: latent = (x − 0.5) / 0.1
    assert abs(unit.mean()) < 0.05 and abs(unit.std() - 1.0) < 0.1


def test_plain_stitch_keeps_segments_unblended():
    t, hop = 48, 48 - OVERLAP
    segs = np.random.default_rng(0).uniform(size=(3, 1, t, 2, 3)).astype(np.float32)
    out = stitch(segs, hop, 2 * hop + t)[0]
    assert np.array_equal(out[:t], segs[0, 0])
    assert np.array_equal(out[hop + OVERLAP:hop + t], segs[1, 0, OVERLAP:])


def test_smoothing_keeps_linear_motion_and_damps_jitter():
    from dance2d.pipeline import smooth_poses

    t = np.arange(60, dtype=np.float32)
    kp = np.ones((60, 2, 3), np.float32)
    kp[:, :, 0] = 0.2 + 0.005 * t[:, None]
    kp[:, 0, 1] = 0.5 + 0.02 * (-1.0) ** t  # alternating jitter
    kp[10, 1, 2] = 0.0  # a missing joint stays missing and does not move its neighbours
    kp[10, 1, :2] = 0.0
    out = smooth_poses(kp, 1.5)
    assert np.allclose(out[5:-5, 0, 0], kp[5:-5, 0, 0], atol=1e-5)
    assert np.abs(np.diff(out[5:-5, 0, 1])).max() < 0.1 * np.abs(np.diff(kp[5:-5, 0, 1])).max()
    # an unweighted filter would pull frame 11 towards the missing joint's (0, 0) by ≈ 0.05
    assert out[10, 1, 2] == 0 and abs(out[11, 1, 0] - kp[11, 1, 0]) < 0.005
    assert np.array_equal(smooth_poses(kp, 0), kp)


def test_a_model_can_ship_its_own_smoothing_guidance_beat_accent_and_dynamics(tmp_path, reference_pose, monkeypatch):
    """A checkpoint's "generation" section sets the default smoothing, guidance, beat accent and dynamics (each
    bundled model ships its own); explicit values override them, and the dance records what was used."""
    model, config = tiny_config()
    plain = Dance2D.from_config(model, config)
    smoothed = Dance2D.from_config(model, dict(config, generation={"smooth": 3.0}))
    song = click_track(tmp_path / "s.wav", 3.0)
    kw = dict(steps=1, tempo_sync=False)
    [a] = smoothed.generate(song, reference_pose, **kw)
    [b] = plain.generate(song, reference_pose, smooth=3.0, **kw)
    [c] = smoothed.generate(song, reference_pose, smooth=0, **kw)
    [d] = plain.generate(song, reference_pose, **kw)
    assert plain.smooth == 0 and a.meta["smooth"] == 3.0 and c.meta["smooth"] == 0
    assert np.array_equal(a.keypoints, b.keypoints) and np.array_equal(c.keypoints, d.keypoints)
    assert not np.array_equal(a.keypoints, c.keypoints)
    import dance2d.pipeline as pipeline

    seen = []  # the guidance scale that reaches the sampler's denoiser

    def spy(denoise, guidance, cond):
        seen.append(guidance)
        return cfg_denoiser(denoise, guidance, cond)

    cfg_denoiser = pipeline.cfg_denoiser
    monkeypatch.setattr(pipeline, "cfg_denoiser", spy)
    unguided = Dance2D.from_config(model, dict(config, generation={"guidance": 1.0}))
    [e] = unguided.generate(song, reference_pose, **kw)
    [f] = unguided.generate(song, reference_pose, guidance=3.0, **kw)
    plain.generate(song, reference_pose, **kw)
    assert set(seen) == {1.0, 3.0, pipeline.GUIDANCE} and (e.meta["guidance"], f.meta["guidance"]) == (1.0, 3.0)
    song = click_track(tmp_path / "long.wav", 6.0)  # beats to accent: tempo sync on
    light = Dance2D.from_config(model, dict(config, generation={"beat_accent": 0.2}))
    [g] = light.generate(song, reference_pose, steps=1)
    [h] = plain.generate(song, reference_pose, steps=1, beat_accent=0.2)
    [i] = light.generate(song, reference_pose, steps=1, beat_accent=pipeline.BEAT_ACCENT)
    [j] = plain.generate(song, reference_pose, steps=1)
    assert (g.meta["beat_accent"], i.meta["beat_accent"], j.meta["beat_accent"]) == (0.2, *[pipeline.BEAT_ACCENT] * 2)
    assert np.array_equal(g.keypoints, h.keypoints) and np.array_equal(i.keypoints, j.keypoints)
    assert not np.array_equal(g.keypoints, j.keypoints)
    with pytest.raises(Dance2DError, match="beat_accent"):
        Dance2D.from_config(model, dict(config, generation={"beat_accent": 5.0})).generate(song, reference_pose)
    loud = Dance2D.from_config(model, dict(config, generation={"dynamics": 1.5}))
    song = tmp_path / "swell.wav"  # quiet, then loud: the loudness gain has something to follow
    t = np.arange(6 * 22050) / 22050
    sf.write(song, (np.where(t < 3, 0.02, 0.5) * np.sin(2 * np.pi * 220 * t)).astype(np.float32), 22050)
    kw = dict(steps=1, tempo_sync=False, smooth=0)
    [k] = loud.generate(song, reference_pose, **kw)
    [m] = plain.generate(song, reference_pose, dynamics=1.5, **kw)
    [o] = loud.generate(song, reference_pose, dynamics=pipeline.STRENGTH, **kw)
    [p] = plain.generate(song, reference_pose, **kw)
    assert (k.meta["dynamics"], o.meta["dynamics"], p.meta["dynamics"]) == (1.5, pipeline.STRENGTH, pipeline.STRENGTH)
    assert np.array_equal(k.keypoints, m.keypoints) and np.array_equal(o.keypoints, p.keypoints)
    assert not np.array_equal(k.keypoints, p.keypoints)


def test_smoothing_runs_on_the_model_motion_before_the_music_and_the_person(tmp_path, reference_pose, monkeypatch):
    """Smoothing removes the model's jitter, so it runs before the beat-accented playback, the loudness gain,
    retargeting and the ease-in: the dance still starts exactly at the reference pose, and the playback sees the
    smoothed model frames."""
    import dance2d.pipeline as pipeline

    model, config = tiny_config()
    pipe = Dance2D.from_config(model, config)
    song = click_track(tmp_path / "s.wav", 4.0)
    played = []  # what the beat-accented playback resamples

    def spy(kp, at):
        played.append(kp.copy())
        return sample_frames(kp, at)

    sample_frames = pipeline.sample_frames
    monkeypatch.setattr(pipeline, "sample_frames", spy)
    [rough] = pipe.generate(song, reference_pose, steps=1, smooth=0)
    [smooth] = pipe.generate(song, reference_pose, steps=1, smooth=4.0)
    shown = reference_pose[:, 2] > 0
    assert np.allclose(smooth.keypoints[0, shown, :2], reference_pose[shown, :2], atol=1e-3)
    assert len(played) == 2 and np.array_equal(played[1], pipeline.smooth_poses(played[0], 4.0))
    assert not np.allclose(rough.keypoints, smooth.keypoints)


def test_generate_blend_switch(pipe, tmp_path, reference_pose):
    song = click_track(tmp_path / "s.wav", 5.0)
    # gap bridging, retargeting, dynamics, the beat-accented playback and the in-frame pan see the whole dance
    kw = dict(steps=2, smooth=0, retarget=False, dynamics=0, tempo_sync=False, max_gap=0, keep_in_frame=False)
    [a] = pipe.generate(song, reference_pose, **kw)
    [b] = pipe.generate(song, reference_pose, blend=False, **kw)
    hop_a, hop_b = pipe.frames - OVERLAP - BLEND, pipe.frames - OVERLAP
    assert np.array_equal(a.keypoints[:hop_a + OVERLAP], b.keypoints[:hop_a + OVERLAP])  # same first segment
    assert len(a) == len(b) == 125
    assert a.meta["seams"][0] == hop_a + OVERLAP and b.meta["seams"][0] == hop_b + OVERLAP


def test_pose_aware_length_comes_from_the_checkpoint(tmp_path, reference_pose):
    """N (the frames each segment hands the next) is the checkpoint's data.pose_aware_frames, not a constant."""
    model, config = tiny_config()
    config["data"]["pose_aware_frames"] = 8
    pipe = Dance2D.from_config(model, config)
    [seq] = pipe.generate(click_track(tmp_path / "s.wav", 5.0), reference_pose, steps=1, smooth=0, blend=False,
                          tempo_sync=False)  # model frames = song frames
    assert pipe.overlap == 8 and seq.meta["seams"][0] == (pipe.frames - 8) + 8


def test_parts_are_injected_and_the_sampler_is_a_callable(tiny_checkpoint, tmp_path, reference_pose):
    """A pipeline built from parts (k-diffusion-style sampler callable) matches the sampler named by string."""
    from dance2d import Dance2D as TopLevel
    from dance2d.diffusion import SAMPLERS

    loaded = Dance2D.from_pretrained(tiny_checkpoint)
    calls = []

    def ddim(*args, **kw):
        calls.append(kw["steps"])
        return SAMPLERS["ddim"](*args, **kw)

    pipe = TopLevel(loaded.model, loaded.rep, loaded.music_encoder, loaded.data, loaded.diffusion, sampler=ddim)
    song = click_track(tmp_path / "s.wav", 2.0)
    [a] = pipe.generate(song, reference_pose, steps=2, smooth=0)
    [b] = loaded.generate(song, reference_pose, steps=2, smooth=0, sampler="ddim")
    assert calls == [2] and np.array_equal(a.keypoints, b.keypoints)
    # the ancestral sampler's fresh noise follows the seed, one generator per sample (num_samples does not matter)
    [c] = loaded.generate(song, reference_pose, steps=3, smooth=0, sampler="ddpm", seed=4)
    c2, d = loaded.generate(song, reference_pose, steps=3, smooth=0, sampler="ddpm", seed=4, num_samples=2)
    [d2] = loaded.generate(song, reference_pose, steps=3, smooth=0, sampler="ddpm", seed=5)
    assert np.array_equal(c.keypoints, c2.keypoints) and np.array_equal(d.keypoints, d2.keypoints)
    with pytest.raises(Dance2DError, match="Unknown sampler"):
        loaded.generate(song, reference_pose, steps=1, sampler="euler")


def test_a_dance_starts_in_the_reference_pose(tiny_checkpoint, tmp_path, reference_pose):
    """With ease-in (the default) the first frame is the reference pose, after reframing and retargeting; without
    it the model's own first frame, which is not."""
    pipe = Dance2D.from_pretrained(tiny_checkpoint)
    song = click_track(tmp_path / "s.wav", 4.0)
    [eased] = pipe.generate(song, reference_pose, steps=1)
    [plain] = pipe.generate(song, reference_pose, steps=1, ease_in=0)
    body = reference_pose[:, 2] > 0
    assert np.allclose(eased.keypoints[0, body, :2], reference_pose[body, :2], atol=1e-5)
    assert not np.allclose(plain.keypoints[0, body, :2], reference_pose[body, :2], atol=1e-3)
    assert np.array_equal(eased.keypoints[25:], plain.keypoints[25:])  # 1 s at 25 fps, then the same dance
