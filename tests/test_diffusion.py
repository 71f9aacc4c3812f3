"""Tests for dance2d.diffusion: schedule identities, ε-loss, DDIM / DPM-Solver++ samplers, inpainting, CFG."""

import pytest
import torch

from dance2d.diffusion import (
    DiffusionConfig,
    NoiseSchedule,
    cfg_denoiser,
    diffusion_loss,
    predictor,
    sample_ddim,
    sample_ddpm,
    sample_dpmpp_2m,
)
from dance2d.diffusion.schedule import LAMBDA_FLOOR, SCHEDULES, TERMINAL_ALPHA_BAR
from dance2d.errors import Dance2DError

SHAPE = (2, 3, 4, 6)
MU, STD = 0.7, 0.5  # data distribution of the analytic tests: Z ~ N(MU, STD²) per element



def oracle(z0: torch.Tensor, sched: NoiseSchedule):
    """denoise returning the true ε of a known Z: ε = (Z_τ − α_τ Z)/σ_τ."""

    def denoise(z, tau):
        a, s = sched.alpha_sigma(tau)
        return (z - a.view(-1, 1, 1, 1).to(z.dtype) * z0) / s.view(-1, 1, 1, 1).to(z.dtype)

    return denoise


def gaussian_denoiser(sched: NoiseSchedule):
    """Exact E[ε | Z_τ] when Z ~ N(MU, STD²): σ (Z_τ − α MU) / (α² STD² + σ²)."""

    def denoise(z, tau):
        a, s = (v.view(-1, 1, 1, 1).to(z.dtype) for v in sched.alpha_sigma(tau))
        return s * (z - a * MU) / (a**2 * STD**2 + s**2)

    return denoise


def ode_target(noise: torch.Tensor, sched: NoiseSchedule) -> torch.Tensor:
    """The probability-flow ODE of a Gaussian keeps the standardised value: Z_0 = MU + STD·(Z_S − α_S MU)/sd_S."""
    a, s = (float(v) for v in sched.alpha_sigma(sched.steps))
    return MU + STD * (noise - a * MU) / (a**2 * STD**2 + s**2) ** 0.5


@pytest.mark.parametrize("kind", SCHEDULES)
def test_schedule_identities(kind):
    sched = NoiseSchedule(1000, kind)
    tau = torch.arange(0, 1001)
    a, s = sched.alpha_sigma(tau)
    assert torch.allclose(a**2 + s**2, torch.ones_like(a), atol=1e-12)
    assert a[0] == 1 and s[0] == 0
    assert (a[1:] < a[:-1]).all()  # signal strictly decreases with τ
    assert a[-1] < 0.1


def test_low_snr_schedule_keeps_the_start_and_ends_near_pure_noise():
    """The rescaled betas start where SD's do and end at ᾱ_S = TERMINAL_ALPHA_BAR; SD's own spacing is unchanged
    (the bundled model's output depends on it), the rescaled one takes one step from pure noise to the λ floor."""
    sd, low = NoiseSchedule(), NoiseSchedule(kind="scaled_linear_low_snr")
    assert float(low.alphas_cumprod[1]) == pytest.approx(float(sd.alphas_cumprod[1]), rel=1e-12)
    assert float(low.alphas_cumprod[-1]) == pytest.approx(TERMINAL_ALPHA_BAR, rel=1e-9)
    assert float(sd.alphas_cumprod[-1]) == pytest.approx(0.00466, rel=0.01)
    assert (low.alphas_cumprod[1:-1] <= sd.alphas_cumprod[1:-1] + 1e-12).all()  # never more signal than SD's
    assert sd.timesteps(10) == [1000, 876, 725, 539, 331, 154, 53, 15, 4, 1, 0]
    ts = low.timesteps(10)
    assert ts[0] == 1000 and ts[-1] == 0 and len(ts) == 11
    a, s = low.alpha_sigma(torch.tensor(ts[1:-1]))
    lam = (a / s).log()
    assert float(lam[0]) == pytest.approx(LAMBDA_FLOOR, abs=0.02)
    gaps = lam.diff()
    assert gaps.min() > 0 and gaps.max() / gaps.min() < 1.3


def test_sampling_from_pure_noise_misses_the_mean_unless_the_snr_ends_near_zero():
    """DPM-Solver++ with the exact Gaussian denoiser from N(0, 1) noise: SD's schedule was trained on Z_S that still
    hold α_S·MU, so its samples land short of the data's mean by STD·α_S·MU/sd_S (ode_target); the rescaled
    schedule (α_S ≈ 0.003) reaches it, and its first step stays finite. Per element the miss is small; for the mean
    pose of a 128-frame window it is what makes generated dances under-dispersed (docs/RESULTS.md)."""
    noise = torch.randn((4000, 1, 1, 4), generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    for kind in SCHEDULES:
        sched = NoiseSchedule(kind=kind)
        out = sample_dpmpp_2m(gaussian_denoiser(sched), noise, sched, steps=20)
        assert torch.isfinite(out).all() and float(out.std()) == pytest.approx(STD, rel=0.03)
        expected = float(ode_target(noise, sched).mean())
        assert float(out.mean()) == pytest.approx(expected, abs=2e-3)
        a = float(sched.alpha_sigma(sched.steps)[0])
        assert expected - float(MU + STD * noise.mean()) == pytest.approx(-STD * a * MU, rel=0.02)


def test_add_noise_is_the_forward_process():
    sched = NoiseSchedule()
    z0, eps = torch.randn(SHAPE), torch.randn(SHAPE)
    tau = torch.tensor([1, 1000])
    zt = sched.add_noise(z0, eps, tau)
    for i in range(2):
        a, s = (float(v) for v in sched.alpha_sigma(int(tau[i])))
        assert torch.allclose(zt[i], a * z0[i] + s * eps[i], atol=1e-6)


@pytest.mark.parametrize("spacing", ["logsnr", "linear"])
def test_timesteps_run_from_s_to_clean(spacing):
    sched = NoiseSchedule()
    ts = sched.timesteps(7, spacing)
    assert ts[0] == 1000 and ts[-2] == 1 and ts[-1] == 0 and len(ts) == 8
    assert all(x > y for x, y in zip(ts[:-1], ts[1:], strict=True))
    assert sched.timesteps(1, spacing) == [1000, 0]


def test_logsnr_spacing_has_equal_lambda_steps():
    sched = NoiseSchedule()
    a, s = sched.alpha_sigma(torch.tensor(sched.timesteps(10)[:-1]))
    gaps = (a / s).log().diff()
    assert gaps.min() > 0 and gaps.max() / gaps.min() < 1.2


def test_tau_range_and_bad_settings():
    sched = NoiseSchedule()
    tau = sched.sample_tau(5000, torch.Generator().manual_seed(0))
    assert tau.min() == 1 and tau.max() == 1000
    with pytest.raises(Dance2DError):
        sched.timesteps(0)
    with pytest.raises(Dance2DError):
        sched.timesteps(5, "karras")
    with pytest.raises(Dance2DError):
        NoiseSchedule(kind="sigmoid")


def test_eps_loss_matches_the_equation():
    sched = NoiseSchedule()
    g = torch.Generator().manual_seed(0)
    z0, eps = torch.randn(SHAPE, generator=g), torch.randn(SHAPE, generator=g)
    tau = torch.tensor([10, 900])
    assert diffusion_loss(oracle(z0, sched), z0, tau, eps, sched) < 1e-10
    zero = diffusion_loss(lambda z, t: torch.zeros_like(z), z0, tau, eps, sched)
    assert torch.allclose(zero, (eps**2).mean())
    weight = torch.zeros(SHAPE)
    weight[..., :2] = 1  # only the first two latent columns count
    masked = diffusion_loss(lambda z, t: torch.zeros_like(z), z0, tau, eps, sched, weight=weight)
    assert torch.allclose(masked, (eps[..., :2] ** 2).mean())


def test_eps_loss_passes_conditions_through():
    sched = NoiseSchedule()
    seen = {}

    def model(z, tau, music):
        seen["music"] = music
        return torch.zeros_like(z)

    music = torch.randn(2, 6, 5)
    diffusion_loss(model, torch.randn(SHAPE), torch.tensor([3, 4]), torch.randn(SHAPE), sched, music=music)
    assert seen["music"] is music


@pytest.mark.parametrize("eta", [0.0, 1.0])
def test_ddim_with_oracle_recovers_z0(eta):
    sched = NoiseSchedule()
    g = torch.Generator().manual_seed(0)
    z0 = torch.randn(SHAPE, generator=g, dtype=torch.float64)
    noise = torch.randn(SHAPE, generator=g, dtype=torch.float64)
    out = sample_ddim(oracle(z0, sched), noise, sched, steps=20, eta=eta, generator=g)
    assert torch.allclose(out, z0, atol=1e-8)


def test_dpmpp_with_oracle_recovers_z0():
    sched = NoiseSchedule()
    g = torch.Generator().manual_seed(0)
    z0 = torch.randn(SHAPE, generator=g, dtype=torch.float64)
    noise = torch.randn(SHAPE, generator=g, dtype=torch.float64)
    assert torch.allclose(sample_dpmpp_2m(oracle(z0, sched), noise, sched, steps=10), z0, atol=1e-8)


def test_samplers_converge_to_the_ode_solution():
    sched = NoiseSchedule()
    noise = torch.randn(SHAPE, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    target = ode_target(noise, sched)
    den = gaussian_denoiser(sched)
    err_ddim_20 = (sample_ddim(den, noise, sched, steps=20) - target).abs().max()
    err_ddim_500 = (sample_ddim(den, noise, sched, steps=500) - target).abs().max()
    err_dpm_15 = (sample_dpmpp_2m(den, noise, sched, steps=15) - target).abs().max()
    assert err_ddim_500 < err_ddim_20 / 5  # first order converges with steps
    assert err_dpm_15 < err_ddim_20 / 5  # the second-order solver beats DDIM with fewer steps
    assert err_dpm_15 < 0.05 * STD


def test_ancestral_sampler_draws_the_data_distribution_and_follows_its_generators():
    """DDPM (DDIM η = 1) with the exact denoiser of N(MU, STD²) ends at that distribution (with many steps: few
    steps under-disperse, 0.94 STD at 50); its fresh noise comes from the given generators, so a seed gives the same
    dance and another seed another one."""
    sched = NoiseSchedule()
    noise = torch.randn(256, 2, 4, 8, generator=torch.Generator().manual_seed(4), dtype=torch.float64)

    def run(seed):
        return sample_ddpm(gaussian_denoiser(sched), noise, sched, steps=200,
                           generator=torch.Generator().manual_seed(seed))

    out = run(5)
    assert float(out.mean()) == pytest.approx(MU, abs=0.05 * STD)
    assert float(out.std()) == pytest.approx(STD, rel=0.03)
    assert torch.equal(out, run(5)) and not torch.allclose(out, run(6))
    assert not torch.allclose(out, ode_target(noise, sched))  # not the ODE's deterministic answer


@pytest.mark.parametrize("sampler", [sample_ddim, sample_dpmpp_2m, sample_ddpm])
def test_inpaint_keeps_the_known_region(sampler):
    sched = NoiseSchedule()
    g = torch.Generator().manual_seed(2)
    known = torch.randn(SHAPE, generator=g)
    mask = torch.zeros(SHAPE)
    mask[..., :2] = 1  # first two latent columns are known (stitching overlap)
    out = sampler(gaussian_denoiser(sched), torch.randn(SHAPE, generator=g), sched, steps=10,
                  generator=g, inpaint=(known, mask))
    assert torch.allclose(out[..., :2], known[..., :2], atol=1e-6)
    assert not torch.allclose(out[..., 2:], known[..., 2:], atol=1e-2)


def test_per_sample_generators_make_results_batch_independent():
    sched = NoiseSchedule()
    noise = torch.randn(SHAPE, generator=torch.Generator().manual_seed(3))
    den = gaussian_denoiser(sched)

    def gens(*seeds):
        return [torch.Generator().manual_seed(s) for s in seeds]

    both = sample_ddim(den, noise, sched, steps=8, eta=1.0, generator=gens(10, 11))
    alone = sample_ddim(den, noise[1:], sched, steps=8, eta=1.0, generator=gens(11))
    assert torch.allclose(both[1:], alone, atol=1e-6)
    with pytest.raises(Dance2DError):
        sample_ddim(den, noise, sched, steps=8, eta=1.0, generator=gens(1))


def test_progress_is_called_per_step():
    sched = NoiseSchedule()
    calls = []
    sample_dpmpp_2m(gaussian_denoiser(sched), torch.randn(SHAPE), sched, steps=6,
                    progress=lambda i, n: calls.append((i, n)))
    assert calls == [(i, 6) for i in range(1, 7)]


def fake_model(log):
    """ε depends on z, τ, the music condition and music_keep, so CFG mistakes show."""

    def call(z, tau, music_keep, music):
        log.append(z.shape[0])
        k = music_keep.to(z.dtype).view(-1, 1, 1, 1)
        return 0.5 * z + tau.to(z.dtype).view(-1, 1, 1, 1) / 1000 + k * music

    return call


def test_cfg_combines_passes_in_one_batch():
    log = []
    z, music = torch.randn(SHAPE), torch.randn(SHAPE)
    tau = torch.tensor([5, 700])
    call = fake_model(log)
    eps_c = call(z, tau, torch.ones(2, dtype=torch.bool), music)
    eps_u = call(z, tau, torch.zeros(2, dtype=torch.bool), music)
    log.clear()
    out = cfg_denoiser(call, 3.0, {"music": music})(z, tau)
    assert log == [4]  # one call on the doubled batch
    assert torch.allclose(out, eps_u + 3.0 * (eps_c - eps_u), atol=1e-6)
    assert torch.allclose(cfg_denoiser(call, 1.0, {"music": music})(z, tau), eps_c, atol=1e-6)


def test_cfg_with_a_dit():
    from dance2d.model import DiT, make_config

    torch.manual_seed(0)
    model = DiT(make_config("tiny", latent_channels=3, music_dim=5))
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.1 * torch.randn_like(p))
    model.eval()
    b, wl, tl = 2, 4, 6
    z = torch.randn(b, 3, wl, tl)
    cond = {"music": torch.randn(b, tl, 5), "ref": torch.randn(b, 3, wl, tl), "mask": torch.zeros(b, 8, wl, tl)}
    tau = torch.tensor([100, 800])
    with torch.no_grad():
        eps_c = model(z, tau, **cond)
        eps_u = model(z, tau, **cond, music_keep=torch.zeros(b, dtype=torch.bool))
        out = cfg_denoiser(model, 2.5, cond)(z, tau)
        one = cfg_denoiser(model, 1.0, cond)(z, tau)
    assert torch.allclose(out, eps_u + 2.5 * (eps_c - eps_u), atol=1e-5)
    assert torch.allclose(one, eps_c, atol=1e-6)


def test_eps_skip_adds_the_wiener_estimate_and_keeps_the_optimum():
    """ε̂ = σ_τ z + F: with F = 0 the expected loss on unit-variance data is α_τ² (not 1)."""
    sch = NoiseSchedule()
    g = torch.Generator().manual_seed(0)
    z0 = torch.randn(64, 4, 8, 8, generator=g)
    eps = torch.randn(64, 4, 8, 8, generator=g)
    for tau in (10, 400, 900):
        t = torch.full((64,), tau)
        fn = eps_of(lambda z, tau, **c: torch.zeros_like(z), sch)
        loss = ((fn(sch.add_noise(z0, eps, t), t) - eps) ** 2).mean()
        alpha, _ = sch.alpha_sigma(tau)
        assert abs(float(loss) - float(alpha) ** 2) < 0.05
    zero_model = eps_of(lambda z, tau, **c: eps - sch.alpha_sigma(tau)[1].view(-1, 1, 1, 1).float() * z, sch)
    t = torch.full((64,), 500)
    assert torch.allclose(zero_model(sch.add_noise(z0, eps, t), t), eps, atol=1e-5)


def eps_of(net, sch):
    """ε̂ of an ε-skip network F: ε̂ = σ_τ z + F."""
    pred = predictor(net, sch, DiffusionConfig(eps_skip=True))
    return lambda z, tau, **c: pred(z, tau, **c)[0]


@pytest.mark.parametrize("prediction", ["eps", "v", "x"])
def test_every_prediction_target_converts_an_exact_network_to_the_true_eps_and_z0(prediction):
    """A network that outputs the exact target gives ε̂ = ε and Ẑ = Z, so every loss space is zero at the optimum."""
    sch = NoiseSchedule()
    g = torch.Generator().manual_seed(0)
    z0, eps = torch.randn(SHAPE, generator=g, dtype=torch.float64), torch.randn(SHAPE, generator=g, dtype=torch.float64)
    tau = torch.tensor([1, 700])
    a, s = (v.view(-1, 1, 1, 1) for v in sch.alpha_sigma(tau))
    target = {"eps": eps, "v": a * eps - s * z0, "x": z0}[prediction]
    cfg = DiffusionConfig(prediction=prediction)
    e_hat, x_hat = predictor(lambda z, t: target, sch, cfg)(sch.add_noise(z0, eps, tau), tau)
    torch.testing.assert_close(e_hat, eps)
    torch.testing.assert_close(x_hat, z0)
    tau = torch.tensor([30, 700])  # σ above sigma_min: the training floor does not apply
    a, s = (v.view(-1, 1, 1, 1) for v in sch.alpha_sigma(tau))
    target = {"eps": eps, "v": a * eps - s * z0, "x": z0}[prediction]
    for space in ("eps", "v", "x"):
        cfg = DiffusionConfig(prediction=prediction, loss=space)
        loss = diffusion_loss(lambda z, t: target, z0, tau, eps, sch, cfg)
        assert float(loss) < 1e-12


def test_loss_spaces_weight_the_clean_latent_error_as_documented():
    """For x-prediction with error δ on Ẑ: x-loss δ², v-loss δ²/σ², ε-loss α²δ²/σ² (σ ≥ sigma_min)."""
    sch = NoiseSchedule()
    z0 = torch.zeros(1, 2, 1, 4, dtype=torch.float64)
    eps = torch.zeros_like(z0)
    tau = torch.tensor([500])
    a, s = (float(v) for v in sch.alpha_sigma(500))
    wrong = lambda z, t: torch.full_like(z, 0.1)  # noqa: E731
    got = {sp: float(diffusion_loss(wrong, z0, tau, eps, sch, DiffusionConfig(prediction="x", loss=sp)))
           for sp in ("x", "v", "eps")}
    assert got["x"] == pytest.approx(0.01)
    assert got["v"] == pytest.approx(0.01 / s**2)
    assert got["eps"] == pytest.approx(0.01 * a**2 / s**2)


def test_sigma_min_bounds_the_x_prediction_eps_in_training_only():
    sch = NoiseSchedule()
    z = torch.ones(1, 1, 1, 1, dtype=torch.float64)
    tau = torch.tensor([1])
    a, s = (float(v) for v in sch.alpha_sigma(1))
    assert s < 0.05
    cfg = DiffusionConfig(prediction="x", sigma_min=0.05)
    exact, _ = predictor(lambda z, t: torch.zeros_like(z), sch, cfg)(z, tau)
    floored, _ = predictor(lambda z, t: torch.zeros_like(z), sch, cfg, cfg.sigma_min)(z, tau)
    assert float(exact) == pytest.approx(1 / s) and float(floored) == pytest.approx(1 / 0.05)


def test_velocity_loss_penalises_only_temporal_differences():
    sch = NoiseSchedule()
    z0 = torch.zeros(1, 1, 1, 6, dtype=torch.float64)
    tau, eps = torch.tensor([300]), torch.zeros_like(z0)
    cfg = DiffusionConfig(prediction="x", loss="x", velocity_weight=2.0)
    const = float(diffusion_loss(lambda z, t: torch.full_like(z, 0.5), z0, tau, eps, sch, cfg))
    assert const == pytest.approx(0.25)  # constant offset: no velocity error
    ramp = lambda z, t: torch.arange(6, dtype=z.dtype).view(1, 1, 1, 6) * 0.1  # noqa: E731
    expected = float((torch.arange(6) * 0.1).pow(2).mean()) + 2.0 * 0.01
    assert float(diffusion_loss(ramp, z0, tau, eps, sch, cfg)) == pytest.approx(expected)


def test_diffusion_config_round_trip_defaults_and_errors():
    old = DiffusionConfig.from_dict({"eps_skip": True, "anchor": False})  # checkpoints before prediction targets
    assert old.prediction == "eps" and old.loss == "eps" and old.eps_skip
    cfg = DiffusionConfig(prediction="x", loss="v", velocity_weight=1.0)
    assert DiffusionConfig.from_dict(cfg.to_dict()) == cfg
    for bad in ({"prediction": "noise"}, {"loss": "l1"}, {"prediction": "x", "eps_skip": True}, {"colour": 1},
                {"schedule": "sigmoid"}, {"schedule": "scaled_linear_low_snr"}):  # the last: ε-prediction
        with pytest.raises(Dance2DError):
            DiffusionConfig.from_dict(bad)
    for prediction in ("x", "v"):
        assert DiffusionConfig(prediction=prediction, schedule="scaled_linear_low_snr").make_schedule().kind == \
            "scaled_linear_low_snr"
