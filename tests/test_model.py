"""Tests for dance2d.model: config presets, 3D RoPE time sharing, DiT shapes, adaLN-zero, null music."""

import json

import pytest
import torch

from dance2d.diffusion import NoiseSchedule, diffusion_loss
from dance2d.errors import Dance2DError
from dance2d.model import (
    PRESETS,
    DiT,
    DiTConfig,
    Rope3D,
    apply_rope,
    count_parameters,
    make_config,
    music_positions,
    pose_positions,
)
from dance2d.model.dit import FinalLayer

CZ, DM, WL, TL = 4, 16, 4, 8



def tiny(**kw) -> DiTConfig:
    return make_config("tiny", latent_channels=CZ, music_dim=DM, **kw)


def inputs(b=2, wl=WL, tl=TL, seed=0):
    g = torch.Generator().manual_seed(seed)
    return dict(
        z_tau=torch.randn(b, CZ, wl, tl, generator=g),
        tau=torch.randint(1, 1001, (b,), generator=g),
        music=torch.randn(b, tl, DM, generator=g),
        ref=torch.randn(b, CZ, wl, tl, generator=g),
        mask=(torch.rand(b, 8, wl, tl, generator=g) > 0.5).float(),
    )


def perturb(model, seed=0):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.1 * torch.randn(p.shape, generator=g))


# --- config ---------------------------------------------------------------------------------------


def test_config_dict_round_trip_through_json():
    cfg = tiny(index="sequential", rope_axes_dims=(4, 4, 8), reference=False)
    back = DiTConfig.from_dict(json.loads(json.dumps(cfg.to_dict())))
    assert back == cfg


def test_config_rejects_unknown_and_missing_keys():
    d = tiny().to_dict()
    with pytest.raises(Dance2DError):
        DiTConfig.from_dict({**d, "bogus": 1})
    d.pop("depth")
    with pytest.raises(Dance2DError):
        DiTConfig.from_dict(d)


def test_config_without_later_fields_builds_the_older_model():
    """A checkpoint written before head_hidden existed loads as the linear-head model it was trained as."""
    d = tiny().to_dict()
    d.pop("head_hidden")
    assert DiTConfig.from_dict(d) == tiny()
    with pytest.raises(Dance2DError, match="head_hidden"):
        tiny(head_hidden=-1)


def test_head_mlp_starts_at_zero_and_leaves_the_linear_subspace():
    """The grown head adds nothing until trained; trained, a token's outputs are no longer an affine image of its
    dim-wide state (the rank of the centred outputs exceeds dim)."""
    linear, grown = DiT(tiny()), DiT(tiny(head_hidden=96))
    perturb(linear, seed=1)
    missing, unexpected = grown.load_state_dict(linear.state_dict(), strict=False)
    assert not unexpected and missing and all(k.startswith("final.mlp.") for k in missing)
    x = inputs()
    assert torch.equal(grown.eval()(**x), linear.eval()(**x))
    head = FinalLayer(make_config("tiny", latent_channels=96, music_dim=DM, head_hidden=192))  # 192 outputs, dim 64
    perturb(head, seed=2)
    c = torch.randn(1, head.adaLN[-1].in_features)
    states = torch.randn(1, 400, head.linear.in_features)
    out = head(states, c)[0]
    assert torch.linalg.matrix_rank(out - out.mean(0)) > states.shape[-1]
    head.mlp = None  # the paper's linear head: rank at most dim
    out = head(states, c)[0]
    assert torch.linalg.matrix_rank(out - out.mean(0)) <= states.shape[-1]


def test_unknown_preset_lists_valid_names():
    with pytest.raises(Dance2DError) as e:
        make_config("huge")
    assert all(name in str(e.value) for name in PRESETS)


def test_config_validates_values():
    with pytest.raises(Dance2DError):
        tiny(index="diagonal")
    with pytest.raises(Dance2DError):
        tiny(rope_axes_dims=(2, 2, 2))  # does not sum to head_dim 16


def test_axes_split_covers_head_dim():
    for name in PRESETS:
        cfg = make_config(name)
        assert sum(cfg.axes_dims) == cfg.head_dim and all(a % 2 == 0 for a in cfg.axes_dims)


def test_paper_preset_is_about_2_6b_without_allocating():
    n = count_parameters(make_config("paper"))
    assert abs(n - 2.6e9) / 2.6e9 < 0.15


def test_param_count_matches_real_model():
    cfg = tiny()
    assert count_parameters(cfg) == sum(p.numel() for p in DiT(cfg).parameters())


# --- RoPE -----------------------------------------------------------------------------------------


def test_positions_follow_the_paper():
    pose = pose_positions(3, 5)
    assert pose.shape == (15, 3)
    assert torch.equal(pose[2 * 5 + 4], torch.tensor([0, 2, 4]))  # token w·Tl + t ↔ (0, w, t)
    ts = music_positions(5, "time_shared")
    seq = music_positions(5, "sequential")
    assert torch.equal(ts, torch.stack([torch.zeros(5), torch.zeros(5), torch.arange(5)], 1).long())
    assert torch.equal(seq, torch.stack([torch.arange(5), torch.zeros(5), torch.zeros(5)], 1).long())
    with pytest.raises(Dance2DError):
        music_positions(5, "other")


def test_time_shared_music_token_is_phase_aligned_with_its_column():
    cfg = tiny()
    rope = Rope3D(cfg.axes_dims, cfg.rope_theta)
    wt = 3
    ang_pose = rope.angles(pose_positions(wt, TL)).view(wt, TL, -1)  # (Wt, Tl, hd/2)
    ang_music = rope.angles(music_positions(TL, "time_shared"))  # (L, hd/2)
    d0, d1, _ = (d // 2 for d in cfg.axes_dims)
    time_slice = slice(d0 + d1, None)
    for w in range(wt):
        assert torch.equal(ang_music[:, time_slice], ang_pose[w, :, time_slice])
    seq = rope.angles(music_positions(TL, "sequential"))
    assert not torch.allclose(seq[1:, time_slice], ang_pose[0, 1:, time_slice])


def test_rope_score_between_identical_vectors_at_same_time():
    cfg = tiny()
    rope = Rope3D(cfg.axes_dims, cfg.rope_theta)
    g = torch.Generator().manual_seed(0)
    v = torch.randn(cfg.head_dim, generator=g)
    plain = float(v @ v)
    wt = 2
    for mode, aligned in (("time_shared", True), ("sequential", False)):
        pos = torch.cat([music_positions(TL, mode), pose_positions(wt, TL)])  # (L + Np, 3)
        cos, sin = rope(pos)
        x = v.expand(1, 1, pos.shape[0], -1)  # (1, 1, N, hd): the same vector at every token
        r = apply_rope(x, cos, sin)[0, 0]  # (N, hd)
        for j in range(1, TL):
            score = float(r[j] @ r[TL + j])  # music token j · pose token (w=0, t=j)
            assert (abs(score - plain) < 1e-4 * plain) == aligned
            assert score <= plain + 1e-4 * plain  # Cauchy–Schwarz: aligned score is the maximum


def test_rope_preserves_norm():
    cfg = tiny()
    rope = Rope3D(cfg.axes_dims)
    cos, sin = rope(pose_positions(2, 4))
    x = torch.randn(2, 3, 8, cfg.head_dim)
    assert torch.allclose(apply_rope(x, cos, sin).norm(dim=-1), x.norm(dim=-1), atol=1e-5)


# --- DiT ------------------------------------------------------------------------------------------


def test_output_shape_and_exact_zero_at_init():
    model = DiT(tiny()).eval()
    x = inputs()
    out = model(**x)
    assert out.shape == x["z_tau"].shape
    assert torch.count_nonzero(out) == 0
    perturb(model)
    assert model(**x).abs().max() > 0


@pytest.mark.parametrize("wl,tl", [(2, 3), (6, 16)])
def test_any_length_and_width(wl, tl):
    model = DiT(tiny())
    perturb(model)
    out = model.eval()(**inputs(wl=wl, tl=tl))
    assert out.shape == (2, CZ, wl, tl) and torch.isfinite(out).all()


def test_bad_shapes_are_user_errors():
    model = DiT(tiny())
    x = inputs()
    with pytest.raises(Dance2DError):
        model(**{**x, "music": x["music"][:, :-1]})  # L ≠ Tl under time-shared indexing
    with pytest.raises(Dance2DError):
        model(**{**x, "ref": None})
    with pytest.raises(Dance2DError):
        model(**inputs(wl=3))  # not divisible by patch_w=2


def test_reference_off_has_smaller_input_and_no_ref_channels():
    on, off = tiny(), tiny(reference=False)
    assert off.in_channels == CZ < on.in_channels == 2 * CZ + 8
    model = DiT(off)
    assert model.x_embedder.in_features == CZ * off.patch_w
    x = inputs()
    out = model(x["z_tau"], x["tau"], x["music"])
    assert out.shape == x["z_tau"].shape
    with pytest.raises(Dance2DError):
        model(**x)


def test_music_keep_false_equals_null_token_path():
    model = DiT(tiny())
    perturb(model)
    model.eval()
    x = inputs()
    keep = torch.tensor([True, False])
    out = model(**x, music_keep=keep)
    # Sample 1 ignores its music entirely: any other music gives the same output.
    other = model(**{**x, "music": torch.randn_like(x["music"])}, music_keep=keep)
    assert torch.allclose(out[1], other[1], atol=1e-6)
    assert not torch.allclose(out[0], other[0], atol=1e-4)
    # And it is exactly the embedder's null token fed to the blocks.
    emb = model.music_embedder(x["music"], keep)
    assert torch.equal(emb[1], model.music_embedder.null_token.expand_as(emb[1]))
    assert torch.allclose(out[0], model(**x)[0], atol=1e-6)


def test_music_dropout_only_in_training():
    model = DiT(tiny(music_dropout=0.5))
    emb = model.music_embedder
    music = torch.randn(256, TL, DM)
    torch.manual_seed(0)
    emb.train()
    dropped = (emb(music) == emb.null_token).all(dim=(1, 2)).float().mean()
    assert 0.35 < dropped < 0.65
    emb.eval()
    assert not (emb(music) == emb.null_token).all(dim=(1, 2)).any()


def test_time_shared_and_sequential_models_differ():
    a = DiT(tiny())
    perturb(a)
    b = DiT(tiny(index="sequential"))
    b.load_state_dict(a.state_dict())
    x = inputs()
    assert not torch.allclose(a.eval()(**x), b.eval()(**x), atol=1e-5)


def test_tiny_dit_overfits_one_clip():
    torch.manual_seed(0)
    model = DiT(tiny(music_dropout=0.0))
    sched = NoiseSchedule()
    x = inputs(b=1, seed=3)
    g = torch.Generator().manual_seed(1)
    n_eval, b = 64, 16

    def rep(v, n):
        return v.expand(n, *v.shape[1:])

    def loss_for(n, tau, eps):
        cond = {k: rep(x[k], n) for k in ("music", "ref", "mask")}
        return diffusion_loss(model, rep(x["z_tau"], n), tau, eps, sched, **cond)

    tau_e, eps_e = sched.sample_tau(n_eval, g), torch.randn(n_eval, CZ, WL, TL, generator=g)
    with torch.no_grad():
        before = loss_for(n_eval, tau_e, eps_e).item()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(200):
        loss = loss_for(b, sched.sample_tau(b, g), torch.randn(b, CZ, WL, TL, generator=g))
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        after = loss_for(n_eval, tau_e, eps_e).item()
    assert after < before / 10
