"""Seeded simulator of marketing-mix data with known response curves (the truth for tests and benchmarks).

Generating model (weekly; money in the simulated currency, per week)::

    KPI_t = b0 * (1 + trend * t / T)                                   baseline level and trend
          + b0 * (0.08 sin(2 pi t / P) + 0.04 cos(4 pi t / P))         yearly seasonality, P = 52.18 weeks
          + b0 * 0.15 * holiday_t                                      holiday weeks (Black Friday, Christmas)
          - b0 * 0.04 * price_t                                        a standardised control (price index)
          + sum_c beta_c * hill(e_ct; K_c, n_c)                        media, e = geometric adstock of spend
          + N(0, (noise * mean KPI)^2)

* adstock ``e_ct = sum_{l=0..L} d_c^l x_{c,t-l}`` (not normalised, L = ``max_lag``, the budget's
  convention); spend exists before the first row (a burn-in of L weeks the fit does not see);
* ``hill(e; K, n) = e^n / (e^n + K^n)``, ``d_c ~ U(decay_range)``, ``n_c ~ U(shape_range)`` (S-shapes
  when n > 1), ``K_c = S(d_c) * m_c * U(0.6, 2.0)`` where ``m_c`` is the channel's mean spend when on;
* ``beta_c`` is set so the ROI of sustained spend ``m_c`` is ``U(roi_range)``;
* spend per channel: ``m_c * exp(AR(1) log-noise)`` with standard deviation ``spend_sd`` and lag-1
  correlation ``spend_autocorrelation``; channels ``(0, 1), (2, 3), ...`` (``n_correlated_pairs``
  pairs) share their log-noise with correlation ``correlation``; every ``flight_every``-th channel
  (starting with the last, correlated pairs excepted) is flighted: on and off in alternating blocks of
  ``flight_run`` weeks (default 2-8), spend 0 when off.

How much history varied spend decides how well ANY fit can tell the channels apart (the per-channel
signal is the variation of its contribution, not its level). The defaults (log-sd 0.35, AR 0.6, a
quarter of the channels flighted in 2-8 week blocks) are smooth spend. :data:`ROBYN_DEMO_SPEND` holds
the spend statistics measured on Robyn's own simulated demo data set (``dt_simulated_weekly.csv``,
208 weeks, shipped in robynpy 0.3.6 ``robyn/tutorials/resources``): spend when on has log-sd 0.67-1.29
(tv 1.25, ooh 1.29, print 1.08, facebook 1.16, search 0.67), lag-1 autocorrelation 0.05-0.46 (search
0.97), and tv/ooh/print/facebook are on in only 41-49 % of weeks, in runs of 1.2-1.8 weeks.

The true per-period curve of sustained spend (what the fit should recover) is a Hill curve with
``max_response = beta``, ``half_saturation_spend = K / S(d)`` and ``shape = n``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from optimizer.curves.adstock import geometric, steady_state_factor

WEEKS_PER_YEAR = 365.25 / 7

#: Spend process matching Robyn's demo data (module docstring): ``simulate(..., **ROBYN_DEMO_SPEND)``.
ROBYN_DEMO_SPEND = {"spend_sd": 1.0, "spend_autocorrelation": 0.3, "flight_every": 2, "flight_run": (1, 3)}


@dataclass(frozen=True)
class TrueChannel:
    """The true curve of one simulated channel.

    Attributes
    ----------
    decay, max_lag: adstock (budget convention, weights not normalised).
    half_saturation_effective: K, effective spend (currency per period) giving half of ``max_response``.
    shape: Hill exponent n.
    max_response: beta, KPI units per period.
    mean_spend: m, mean spend per period when the channel is on (currency).
    """

    decay: float
    max_lag: int
    half_saturation_effective: float
    shape: float
    max_response: float
    mean_spend: float

    @property
    def half_saturation_spend(self) -> float:
        """Half-saturation of SUSTAINED spend per period (currency): ``K / S(decay)``."""
        return self.half_saturation_effective / float(steady_state_factor(self.decay, self.max_lag))

    def response(self, spend: np.ndarray) -> np.ndarray:
        """Per-period response of spending ``spend`` every period (carry-over included), KPI units."""
        x = np.maximum(np.asarray(spend, dtype=float), 0.0)
        r = np.power(x / self.half_saturation_spend, self.shape)
        return self.max_response * r / (1.0 + r)

    def budget_response(self) -> dict:
        """The curve in the budget section's schema (``hill`` if shape <= 1 else ``s_hill``)."""
        return {"kind": "hill" if self.shape <= 1 else "s_hill", "max_response": self.max_response,
                "half_saturation_spend": self.half_saturation_spend, "shape": self.shape}


@dataclass(frozen=True)
class SimulatedData:
    """A simulated history and its truth.

    Attributes
    ----------
    data: one row per week: ``date``, ``kpi``, ``spend_<channel>`` per channel, ``price``, ``holiday``.
    truth: channel name -> :class:`TrueChannel`.
    contributions: per week and channel, the true media contribution (KPI units).
    baseline: per week, the true non-media part (KPI units).
    noise_sd: standard deviation of the noise (KPI units).
    seed: the seed used (drawn when None was given).
    settings: the simulator's arguments.
    """

    data: pd.DataFrame
    truth: dict[str, TrueChannel]
    contributions: pd.DataFrame
    baseline: np.ndarray
    noise_sd: float
    seed: int
    settings: dict = field(default_factory=dict)

    @property
    def channels(self) -> list[str]:
        """Channel names in column order."""
        return list(self.truth)

    def spend_columns(self) -> dict[str, str]:
        """channel -> spend column name."""
        return {c: f"spend_{c}" for c in self.truth}

    def lift_tests(self, channels: list[str], rng: np.random.Generator, relative_sigma: float = 0.1) -> list:
        """One simulated lift test per channel: +50 % spend from the channel's mean weekly spend.

        The measured increment is the true steady-state increment plus normal noise with standard
        deviation ``relative_sigma * |increment| + 1`` (KPI units), reported as the test's sigma.
        """
        from optimizer.curves.lift import LiftTest

        tests = []
        for c in channels:
            x = float(self.data[f"spend_{c}"].mean())
            inc = float(self.truth[c].response(np.array([1.5 * x]))[0] - self.truth[c].response(np.array([x]))[0])
            sigma = relative_sigma * abs(inc) + 1
            tests.append(LiftTest(c, x, 0.5 * x, inc + rng.normal(0, sigma), sigma))
        return tests


def _holidays(dates: pd.DatetimeIndex) -> np.ndarray:
    """1 in the weeks (Monday start) holding Black Friday (4th Thursday of November + 1) or Christmas."""
    out = np.zeros(len(dates))
    for i, d in enumerate(dates):
        end = d + pd.Timedelta(days=6)
        for year in {d.year, end.year}:
            nov1 = pd.Timestamp(year=year, month=11, day=1)
            bf = nov1 + pd.Timedelta(days=(3 - nov1.weekday()) % 7 + 21 + 1)
            xmas = pd.Timestamp(year=year, month=12, day=25)
            if d <= bf <= end or d <= xmas <= end:
                out[i] = 1.0
    return out


def simulate(
    n_channels: int = 5,
    n_weeks: int = 156,
    noise: float = 0.05,
    seed: int | None = None,
    *,
    decay_range: tuple[float, float] = (0.0, 0.8),
    shape_range: tuple[float, float] = (0.6, 3.0),
    roi_range: tuple[float, float] = (0.8, 4.0),
    n_correlated_pairs: int = 1,
    correlation: float = 0.8,
    flight_every: int = 4,
    spend_sd: float = 0.35,
    spend_autocorrelation: float = 0.6,
    flight_run: tuple[int, int] = (2, 8),
    max_lag: int = 8,
    trend: float = 0.1,
    start: str = "2023-01-02",
) -> SimulatedData:
    """Simulate ``n_weeks`` of weekly KPI and spend for ``n_channels`` channels (see module docstring).

    ``noise`` is the noise standard deviation as a fraction of the mean KPI (0.05 = 5 %).
    ``spend_sd``, ``spend_autocorrelation``, ``flight_every`` and ``flight_run`` set how spend varies
    (:data:`ROBYN_DEMO_SPEND` for Robyn-demo-like variation).
    """
    if not 1 <= n_channels <= 50:
        raise ValueError(f"n_channels is {n_channels}; expected 1 to 50")
    if n_weeks < 26:
        raise ValueError(f"n_weeks is {n_weeks}; expected at least 26")
    if not (spend_sd >= 0 and -1 < spend_autocorrelation < 1 and 1 <= flight_run[0] <= flight_run[1]):
        raise ValueError(f"spend_sd {spend_sd}, spend_autocorrelation {spend_autocorrelation}, flight_run {flight_run}: "
                         "expected spend_sd >= 0, -1 < spend_autocorrelation < 1, 1 <= flight_run[0] <= flight_run[1]")
    if seed is None:
        seed = int(np.random.SeedSequence().generate_state(1)[0])
    rng = np.random.default_rng(seed)
    C, T, L = n_channels, n_weeks, max_lag
    names = [f"ch{c + 1:02d}" for c in range(C)]
    m = np.exp(rng.uniform(np.log(2_000), np.log(50_000), C))
    # log-noise: AR(1), shared within correlated pairs
    phi, sd = spend_autocorrelation, spend_sd
    eps = rng.normal(size=(C, T + L))
    for p in range(min(n_correlated_pairs, C // 2)):
        a, b = 2 * p, 2 * p + 1
        eps[b] = correlation * eps[a] + np.sqrt(1 - correlation**2) * eps[b]
    z = np.zeros_like(eps)
    for t in range(T + L):
        z[:, t] = (phi * z[:, t - 1] if t else 0.0) + np.sqrt(1 - phi**2) * sd * eps[:, t]
    spend = m[:, None] * np.exp(z - sd**2 / 2)
    paired = set(range(2 * min(n_correlated_pairs, C // 2)))
    flighted = [c for c in range(C - 1, -1, -flight_every) if c not in paired] if flight_every > 0 else []
    for c in flighted:
        on = np.zeros(T + L, dtype=bool)
        t, state = 0, bool(rng.integers(2))
        while t < T + L:
            run = int(rng.integers(flight_run[0], flight_run[1] + 1))
            on[t:t + run] = state
            t += run
            state = not state
        spend[c] = np.where(on, spend[c] * 1.6, 0.0)
    spend = np.round(spend, 2)
    decay = rng.uniform(*decay_range, C)
    shape = rng.uniform(*shape_range, C)
    S = steady_state_factor(decay, L)
    on_mean = np.array([spend[c][spend[c] > 0].mean() for c in range(C)])
    K = S * on_mean * rng.uniform(0.6, 2.0, C)
    roi = rng.uniform(*roi_range, C)
    r_at_m = np.power(S * on_mean / K, shape)
    beta = roi * on_mean / (r_at_m / (1 + r_at_m))
    contrib = np.zeros((C, T))
    for c in range(C):
        e = geometric(spend[c], decay[c], L)[L:]
        r = np.power(e / K[c], shape[c])
        contrib[c] = beta[c] * r / (1 + r)
    spend = spend[:, L:]
    dates = pd.date_range(start, periods=T, freq="7D")
    t = np.arange(T)
    b0 = 2.0 * float(np.sum(roi * spend.mean(axis=1)))
    holiday = _holidays(dates)
    price = np.zeros(T)
    for i in range(1, T):
        price[i] = 0.8 * price[i - 1] + rng.normal(0, 0.6)
    price = (price - price.mean()) / (price.std() + 1e-12)
    base = b0 * (1 + trend * t / T + 0.08 * np.sin(2 * np.pi * t / WEEKS_PER_YEAR)
                 + 0.04 * np.cos(4 * np.pi * t / WEEKS_PER_YEAR) + 0.15 * holiday - 0.04 * price)
    clean = base + contrib.sum(axis=0)
    noise_sd = float(noise * clean.mean())
    kpi = clean + rng.normal(0, noise_sd, T)
    data = pd.DataFrame({"date": dates, "kpi": np.round(kpi, 2)})
    for c, name in enumerate(names):
        data[f"spend_{name}"] = spend[c]
    data["price"] = np.round(price, 4)
    data["holiday"] = holiday.astype(int)
    truth = {
        name: TrueChannel(float(decay[c]), L, float(K[c]), float(shape[c]), float(beta[c]), float(on_mean[c]))
        for c, name in enumerate(names)
    }
    settings = dict(n_channels=C, n_weeks=T, noise=noise, decay_range=list(decay_range), shape_range=list(shape_range),
                    roi_range=list(roi_range), n_correlated_pairs=n_correlated_pairs, correlation=correlation,
                    flight_every=flight_every, spend_sd=spend_sd,
                    spend_autocorrelation=spend_autocorrelation, flight_run=list(flight_run), max_lag=L, trend=trend, start=start)
    return SimulatedData(data, truth, pd.DataFrame(contrib.T, columns=names, index=dates), base, noise_sd, seed, settings)
