"""Tests for dance2d.conditioning: mask M (supplementary §6), reference tensor and replacement draw (§3)."""

import numpy as np
import pytest
import torch

from dance2d.conditioning import build_reference, reference_mask, sample_replacement
from dance2d.errors import Dance2DError

WL, TL = 3, 4  # T = 32 frames at 8 phases


def pose_aware_frames(m: np.ndarray) -> np.ndarray:
    """Frame index f = 8·column + phase is pose-aware iff M[phase, :, column] = 1 (same for every row)."""
    assert (m == m[:, :1, :]).all()  # the mask does not depend on the latent row
    return m[:, 0, :].T.reshape(-1)  # (Tl·P,), frame order


def test_no_replacement_is_all_zero():
    assert not reference_mask(0, WL, TL).any()


@pytest.mark.parametrize("n", [8, 16, 24])
def test_whole_columns(n):
    m = reference_mask(n, WL, TL)
    q = n // 8
    assert m.shape == (8, WL, TL) and m.dtype == np.float32
    assert (m[:, :, :q] == 1).all() and (m[:, :, q:] == 0).all()


@pytest.mark.parametrize("n", [3, 13, 30])
def test_partial_column(n):
    m = reference_mask(n, WL, TL)
    q, r = divmod(n, 8)
    assert (m[:, :, :q] == 1).all()
    assert (m[:r, :, q] == 1).all() and (m[r:, :, q] == 0).all()
    assert (m[:, :, q + 1:] == 0).all()


@pytest.mark.parametrize("n", range(0, 40))
def test_mask_marks_exactly_the_first_n_frames(n):
    flags = pose_aware_frames(reference_mask(n, WL, TL))
    expect = np.arange(TL * 8) < n  # N ≥ T clamps to all frames
    assert np.array_equal(flags.astype(bool), expect)


def test_one_phase_for_raw_ablation():
    m = reference_mask(5, 1, 16, phases=1)
    assert m.shape == (1, 1, 16)
    assert np.array_equal(m[0, 0], (np.arange(16) < 5).astype(np.float32))
    assert reference_mask(99, 1, 16, phases=1).all()


def test_mask_torch_output_and_errors():
    m = reference_mask(13, WL, TL, as_torch=True)
    assert isinstance(m, torch.Tensor) and torch.equal(m, torch.from_numpy(reference_mask(13, WL, TL)))
    with pytest.raises(Dance2DError):
        reference_mask(-1, WL, TL)


@pytest.mark.parametrize("lib", ["numpy", "torch"])
def test_build_reference(lib):
    rng = np.random.default_rng(0)
    ref = rng.random((6, 10)).astype(np.float32)
    gt = rng.random((6, 10, 20)).astype(np.float32)
    if lib == "torch":
        ref, gt = torch.from_numpy(ref), torch.from_numpy(gt)
    x = build_reference(ref, 20)
    assert type(x) is type(ref) and tuple(x.shape) == (6, 10, 20)
    for f in range(20):
        assert (x[:, :, f] == ref).all()  # shape-only: the reference at every frame
    x = build_reference(ref, 20, gt=gt, n=16)
    assert (x[:, :, :16] == gt[:, :, :16]).all()  # pose-aware: first N frames from gt
    assert (x[:, :, 16:] == ref[:, :, None]).all()
    assert (ref == build_reference(ref, 20)[:, :, 0]).all()  # the input was not modified


def test_build_reference_short_gt_and_clamp():
    ref = np.zeros((2, 5), np.float32)
    last = np.ones((2, 5, 16), np.float32)  # previous segment's last 16 poses
    x = build_reference(ref, 32, gt=last, n=16)
    assert x[:, :, :16].all() and not x[:, :, 16:].any()
    assert build_reference(ref, 8, gt=last, n=16).all()  # N ≥ T: every frame replaced
    with pytest.raises(Dance2DError):
        build_reference(ref, 32, gt=None, n=16)
    with pytest.raises(Dance2DError):
        build_reference(ref, 32, gt=last[:, :, :4], n=16)


@pytest.mark.parametrize("make_gen", [lambda s: np.random.default_rng(s), lambda s: torch.Generator().manual_seed(s)])
def test_sample_replacement_probability(make_gen):
    g = make_gen(0)
    draws = [sample_replacement(16, 0.3, g) for _ in range(2000)]
    assert set(draws) == {0, 16}
    assert abs(np.mean(np.array(draws) == 16) - 0.3) < 0.05
    assert sample_replacement(16, 0.0, g) == 0 and sample_replacement(16, 1.0, g) == 16
    with pytest.raises(Dance2DError):
        sample_replacement(16, 1.5, g)
