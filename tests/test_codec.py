"""Tests for the latent codecs (paper §3): triplet grouping, shapes, TAEF2 round-trip, validation, raw, sd."""

import math

import numpy as np
import pytest
import torch

from dance2d.codec import CODEC_NAMES, get_codec
from dance2d.codec.base import group_triplets, num_triplets, stack_latents, ungroup_triplets, unstack_latents
from dance2d.codec.taef2 import TAEF2Codec, load_taef2_state
from dance2d.errors import Dance2DError


@pytest.fixture(scope="module")
def taef2():
    return get_codec("taef2", dtype=torch.float32)


def trajectory_image(C: int, W: int, T: int, sigma: float = 1.5, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Slow sinusoidal one-hot trajectories, Gaussian-smoothed along W: image (1, C, W, T), centres (C, T)."""
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(T, dtype=torch.float32)
    w = torch.arange(W, dtype=torch.float32)
    base = 0.3 + 0.4 * torch.rand(C, 1, generator=g)
    amp = 0.05 + 0.1 * torch.rand(C, 1, generator=g)
    phase = 2 * math.pi * torch.rand(C, 1, generator=g)
    centres = (base + amp * torch.sin(2 * math.pi * t / T + phase)) * W  # (C, T), < 1 bin per frame
    x = torch.exp(-0.5 * ((w[None, :, None] - centres[:, None, :]) / sigma) ** 2)  # (C, W, T)
    return x[None], centres


@pytest.mark.parametrize("C", [1, 2, 3, 4, 5, 36])
def test_triplet_grouping_round_trip(C):
    x = torch.randn(2, C, 8, 16)
    images = group_triplets(x)
    G = num_triplets(C)
    assert G == -(-C // 3)
    assert images.shape == (2 * G, 3, 8, 16)
    assert torch.equal(ungroup_triplets(images, C), x)
    # the filler channels repeat the last channel
    full = images.reshape(2, 3 * G, 8, 16)
    for extra in range(C, 3 * G):
        assert torch.equal(full[:, extra], x[:, -1])
    z = torch.randn(2 * G, 4, 2, 3)
    assert torch.equal(unstack_latents(stack_latents(z, G), G), z)
    # triplet-major layout: the first c latent channels belong to triplet 0 of item 0
    assert torch.equal(stack_latents(z, G)[0, :4], z[0])


@pytest.mark.parametrize("C", [4, 6])
def test_taef2_shapes_and_frozen(taef2, C):
    assert taef2.latent_channels(C) == 32 * num_triplets(C)
    assert taef2.latent_shape(C, 64, 32) == (32 * num_triplets(C), 8, 4)
    x = torch.rand(2, C, 64, 32)
    z = taef2.encode(x)
    assert z.shape == (2, *taef2.latent_shape(C, 64, 32)) and z.dtype == torch.float32
    y = taef2.decode(z, C)
    assert y.shape == x.shape
    assert not any(p.requires_grad for p in taef2.parameters())
    taef2.train()
    assert not taef2.training
    # results are normal tensors, usable in a later autograd graph
    (z * torch.ones(1, requires_grad=True)).sum().backward()


def test_taef2_batch_and_chunk_independent(taef2):
    x, _ = trajectory_image(7, 32, 32)
    x2 = torch.cat([x, x.flip(-1)])
    small_chunks = TAEF2Codec(chunk=1, dtype=torch.float32)
    z = taef2.encode(x2)
    torch.testing.assert_close(small_chunks.encode(x2), z, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(taef2.encode(x), z[:1], atol=1e-4, rtol=1e-4)


def test_taef2_reconstructs_trajectory_within_one_bin(taef2):
    C, W, T = 4, 64, 64
    x, _ = trajectory_image(C, W, T)
    y = taef2.decode(taef2.encode(x), C)
    err = (x.argmax(dim=2) - y.argmax(dim=2)).abs()  # (1, C, T) bins
    assert err.max().item() <= 1


def test_taef2_natural_image_round_trip(taef2):
    W, T = 64, 64
    u, v = torch.meshgrid(torch.linspace(0, 1, W), torch.linspace(0, 1, T), indexing="ij")
    img = torch.stack([u, v, 0.5 + 0.3 * torch.sin(6 * u + 3 * v)])  # (3, W, T) smooth gradients
    img[:, 10:30, 20:40] = torch.tensor([0.9, 0.2, 0.1])[:, None, None]  # a flat rectangle
    y = taef2.decode(taef2.encode(img[None]), 3)
    assert (y - img).abs().mean().item() < 0.05
    # the encoder expects [0, 1]: the same image in [-1, 1] reconstructs far worse
    y2 = taef2.decode(taef2.encode(img[None] * 2 - 1), 3)
    assert (y2 - (img * 2 - 1)).abs().mean().item() > 2 * (y - img).abs().mean().item()


def test_taef2_latent_fitting_lowers_reconstruction_error(taef2):
    x, _ = trajectory_image(3, 32, 32)
    fitted = TAEF2Codec(dtype=torch.float32, fit_steps=5)
    err_plain = (taef2.decode(taef2.encode(x), 3) - x).pow(2).mean()
    err_fit = (fitted.decode(fitted.encode(x), 3) - x).pow(2).mean()
    assert err_fit < err_plain


@pytest.mark.parametrize(
    "shape", [(1, 3, 60, 64), (1, 3, 64, 60), (3, 64, 64), (1, 0, 64, 64)], ids=["W", "T", "ndim", "C0"]
)
def test_bad_shapes_raise(taef2, shape):
    with pytest.raises(Dance2DError):
        taef2.encode(torch.zeros(shape))


def test_non_finite_and_bad_latents_raise(taef2):
    x = torch.zeros(1, 3, 16, 16)
    x[0, 1, 2, 3] = float("nan")
    with pytest.raises(Dance2DError, match="NaN"):
        taef2.encode(x)
    z = torch.zeros(1, 32, 2, 2)
    with pytest.raises(Dance2DError):
        taef2.decode(z, 4)  # 4 channels need 2 triplets = 64 latent channels
    z[0, 0, 0, 0] = float("inf")
    with pytest.raises(Dance2DError):
        taef2.decode(z, 3)


def test_weight_file_errors(tmp_path):
    bad = tmp_path / "garbled.safetensors"
    bad.write_bytes(b"not a safetensors file")
    with pytest.raises(Dance2DError, match="garbled"):
        TAEF2Codec(weights=bad)
    with pytest.raises(Dance2DError):
        TAEF2Codec(weights=tmp_path / "missing.safetensors")
    state = load_taef2_state()
    assert any(k.startswith("encoder.") for k in state) and any(k.startswith("decoder.") for k in state)


def test_unknown_codec_lists_names():
    with pytest.raises(Dance2DError) as info:
        get_codec("nope")
    for name in CODEC_NAMES:
        assert name in str(info.value)


def test_raw_identity_round_trip():
    raw = get_codec("raw")
    x = torch.rand(2, 5, 1, 12)
    z = raw.encode(x)
    assert z.shape == (2, *raw.latent_shape(5, 1, 12)) == (2, 5, 1, 12)
    torch.testing.assert_close(raw.decode(z, 5), x)
    identity = get_codec("raw", shift=0.0, scale=1.0)
    assert torch.equal(identity.encode(x), x)
    with pytest.raises(Dance2DError):
        get_codec("raw", scale=0.0)


@pytest.mark.parametrize("name", ["raw", "taef2"])
def test_codec_owns_its_pose_image(name, taef2):
    """Poses → the codec's image → poses: exact for the thin image (missing joints stay missing), within a bin
    for the one-hot image; the image has image_channels(K) channels and image_width(W) columns."""
    codec = taef2 if name == "taef2" else get_codec(name)
    rng = np.random.default_rng(0)
    kp = np.concatenate([rng.uniform(0.1, 0.9, (16, 18, 2)), np.ones((16, 18, 1))], -1).astype(np.float32)
    kp[3, 5] = 0  # a missing joint
    x = codec.to_image(kp, 64, 1.5)
    assert x.shape == (codec.image_channels(18), codec.image_width(64), 16)
    back = codec.from_image(x, 1.5)
    assert back[3, 5, 2] == 0 and (np.delete(back.reshape(-1, 3), 3 * 18 + 5, 0)[:, 2] > 0.5).all()
    present = kp[..., 2] > 0
    err = np.abs(back[..., :2] - kp[..., :2])[present]
    assert err.max() < (1e-6 if name == "raw" else 1 / 64)


def test_sd_tiny_config_round_trip_shapes(tmp_path):
    diffusers = pytest.importorskip("diffusers")
    config = dict(
        block_out_channels=(8, 8, 8, 8),
        down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4,
        norm_num_groups=4,
        latent_channels=4,
        layers_per_block=1,
    )
    torch.manual_seed(0)
    diffusers.AutoencoderKL(**config).save_pretrained(tmp_path)
    sd = get_codec("sd", pretrained=tmp_path)
    assert sd.time_stride == sd.width_stride == 8
    x = torch.rand(2, 5, 32, 16)
    z = sd.encode(x)
    assert z.shape == (2, *sd.latent_shape(5, 32, 16)) == (2, 8, 4, 2)
    assert sd.decode(z, 5).shape == x.shape
    assert not any(p.requires_grad for p in sd.parameters())
    with pytest.raises(Dance2DError):
        get_codec("sd", pretrained=tmp_path / "missing")


def test_faint_one_hot_joints_are_present_and_empty_channels_missing(taef2):
    """An undertrained model draws the right lines faintly: presence is judged against the window's own peaks, so a
    pose drawn at a tenth of the data's height keeps its joints, while a channel with only noise is missing."""
    rng = np.random.default_rng(0)
    kp = np.concatenate([rng.uniform(0.1, 0.9, (32, 18, 2)), np.ones((32, 18, 1))], -1).astype(np.float32)
    img = taef2.to_image(kp, 64, 2.0) * 0.1  # faint: peaks 0.1 instead of 1
    img[10:12] = rng.uniform(0, 0.005, img[10:12].shape)  # joint 5 (x and y channels): noise only
    back = taef2.from_image(img, 2.0)
    assert set(np.unique(back[..., 2])) <= {0.0, 1.0}
    assert (back[:, 5, 2] == 0).all() and (np.delete(back, 5, axis=1)[..., 2] == 1).all()
    assert np.abs(back[..., :2] - kp[..., :2])[:, np.arange(18) != 5].max() < 1 / 64
    assert (taef2.from_image(np.zeros_like(img), 2.0)[..., 2] == 0).all()  # an empty image has no joints


def test_raw_presence_is_binary_and_does_not_flicker():
    """The raw model's presence channel is continuous: decoding median-filters it over time and thresholds it."""
    from dance2d.codec.raw import RawCodec

    codec = RawCodec()
    kp = np.zeros((20, 2, 3), np.float32)
    kp[..., :2] = 0.4
    kp[:, 0, 2] = 1.0
    img = codec.to_image(kp)  # (6, 1, 20)
    img[2, 0, :] = np.where(np.arange(20) % 7 == 3, 0.2, 0.9)  # joint 0 mostly present with single-frame dips
    img[5, 0, :] = np.where(np.arange(20) % 7 == 3, 0.8, 0.01)  # joint 1 mostly absent with single-frame blips
    back = codec.from_image(img)
    assert set(np.unique(back[..., 2])) <= {0.0, 1.0}
    assert (back[:, 0, 2] == (np.arange(20) % 7 != 3)).all()  # dips stay missing: no coordinates are invented
    assert (back[:, 1, 2] == 0).all()  # blips are dropped


def test_spread_triplet_order_is_a_permutation_that_round_trips(taef2, reference_pose):
    """The "spread" order only moves channels between RGB images: the decoded pose is the same, a raw codec or a
    layout it was not made for is refused, and the order keeps the x/y lines of nearby joints apart."""
    from dance2d.codec.base import TRIPLET_ORDERS
    from dance2d.representation import Representation

    order = TRIPLET_ORDERS["spread"]
    assert sorted(order) == list(range(36))
    kp = np.repeat(reference_pose[None], 8, 0)
    paper = Representation(taef2, 64, 2.0)
    spread = Representation(taef2, 64, 2.0, triplets="spread")
    img = spread.to_image(kp)
    np.testing.assert_array_equal(img, paper.to_image(kp)[list(order)])
    np.testing.assert_allclose(spread.from_image(img), paper.from_image(paper.to_image(kp)))
    triplets = [set(order[i:i + 3]) for i in range(0, 36, 3)]
    assert all(not {2, 3} <= t and not {0, 2} <= t for t in triplets)  # nose x and neck x/y never share an image
    with pytest.raises(Dance2DError, match="no RGB triplets"):
        Representation(get_codec("raw"), 1, 1.5, triplets="spread")
    with pytest.raises(Dance2DError, match="body-18"):
        spread.to_image(np.zeros((8, 60, 3), np.float32))
    with pytest.raises(Dance2DError, match="Unknown triplet order"):
        Representation(taef2, 64, 2.0, triplets="zigzag")


def test_a_model_sets_its_own_presence_fraction(taef2):
    """The presence fraction is a decoding setting a model may ship (its checkpoint's "generation" section): a joint
    drawn at a fifth of the window's typical peak is kept at the default 0.05 and dropped at 0.3."""
    from dance2d.codec.base import PRESENCE_FRACTION
    from dance2d.representation import Representation

    rng = np.random.default_rng(1)
    kp = np.concatenate([rng.uniform(0.1, 0.9, (32, 18, 2)), np.ones((32, 18, 1))], -1).astype(np.float32)
    img = taef2.to_image(kp, 64, 2.0)
    img[6:8] *= 0.2  # joint 3 drawn faintly
    default, strict = Representation(taef2, 64, 2.0), Representation(taef2, 64, 2.0, presence=0.3)
    assert default.presence == PRESENCE_FRACTION
    assert (default.from_image(img)[..., 2] == 1).all()
    back = strict.from_image(img)
    assert (back[:, 3, 2] == 0).all() and (np.delete(back, 3, axis=1)[..., 2] == 1).all()
    with pytest.raises(Dance2DError, match="presence fraction 1.5"):
        Representation(taef2, 64, 2.0, presence=1.5)


@pytest.mark.parametrize(("amx", "avx512_bf16", "expected"), [(True, False, torch.bfloat16),
                                                               (False, True, torch.bfloat16),
                                                               (False, False, torch.float32)])
def test_fast_dtype_is_bf16_only_where_the_cpu_runs_it_natively(monkeypatch, amx, avx512_bf16, expected):
    from dance2d.codec import fast_dtype

    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: amx, raising=False)
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: avx512_bf16, raising=False)
    assert fast_dtype("cpu") == expected


def test_a_pipeline_without_fast_decodes_in_float32():
    """fast=False gives the same result on every CPU: the image codec, not only the DiT, stays in float32."""
    from dance2d import Dance2D
    from dance2d.codec import fast_dtype

    assert Dance2D.from_pretrained("onehot", fast=False).rep.codec.compute_dtype == torch.float32
    assert Dance2D.from_pretrained("onehot").rep.codec.compute_dtype == fast_dtype("cpu")
