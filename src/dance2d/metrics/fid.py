"""FID_k and DIV_k on kinetic feature vectors (supplementary §8; FACT / Bailando conventions, written down)."""

from __future__ import annotations

import warnings

import numpy as np
import scipy.linalg
from scipy.spatial.distance import pdist

from dance2d.errors import Dance2DError

NORM_EPS = 1e-10  # added to the ground-truth std before dividing (as upstream), so constant features stay finite
SQRTM_EPS = 1e-6  # diagonal offset tried when sqrtm(Σ1Σ2) is not finite (near-singular product)
IMAG_TOL = 1e-3  # |imaginary part| of sqrtm's diagonal above this (relative to the trace) triggers a warning


def _check_features(x: np.ndarray, name: str, min_rows: int) -> np.ndarray:
    """Return x as float64 (N, F), or raise a clear error."""
    f = np.asarray(x, dtype=np.float64)
    if f.ndim != 2 or f.shape[0] < min_rows:
        raise Dance2DError(f"{name} has shape {f.shape}: pass (N, F) feature rows with N >= {min_rows}.")
    if not np.isfinite(f).all():
        raise Dance2DError(f"{name} contains NaN or inf: check the keypoints the features came from.")
    return f


def normalize_features(gen: np.ndarray, gt: np.ndarray, eps: float = NORM_EPS) -> tuple[np.ndarray, np.ndarray]:
    """Z-score both sets with the GROUND-TRUTH mean and std (population std, ddof=0): returns (gen, gt)."""
    gen = _check_features(gen, "generated features", 1)
    gt = _check_features(gt, "ground-truth features", 1)
    if gen.shape[1] != gt.shape[1]:
        raise Dance2DError(f"feature sizes differ ({gen.shape[1]} vs {gt.shape[1]}): use one KineticConfig.")
    mean, std = gt.mean(axis=0), gt.std(axis=0)
    return (gen - mean) / (std + eps), (gt - mean) / (std + eps)


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """d² = |μ1-μ2|² + tr(Σ1 + Σ2 - 2 (Σ1Σ2)^½) (Heusel et al. 2017), via scipy.linalg.sqrtm."""
    mu1, mu2 = np.atleast_1d(mu1).astype(np.float64), np.atleast_1d(mu2).astype(np.float64)
    s1, s2 = np.atleast_2d(sigma1).astype(np.float64), np.atleast_2d(sigma2).astype(np.float64)
    with warnings.catch_warnings():  # singular Σ (N <= F samples) is common; the result is checked below
        warnings.simplefilter("ignore", scipy.linalg.LinAlgWarning)
        covmean = scipy.linalg.sqrtm(s1 @ s2)
        if not np.isfinite(covmean).all():
            offset = np.eye(s1.shape[0]) * SQRTM_EPS
            covmean = scipy.linalg.sqrtm((s1 + offset) @ (s2 + offset))
    if np.iscomplexobj(covmean):
        imag = np.abs(np.diagonal(covmean).imag).max()
        if imag > IMAG_TOL * max(1.0, abs(np.trace(covmean).real)):
            warnings.warn(f"sqrtm(Σ1Σ2) has an imaginary part up to {imag:.3g}; using its real part.",
                          RuntimeWarning, stacklevel=2)
        covmean = covmean.real
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2.0 * np.trace(covmean))


def frechet_distance_diag(mu1: np.ndarray, var1: np.ndarray, mu2: np.ndarray, var2: np.ndarray) -> float:
    """Closed form for diagonal covariances: |μ1-μ2|² + Σ_d (σ1_d - σ2_d)²."""
    mu1, mu2 = np.asarray(mu1, np.float64), np.asarray(mu2, np.float64)
    s1, s2 = np.sqrt(np.asarray(var1, np.float64)), np.sqrt(np.asarray(var2, np.float64))
    return float(((mu1 - mu2) ** 2).sum() + ((s1 - s2) ** 2).sum())


def gaussian_stats(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean (F,) and unbiased covariance (F, F) of feature rows (np.cov, ddof=1, as upstream)."""
    f = _check_features(features, "features", 2)
    return f.mean(axis=0), np.atleast_2d(np.cov(f, rowvar=False))


def fid_k(gen_features: np.ndarray, gt_features: np.ndarray) -> float:
    """FID_k: Fréchet distance between Gaussians fitted to GT-normalised kinetic features (§8)."""
    _check_features(gen_features, "generated features", 2)
    _check_features(gt_features, "ground-truth features", 2)
    gen, gt = normalize_features(gen_features, gt_features)
    mu_gen, cov_gen = gaussian_stats(gen)
    mu_gt, cov_gt = gaussian_stats(gt)
    return frechet_distance(mu_gen, cov_gen, mu_gt, cov_gt)


def mean_pairwise_distance(features: np.ndarray) -> float:
    """Mean Euclidean distance over all unordered pairs i < j of feature rows."""
    f = _check_features(features, "features", 2)
    return float(pdist(f, metric="euclidean").mean())


def div_k(gen_features: np.ndarray, gt_features: np.ndarray | None = None) -> float:
    """DIV_k: mean pairwise distance among generated features, z-scored with the GT statistics when given (§8)."""
    if gt_features is None:
        return mean_pairwise_distance(gen_features)
    gen, _ = normalize_features(gen_features, gt_features)
    return mean_pairwise_distance(gen)
