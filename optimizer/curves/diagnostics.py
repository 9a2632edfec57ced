"""Fit metrics and warnings in words: what a modeller checks before trusting a curve.

Metrics: R^2, NRMSE (RMSE / (max - min) of the KPI, Robyn's definition) and MAPE (fraction).
Warnings: a channel whose spend barely moves, is rarely on, or moves with another one (pair and
correlation named); a curve whose half-saturation lies far beyond the spend seen (extrapolated);
autocorrelated residuals (Durbin-Watson, Ljung-Box from statsmodels).

Thresholds (module constants): coefficient of variation < 0.05, on in < 10 % of periods,
|correlation| >= 0.8, half-saturation > 3x the largest spend, Ljung-Box p < 0.01.
"""

from __future__ import annotations

import numpy as np

MIN_CV = 0.05
MIN_ON_SHARE = 0.10
MAX_CORRELATION = 0.8
EXTRAPOLATION_FACTOR = 3.0
LJUNG_BOX_ALPHA = 0.01


def metrics(y: np.ndarray, fitted: np.ndarray) -> dict[str, float]:
    """``{"r2", "nrmse", "mape", "n_periods"}`` of a fit (MAPE skips periods with KPI 0)."""
    y = np.asarray(y, dtype=float)
    fitted = np.asarray(fitted, dtype=float)
    r = y - fitted
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    rng = float(y.max() - y.min())
    nz = y != 0
    return {
        "r2": float(1 - r @ r / ss_tot) if ss_tot > 0 else float("nan"),
        "nrmse": float(np.sqrt(np.mean(r**2)) / rng) if rng > 0 else float("nan"),
        "mape": float(np.mean(np.abs(r[nz] / y[nz]))) if nz.any() else float("nan"),
        "n_periods": int(len(y)),
    }


def spend_warnings(spend: dict[str, np.ndarray]) -> list[str]:
    """Identifiability warnings from the spend alone."""
    out = []
    names = list(spend)
    for c in names:
        x = spend[c]
        on = x > 0
        share = on.mean()
        if share < MIN_ON_SHARE:
            out.append(f"channel {c!r} spends in only {int(on.sum())} of {len(x)} periods ({share:.0%}); its curve "
                       "rests on few observations and is weakly identified.")
        elif on.sum() > 1:
            cv = x[on].std() / x[on].mean()
            if cv < MIN_CV:
                out.append(f"channel {c!r}: spend is nearly constant when on (coefficient of variation {cv:.3f}); the "
                           "data cannot show its saturation, so its curve shape comes from the prior.")
    if len(names) > 1:
        X = np.array([spend[c] for c in names])
        with np.errstate(invalid="ignore", divide="ignore"):
            R = np.corrcoef(X)
        for i in range(len(names)):
            for j in range(i + 1, len(names)):
                if np.isfinite(R[i, j]) and abs(R[i, j]) >= MAX_CORRELATION:
                    out.append(f"channels {names[i]!r} and {names[j]!r} move together (correlation {R[i, j]:.2f}); "
                               "the fit cannot tell their effects apart well. A lift test on one of them helps.")
    return out


def extrapolation_warning(channel: str, half_saturation_spend: float | None, max_spend: float) -> str | None:
    """A warning when the curve bends far beyond the spend seen (its saturation is extrapolated)."""
    if half_saturation_spend is None or max_spend <= 0:
        return None
    ratio = half_saturation_spend / max_spend
    if ratio > EXTRAPOLATION_FACTOR:
        return (f"channel {channel!r}: the half-saturation spend {half_saturation_spend:,.0f} is {ratio:.1f}x the "
                f"largest spend seen ({max_spend:,.0f} per period); the curve's saturation is extrapolated, so "
                "plans far above historical spend are guesses.")
    return None


def residual_checks(residual: np.ndarray) -> tuple[dict[str, float], list[str]]:
    """Durbin-Watson and Ljung-Box of the residuals, with a warning when they are autocorrelated."""
    from statsmodels.stats.diagnostic import acorr_ljungbox
    from statsmodels.stats.stattools import durbin_watson

    r = np.asarray(residual, dtype=float)
    dw = float(durbin_watson(r))
    lags = max(1, min(10, len(r) // 5))
    lb = acorr_ljungbox(r, lags=[lags], return_df=True)
    p = float(lb["lb_pvalue"].iloc[0])
    out = {"durbin_watson": dw, "ljung_box_p": p, "ljung_box_lags": lags}
    warn = []
    if p < LJUNG_BOX_ALPHA:
        warn.append(f"residuals are autocorrelated (Ljung-Box p = {p:.2g} at {lags} lags, Durbin-Watson {dw:.2f}); "
                    "a trend, season or control is probably missing, and intervals are too narrow.")
    return out, warn


#: A channel whose coefficient t-statistic (``ChannelFit.signal_t``, :func:`coefficient_t`) is below this
#: is weakly identified. Measured on simulated sets
#: (``tests/benchmarks/bench_curves.py``, docs/performance-curves.md): plans on fits with such channels
#: holding >= 20 % of spend lost several times more response than the others.
WEAK_SIGNAL_T = 2.0
#: Share of mean spend in weakly identified channels above which the fit warns that a plan on it is unreliable.
WEAK_SPEND_SHARE = 0.2


def coefficient_t(base: np.ndarray, z: np.ndarray, beta: np.ndarray, residual: np.ndarray, n_params: int) -> np.ndarray:
    """t-statistic of each channel's coefficient at the fitted adstock and saturation (see ``ChannelFit.signal_t``).

    ``beta_c / se_c`` with ``se_c = s * sqrt([(X'X)^-1]_cc)``, ``X = [base, z]`` over the fitted periods
    and ``s^2 = RSS / (n - n_params)`` (every linear and nonlinear parameter counted). The standard
    error sees the baseline and the other channels, so a channel that moves with another one (or with
    the season) gets a small t even when its own spend swings. Conditional on the fitted nonlinear
    parameters, so it is optimistic for a channel whose shape was fitted to noise.
    """
    X = np.column_stack([base, z])
    r = np.asarray(residual, dtype=float)
    s2 = float(r @ r) / max(r.size - n_params, 1)
    cov = np.linalg.pinv(X.T @ X)
    se = np.sqrt(np.maximum(np.diag(cov)[base.shape[1]:], 0.0) * s2)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(se > 0, np.asarray(beta, dtype=float) / se, np.where(np.asarray(beta) > 0, np.inf, 0.0))


def weak_signal_warning(signal: dict[str, float], mean_spend: dict[str, float]) -> str | None:
    """One sentence naming the weakly identified channels, or None when none is below :data:`WEAK_SIGNAL_T`."""
    weak = {c: t for c, t in signal.items() if t < WEAK_SIGNAL_T}
    if not weak:
        return None
    total = sum(mean_spend.values())
    share = sum(mean_spend[c] for c in weak) / total if total > 0 else 0.0
    names = ", ".join(f"{c!r} (t {t:.1f})" for c, t in sorted(weak.items(), key=lambda kv: kv[1]))
    head = (f"the history barely shows {len(weak)} channel(s) moving the KPI: {names}, {share:.0%} of mean spend; "
            f"their curves rest mostly on the prior")
    if share >= WEAK_SPEND_SHARE:
        return (head + ". A plan that moves their spend far is unreliable: plan them within 0.5-2x their mean "
                "spend (response: {bounds: historical}) or calibrate them with a lift test (--lift-tests).")
    return head + "; plan them within 0.5-2x their mean spend (bounds: historical) or calibrate them with a lift test."
