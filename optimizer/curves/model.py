"""``CurveModel(...).fit(history) -> self``: the marketing-mix fit from spend history to curves.

Model (docs/curves-maths.md)::

    KPI_t = intercept + trend * t/T + sum_k (a_k sin + b_k cos)(2 pi k t / P) + holidays + controls
          + sum_c beta_c * sat_c(adstock_c(spend_c))_t + noise,        beta_c >= 0

fitted by variable projection (:mod:`optimizer.curves.fit`): seeded multi-start L-BFGS-B over
(decay, half-saturation, shape) per channel, exact NNLS inside, analytic gradient. A weakly
informative Gaussian prior on (decay, log half-saturation, shape) makes it a MAP estimate (default
means 0.3, 0, 1 and sds 0.3, 0.7, 0.7; ``prior=False`` turns it off). Uncertainty: moving-block
bootstrap of residuals, each draw refitted from the point estimate (default), or ``uncertainty="mcmc"``:
posterior draws of the same model (:mod:`optimizer.curves.posterior`; compared in docs/curves-posterior.md).
Diagnostics: R^2/NRMSE/MAPE
in-sample and on the last ``holdout_periods`` periods (fitted without them), residual checks and
identifiability warnings.

Defaults: max_lag 8, decay <= 0.85, 2 Fourier pairs (P = 365.25/7 weeks or 365.25 days),
linear trend, 8 starts, 100 bootstrap draws, 13 holdout periods, ROI at the mean of the last 13
periods, 90 % intervals. Units: money in currency per period, response in KPI units per period.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Callable

import numpy as np
import pandas as pd

from optimizer.curves.adstock import lag_matrix
from optimizer.curves.bayes_curve import posterior_mean_curve
from optimizer.curves.bootstrap import block_resample
from optimizer.curves.data import History, check_history
from optimizer.curves.diagnostics import (extrapolation_warning, metrics, residual_checks, coefficient_t, spend_warnings,
                                          weak_signal_warning)
from optimizer.curves.fit import Design, features, minimise, start_points
from optimizer.curves.lift import LiftTest, check as check_lift
from optimizer.curves.results import ChannelFit, CurveFit, response_value
from optimizer.errors import DataError, NotFittedError

#: Bounds of (decay, log kappa, n) per saturation kind; kappa is in units of the channel's mean spend.
LOG_KAPPA_BOUNDS = (float(np.log(0.2)), float(np.log(10.0)))
SHAPE_BOUNDS = {"hill": (0.5, 3.5), "hill_concave": (0.3, 1.0), "log": (1.0, 1.0), "power": (0.05, 0.95)}
PRIOR_MEAN = (0.3, 0.0, 1.0)
PRIOR_SD = (0.3, 0.7, 0.7)
#: How curve draws are made: "bootstrap" (moving-block residual bootstrap, each draw refitted from the
#: MAP) or "mcmc" (posterior draws by Markov chain Monte Carlo, :mod:`optimizer.curves.posterior`).
UNCERTAINTY_METHODS = ("bootstrap", "mcmc")
#: Which curve a channel's ``response`` is: "map" (the point fit) or "posterior_mean" (the Hill curve
#: closest to the mean over the draws, :mod:`optimizer.curves.bayes_curve`; needs draws).
POINT_CURVES = ("map", "posterior_mean")

Progress = Callable[[str, int, int], None]


class CurveModel:
    """Fit response curves from a spend history.

    Parameters
    ----------
    saturation: kind for every channel ("hill", "hill_concave", "log", "power") or channel -> kind.
    max_lag, max_decay: adstock lags (periods) and the largest decay allowed.
    n_fourier: yearly Fourier pairs (0 = no seasonality). periods_per_year: P (52.18 for weeks).
    trend: include a linear trend.
    prior: use the weak Gaussian prior on the nonlinear parameters (MAP); False = plain least squares.
    ridge: ridge penalty on the scaled media coefficients (0 = none).
    n_starts: multi-start count. n_bootstrap: curve draws of the uncertainty method (0 = none; the name is
    historical: with ``uncertainty="mcmc"`` they are posterior draws). block_length: None = ceil(T^(1/3)).
    holdout_periods: last periods held out for the holdout metrics (0 = none).
    current_periods: ROI and marginal ROI are read at the mean spend of the last this-many periods.
    interval: coverage of the ROI intervals (0.9). seed: int or None (drawn and echoed).
    uncertainty: "bootstrap" (default; moving-block residual bootstrap, each draw refitted from the MAP with a
    randomised prior mean) or "mcmc" (posterior draws of the same model by Markov chain Monte Carlo,
    :mod:`optimizer.curves.posterior`; its diagnostics go to ``result_.settings["uncertainty_diagnostics"]``).
    mcmc_iterations: sampling sweeps per chain for "mcmc" (None = ``max(2000, 5 n_bootstrap)``).
    point: the curve each channel's ``response`` (and its ROI / marginal ROI ``mean``) is: "map", the point
    fit, or "posterior_mean", the Hill curve closest to the mean over the draws on 0-3x the channel's mean
    spend (the expected-response curve: plans on it maximise the expected response; Hill channels with
    draws only, others keep the point fit). docs/curves-posterior.md.
    """

    def __init__(self, saturation: str | dict[str, str] = "hill", *, max_lag: int = 8, max_decay: float = 0.85,
                 n_fourier: int = 2, periods_per_year: float = 365.25 / 7, trend: bool = True, prior: bool = True,
                 ridge: float = 0.0, n_starts: int = 8, n_bootstrap: int = 100, block_length: int | None = None,
                 holdout_periods: int = 13, current_periods: int = 13, interval: float = 0.9,
                 uncertainty: str = "bootstrap", mcmc_iterations: int | None = None, point: str = "map",
                 seed: int | None = None):
        if uncertainty not in UNCERTAINTY_METHODS:
            raise ValueError(f"uncertainty is {uncertainty!r}; it must be one of {', '.join(UNCERTAINTY_METHODS)}.")
        if point not in POINT_CURVES:
            raise ValueError(f"point is {point!r}; it must be one of {', '.join(POINT_CURVES)}.")
        if point == "posterior_mean" and n_bootstrap == 0:
            raise ValueError("point is 'posterior_mean', which is the mean over curve draws; n_bootstrap is 0 (no "
                             "draws): set n_bootstrap > 0 or point 'map'.")
        if mcmc_iterations is not None and mcmc_iterations < max(1, -(-n_bootstrap // 2)):
            raise ValueError(f"mcmc_iterations is {mcmc_iterations}; it must be >= {max(1, -(-n_bootstrap // 2))} "
                             f"(n_bootstrap {n_bootstrap} draws from 2 chains), or None for the default.")
        self.saturation = saturation
        self.max_lag = max_lag
        self.max_decay = max_decay
        self.n_fourier = n_fourier
        self.periods_per_year = periods_per_year
        self.trend = trend
        self.prior = prior
        self.ridge = ridge
        self.n_starts = n_starts
        self.n_bootstrap = n_bootstrap
        self.block_length = block_length
        self.holdout_periods = holdout_periods
        self.current_periods = current_periods
        self.interval = interval
        self.uncertainty = uncertainty
        self.mcmc_iterations = mcmc_iterations
        self.point = point
        self.seed = seed

    # ------------------------------------------------------------------ settings
    def settings(self) -> dict:
        """The settings as a JSON-safe dict (recorded in the curves file).

        The uncertainty method is recorded when it is not the default bootstrap (so that the curves files of
        bootstrap fits stay byte-identical to those written before the method existed).
        """
        extra = ({"uncertainty": self.uncertainty, "mcmc_iterations": self.mcmc_iterations}
                 if self.uncertainty != "bootstrap" else {})
        if self.point != "map":
            extra["point"] = self.point
        return {"saturation": self.saturation, "max_lag": self.max_lag, "max_decay": self.max_decay,
                "n_fourier": self.n_fourier, "periods_per_year": self.periods_per_year, "trend": self.trend,
                "prior": {"mean": list(PRIOR_MEAN), "sd": list(PRIOR_SD)} if self.prior else None,
                "ridge": self.ridge, "n_starts": self.n_starts, "n_bootstrap": self.n_bootstrap,
                "block_length": self.block_length, "holdout_periods": self.holdout_periods,
                "current_periods": self.current_periods, "interval": self.interval,
                "adstock": "geometric, weights not normalised (budget convention)", **extra}

    def _kind(self, channel: str) -> str:
        return self.saturation if isinstance(self.saturation, str) else self.saturation.get(channel, "hill")

    # ------------------------------------------------------------------ design
    def _base(self, h: History) -> tuple[np.ndarray, list[str], dict[str, list[int]]]:
        T = h.n_periods
        t = np.arange(T, dtype=float)
        cols, names = [np.ones(T)], ["intercept"]
        groups = {"baseline": [0], "holidays": [], "controls": []}
        if self.trend:
            cols.append(t / T)
            names.append("trend")
            groups["baseline"].append(len(cols) - 1)
        for k in range(1, self.n_fourier + 1):
            for fn, nm in ((np.sin, "sin"), (np.cos, "cos")):
                cols.append(fn(2 * np.pi * k * t / self.periods_per_year))
                names.append(f"{nm}{k}")
                groups["baseline"].append(len(cols) - 1)
        for name, v in h.holidays.items():
            cols.append(v)
            names.append(name)
            groups["holidays"].append(len(cols) - 1)
        for name, v in h.controls.items():
            sd = v.std()
            cols.append((v - v.mean()) / sd if sd > 0 else v * 0)
            names.append(name)
            groups["controls"].append(len(cols) - 1)
        return np.column_stack(cols), names, groups

    def _design(self, h: History, lift: list[LiftTest]) -> tuple[Design, float, dict]:
        names = list(h.spend)
        C = len(names)
        base, _, groups = self._base(h)
        spend = np.array([h.spend[c] for c in names])
        scale = np.array([x[x > 0].mean() for x in spend])
        y_scale = float(np.mean(np.abs(h.kpi))) or 1.0
        y = h.kpi / y_scale
        kinds = tuple(self._kind(c) for c in names)
        bounds = np.zeros((C, 3, 2))
        for c, kind in enumerate(kinds):
            bounds[c, 0] = (0.0, self.max_decay) if self.max_lag > 0 else (0.0, 0.0)
            bounds[c, 1] = (0.0, 0.0) if kind == "power" else LOG_KAPPA_BOUNDS
            bounds[c, 2] = SHAPE_BOUNDS[kind]
        # noise variance for the prior's weight: residuals of a linear model (baseline + raw spend)
        X = np.column_stack([base, spend.T / scale])
        r = y - X @ np.linalg.lstsq(X, y, rcond=None)[0]
        dof = max(len(y) - X.shape[1], 1)
        noise_var = float(r @ r / dof)
        lift_rows = tuple((names.index(t.channel), t.x, t.delta_x, t.delta_y / y_scale,
                           float(np.sqrt(noise_var)) * y_scale / t.sigma) for t in lift)
        design = Design(y, base, lag_matrix(spend, self.max_lag), scale, kinds, bounds, self.max_lag, lift_rows,
                        self.ridge, PRIOR_MEAN, PRIOR_SD if self.prior else (0.0, 0.0, 0.0), noise_var)
        return design, y_scale, groups

    # ------------------------------------------------------------------ fit
    def fit(self, history: History | pd.DataFrame, *, date_col: str = "date", kpi_col: str = "kpi",
            spend_cols: dict[str, str] | None = None, control_cols: list[str] = (), holiday_cols: list[str] = (),
            lift_tests: list[LiftTest] = (), progress: Progress | None = None) -> "CurveModel":
        """Fit the model; the result is ``self.result_`` (a :class:`CurveFit`). Returns ``self``.

        ``history`` is a checked :class:`History` or a frame (then give the column names;
        ``spend_cols`` maps channel -> spend column).
        """
        from threadpoolctl import threadpool_limits

        # L-BFGS-B's small dense updates run through BLAS: with >1 BLAS thread each call paid ~4 ms of
        # thread hand-off on a busy 2-core machine (x200 slower than single-threaded), so pin BLAS to 1.
        with threadpool_limits(limits=1):
            return self._fit(history, date_col, kpi_col, spend_cols, control_cols, holiday_cols, lift_tests, progress)

    def _fit(self, history, date_col, kpi_col, spend_cols, control_cols, holiday_cols, lift_tests, progress):
        t0 = time.perf_counter()
        if isinstance(history, pd.DataFrame):
            if not spend_cols:
                raise DataError("spend_cols is empty; map each channel to its spend column.")
            history = check_history(history, date_col=date_col, kpi_col=kpi_col, spend_cols=spend_cols,
                                    control_cols=list(control_cols), holiday_cols=list(holiday_cols))
        h = history
        seed = self.seed if self.seed is not None else int(np.random.SeedSequence().generate_state(1)[0])
        rng = np.random.default_rng(seed)
        names = list(h.spend)
        lift = check_lift(list(lift_tests), names)
        warnings: list[str] = []
        if h.dropped:
            warnings.append(f"channel(s) {', '.join(repr(c) for c in h.dropped)} never spend in the data; fitted the "
                            f"other {len(names)} channel(s) without them (no curve for them).")
        design, y_scale, groups = self._design(h, lift)
        n_nonlinear = int(sum(int(np.sum(design.bounds[c, :, 1] > design.bounds[c, :, 0]))
                              for c in range(len(names))))
        n_params = design.base.shape[1] + len(names) + n_nonlinear
        T = h.n_periods
        # The first max_lag periods only feed the adstock of later ones: their own effective spend
        # would need spend from before the data (padding it with 0, as Robyn does, biases the fit).
        warm = self.max_lag if T - self.max_lag >= n_params + 5 else 0
        if warm == 0 and self.max_lag:
            warnings.append(f"only {T} periods: the first {self.max_lag} are fitted with spend before the data "
                            "taken as 0.")
        fit_rows = np.arange(T) >= warm
        full, design = design, design.rows(fit_rows)
        if T < n_params + 5:
            raise DataError(f"{h.source}: {T} periods for {n_params} parameters ({len(names)} channels x "
                            f"{1 + n_nonlinear // max(len(names), 1)} + {design.base.shape[1]} baseline/control "
                            f"terms); need at least {n_params + 5} periods. Use longer history, fewer channels, "
                            "or fewer Fourier terms.")
        warnings += spend_warnings(h.spend)
        step = progress or (lambda *_: None)
        total_steps = self.n_starts + (min(3, self.n_starts) if self.holdout_periods else 0) + self.n_bootstrap

        # point fit
        starts = start_points(design, self.n_starts, rng)
        done = 0

        def tick(_: int) -> None:
            nonlocal done
            done += 1
            step("fit", done, total_steps)

        best = minimise(design, starts, on_start=tick)
        # The prior's weight is the noise variance. Before any fit it is taken from a LINEAR model's
        # residuals, which also hold that model's misfit of curved responses: on strongly S-shaped
        # channels it overstated the noise several-fold and the prior flattened true S-shapes toward
        # n = 1 (a known-truth case is in tests/optimizer/curves/test_signal.py). Re-estimated once from
        # the fitted model's residuals and refitted from its optimum when it is clearly smaller.
        if self.prior and best.inner is not None:
            r = design.y - (design.base @ best.inner.gamma + features(design, best.theta, with_grad=False)[0].T
                            @ best.inner.beta)
            nv = float(r @ r) / max(int(fit_rows.sum()) - n_params, 1)
            if 0 < nv < 0.8 * design.noise_var:
                full, design = (_with_noise_var(d, nv) for d in (full, design))
                best = minimise(design, [best.theta] + starts[:2])
        if not best.converged:
            warnings.append("the optimizer stopped before its convergence test at the best start; curves may be "
                            "slightly off (try more starts).")
        theta, beta, gamma = best.theta, best.inner.beta, best.inner.gamma
        z = features(full, theta, with_grad=False)[0].T
        fitted_all = full.base @ gamma + z @ beta
        fitted = fitted_all[fit_rows]

        # holdout: refit without the last periods, predict them
        holdout = None
        H = self.holdout_periods
        if H > 0:
            n_train = T - H
            if n_train - warm < n_params + 5:
                warnings.append(f"holdout skipped: {n_train} periods would remain for {n_params} parameters.")
            else:
                train = np.arange(T) < n_train
                sub = full.rows(train & fit_rows)
                # fresh starts, not the full-data optimum: that would leak the held-out periods
                hres = minimise(sub, starts[:min(3, len(starts))], on_start=tick)
                zf = features(full, hres.theta, with_grad=False)[0].T
                pred = full.base @ hres.inner.gamma + zf @ hres.inner.beta
                holdout = metrics(h.kpi[~train], pred[~train] * y_scale)
                holdout["first_date"] = str(h.dates[n_train].date())
        done = self.n_starts + (min(3, self.n_starts) if H else 0)

        # uncertainty: posterior draws, or the bootstrap
        draws_theta, draws_beta = [], []
        uncertainty_diagnostics = None
        resid = design.y - fitted
        if self.uncertainty == "mcmc" and self.n_bootstrap > 0:
            from optimizer.curves.posterior import sample

            def mcmc_tick(i: int, n: int) -> None:
                step("mcmc", done + round(self.n_bootstrap * i / n), total_steps)

            post = sample(design, theta, beta, self.n_bootstrap, n_iter=self.mcmc_iterations,
                          seed=int(rng.integers(2**63)), channel_names=names, progress=mcmc_tick)
            draws_theta, draws_beta = list(post.theta), list(post.beta)
            uncertainty_diagnostics = post.diagnostics()  # compact: it is copied into the curves file too
            warnings += list(post.warnings)
        for b in range(self.n_bootstrap if self.uncertainty == "bootstrap" else 0):
            y_star = fitted + block_resample(resid, rng, self.block_length)
            lt = None
            if design.lift:
                lt = np.array([dy + rng.normal(0, 1) * (np.sqrt(design.noise_var) / w) for _, _, _, dy, w in design.lift])
            # randomise-then-optimise: a prior mean drawn from the prior itself, so that the draws carry the
            # prior's uncertainty too (with the residual resampling this approximates posterior draws;
            # without it the intervals inherit the MAP's pull and under-cover)
            boot = design
            if self.prior:
                mu = np.asarray(PRIOR_MEAN) + np.asarray(PRIOR_SD) * rng.standard_normal((len(names), 3))
                boot = replace(design, prior_mean=mu)
            r = minimise(boot, [theta], max_iter=200, y=y_star, lift_targets=lt, ftol=1e-9)
            draws_theta.append(r.theta)
            draws_beta.append(r.inner.beta)
            done += 1
            step("bootstrap", done, total_steps)

        # channels
        alpha = (1 - self.interval) / 2
        channels = {}
        for c, name in enumerate(names):
            x = h.spend[name]
            cur = float(x[-self.current_periods:].mean()) if self.current_periods > 0 else float(x.mean())
            if cur <= 0:
                cur = float(x[x > 0].mean())
            resp = self._response(design, c, theta[c], beta[c], y_scale)
            draws: dict[str, list[float]] = {}
            roi_lo = roi_hi = mroi_lo = mroi_hi = None
            if draws_theta:
                rs = [self._response(design, c, th[c], bb[c], y_scale) for th, bb in zip(draws_theta, draws_beta)]
                pairs = np.array([_roi(r, cur) for r in rs])
                roi_lo, roi_hi = (float(v) for v in np.quantile(pairs[:, 0], [alpha, 1 - alpha]))
                mroi_lo, mroi_hi = (float(v) for v in np.quantile(pairs[:, 1], [alpha, 1 - alpha]))
                draws = _draw_columns(rs)
                if self.point == "posterior_mean" and design.kinds[c] in ("hill", "hill_concave"):
                    resp = posterior_mean_curve(draws, resp, 3.0 * float(x.mean()),
                                                shape_bounds=tuple(SHAPE_BOUNDS[design.kinds[c]]))
            roi, mroi = _roi(resp, cur)
            hist = {"min": float(x.min()), "max": float(x.max()), "mean": float(x.mean()), "last": float(x[-1])}
            channels[name] = ChannelFit(
                name, design.kinds[c], float(theta[c, 0]), self.max_lag, resp, hist, cur,
                {"mean": roi, "low": roi_lo, "high": roi_hi, "interval": self.interval},
                {"mean": mroi, "low": mroi_lo, "high": mroi_hi, "interval": self.interval}, draws)
            hs = resp.get("half_saturation_spend", resp.get("saturation_spend"))
            w = extrapolation_warning(name, hs, hist["max"])
            if w:
                warnings.append(w)
            if beta[c] == 0:
                warnings.append(f"channel {name!r}: the fit finds no effect (coefficient 0 at the bound); its curve "
                                "is flat (linear with ROI 0).")

        # how clearly the history shows each channel move the KPI (contribution variation vs noise)
        resid = design.y - fitted
        sig = coefficient_t(full.base[fit_rows], z[fit_rows], beta, resid, n_params)
        sig = {name: sig[c] for c, name in enumerate(names)}
        channels = {n: replace(ch, signal_t=sig[n]) for n, ch in channels.items()}
        w = weak_signal_warning(sig, {n: float(h.spend[n].mean()) for n in names})
        if w:
            warnings.append(w)
        resid_stats, resid_warn = residual_checks((design.y - fitted) * y_scale)
        metrics_in = metrics(h.kpi[fit_rows], fitted * y_scale)
        metrics_in["first_date"] = str(h.dates[warm].date())
        warnings += resid_warn
        decomposition = self._decomposition(h, full, gamma, z, beta, y_scale, groups, fitted_all)
        settings = self.settings()
        if uncertainty_diagnostics is not None:
            settings["uncertainty_diagnostics"] = uncertainty_diagnostics
        self.result_ = CurveFit(
            channels=channels,
            metrics={"in_sample": metrics_in, "holdout": holdout,
                     "noise_sd": float(np.sqrt(design.noise_var)) * y_scale},
            residual=resid_stats, decomposition=decomposition, warnings=tuple(warnings), seed=seed,
            settings=settings, data_sha256=h.sha256, start_objectives=best.start_objectives,
            n_bootstrap=self.n_bootstrap, elapsed_seconds=time.perf_counter() - t0,
            lift_tests=tuple(t.to_dict() for t in lift))
        self.history_ = h
        return self

    @property
    def result(self) -> CurveFit:
        """The fitted :class:`CurveFit` (raises NotFittedError before ``fit``)."""
        if not hasattr(self, "result_"):
            raise NotFittedError("CurveModel is not fitted yet; call fit(history) first.")
        return self.result_

    @staticmethod
    def _response(design: Design, c: int, theta_c: np.ndarray, beta_c: float, y_scale: float) -> dict:
        """The steady-state curve of channel c in the budget schema (u = x / scale, see fit.py)."""
        kind = design.kinds[c]
        m = float(beta_c * y_scale)
        scale = float(design.scale[c])
        _, lk, n = (float(v) for v in theta_c)
        if m <= 0:
            return {"kind": "linear", "roi": 0.0}
        if kind in ("hill", "hill_concave"):
            return {"kind": "hill" if n <= 1 else "s_hill", "max_response": m,
                    "half_saturation_spend": float(np.exp(lk) * scale), "shape": n}
        if kind == "log":
            return {"kind": "log", "scale": m, "saturation_spend": float(np.exp(lk) * scale)}
        return {"kind": "power", "coefficient": m * scale ** (-n), "exponent": n}

    def _decomposition(self, h: History, design: Design, gamma, z, beta, y_scale, groups, fitted) -> pd.DataFrame:
        out = pd.DataFrame({"date": h.dates, "actual": h.kpi, "fitted": fitted * y_scale})
        for g in ("baseline", "holidays", "controls"):
            idx = groups[g]
            out[g] = (design.base[:, idx] @ gamma[idx]) * y_scale if idx else 0.0
        for c, name in enumerate(h.spend):
            out[name] = z[:, c] * beta[c] * y_scale
        return out

    def predict_contributions(self) -> pd.DataFrame:
        """Per-period contribution of each channel at the fitted parameters (KPI units)."""
        return self.result.decomposition[list(self.result.channels)]


def _with_noise_var(design: Design, noise_var: float) -> Design:
    """The design with another noise variance: the prior's weight, and the lift rows' weights (each is
    ``sqrt(noise_var) / sigma`` of its test, :meth:`CurveModel._design`)."""
    k = float(np.sqrt(noise_var / design.noise_var))
    lift = tuple((c, x, dx, dy, w * k) for c, x, dx, dy, w in design.lift)
    return replace(design, noise_var=noise_var, lift=lift)


def _roi(response: dict, spend: float) -> tuple[float, float]:
    """(ROI, marginal ROI) of a steady-state curve at ``spend`` per period."""
    x = max(spend, 1e-12)
    h = 1e-4 * x
    y = float(response_value(response, np.array([x - h, x, x + h]))[1])
    hi, lo = response_value(response, np.array([x + h, x - h]))
    return y / x, float((hi - lo) / (2 * h))


def _draw_columns(responses: list[dict]) -> dict[str, list[float]]:
    """Draws as columns of budget-curve parameters; draws with no effect keep the family with max ~0."""
    kinds = {r["kind"] for r in responses if r["kind"] != "linear"}
    if not kinds:
        return {"roi": [0.0] * len(responses)}
    fam = "hill" if kinds & {"hill", "s_hill"} else kinds.pop()
    keys = {"hill": ("max_response", "half_saturation_spend", "shape"), "log": ("scale", "saturation_spend"),
            "power": ("coefficient", "exponent")}[fam]
    ref = next(r for r in responses if r["kind"] != "linear")
    out: dict[str, list[float]] = {k: [] for k in keys}
    for r in responses:
        for k in keys:
            if r["kind"] == "linear":  # no effect in this draw: a curve of (nearly) zero height
                out[k].append(1e-9 if k in ("max_response", "scale", "coefficient") else float(ref[k]))
            else:
                out[k].append(float(r[k]))
    return out
