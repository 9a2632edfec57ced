"""Analyse experiments: pick the test for a metric kind and run it, one comparison or 20,000 at once.

Two entry points:

* :func:`analyze` - one metric: a control :class:`~experiments.stats.VariantStats` against one or
  more treatments, returning :class:`~experiments.results.ComparisonResult` objects;
* :func:`compare_table` - the vectorised path: aligned sequences (or
  :class:`~experiments.stats.VariantArrays`) of control and treatment statistics, with labels,
  returning one :class:`~experiments.results.ComparisonTable` and optionally adjusted p-values.

Metric kinds (``kind``) and their default method:

=============  ==========================================  =================================
kind           metric                                      frequentist test
=============  ==========================================  =================================
proportion     conversion, 0/1 per user (sum = converters)  two-proportion z (conventions below)
mean           revenue per user, any continuous value        Welch t
count          events per user (orders, sessions)            Welch t on per-user counts
ratio          sum Y / sum D (ROAS, revenue per session)     delta method, z
=============  ==========================================  =================================

``AnalysisSettings.engine = "bayes"`` gives beta-binomial (proportions) or normal (others)
posteriors with chance to beat control and expected loss instead of p-values.
``cuped = True`` adjusts mean/count/ratio metrics with the pre-period covariate.
Defaults: alpha 0.05, two-sided, pooled z without continuity correction and Wald interval
(R ``prop.test(correct=FALSE)``; set ``continuity=True`` for R's default), Welch.
"""

from __future__ import annotations

from typing import Literal, Sequence

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator

from experiments.results import CORE_COLUMNS, ComparisonResult, ComparisonTable
from experiments.stats import VariantArrays, VariantStats

__all__ = ["AnalysisSettings", "analyze", "compare_table", "method_name"]

Kind = Literal["proportion", "mean", "count", "ratio"]

#: Relative rounding error of a variance above which it is not trusted (``PRECISION_LOSS``):
#: fewer than two correct digits.
PRECISION_LIMIT = 1e-2


class AnalysisSettings(BaseModel):
    """How comparisons are computed (embeddable in experiments.yaml)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    alpha: float = Field(0.05, gt=0, lt=1, allow_inf_nan=False,
                         description="Significance level; intervals have level 1 - alpha (0.05 -> 95 %).")
    alternative: Literal["two-sided", "greater", "less"] = Field(
        "two-sided", description="Direction of the frequentist p-value (greater: treatment > control).")
    engine: Literal["frequentist", "bayes"] = Field("frequentist", description="Frequentist tests or Bayesian posteriors.")
    pooled: bool = Field(True, description="Proportions: pooled (score) standard error in the z statistic; False = unpooled (Wald).")
    continuity: bool = Field(False, description="Proportions: Yates continuity correction (True + pooled + ci='wald' = R prop.test default).")
    proportion_ci: Literal["wald", "newcombe"] = Field("wald", description="Proportions: interval of the difference (Wald, or Newcombe 1998 hybrid score).")
    equal_var: bool = Field(False, description="Means: pooled-variance Student t instead of Welch.")
    cuped: bool = Field(False, description="Mean, count and ratio metrics: CUPED adjustment with the pre-period covariate.")
    prior_alpha: float = Field(1.0, gt=0, allow_inf_nan=False, description="Bayes, proportions: Beta prior alpha (1 = uniform).")
    prior_beta: float = Field(1.0, gt=0, allow_inf_nan=False, description="Bayes, proportions: Beta prior beta (1 = uniform).")
    effect_scale: Literal["relative", "absolute"] = Field(
        "relative", description=("The effect the test statistic, p-value, intervals and decision are all about: "
                                 "'relative' = (treatment - control) / |control| with a delta-method standard error "
                                 "(GrowthBook's default); 'absolute' = treatment - control (R t.test / prop.test)."))
    proportion_reference: Literal["normal", "welch_t"] = Field(
        "normal", description="Proportions: normal reference, or Student t with Welch degrees of freedom (GrowthBook).")
    proportion_posterior: Literal["beta", "normal"] = Field(
        "beta", description="Bayes, proportions: exact beta-binomial, or the normal model on the effect scale (GrowthBook).")
    prior_effect_mean: float = Field(0.0, allow_inf_nan=False,
                                     description="Bayes, normal model: mean of the Gaussian prior of the effect.")
    prior_effect_variance: float | None = Field(
        None, gt=0, allow_inf_nan=False,
        description="Bayes, normal model: variance of the Gaussian prior of the effect; None = flat (improper) prior.")
    prior_effect_scale: Literal["relative", "absolute"] = Field(
        "relative", description="Scale the Gaussian prior is given on (GrowthBook's prior_type); rescaled by |control|.")
    cuped_theta: Literal["within_arm", "pooled_sample"] = Field(
        "within_arm", description=("CUPED slope: pooled within-arm regression slope (regression with a treatment term), "
                                   "or both arms as one sample (GrowthBook)."))

    @model_validator(mode="after")
    def _conventions_match_scale(self) -> "AnalysisSettings":
        if self.effect_scale == "relative" and (self.continuity or self.proportion_ci == "newcombe"):
            raise ValueError("continuity=True and proportion_ci='newcombe' are conventions of the absolute difference; "
                             "set effect_scale='absolute' to use them (R prop.test parity).")
        return self


def method_name(kind: str, s: AnalysisSettings) -> str:
    """Short label of the method and its conventions, e.g. ``z_pooled_cc_wald`` or ``welch_relative``.

    The suffix ``_relative`` marks the relative effect scale (delta method); absolute-scale
    labels are unchanged.
    """
    rel = "_relative" if s.effect_scale == "relative" else ""
    cuped = ("_cuped" if s.cuped_theta == "within_arm" else "_cuped_pooled") if s.cuped else ""
    if s.engine == "bayes":
        if kind == "proportion" and s.proportion_posterior == "beta":
            return "bayes_beta"
        return "bayes_normal" + (cuped if kind != "proportion" else "") + rel
    if kind == "proportion":
        ref = "t_welch" if s.proportion_reference == "welch_t" else "z"
        if s.effect_scale == "relative":
            return f"{ref}_delta_relative"
        return (ref + "_" + ("pooled" if s.pooled else "unpooled") + ("_cc" if s.continuity else "")
                + "_" + s.proportion_ci)
    if kind == "ratio":
        return "delta_ratio" + cuped + rel
    base = "student" if s.equal_var else "welch"
    return base + cuped + rel


def _as_arrays(x: VariantArrays | Sequence[VariantStats]) -> VariantArrays:
    return x if isinstance(x, VariantArrays) else VariantArrays.from_stats(list(x))


def _compute(kind: str, c: VariantArrays, t: VariantArrays, s: AnalysisSettings) -> dict:
    from experiments import bayes, cuped, means, proportions, ratio

    if kind not in ("proportion", "mean", "count", "ratio"):
        raise ValueError(f"kind is {kind!r}; it must be one of 'proportion', 'mean', 'count', 'ratio'.")
    scale = s.effect_scale
    bayes_normal = s.engine == "bayes" and not (kind == "proportion" and s.proportion_posterior == "beta")
    # The Bayesian normal model is two-sided: it takes the frequentist moments of the two-sided test.
    alternative = "two-sided" if s.engine == "bayes" else s.alternative
    if kind == "proportion":
        x0, x1 = c.mean * c.n, t.mean * t.n
        x0 = np.where(c.n > 0, x0, 0.0)
        x1 = np.where(t.n > 0, x1, 0.0)
        if s.engine == "bayes" and not bayes_normal:
            return bayes.beta_binomial_arrays(c.n, x0, t.n, x1, prior_alpha=s.prior_alpha, prior_beta=s.prior_beta,
                                              alpha=s.alpha)
        out = proportions.proportions_arrays(c.n, x0, t.n, x1, alpha=s.alpha, pooled=s.pooled, continuity=s.continuity,
                                             ci=s.proportion_ci, alternative=alternative, scale=scale,
                                             reference=s.proportion_reference)
        out["mean_control"], out["mean_treatment"] = c.mean, t.mean
    elif kind == "ratio":
        if s.cuped:
            out = cuped.cuped_ratio_arrays(c, t, alpha=s.alpha, alternative=alternative, scale=scale,
                                           theta_mode=s.cuped_theta)
        else:
            out = ratio.ratio_arrays(c, t, alpha=s.alpha, alternative=alternative, scale=scale)
    elif s.cuped:
        out = cuped.cuped_means_arrays(c, t, alpha=s.alpha, alternative=alternative, scale=scale,
                                       theta_mode=s.cuped_theta)
    else:
        out = means.welch_arrays(c.n, c.mean, c.var, t.n, t.mean, t.var, alpha=s.alpha, equal_var=s.equal_var,
                                 alternative=alternative, scale=scale)
        out["mean_control"], out["mean_treatment"] = c.mean, t.mean
    if bayes_normal:
        out = bayes.posterior_columns(out, alpha=s.alpha, scale=scale, prior_mean=s.prior_effect_mean,
                                      prior_variance=s.prior_effect_variance, prior_scale=s.prior_effect_scale)
        out = bayes.blank_bayes(out)
    return out


def _control_se(kind: str, c: VariantArrays) -> np.ndarray:
    """Standard error of the control estimate (for the near-zero-baseline warning)."""
    from experiments import ratio

    with np.errstate(all="ignore"):
        if kind == "ratio":
            return np.sqrt(ratio.ratio_estimate(c.n, c.mean, c.den_mean, c.m2, c.den_m2, c.num_den_m2)[1])
        return np.sqrt(c.var / c.n)


def _row_warnings(frame: pd.DataFrame, results: dict, se0: np.ndarray) -> np.ndarray:
    """One ``"; "``-joined string of warnings per row ("" when none)."""
    n = len(frame)
    out = [[] for _ in range(n)]
    ok = (frame["status"] == "ok").to_numpy()
    with np.errstate(all="ignore"):
        base = np.abs(frame["mean_control"].to_numpy(dtype=float))
        near_zero = ok & np.isfinite(se0) & (base < 2.0 * se0)
    for i in np.flatnonzero(near_zero):
        out[i].append("BASELINE_NEAR_ZERO: the control mean is within 2 standard errors of 0, so the relative lift "
                      "is unstable (it can change sign or explode), so read the absolute lift (effect_scale='absolute')")
    disagree = results.get("test_interval_disagree")
    if disagree is not None:
        for i in np.flatnonzero(ok & (np.nan_to_num(disagree) > 0)):
            out[i].append("TEST_INTERVAL_DISAGREE: the R-convention test (pooled/continuity/Newcombe) and the interval "
                          "disagree at this alpha, and the decision follows the interval")
    return np.asarray(["; ".join(w) for w in out], dtype=object)


def compare_table(control: VariantArrays | Sequence[VariantStats], treatment: VariantArrays | Sequence[VariantStats], *,
                  kind: Kind | Sequence[str], settings: AnalysisSettings | None = None,
                  metric: str | Sequence[str] = "metric", variant: str | Sequence[str] | None = None,
                  control_name: str | Sequence[str] | None = None, dimension: str | Sequence[str] = "",
                  correction: str | None = None, scope: Sequence[str] = ("metric",)) -> ComparisonTable:
    """Vectorised comparisons: row ``i`` compares ``treatment[i]`` with ``control[i]``.

    Parameters
    ----------
    control, treatment : VariantArrays or sequence of VariantStats
        Aligned rows (same length).
    kind : str or sequence of str
        Metric kind for all rows, or one per row (rows are grouped by kind internally).
    settings : AnalysisSettings, optional
        Conventions; defaults as in :class:`AnalysisSettings`.
    metric, variant, control_name, dimension : str or sequence of str
        Labels (scalars broadcast). ``variant``/``control_name`` default to the VariantStats names.
    correction : {"holm", "bh", "bonferroni"} or None
        Adds ``p_value_adjusted`` computed within each family given by ``scope``
        (columns of the table, e.g. ``("metric",)``, ``("metric", "dimension")`` or ``()`` for all).

    Returns
    -------
    ComparisonTable
    """
    s = settings or AnalysisSettings()
    c_list = None if isinstance(control, VariantArrays) else list(control)
    t_list = None if isinstance(treatment, VariantArrays) else list(treatment)
    c, t = _as_arrays(control if c_list is None else c_list), _as_arrays(treatment if t_list is None else t_list)
    n = len(c)
    if len(t) != n:
        raise ValueError(f"control has {n} row(s) and treatment {len(t)}; they must be aligned row by row.")

    def labels(v, default):
        if v is None:
            v = default
        return np.full(n, v, dtype=object) if isinstance(v, str) else np.asarray(list(v), dtype=object)

    kinds = labels(kind, "mean")
    frame_cols: dict[str, np.ndarray] = {
        "metric": labels(metric, "metric"),
        "variant": labels(variant, [x.name for x in t_list] if t_list is not None else "treatment"),
        "control": labels(control_name, [x.name for x in c_list] if c_list is not None else "control"),
        "dimension": labels(dimension, ""),
        "method": np.empty(n, dtype=object),
    }
    results: dict[str, np.ndarray] = {}
    se0 = np.full(n, np.nan)
    for k in pd.unique(kinds):
        idx = np.flatnonzero(kinds == k)
        sub_c = VariantArrays(**{f: getattr(c, f)[idx] for f in c.__dataclass_fields__})
        sub_t = VariantArrays(**{f: getattr(t, f)[idx] for f in t.__dataclass_fields__})
        out = _compute(str(k), sub_c, sub_t, s)
        se0[idx] = _control_se(str(k), sub_c)
        frame_cols["method"][idx] = method_name(str(k), s)
        for key, val in out.items():
            if key not in results:
                results[key] = np.full(n, None, dtype=object) if key == "error_code" else np.full(n, np.nan)
            results[key][idx] = val
    # Variances lost to cancellation in raw sums: no inference, say why (and where the stable path is).
    lost = (np.nan_to_num(c.rounding_error, nan=0.0) > PRECISION_LIMIT) | (np.nan_to_num(t.rounding_error, nan=0.0) > PRECISION_LIMIT)
    if lost.any() and "error_code" in results:
        codes = results["error_code"]
        codes[lost & np.equal(codes, None)] = "PRECISION_LOSS"
        for key in ("lift_absolute_ci_low", "lift_absolute_ci_high", "lift_relative_ci_low", "lift_relative_ci_high",
                    "p_value", "statistic", "chance_to_beat_control", "expected_loss", "expected_loss_control"):
            if key in results:
                results[key][lost] = np.nan
    frame = pd.DataFrame(frame_cols)
    frame["n_control"] = c.n.astype(np.int64)
    frame["n_treatment"] = t.n.astype(np.int64)
    for col in CORE_COLUMNS[2:]:
        frame[col] = results.get(col, np.full(n, np.nan))
    frame["ci_level"] = 1.0 - s.alpha
    codes = results.get("error_code", np.full(n, None, dtype=object))
    frame["status"] = np.where(np.not_equal(codes, None), "error", "ok")
    frame["error_code"] = codes
    for key in ("df", "se", "se_relative", "se_scaled", "theta", "variance_reduction", "chance_to_beat_control", "expected_loss",
                "expected_loss_control", "posterior_mean", "posterior_sd"):
        if key in results:
            frame[key] = results[key]
    frame["effect_scale"] = s.effect_scale
    frame["warnings"] = _row_warnings(frame, results, se0)
    if correction is not None:
        from experiments.multiple import adjust_by_scope

        frame["p_value_adjusted"] = adjust_by_scope(frame, correction, scope)
    return ComparisonTable(frame)


def analyze(control: VariantStats, treatments: VariantStats | Sequence[VariantStats], *, kind: Kind = "mean",
            metric: str = "metric", dimension: str = "", settings: AnalysisSettings | None = None) -> list[ComparisonResult]:
    """Compare each treatment with the control for one metric.

    Returns one :class:`ComparisonResult` per treatment; problems (zero users, zero variance...)
    come back as results with ``status="error"`` and an error code. With no treatment at all the
    single result carries ``SINGLE_VARIANT``.
    """
    if isinstance(treatments, VariantStats):
        treatments = [treatments]
    treatments = list(treatments)
    s = settings or AnalysisSettings()
    if not treatments:
        nan = float("nan")
        return [ComparisonResult(metric=metric, variant="", control=control.name, dimension=dimension,
                                 method=method_name(kind, s), n_control=control.n, n_treatment=0,
                                 mean_control=control.mean, mean_treatment=nan, lift_absolute=nan,
                                 lift_absolute_ci_low=nan, lift_absolute_ci_high=nan, lift_relative=nan,
                                 lift_relative_ci_low=nan, lift_relative_ci_high=nan, p_value=nan, statistic=nan,
                                 ci_level=1 - s.alpha, status="error", error_code="SINGLE_VARIANT",
                                 error_message="only one variant was given; a comparison needs a control and at least one treatment")]
    table = compare_table([control] * len(treatments), treatments, kind=kind, settings=s, metric=metric, dimension=dimension)
    return list(table)
