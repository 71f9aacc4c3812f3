"""Tests for dance2d.conditioning: mask M (supplementary §6), pose-aware reference latents and the draw (§3)."""

import numpy as np
import pytest
import torch

from dance2d.conditioning import pose_aware, reference_mask, sample_replacement
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


def test_pose_aware_shape_only_is_the_reference_and_no_mask():
    ref_z = torch.randn(2, 6, WL, TL)
    ref, mask = pose_aware(ref_z, None, 0, 8)
    assert torch.equal(ref, ref_z) and mask.shape == (2, 8, WL, TL) and not mask.any()


@pytest.mark.parametrize(("n", "stride"), [(16, 8), (13, 8), (5, 1), (99, 8)])
def test_pose_aware_replaces_the_known_columns_and_masks_n_frames(n, stride):
    """The first ⌈N/P⌉ columns come from the source (a partial column whole), M marks exactly N frames."""
    ref_z, source = torch.randn(3, 6, WL, TL), torch.randn(3, 6, WL, TL + 2)
    before = ref_z.clone()
    ref, mask = pose_aware(ref_z, source, n, stride)
    cols = min(-(-n // stride), TL)
    assert torch.equal(ref[..., :cols], source[..., :cols]) and torch.equal(ref[..., cols:], ref_z[..., cols:])
    assert torch.equal(ref_z, before)  # the input is not modified
    assert mask.shape == (3, stride, WL, TL) and (mask == mask[:1]).all()
    frames = mask[0, :, 0, :].T.reshape(-1).numpy()  # frame f = P·column + phase
    assert np.array_equal(frames.astype(bool), np.arange(TL * stride) < n)


def test_pose_aware_needs_enough_source():
    with pytest.raises(Dance2DError):
        pose_aware(torch.zeros(1, 6, WL, TL), None, 16, 8)
    with pytest.raises(Dance2DError):
        pose_aware(torch.zeros(1, 6, WL, TL), torch.zeros(1, 6, WL, 1), 16, 8)
    with pytest.raises(Dance2DError):
        pose_aware(torch.zeros(1, 6, WL, TL), None, -1, 8)


@pytest.mark.parametrize("make_gen", [lambda s: np.random.default_rng(s), lambda s: torch.Generator().manual_seed(s)])
def test_sample_replacement_probability(make_gen):
    g = make_gen(0)
    draws = [sample_replacement(16, 0.3, g) for _ in range(2000)]
    assert set(draws) == {0, 16}
    assert abs(np.mean(np.array(draws) == 16) - 0.3) < 0.05
    assert sample_replacement(16, 0.0, g) == 0 and sample_replacement(16, 1.0, g) == 16
    with pytest.raises(Dance2DError):
        sample_replacement(16, 1.5, g)
