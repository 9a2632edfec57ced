"""``ChurnModel``: fit candidate survival models, select one on a held-out split, report.

Selection. The data are split (seeded) into a training part and a holdout of
``holdout_fraction`` (default 0.3). Every candidate is fitted on the training part and scored on
the holdout: Harrell's C (ranking; on at most ``CONCORDANCE_MAX_ROWS`` = 50,000 holdout rows), the integrated Brier score from day 1 to the decision horizon
(probability accuracy, IPCW), and calibration at the horizon. AIC is reported for the parametric
models (Kaplan-Meier and the Cox partial likelihood have no comparable AIC).
``select_by`` picks the winner: ``"ibs"`` (default, because contact timing thresholds
probabilities, so calibration matters more than ranking), ``"concordance"`` or ``"aic"``. The
chosen kind is then refitted on all the data.

The proportional-hazards assumption is tested (Grambsch-Therneau test on scaled Schoenfeld
residuals, lifelines' ``proportional_hazard_test`` with rank time transform, on at most 5,000
rows) and violations are reported in words.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from optimizer.churn.data import SurvivalData
from optimizer.churn.fitters import MODEL_KINDS, fit_kind
from optimizer.errors import DmpoptError, NotFittedError, ScenarioError

SELECT_BY = ("ibs", "concordance", "aic")
PH_TEST_MAX_ROWS = 5_000
#: Harrell's C on at most this many holdout rows (seeded subsample): lifelines' O(n log n) routine
#: takes ~8 s on 300k rows here; at 50k the C-index's standard error is ~0.003.
CONCORDANCE_MAX_ROWS = 50_000


@dataclass(frozen=True)
class ModelReport:
    """What the fit found.

    Attributes
    ----------
    selected:
        The chosen model kind.
    select_by:
        The criterion used (``ibs``, ``concordance`` or ``aic``).
    horizon_days:
        Decision horizon (days) for the IBS span and the calibration.
    comparison:
        One row per candidate: ``model``, ``n_params``, ``loglik`` (train), ``aic`` (train; NaN
        where not comparable), ``c_index`` (holdout), ``ibs`` (holdout), ``calibration_error``
        (holdout, probability units), ``status`` (``ok`` or the failure message).
    calibration:
        Holdout calibration table of the selected model: ``group``, ``n``, ``predicted``,
        ``observed`` P(churn by horizon).
    coefficients:
        Coefficients of the selected model refitted on all data.
    ph_test:
        Sentences on the proportional-hazards test.
    n_train, n_holdout, n_events:
        Row and event counts.
    warnings:
        Conditions to read with care.
    """

    selected: str
    select_by: str
    horizon_days: float
    comparison: pd.DataFrame
    calibration: pd.DataFrame
    coefficients: pd.DataFrame
    ph_test: tuple[str, ...]
    n_train: int
    n_holdout: int
    n_events: int
    warnings: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict:
        """JSON-safe dict (NaN -> None)."""

        def records(df: pd.DataFrame) -> list[dict]:
            return [{k: _clean(v) for k, v in row.items()} for row in df.to_dict(orient="records")]

        coef = self.coefficients.reset_index().rename(columns={"index": "term"})
        return {
            "selected": self.selected,
            "select_by": self.select_by,
            "horizon_days": self.horizon_days,
            "comparison": records(self.comparison),
            "calibration": records(self.calibration),
            "coefficients": records(coef),
            "ph_test": list(self.ph_test),
            "n_train": self.n_train,
            "n_holdout": self.n_holdout,
            "n_events": self.n_events,
            "warnings": list(self.warnings),
        }

    def summary(self) -> pd.DataFrame:
        """The model comparison table."""
        return self.comparison

    def __str__(self) -> str:
        lines = [
            f"Churn model: {self.selected} (selected by {self.select_by} on a holdout of {self.n_holdout}; "
            f"{self.n_events} churn events in {self.n_train + self.n_holdout} customers)",
            self.comparison.to_string(index=False, float_format=lambda v: f"{v:.4f}"),
            "",
            f"Calibration at {self.horizon_days:g} days (holdout):",
            self.calibration.to_string(index=False, float_format=lambda v: f"{v:.3f}"),
            "",
            "Proportional hazards: " + " ".join(self.ph_test),
        ]
        lines += [f"warning: {w}" for w in self.warnings]
        return "\n".join(lines)


def _clean(v):
    if isinstance(v, (np.floating, float)):
        return None if not np.isfinite(v) else float(v)
    if isinstance(v, np.integer):
        return int(v)
    return v


def proportional_hazards_test(data: SurvivalData, seed: int, alpha: float = 0.05) -> tuple[str, ...]:
    """The PH test in words (lifelines Cox fit on at most ``PH_TEST_MAX_ROWS`` rows)."""
    if data.X.shape[1] == 0:
        return ("not tested (no covariates).",)
    from lifelines import CoxPHFitter
    from lifelines.statistics import proportional_hazard_test

    rng = np.random.default_rng(seed)
    idx = rng.choice(data.n, size=min(data.n, PH_TEST_MAX_ROWS), replace=False)
    sub = data.subset(np.sort(idx)).frame()
    strata = ["stratum"] if "stratum" in sub else None
    import warnings as _warnings

    # lifelines' own warnings (convergence, approximations) must not reach the terminal: they are
    # recorded here and reported as sentences of the PH test instead.
    with _warnings.catch_warnings(record=True) as caught:
        _warnings.simplefilter("always")
        try:
            cph = CoxPHFitter().fit(sub, "duration", "event", strata=strata)
            res = proportional_hazard_test(cph, sub, time_transform="rank")
        except Exception as exc:  # lifelines raises several types; the report must not fail on a diagnostic
            return (f"could not be tested ({type(exc).__name__}: {str(exc).splitlines()[0]}).",)
    noted = tuple(dict.fromkeys(f"lifelines warned while testing: {str(w.message).splitlines()[0]}" for w in caught))
    p = res.summary["p"]
    bad = p[p < alpha].sort_values()
    if bad.empty:
        return (f"no evidence against proportional hazards at the {alpha:.0%} level (smallest p = {p.min():.3f}).",) + noted
    out = []
    for name, pv in bad.items():
        out.append(
            f"the effect of {name} changes with tenure (p = {pv:.3g} < {alpha:g}), so its hazard ratio is an "
            "average over time; consider stratifying on it (strata_col) or an AFT model."
        )
    return tuple(out) + noted


class ChurnModel:
    """Fit and select a churn (survival) model.

    Parameters
    ----------
    model:
        One of :data:`~optimizer.churn.fitters.MODEL_KINDS`, or ``"auto"`` (compare them all).
    horizon_days:
        Decision horizon in days: end of the IBS span, calibration time.
    select_by:
        ``"ibs"``, ``"concordance"`` or ``"aic"``.
    penalizer:
        Ridge penalty for Cox (lifelines' convention), >= 0.
    holdout_fraction:
        Share of rows held out for selection (0-1).
    seed:
        Seed of the split and the PH-test subsample; None draws one (see ``seed_``).
    """

    def __init__(
        self,
        model: str = "auto",
        *,
        horizon_days: float = 90.0,
        select_by: str = "ibs",
        penalizer: float = 0.0,
        holdout_fraction: float = 0.3,
        seed: int | None = None,
    ):
        if model != "auto" and model not in MODEL_KINDS:
            raise ScenarioError(f"model is {model!r}; it must be 'auto' or one of {list(MODEL_KINDS)}.")
        if select_by not in SELECT_BY:
            raise ScenarioError(f"select_by is {select_by!r}; it must be one of {list(SELECT_BY)}.")
        if not 0 < holdout_fraction < 1:
            raise ScenarioError(f"holdout_fraction is {holdout_fraction}; it must be between 0 and 1.")
        if not horizon_days > 1:
            raise ScenarioError(f"horizon_days is {horizon_days}; it must be > 1 day.")
        if penalizer < 0:
            raise ScenarioError(f"penalizer is {penalizer}; it must be >= 0.")
        self.model = model
        self.horizon_days = float(horizon_days)
        self.select_by = select_by
        self.penalizer = float(penalizer)
        self.holdout_fraction = holdout_fraction
        self.seed = seed

    def _candidates(self, data: SurvivalData) -> list[str]:
        if self.model != "auto":
            return [self.model]
        kinds = ["kaplan_meier", "weibull"]
        if data.X.shape[1]:
            kinds += ["weibull_aft", "loglogistic_aft", "lognormal_aft", "cox"]
        return kinds

    def _fit_one(self, kind, data: SurvivalData):
        return fit_kind(kind, data.duration, data.event, data.X, data.columns,
                        strata=data.strata if kind == "cox" else None, penalizer=self.penalizer)

    def fit(self, data: SurvivalData) -> "ChurnModel":
        """Fit the candidates, select on the holdout, refit the winner on all data; returns self."""
        from optimizer.churn.metrics import calibration_at, concordance, integrated_brier_score
        from optimizer.seeding import make_rng

        rng, self.seed_ = make_rng(self.seed)
        perm = rng.permutation(data.n)
        n_hold = int(round(data.n * self.holdout_fraction))
        hold, train = data.subset(np.sort(perm[:n_hold])), data.subset(np.sort(perm[n_hold:]))
        warnings: list[str] = []
        if hold.event.sum() < 10:
            warnings.append(f"the holdout has only {int(hold.event.sum())} churn event(s); selection is noisy.")
        times = np.linspace(1.0, self.horizon_days, 50)
        if hold.duration.max() < self.horizon_days:
            warnings.append(
                f"horizon_days {self.horizon_days:g} exceeds the longest holdout tenure "
                f"({hold.duration.max():g} days); IBS and calibration extrapolate."
            )
        c_rows = np.sort(rng.permutation(hold.n)[:CONCORDANCE_MAX_ROWS])
        rows, cal_tables = [], {}
        for kind in self._candidates(data):
            try:
                m = self._fit_one(kind, train)
                S = m.survival(np.broadcast_to(times, (hold.n, times.size)), hold.X, hold.strata)
                ibs = integrated_brier_score(hold.duration, hold.event, S, times)
                c = (concordance(hold.duration[c_rows], hold.event[c_rows], m.risk_score(hold.X[c_rows]),
                                 hold.strata[c_rows] if (kind == "cox" and hold.strata is not None) else None)
                     if kind not in ("kaplan_meier", "weibull") else 0.5)
                p_h = 1 - m.survival(np.full(hold.n, self.horizon_days), hold.X, hold.strata)
                cal, cal_err = calibration_at(hold.duration, hold.event, p_h, self.horizon_days)
                cal_tables[kind] = cal
                aic = m.aic if m.aic is not None else np.nan
                rows.append((kind, m.n_params, m.loglik if m.loglik is not None else np.nan, aic, c, ibs, cal_err, "ok"))
            except DmpoptError as exc:
                rows.append((kind, np.nan, np.nan, np.nan, np.nan, np.nan, np.nan, str(exc).splitlines()[0]))
        comp = pd.DataFrame(rows, columns=["model", "n_params", "loglik", "aic", "c_index", "ibs", "calibration_error", "status"])
        ok = comp[comp.status == "ok"]
        if ok.empty:
            raise DmpoptError("no churn model could be fitted: " + "; ".join(comp.status))
        if self.select_by == "aic":
            pool = ok[ok.aic.notna()]
            best = (pool if not pool.empty else ok).sort_values("aic" if not pool.empty else "ibs").iloc[0]
        elif self.select_by == "concordance":
            best = ok.sort_values(["c_index", "ibs"], ascending=[False, True]).iloc[0]
        else:
            best = ok.sort_values("ibs").iloc[0]
        kind = str(best.model)
        if data.strata is not None and kind != "cox":
            warnings.append(f"strata are used by the Cox model only; the selected {kind} model ignores them.")
        failed = comp[comp.status != "ok"]
        warnings += [f"{r.model} could not be fitted: {r.status}" for r in failed.itertuples()]
        self.model_ = self._fit_one(kind, data)
        self.data_columns_ = data.columns
        self.encoding_ = data.encoding
        self.report_ = ModelReport(
            selected=kind,
            select_by=self.select_by,
            horizon_days=self.horizon_days,
            comparison=comp,
            calibration=cal_tables.get(kind, pd.DataFrame()),
            coefficients=self.model_.coefficients(),
            ph_test=proportional_hazards_test(data, self.seed_),
            n_train=train.n,
            n_holdout=hold.n,
            n_events=int(data.event.sum()),
            warnings=tuple(warnings),
        )
        return self

    def _check(self):
        if not hasattr(self, "model_"):
            raise NotFittedError("ChurnModel is not fitted; call fit(data) first.")

    def survival(self, t, X, strata=None) -> np.ndarray:
        """S(t | x) for encoded covariates X (see ``SurvivalData.X``)."""
        self._check()
        return self.model_.survival(t, X, strata)
