"""Posterior draws of the curve model by Markov chain Monte Carlo (the ``uncertainty="mcmc"`` method).

What it targets
---------------
The model of :mod:`optimizer.curves.fit` on the scaled KPI, read as a Bayesian regression::

    y = B gamma + Z(theta) beta + e,   e ~ N(0, sigma^2 I)
    gamma ~ flat,  p(sigma^2) ~ 1 / sigma^2 (Jeffreys),
    beta_c | sigma^2 ~ N(0, sigma^2 / lambda0) restricted to beta_c >= 0  (weak: sd 10 x the mean KPI at the
        fitted noise level, lambda0 = noise_var / 10^2; ``beta_prior_sd=None`` makes it flat),
    theta_c = (decay, log kappa, n) ~ N(PRIOR_MEAN, PRIOR_SD^2) restricted to the fit's bounds

(apart from the weak prior on beta, whose pull is ~1e-5 of the data's, the MAP of this posterior is the
point fit's optimum: ``design.penalty`` weighs the same Gaussian prior on theta by the noise variance).
Given ``(theta, beta)`` the model is linear-Gaussian in ``(gamma, sigma^2)``, so both are integrated out in
closed form (Gelman et al., *Bayesian Data Analysis*, 3rd ed. (BDA3), section 14.2: the flat prior on
``gamma`` leaves ``(sigma^2)^{-(n-p)/2} exp(-SS / 2 sigma^2)`` with the baseline projected out, and the
Jeffreys prior on ``sigma^2`` then integrates to ``SS^{-(n-p)/2}``)::

    log p(theta, beta | y) = -(n - p)/2 * log SS(theta, beta) - 1/2 sum ((theta - mu) / sd)^2 + const,
    SS = ||P (y - Z(theta) beta)||^2 + lift-test rows + lambda ||beta||^2,   beta >= 0, theta in bounds,

``P`` the projector of :class:`~optimizer.curves.fit.Projector`, ``n`` the rows (KPI rows, lift-test rows and
one prior row per channel), ``p`` the baseline columns. Noise-sd draws are added afterwards from
``sigma^2 | theta, beta, y ~ SS / chi^2_{n-p}``.

Why this sampler
----------------
Each sweep makes two kinds of move, both leaving the posterior invariant:

1. Per channel, a collapsed Metropolis-within-Gibbs move. Given the other channels, ``SS`` is a parabola in
   ``beta_c``, so ``beta_c >= 0`` and ``sigma^2`` integrate out in closed form: the conditional of
   ``beta_c`` is a Student t with ``n - p - 1`` degrees of freedom truncated at 0, and its integral a t CDF.
   A random-walk proposal for ``theta_c`` is accepted on that collapsed density, then ``beta_c`` is drawn
   exactly from its truncated t by inversion (the order van Dyk & Park 2008 require of a partially
   collapsed Gibbs sampler). This is the move that mixes: the posterior of a weakly identified channel is
   a curved ridge (a larger half-saturation with a larger maximum response fits the same data), along which
   a random walk in ``(theta, beta)`` crawls (effective sample size 3 in 12,000 iterations on the
   one-channel case of the tests) while the collapsed move crosses it (ESS in the thousands).
2. A joint random-walk Metropolis move of all ``(theta, beta)``, with a Gaussian proposal shaped by the
   Laplace (Gauss-Newton) covariance at the MAP (``H = J^T J / s^2 + prior precision``, ``J`` the analytic
   Jacobian of the projected residual from :func:`~optimizer.curves.fit.features`), later by the burn-in
   draws' covariance (Haario, Saksman & Tamminen 2001). It moves correlated channels together, which
   one-channel moves do slowly.

Bounds (theta's box, ``beta >= 0``) are handled by REFLECTING proposals at the walls, which keeps a random
walk symmetric (plain Metropolis ratio) and lets a chain sit near a bound. Burn-in adapts the step scales by
Robbins-Monro toward acceptance 0.44 for the one-channel moves (<= 3 dimensions) and 0.234 for the joint
move (Roberts, Gelman & Gilks 1997), and swaps in the empirical covariance half-way; then adaptation stops,
so the sampling phase is an ordinary Markov chain. ``n_chains`` (2) chains run in lock-step (vectorised),
chain 0 from the MAP, the others from one Laplace draw around it (so that R-hat sees some over-dispersion).
Draws are thinned evenly to ``n_draws``.

Diagnostics: acceptance rates (joint move per chain, and the lowest one-channel rate), split R-hat (BDA3
eq. 11.4) and effective sample size (BDA3 section 11.5, Geyer's initial monotone sequence) of every sampled
parameter over all chains; R-hat > 1.05 or an ESS under half the draws (at most 50) makes a warning.

Known limits: the posterior is only as good as the priors: a channel whose spend never goes near 0 keeps
its shape from the prior (mean 1, sd 0.7), so ROI intervals of strongly S-shaped truths can still miss
(docs/curves-posterior.md). One-channel moves re-evaluate one channel's features (~C x the cost of a point
evaluation per sweep). Lift-test rows enter SS as rows with variance ``sigma^2 / w^2`` (their weight ``w =
sd_noise / sigma_test`` from the point fit), i.e. the test's own sigma scaled with the sampled noise.

Units: everything is in the fit's scaled units (KPI / ``y_scale``; spend / channel scale).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Callable

import numpy as np
from scipy.special import stdtr, stdtrit

from optimizer.curves.fit import Design, Projector, features
from optimizer.curves.saturation import value as saturation_value

#: Target acceptance rates of the adapted random walk (Roberts, Gelman & Gilks 1997; Gelman et al. BDA3 12.2).
TARGET_ACCEPT_HIGH_DIM = 0.234
TARGET_ACCEPT_LOW_DIM = 0.44
#: Names of the three entries of theta_c.
THETA_NAMES = ("decay", "log_kappa", "shape")
#: Prior sd of each media coefficient beta_c (a channel's maximum response) in units of the mean KPI per period.
BETA_PRIOR_SD = 10.0
#: R-hat above this (or an ESS under half the draws, at most 50) makes a warning.
RHAT_WARN = 1.05


@dataclass(frozen=True)
class PosteriorDraws:
    """Draws of the curve parameters and the sampler's diagnostics.

    Attributes
    ----------
    theta: (n_draws, C, 3) decay, log half-saturation (units of the channel's scale), shape per draw.
    beta: (n_draws, C) media coefficients (scaled KPI units).
    sigma: (n_draws,) noise standard deviation (scaled KPI units), drawn from its conditional.
    seed: seed of the sampler (drawn and echoed when None was given).
    n_chains, n_burn, n_iter: chains, burn-in sweeps per chain (adaptive, discarded) and sampling sweeps
        per chain (a fixed kernel); a sweep is one collapsed move per channel plus one joint move.
    thin: kept every ``thin``-th sampling iteration.
    acceptance: acceptance rate of the joint random-walk move in the sampling phase, per chain (fraction).
    acceptance_channel: acceptance rate of each channel's collapsed theta move, per chain (K, C) (fraction;
        1 where a channel's theta is pinned: its coefficient is then drawn by exact Gibbs; 0 with
        ``collapsed=False``).
    step_scale: the adapted scale of the joint move per chain (multiplies its covariance's Cholesky factor).
    param_names: names of the sampled parameters ("channel.decay", "channel.log_kappa", "channel.shape",
        "channel.beta"); pinned parameters (equal bounds) are not sampled.
    rhat, ess: split R-hat and effective sample size of each sampled parameter over all chains
        (computed on every sampling iteration, before thinning).
    elapsed_seconds: wall time of the sampler.
    warnings: sentences about convergence (R-hat, ESS) a modeller should read; empty when none.
    """

    theta: np.ndarray
    beta: np.ndarray
    sigma: np.ndarray
    seed: int
    n_chains: int
    n_burn: int
    n_iter: int
    thin: int
    acceptance: tuple[float, ...]
    acceptance_channel: np.ndarray
    step_scale: tuple[float, ...]
    param_names: tuple[str, ...]
    rhat: np.ndarray
    ess: np.ndarray
    elapsed_seconds: float
    warnings: tuple[str, ...] = field(default_factory=tuple)

    @property
    def n_draws(self) -> int:
        return int(self.beta.shape[0])

    @property
    def max_rhat(self) -> float:
        return float(np.max(self.rhat)) if len(self.rhat) else 1.0

    @property
    def min_ess(self) -> float:
        return float(np.min(self.ess)) if len(self.ess) else float("inf")

    def summary(self):
        """One row per sampled parameter: posterior mean, 5 % and 95 % quantiles, R-hat, ESS."""
        import pandas as pd

        flat = self._flat()
        return pd.DataFrame({"mean": flat.mean(axis=0), "q05": np.quantile(flat, 0.05, axis=0),
                             "q95": np.quantile(flat, 0.95, axis=0), "rhat": self.rhat, "ess": self.ess},
                            index=pd.Index(self.param_names, name="parameter"))

    def _flat(self) -> np.ndarray:
        """Draws of the sampled parameters as columns, in ``param_names`` order."""
        channels = list(dict.fromkeys(n.rsplit(".", 1)[0] for n in self.param_names))
        cols = []
        for name in self.param_names:
            ch, what = name.rsplit(".", 1)
            c = channels.index(ch)
            cols.append(self.beta[:, c] if what == "beta" else self.theta[:, c, THETA_NAMES.index(what)])
        return np.column_stack(cols) if cols else np.zeros((self.n_draws, 0))

    def diagnostics(self) -> dict:
        """JSON-safe diagnostics, the same for the same seed (recorded by CurveModel in fit.json and the curves
        file under ``settings.uncertainty_diagnostics``)."""
        worst = int(np.argmax(self.rhat)) if len(self.rhat) else None
        least = int(np.argmin(self.ess)) if len(self.ess) else None
        return {"method": "mcmc",
                "sampler": "collapsed Metropolis-within-Gibbs per channel + joint random-walk Metropolis",
                "seed": self.seed, "n_chains": self.n_chains, "n_burn": self.n_burn, "n_iter": self.n_iter,
                "thin": self.thin, "n_draws": self.n_draws,
                "acceptance": [round(a, 4) for a in self.acceptance],
                "acceptance_channel_min": float(np.min(self.acceptance_channel)),
                "max_rhat": self.max_rhat, "max_rhat_parameter": self.param_names[worst] if worst is not None else None,
                "min_ess": self.min_ess, "min_ess_parameter": self.param_names[least] if least is not None else None}

    def to_dict(self) -> dict:
        """Diagnostics plus per-parameter R-hat and ESS (JSON-safe)."""
        out = self.diagnostics()
        out["elapsed_seconds"] = self.elapsed_seconds
        out["rhat"] = {n: float(v) for n, v in zip(self.param_names, self.rhat)}
        out["ess"] = {n: float(v) for n, v in zip(self.param_names, self.ess)}
        out["warnings"] = list(self.warnings)
        return out

    def __str__(self) -> str:
        d = self.diagnostics()
        return (f"MCMC: {self.n_chains} chains x {self.n_iter} iterations (+{self.n_burn} burn-in), "
                f"{self.n_draws} draws, acceptance {', '.join(f'{a:.2f}' for a in self.acceptance)}, "
                f"max R-hat {d['max_rhat']:.3f} ({d['max_rhat_parameter']}), min ESS {d['min_ess']:.0f} "
                f"({d['min_ess_parameter']})")


class _Target:
    """Log posterior of ``(theta_free, beta)`` for K chains at once (gamma and sigma^2 integrated out)."""

    def __init__(self, design: Design, theta0: np.ndarray, n_chains: int, beta_prior_sd: float | None = None):
        self.d = design
        C = design.n_channels
        self.C, self.K = C, n_chains
        lo, hi = design.bounds[:, :, 0], design.bounds[:, :, 1]
        self.free = hi > lo  # (C, 3)
        self.theta0 = np.clip(np.asarray(theta0, dtype=float), lo, hi)
        self.n_theta = int(self.free.sum())
        self.dim = self.n_theta + C
        self.lo = np.concatenate([lo[self.free], np.zeros(C)])
        self.hi = np.concatenate([hi[self.free], np.full(C, np.inf)])
        # one design holding K copies of every channel: one features() call evaluates all chains
        self.multi = replace(design, lagged=np.concatenate([design.lagged] * n_chains),
                             scale=np.tile(design.scale, n_chains), kinds=design.kinds * n_chains,
                             bounds=np.concatenate([design.bounds] * n_chains), lift=())
        self.proj = Projector(design.base)
        self.py = self.proj(design.y)
        T, p = design.base.shape
        # ridge rows: the design's own ridge plus the weak conjugate prior on beta (see the module docstring)
        self.ridge = design.ridge + (design.noise_var / beta_prior_sd**2 if beta_prior_sd is not None else 0.0)
        n_rows = T + len(design.lift) + (C if self.ridge > 0 else 0)
        self.nu = n_rows - p  # degrees of freedom of SS
        if self.nu <= 0:
            raise ValueError(f"{n_rows} rows for {p} baseline columns: no degrees of freedom left for the noise.")
        # per channel: K copies of that channel alone (its collapsed move), and its lift-test rows
        self.single = [replace(design, lagged=np.repeat(design.lagged[c:c + 1], n_chains, axis=0),
                               scale=np.full(n_chains, design.scale[c]), kinds=(design.kinds[c],) * n_chains,
                               bounds=np.repeat(design.bounds[c:c + 1], n_chains, axis=0), lift=())
                       for c in range(C)]
        self.lift_rows = [[i for i, row in enumerate(design.lift) if row[0] == c] for c in range(C)]
        sd = np.asarray(design.prior_sd, dtype=float)
        mean = np.broadcast_to(np.asarray(design.prior_mean, dtype=float), (C, 3))
        on = np.broadcast_to(sd > 0, (C, 3))
        self.prior_on = on & self.free
        self.prior_mean = mean
        self.prior_sd = np.broadcast_to(np.where(sd > 0, sd, 1.0), (C, 3))

    def unpack(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(K', d) -> theta (K', C, 3), beta (K', C)."""
        theta = np.broadcast_to(self.theta0, (x.shape[0], self.C, 3)).copy()
        theta[:, self.free] = x[:, : self.n_theta]
        return theta, x[:, self.n_theta:]

    def pack(self, theta: np.ndarray, beta: np.ndarray) -> np.ndarray:
        return np.concatenate([np.asarray(theta)[self.free], np.asarray(beta, dtype=float)])

    def _z(self, theta: np.ndarray) -> np.ndarray:
        K = theta.shape[0]
        design = self.multi if K == self.K else replace(self.multi, **_copies(self.d, K))
        return features(design, theta.reshape(K * self.C, 3), with_grad=False)[0].reshape(K, self.C, -1)

    def _lift_dz(self, theta_c: np.ndarray, rows: list[int]) -> np.ndarray:
        """The curve's increment over each lift test in ``rows`` (K, len(rows)); ``theta_c`` (K, 3) is the
        channel's parameters (all rows must be of that channel) or (K, C, 3)."""
        K = theta_c.shape[0]
        out = np.zeros((K, len(rows)))
        for j, i in enumerate(rows):
            c, x, dx, _, _ = self.d.lift[i]
            th = theta_c[:, c] if theta_c.ndim == 3 else theta_c
            kind, s = self.d.kinds[c], self.d.scale[c]
            out[:, j] = (saturation_value(kind, np.full(K, (x + dx) / s), th[:, 1], th[:, 2])
                         - saturation_value(kind, np.full(K, x / s), th[:, 1], th[:, 2]))
        return out

    def media(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Projected media features (K, C, T) and lift-test increments (K, n_lift) at theta (K, C, 3)."""
        z = self._z(theta)
        K, C, T = z.shape
        pz = self.proj(z.transpose(2, 0, 1).reshape(T, K * C)).reshape(T, K, C).transpose(1, 2, 0)
        return pz, self._lift_dz(theta, list(range(len(self.d.lift))))

    def ss_from(self, pz: np.ndarray, ld: np.ndarray, beta: np.ndarray) -> np.ndarray:
        """Residual sum of squares per chain (K,): baseline projected out, lift and ridge rows added."""
        r = self.py[None, :] - np.einsum("kct,kc->kt", pz, beta)
        out = np.einsum("kt,kt->k", r, r)
        for i, (c, _, _, dy, w) in enumerate(self.d.lift):
            out = out + (w * (beta[:, c] * ld[:, i] - dy)) ** 2
        if self.ridge > 0:
            out = out + self.ridge * np.sum(beta**2, axis=1)
        return out

    def ss(self, theta: np.ndarray, beta: np.ndarray) -> np.ndarray:
        return self.ss_from(*self.media(theta), beta)

    def channel_media(self, c: int, theta_c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Projected features (K, T) and lift increments (K, rows of c) of channel c at theta_c (K, 3)."""
        z = features(self.single[c], theta_c, with_grad=False)[0]  # (K, T)
        return self.proj(z.T).T, self._lift_dz(theta_c, self.lift_rows[c])

    def channel_conditional(self, c: int, pz_c: np.ndarray, ld_c: np.ndarray, r_c: np.ndarray, const: np.ndarray):
        """Channel c's coefficient given everything else, per chain: ``SS(beta_c) = SS_min + a (beta_c - bhat)^2``.

        Returns ``(log m, bhat, s, ss_min)`` with ``m`` the likelihood integrated over ``beta_c >= 0`` and
        ``sigma^2`` (Jeffreys): ``m ~ SS_min^{-(nu-1)/2} a^{-1/2} F_{nu-1}(bhat / s)``, ``s^2 = SS_min / ((nu-1) a)``,
        F the Student-t CDF (BDA3 14.2: the conditional of ``beta_c`` is ``t_{nu-1}(bhat, s^2)`` truncated at 0).
        ``r_c`` is the projected KPI less the other channels; ``const`` the sum of squares at ``beta_c = 0``.
        """
        a = np.einsum("kt,kt->k", pz_c, pz_c)
        b = np.einsum("kt,kt->k", pz_c, r_c)
        for j, i in enumerate(self.lift_rows[c]):
            _, _, _, dy, w = self.d.lift[i]
            a = a + (w * ld_c[:, j]) ** 2
            b = b + w * w * ld_c[:, j] * dy
        a = a + self.ridge
        a = np.maximum(a, 1e-300)
        bhat = b / a
        ss_min = np.maximum(const - b * bhat, 1e-300)
        nu1 = self.nu - 1
        s = np.sqrt(ss_min / (nu1 * a))
        log_f = np.log(np.maximum(stdtr(nu1, bhat / s), 1e-300))
        log_m = -0.5 * nu1 * np.log(ss_min) - 0.5 * np.log(a) + log_f
        return log_m, bhat, s

    def pack_many(self, theta: np.ndarray, beta: np.ndarray) -> np.ndarray:
        """theta (K, C, 3), beta (K, C) -> x (K, d)."""
        return np.concatenate([theta[:, self.free], beta], axis=1)

    def ridge_other(self, beta: np.ndarray, c: int) -> np.ndarray:
        """Ridge rows of the channels other than c (K,)."""
        if self.ridge <= 0:
            return np.zeros(beta.shape[0])
        return self.ridge * (np.sum(beta**2, axis=1) - beta[:, c] ** 2)

    def lift_other(self, beta: np.ndarray, ld: np.ndarray, c: int) -> np.ndarray:
        """Lift-test rows: those of channel c at beta_c = 0 (w dy)^2, the others' squared residuals (K,)."""
        out = np.zeros(beta.shape[0])
        for i, (ci, _, _, dy, w) in enumerate(self.d.lift):
            out = out + ((w * dy) ** 2 if ci == c else (w * (beta[:, ci] * ld[:, i] - dy)) ** 2)
        return out

    def log_prior_c(self, theta_c: np.ndarray, c: int) -> np.ndarray:
        """Log prior of channel c's theta (K, 3)."""
        zz = np.where(self.prior_on[c], (theta_c - self.prior_mean[c]) / self.prior_sd[c], 0.0)
        return -0.5 * np.sum(zz**2, axis=1)

    def log_prior(self, theta: np.ndarray) -> np.ndarray:
        zz = np.where(self.prior_on, (theta - self.prior_mean) / self.prior_sd, 0.0)
        return -0.5 * np.sum(zz**2, axis=(1, 2))

    def log_post(self, theta: np.ndarray, ss: np.ndarray) -> np.ndarray:
        return -0.5 * self.nu * np.log(np.maximum(ss, 1e-300)) + self.log_prior(theta)

    def __call__(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(log posterior up to a constant, SS), each (K,)."""
        theta, beta = self.unpack(x)
        ss = self.ss(theta, beta)
        return self.log_post(theta, ss), ss

    def laplace_covariance(self, x0: np.ndarray) -> np.ndarray:
        """Inverse Gauss-Newton Hessian of the negative log posterior at ``x0`` (the proposal's shape)."""
        theta, beta = self.unpack(x0[None])
        theta, beta = theta[0], beta[0]
        z, gd, gk, gn = features(self.d, theta, with_grad=True)
        cols = []
        grads = (gd, gk, gn)
        for c, k in zip(*np.nonzero(self.free)):
            cols.append(grads[k][c] * beta[c])
        cols += list(z)
        J = self.proj(np.column_stack(cols))
        s2 = float(self(x0[None])[1][0]) / self.nu
        H = J.T @ J / max(s2, 1e-300)
        prec = np.zeros(self.dim)
        prec[: self.n_theta] = np.where(self.prior_on[self.free], 1.0 / self.prior_sd[self.free] ** 2, 0.0)
        if self.ridge > 0:
            prec[self.n_theta:] += self.ridge / max(s2, 1e-300)
        # proposal-only regularisation: at most half the width of a bounded parameter (a channel with
        # beta = 0 and no prior has a flat direction), and a tiny jitter for numerical definiteness
        width = self.hi - self.lo
        prec += np.where(np.isfinite(width), 1.0 / (0.5 * np.where(np.isfinite(width), width, 1.0)) ** 2, 0.0)
        H = H + np.diag(prec)
        H += 1e-9 * np.trace(H) / self.dim * np.eye(self.dim)
        cov = np.linalg.inv(H)
        return 0.5 * (cov + cov.T)


def _copies(design: Design, K: int) -> dict:
    return {"lagged": np.concatenate([design.lagged] * K), "scale": np.tile(design.scale, K),
            "kinds": design.kinds * K, "bounds": np.concatenate([design.bounds] * K)}


def reflect(x: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Fold ``x`` into ``[lo, hi]`` by reflection at the walls (``hi`` may be inf). A reflected Gaussian
    random walk is still a symmetric proposal, so the Metropolis ratio needs no correction."""
    width = hi - lo
    fin = np.isfinite(width)
    y = x - lo
    period = np.where(fin, 2.0 * np.where(fin, width, 1.0), 1.0)
    yf = np.mod(y, period)
    yf = np.where(yf > np.where(fin, width, 0.0), period - yf, yf)
    return lo + np.where(fin, np.where(width > 0, yf, 0.0), np.abs(y))


def _chol(cov: np.ndarray) -> np.ndarray:
    d = cov.shape[0]
    for jitter in (0.0, 1e-10, 1e-8, 1e-6, 1e-4):
        try:
            return np.linalg.cholesky(cov + jitter * (np.trace(cov) / d) * np.eye(d))
        except np.linalg.LinAlgError:
            continue
    return np.diag(np.sqrt(np.maximum(np.diag(cov), 1e-12)))


def split_rhat(chains: np.ndarray) -> np.ndarray:
    """Split R-hat (Gelman et al. BDA3 eq. 11.4) of ``chains`` (M, N, d) per parameter.

    Each chain is cut in halves; ``W`` is the mean within-half variance, ``B/n`` the variance of the
    half means; ``R = sqrt(((n-1)/n W + B/n) / W)``. A parameter that never moved gives 1.
    """
    M, N, d = chains.shape
    n = N // 2
    halves = np.concatenate([chains[:, :n], chains[:, N - n:]], axis=0)
    W = halves.var(axis=1, ddof=1).mean(axis=0)
    B_over_n = halves.mean(axis=1).var(axis=0, ddof=1)
    var_plus = (n - 1) / n * W + B_over_n
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.sqrt(var_plus / W)
    return np.where(W > 0, r, 1.0)


def effective_sample_size(chains: np.ndarray) -> np.ndarray:
    """ESS over chains (M, N, d) per parameter (Gelman et al. BDA3 section 11.5).

    ``rho_t = 1 - (W - mean_m autocov_m(t)) / var_plus`` from each chain's FFT autocovariance;
    the sum runs over Geyer's initial positive sequence of pair sums ``rho_{2k} + rho_{2k+1}``, kept
    monotone; ``ESS = M N / (1 + 2 sum rho_t)``, capped at ``M N log10(M N)`` as Stan does.
    """
    M, N, d = chains.shape
    x = chains - chains.mean(axis=1, keepdims=True)
    nfft = 1 << (2 * N - 1).bit_length()
    f = np.fft.rfft(x, n=nfft, axis=1)
    acov = np.fft.irfft(f * np.conj(f), n=nfft, axis=1)[:, :N] / N  # (M, N, d), biased
    W = chains.var(axis=1, ddof=1).mean(axis=0)
    var_plus = (N - 1) / N * W + (chains.mean(axis=1).var(axis=0, ddof=1) if M > 1 else 0.0)
    out = np.empty(d)
    for j in range(d):
        if not var_plus[j] > 0:
            out[j] = float(M * N)
            continue
        rho = 1.0 - (W[j] - acov[:, :, j].mean(axis=0)) / var_plus[j]
        rho[0] = 1.0
        total, prev = 0.0, np.inf
        for k in range(0, N - 1, 2):
            pair = rho[k] + rho[k + 1]
            if pair < 0:
                break
            pair = min(pair, prev)  # initial monotone sequence
            total += pair
            prev = pair
        tau = -1.0 + 2.0 * total
        out[j] = min(M * N / max(tau, 1e-12), M * N * np.log10(M * N))
    return out


def default_iterations(n_draws: int) -> int:
    """Sampling sweeps per chain: ``max(2000, 5 * n_draws)`` (measured on 2 to 20 channels: effective sample
    sizes of 50 to several hundred per parameter over 2 chains; docs/curves-posterior.md)."""
    return max(2000, 5 * n_draws)


def sample(design: Design, theta0: np.ndarray, beta0: np.ndarray, n_draws: int = 100, *, n_chains: int = 2,
           n_iter: int | None = None, n_burn: int | None = None, seed: int | None = None,
           channel_names: list[str] | None = None, collapsed: bool = True,
           beta_prior_sd: float | None = BETA_PRIOR_SD,
           progress: Callable[[int, int], None] | None = None) -> PosteriorDraws:
    """Posterior draws of ``(theta, beta)`` started at the MAP ``(theta0, beta0)`` (see the module docstring).

    Parameters
    ----------
    design: the fit problem (rows already restricted to the fitted ones).
    theta0, beta0: the MAP (C, 3) and (C,), e.g. :func:`optimizer.curves.fit.minimise`'s optimum.
    n_draws: draws returned (thinned evenly from all chains' sampling iterations).
    n_chains: chains run in lock-step (>= 1; R-hat needs >= 2).
    n_iter: sampling iterations per chain (default :func:`default_iterations`); n_burn: adaptive
        burn-in per chain (default ``n_iter // 2``).
    seed: int or None (drawn and echoed). channel_names: for the parameter names (default "0", "1", ...).
    beta_prior_sd: sd of the weak conjugate half-normal prior on each beta, in units of the mean KPI (the
        prior's variance is ``beta_prior_sd^2 * sigma^2 / noise_var``); None = flat (improper on some data).
    collapsed: also make the collapsed theta move each iteration (default; False = joint random walk only,
        kept to test each kernel against the same reference).
    progress: called as ``progress(done, total)`` iterations, about 100 times.
    """
    import time

    from threadpoolctl import threadpool_limits

    if n_draws < 1:
        raise ValueError(f"n_draws is {n_draws}; it must be >= 1.")
    if n_chains < 1:
        raise ValueError(f"n_chains is {n_chains}; it must be >= 1.")
    t0 = time.perf_counter()
    seed = seed if seed is not None else int(np.random.SeedSequence().generate_state(1)[0])
    rng = np.random.default_rng(seed)
    K = n_chains
    tgt = _Target(design, theta0, K, beta_prior_sd)
    d = tgt.dim
    n_iter = default_iterations(n_draws) if n_iter is None else int(n_iter)
    n_burn = n_iter // 2 if n_burn is None else int(n_burn)
    per_chain = -(-n_draws // K)
    if n_iter < per_chain:
        raise ValueError(f"n_iter is {n_iter}; it must be >= {per_chain} (n_draws / n_chains).")
    thin = n_iter // per_chain
    names = channel_names or [str(c) for c in range(tgt.C)]
    param_names = tuple(f"{names[c]}.{THETA_NAMES[k]}" for c, k in zip(*np.nonzero(tgt.free))) + tuple(
        f"{n}.beta" for n in names)
    target_acc = TARGET_ACCEPT_HIGH_DIM if d > 4 else TARGET_ACCEPT_LOW_DIM

    with threadpool_limits(limits=1):
        x0 = reflect(tgt.pack(tgt.theta0, np.maximum(beta0, 0.0)), tgt.lo, tgt.hi)
        cov = tgt.laplace_covariance(x0)
        L = _chol(cov)
        x = np.repeat(x0[None], K, axis=0)
        if K > 1:
            x[1:] = reflect(x0 + rng.standard_normal((K - 1, d)) @ L.T, tgt.lo, tgt.hi)
        C, nt, nu1 = tgt.C, tgt.n_theta, tgt.nu - 1
        theta, beta = tgt.unpack(x)
        beta = beta.copy()
        pz, ld = tgt.media(theta)
        collapsed = collapsed and nu1 >= 1
        # free theta entries of each channel, as positions in x (contiguous: x is ordered channel by channel)
        pos = np.cumsum(tgt.free.sum(axis=1))
        blocks = [np.arange(p - k, p) for p, k in zip(pos, tgt.free.sum(axis=1))]
        log_s = np.full(K, np.log(2.38 / np.sqrt(d)))
        log_s_ch = np.array([np.full(K, np.log(2.38 / np.sqrt(max(len(b), 1)))) for b in blocks]).T  # (K, C)
        L_ch = [_chol(cov[np.ix_(b, b)]) if len(b) else None for b in blocks]
        adapt_at = n_burn // 2
        window: list[np.ndarray] = []
        kept = np.empty((n_iter, K, d))
        kept_ss = np.empty((n_iter, K))
        n_acc = np.zeros(K)
        n_acc_ch = np.zeros((K, C))
        total = n_burn + n_iter
        tick = max(total // 100, 1)
        rm_t = 0
        for it in range(total):
            burning = it < n_burn
            if burning:
                rm_t += 1
            if collapsed:
                # (1) per channel, collapsed Metropolis-within-Gibbs: theta_c by a random walk judged on the
                # likelihood with beta_c (>= 0) and sigma^2 integrated out, then beta_c drawn exactly from its
                # truncated-t conditional (van Dyk & Park 2008: the collapsed step, then the exact one)
                fitted = np.einsum("kct,kc->kt", pz, beta)
                for c in range(C):
                    bc, pz_c = beta[:, c].copy(), pz[:, c].copy()
                    r_c = tgt.py[None, :] - fitted + bc[:, None] * pz_c
                    const = np.einsum("kt,kt->k", r_c, r_c) + tgt.ridge_other(beta, c)
                    const = const + tgt.lift_other(beta, ld, c)
                    th_c = theta[:, c]
                    cur = tgt.channel_conditional(c, pz[:, c], ld[:, tgt.lift_rows[c]], r_c, const)
                    blk = blocks[c]
                    if len(blk):
                        th_p = th_c.copy()
                        step = np.exp(log_s_ch[:, c])[:, None] * (rng.standard_normal((K, len(blk))) @ L_ch[c].T)
                        th_p[:, tgt.free[c]] = reflect(th_c[:, tgt.free[c]] + step, tgt.lo[blk], tgt.hi[blk])
                        pz_p, ld_p = tgt.channel_media(c, th_p)
                        new = tgt.channel_conditional(c, pz_p, ld_p, r_c, const)
                        log_a = np.minimum(new[0] + tgt.log_prior_c(th_p, c) - cur[0] - tgt.log_prior_c(th_c, c), 0.0)
                        log_a = np.where(np.isfinite(log_a), log_a, -np.inf)
                        acc_c = np.log(rng.random(K)) < log_a
                        theta[:, c] = np.where(acc_c[:, None], th_p, th_c)
                        pz[:, c] = np.where(acc_c[:, None], pz_p, pz[:, c])
                        if tgt.lift_rows[c]:
                            ld[:, tgt.lift_rows[c]] = np.where(acc_c[:, None], ld_p, ld[:, tgt.lift_rows[c]])
                        bhat, sc = (np.where(acc_c, n, o) for n, o in zip(new[1:], cur[1:]))
                        if burning:
                            log_s_ch[:, c] += (np.exp(log_a) - TARGET_ACCEPT_LOW_DIM) / rm_t**0.6
                        else:
                            n_acc_ch[:, c] += acc_c
                    else:
                        bhat, sc = cur[1:]
                    # beta_c | theta_c, rest ~ t_{nu-1}(bhat, sc) truncated to [0, inf), by inversion
                    tail = np.maximum(stdtr(nu1, bhat / sc) * rng.random(K), 1e-300)
                    beta[:, c] = np.maximum(bhat - sc * stdtrit(nu1, tail), 0.0)
                    fitted = fitted + beta[:, c][:, None] * pz[:, c] - bc[:, None] * pz_c
                x = tgt.pack_many(theta, beta)
            # (2) joint random walk on all (theta, beta), reflected at the bounds: moves correlated channels together
            ss = tgt.ss_from(pz, ld, beta)
            lp = tgt.log_post(theta, ss)
            prop = reflect(x + np.exp(log_s)[:, None] * (rng.standard_normal((K, d)) @ L.T), tgt.lo, tgt.hi)
            th_p, b_p = tgt.unpack(prop)
            pz_p, ld_p = tgt.media(th_p)
            ss_p = tgt.ss_from(pz_p, ld_p, b_p)
            log_alpha = np.minimum(tgt.log_post(th_p, ss_p) - lp, 0.0)
            acc = np.log(rng.random(K)) < log_alpha
            x = np.where(acc[:, None], prop, x)
            theta = np.where(acc[:, None, None], th_p, theta)
            beta = np.where(acc[:, None], b_p, beta)
            pz = np.where(acc[:, None, None], pz_p, pz)
            ld = np.where(acc[:, None], ld_p, ld)
            ss = np.where(acc, ss_p, ss)
            if burning:
                log_s += (np.exp(log_alpha) - target_acc) / rm_t**0.6
                if it >= n_burn // 4:
                    window.append(x.copy())
                if it == adapt_at and len(window) > 2 * d:
                    emp = np.cov(np.concatenate(window), rowvar=False)
                    # keep a little of the Laplace matrix: an empirical covariance of few draws can be rank-poor
                    cov = 0.95 * emp + 0.05 * cov
                    L = _chol(cov)
                    L_ch = [_chol(cov[np.ix_(b, b)]) if len(b) else None for b in blocks]
                    log_s[:] = np.log(2.38 / np.sqrt(d))
                    rm_t = 0
            else:
                j = it - n_burn
                kept[j] = x
                kept_ss[j] = ss
                n_acc += acc
            if progress is not None and (it + 1) % tick == 0:
                progress(it + 1, total)

    chains = np.transpose(kept, (1, 0, 2))  # (K, n_iter, d)
    rhat = split_rhat(chains) if n_iter >= 4 else np.ones(d)
    ess = effective_sample_size(chains) if n_iter >= 4 else np.zeros(d)
    idx = np.arange(n_iter - 1, -1, -thin)[:per_chain][::-1]  # evenly spaced, ending at the last iteration
    sel = kept[idx]  # (per_chain, K, d)
    sel_ss = kept_ss[idx]
    flat = np.transpose(sel, (1, 0, 2)).reshape(-1, d)[:n_draws]
    flat_ss = sel_ss.T.reshape(-1)[:n_draws]
    theta, beta = tgt.unpack(flat)
    sigma = np.sqrt(flat_ss / rng.chisquare(tgt.nu, size=len(flat_ss)))
    warnings = []
    if K > 1 and np.max(rhat) > RHAT_WARN:
        j = int(np.argmax(rhat))
        warnings.append(f"MCMC: R-hat of {param_names[j]} is {rhat[j]:.2f} (> {RHAT_WARN}); the chains disagree, "
                        "so its intervals are unreliable (more iterations: fit.mcmc_iterations).")
    if np.min(ess) < min(n_draws, 100) / 2:  # "under half the draws, at most 50"
        j = int(np.argmin(ess))
        warnings.append(f"MCMC: effective sample size of {param_names[j]} is {ess[j]:.0f} for {n_draws} draws; "
                        "its intervals rest on few independent draws (more iterations: fit.mcmc_iterations).")
    return PosteriorDraws(theta=theta, beta=beta.copy(), sigma=sigma, seed=seed, n_chains=K, n_burn=n_burn,
                          n_iter=n_iter, thin=thin, acceptance=tuple(float(a) for a in n_acc / n_iter),
                          acceptance_channel=np.where(tgt.free.any(axis=1)[None, :], n_acc_ch / n_iter, 1.0),
                          step_scale=tuple(float(v) for v in np.exp(log_s)), param_names=param_names, rhat=rhat,
                          ess=ess, elapsed_seconds=time.perf_counter() - t0, warnings=tuple(warnings))
