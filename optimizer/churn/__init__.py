"""Churn timing: who is likely to churn, when to contact them, and whether the contact pays.

Modules (one job each):

- ``data``: read CSV/Parquet, validate, encode categoricals (:func:`data.prepare`).
- ``coxph``, ``aft``: fast fitters (Efron Cox with strata/penalizer; Weibull, log-logistic,
  log-normal AFT), tested against R's ``coxph``/``survreg``.
- ``fitters``: one interface over Kaplan-Meier, Cox and AFT models (``MODEL_KINDS``).
- ``metrics``: Harrell's C, IPCW Brier score and its integral, calibration at a horizon.
- ``models``: :class:`models.ChurnModel` (fit, select on a holdout, report, PH test in words).
- ``conditional``: quantities given the tenure reached (window risk, residual percentiles, hazard).
- ``timing``: contact day, status, economics, weekly schedule, per-customer list.
- ``section``: the ``churn:`` scenario section; ``cli``: ``dmpopt churn fit|schedule``.
- ``simulate``: seeded customers with a known true uplift.

Units: durations and tenures in days; probabilities and uplift as fractions 0-1; money in the
scenario currency. Nothing heavy is imported here.
"""
