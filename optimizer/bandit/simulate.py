"""Regret simulator: run policies on known true rates (and costs) and compare them.

Every policy sees the *same* random reward tables (common random numbers): for run r, step t and
arm k, a Bernoulli reward is ``U[r, t, k] < rate_k(t)`` with U drawn once from the run's seed, so
differences between policies come from their choices, not from luck of the draw.

Regret is pseudo-regret: ``sum_t (max_k rate_k(t) - rate_{a_t}(t))``, in reward units (expected
conversions lost), the quantity bandit theory bounds. With a ``budget``, every policy (cost-blind
ones too) stops when the next action would not fit; the figure of merit is then conversions per
unit of budget spent.

Defaults: 1 run, horizon 10,000 decisions, batch size 1 (update after every decision).
The ``dmpopt bandit simulate`` command (``cli_simulate.py``) reads a YAML file into
:class:`SimulationConfig` and calls :func:`run_simulation`.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Literal, Sequence

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from optimizer.bandit.config import CONTEXTUAL_KINDS, ArmName, PolicyConfig

_FROZEN = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class SimArm(BaseModel):
    """An arm of the simulated world."""

    model_config = _FROZEN

    name: ArmName
    rate: float = Field(ge=0, description="True mean reward per decision (conversion probability for binary rewards).")
    cost_per_action: float = Field(0.0, ge=0, description="Cost per decision, campaign currency.")
    reward_sd: float = Field(0.0, ge=0, description="Noise standard deviation of continuous rewards (reward unit).")


class RateChange(BaseModel):
    """From decision ``step`` on, the listed arms have new true rates (drifting channels)."""

    model_config = _FROZEN

    step: int = Field(ge=1, description="First decision (0-based count) with the new rates.")
    rates: dict[ArmName, float] = Field(description="Arm -> new true rate (>= 0).")


class SimPolicy(BaseModel):
    """A policy entered in the comparison."""

    model_config = _FROZEN

    label: str = Field(min_length=1, max_length=60, description="Name shown in the table and the plot.")
    policy: PolicyConfig = Field(description="The policy (same schema as a campaign's policy).")
    batch_size: int = Field(1, ge=1, le=1_000_000, description="Decisions served between two state updates.")


class SimulationConfig(BaseModel):
    """A simulation: the world (arms, rates, costs, drift), the contenders and the horizon."""

    model_config = _FROZEN

    name: str = Field("simulation", min_length=1, max_length=100, description="Title of the table and plot.")
    arms: list[SimArm] = Field(min_length=2, description="Arms with their true rates and costs.")
    policies: list[SimPolicy] = Field(min_length=1, description="Policies to compare.")
    horizon: int = Field(10_000, ge=10, le=10_000_000, description="Decisions per run.")
    n_runs: int = Field(1, ge=1, le=1000, description="Independent replications (different reward tables).")
    reward_kind: Literal["binary", "continuous"] = Field("binary", description="0/1 conversions or continuous rewards.")
    reward_bounds: tuple[float, float] = Field((0.0, 1.0), description="Bounds of continuous rewards (clipped).")
    budget: float | None = Field(None, gt=0, description="Money available per run; every policy stops when it is spent.")
    drift: list[RateChange] = Field(default_factory=list, description="Rate changes over time (non-stationary world).")
    seed: int | None = Field(None, ge=0, description="Seed of the reward tables and the policies; None draws one.")

    @model_validator(mode="after")
    def _check(self) -> "SimulationConfig":
        names = [a.name for a in self.arms]
        problems = []
        if len(set(names)) != len(names):
            problems.append("arm names must be unique")
        for k, change in enumerate(self.drift):
            for arm, rate in change.rates.items():
                if arm not in names:
                    problems.append(f"drift[{k}].rates names unknown arm {arm!r}; arms are {', '.join(names)}")
                if not (math.isfinite(rate) and rate >= 0):
                    problems.append(f"drift[{k}].rates[{arm}] is {rate}; it must be >= 0")
        if self.reward_kind == "binary":
            rates = [a.rate for a in self.arms] + [r for c in self.drift for r in c.rates.values()]
            if any(r > 1 for r in rates):
                problems.append("binary rewards need rates in [0, 1]")
        labels = [p.label for p in self.policies]
        if len(set(labels)) != len(labels):
            problems.append("policy labels must be unique")
        for p in self.policies:
            if p.policy.kind in CONTEXTUAL_KINDS:
                problems.append(f"policy {p.label!r} is contextual ({p.policy.kind}); the simulator has no "
                                "feature model: compare context-free policies here")
        if problems:
            raise ValueError("; ".join(problems))
        return self


@dataclass(frozen=True)
class PolicyOutcome:
    """One policy's results, averaged over runs.

    Attributes
    ----------
    label : str
    regret : float
        Mean final cumulative pseudo-regret (expected conversions lost vs the best arm), reward units.
    regret_ci : tuple of float
        95 % normal interval of that mean over runs (equal to (regret, regret) with one run).
    reward : float
        Mean total realized reward (conversions) per run.
    spend : float
        Mean money spent per run, campaign currency.
    reward_per_cost : float
        ``reward / spend`` (conversions per unit of currency; NaN when nothing was spent).
    n_decisions : float
        Mean decisions served per run (below the horizon when a budget ran out).
    seconds : float
        Mean wall time per run, seconds.
    curve : tuple of float
        Mean cumulative regret at ``SimulationResult.checkpoints``.
    """

    label: str
    regret: float
    regret_ci: tuple[float, float]
    reward: float
    spend: float
    reward_per_cost: float
    n_decisions: float
    seconds: float
    curve: tuple[float, ...]


#: Regret of sliding-window / discounted Thompson over plain Thompson on a world that does not drift,
#: and of change detection, as measured (docs/bandit-policies.md, "What forgetting costs").
STATIONARY_COST_NOTE = ("sliding-window and discounted Thompson cost ~7x plain Thompson's regret when nothing "
                        "drifts (measured 6.8x and 6.6x; change detection 1.1-1.7x)")


def forgetting_warnings(config: "SimulationConfig", outcomes: Sequence["PolicyOutcome"]) -> list[str]:
    """Say plainly what a forgetting policy (drift: window or discount) cost on this world.

    On a world without drift, each such contender gets a warning with its regret relative to a
    plain Thompson contender (when there is one); on any world, the advice to use change detection.
    """
    out = []
    plain = next((o for sp, o in zip(config.policies, outcomes)
                  if sp.policy.kind == "thompson" and getattr(sp.policy, "drift", None) is None), None)
    for sp, o in zip(config.policies, outcomes):
        kind = getattr(getattr(sp.policy, "drift", None), "kind", None)
        if kind not in ("window", "discount"):
            continue
        what = "a sliding window" if kind == "window" else "discounting"
        ratio = (f" ({o.regret / plain.regret:.1f}x the regret of {plain.label!r} here)"
                 if plain is not None and plain.regret > 0 else "")
        if not config.drift:
            out.append(f"policy {sp.label!r} uses {what} on a world that does not drift: it forgets at a fixed "
                       f"rate and keeps paying to re-explore{ratio}; {STATIONARY_COST_NOTE}. For channels that may "
                       "drift, use drift: {kind: change_detection, horizon_decisions: ...}.")
        else:
            out.append(f"policy {sp.label!r} uses {what}{ratio}: it also pays when nothing changes; "
                       f"{STATIONARY_COST_NOTE}. Change detection is the documented choice for drifting channels.")
    return out


@dataclass(frozen=True)
class SimulationResult:
    """Result of :func:`run_simulation`.

    Attributes
    ----------
    name : str
    status : str
        "ok".
    warnings : tuple of str
    seed : int
        Seed actually used (echoed when the config had none).
    horizon, n_runs : int
    checkpoints : tuple of int
        Decision counts at which ``PolicyOutcome.curve`` is sampled.
    outcomes : tuple of PolicyOutcome
    """

    name: str
    status: str
    warnings: tuple[str, ...]
    seed: int
    horizon: int
    n_runs: int
    checkpoints: tuple[int, ...]
    outcomes: tuple[PolicyOutcome, ...] = field(default_factory=tuple)

    def summary(self):
        """One row per policy: regret (mean, CI), reward, spend, reward per cost, decisions, seconds."""
        import pandas as pd

        rows = [{"policy": o.label, "regret": o.regret, "regret_ci_low": o.regret_ci[0],
                 "regret_ci_high": o.regret_ci[1], "reward": o.reward, "spend": o.spend,
                 "reward_per_cost": o.reward_per_cost, "n_decisions": o.n_decisions, "seconds": o.seconds}
                for o in self.outcomes]
        return pd.DataFrame(rows).set_index("policy")

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe (NaN -> None)."""
        def clean(v):
            return None if isinstance(v, float) and not math.isfinite(v) else v

        return {"name": self.name, "status": self.status, "warnings": list(self.warnings), "seed": self.seed,
                "horizon": self.horizon, "n_runs": self.n_runs, "checkpoints": list(self.checkpoints),
                "outcomes": [{"label": o.label, "regret": o.regret, "regret_ci": list(o.regret_ci),
                              "reward": o.reward, "spend": o.spend, "reward_per_cost": clean(o.reward_per_cost),
                              "n_decisions": o.n_decisions, "seconds": o.seconds, "curve": list(o.curve)}
                             for o in self.outcomes]}

    def outcome(self, label: str) -> PolicyOutcome:
        """The outcome of the policy with this label."""
        for o in self.outcomes:
            if o.label == label:
                return o
        raise KeyError(label)

    def __str__(self) -> str:
        lines = [f"Simulation {self.name!r}: {self.n_runs} run(s) x {self.horizon} decisions, seed {self.seed}"]
        for o in self.outcomes:
            lines.append(f"  {o.label:<24} regret {o.regret:10.1f}  [{o.regret_ci[0]:.1f}, {o.regret_ci[1]:.1f}]"
                         f"  reward {o.reward:10.1f}  spend {o.spend:10.1f}")
        return "\n".join(lines)

    def plot_png(self) -> bytes:
        """PNG of mean cumulative regret vs decisions, one line per policy."""
        import io

        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(8, 5), dpi=100)
        for o in self.outcomes:
            ax.plot(self.checkpoints, o.curve, label=o.label)
        ax.set_xlabel("decisions")
        ax.set_ylabel("cumulative regret (expected conversions lost)")
        ax.set_title(f"{self.name}: {self.n_runs} run(s)")
        ax.grid(alpha=0.3)
        ax.legend()
        buf = io.BytesIO()
        fig.savefig(buf, format="png", metadata={"Software": None})
        plt.close(fig)
        return buf.getvalue()


def _rate_schedule(config: SimulationConfig) -> tuple[np.ndarray, np.ndarray]:
    """(starts, rates): rates[j] holds from decision starts[j] on."""
    names = [a.name for a in config.arms]
    current = np.array([a.rate for a in config.arms])
    starts, rows = [0], [current.copy()]
    for change in sorted(config.drift, key=lambda c: c.step):
        current = current.copy()
        for arm, rate in change.rates.items():
            current[names.index(arm)] = rate
        starts.append(change.step)
        rows.append(current)
    return np.array(starts), np.array(rows)


def _run_one(sp: SimPolicy, config: SimulationConfig, table: np.ndarray, rates_t: np.ndarray,
             seed: int, checkpoints: np.ndarray) -> tuple[float, float, float, float, np.ndarray, float]:
    """One policy on one reward table: (regret, reward, spend, decisions, regret curve, seconds)."""
    from optimizer.bandit.policies import BudgetExhaustedError, make_policy

    from optimizer.bandit.config import ArmConfig

    arm_cfgs = [ArmConfig(name=a.name, cost_per_action=a.cost_per_action) for a in config.arms]
    binary = config.reward_kind == "binary"
    # the simulator owns policy and generator: Thompson's block fast path is safe here
    pol = make_policy(sp.policy, arm_cfgs, seed, reward_bounds=config.reward_bounds, binary=binary, max_block=64)
    rng = np.random.default_rng(seed)
    T = config.horizon
    costs = [a.cost_per_action for a in config.arms]
    budget = config.budget
    best = rates_t.max(axis=1)
    gap = best[:, None] - rates_t
    chosen = np.full(T, -1, dtype=np.int64)
    spent = 0.0
    rows = table.tolist() if T <= 2_000_000 else table
    t0 = time.perf_counter()
    t = 0
    try:
        if sp.batch_size == 1:
            choose, add = pol.choose, pol.update
            while t < T:
                i = choose(rng)
                if budget is not None:
                    if spent + costs[i] > budget + 1e-9:
                        break
                    spent += costs[i]
                r = rows[t][i]
                add(i, r)
                chosen[t] = i
                t += 1
        else:
            while t < T:
                n = min(sp.batch_size, T - t)
                idx = pol.choose_batch(rng, n)
                if budget is not None:
                    cum = spent + np.cumsum(np.asarray(costs)[idx])
                    ok = int(np.searchsorted(cum, budget + 1e-9, side="right"))
                    if ok < n:
                        idx = idx[:ok]
                        n = ok
                    spent = float(cum[n - 1]) if n else spent
                rewards = table[t + np.arange(n), idx]
                pol.update_batch(idx.tolist(), rewards.tolist())
                chosen[t:t + n] = idx
                t += n
                if n < sp.batch_size and t < T:
                    break
    except BudgetExhaustedError:
        pass
    seconds = time.perf_counter() - t0
    served = chosen[:t]
    step_regret = gap[np.arange(t), served]
    cum = np.concatenate(([0.0], np.cumsum(step_regret)))
    curve = cum[np.minimum(checkpoints, t)]
    reward = float(table[np.arange(t), served].sum())
    spend = float(np.asarray(costs)[served].sum())
    return float(cum[-1]), reward, spend, float(t), curve, seconds


def reward_table(config: SimulationConfig, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(rewards T x K, true rates T x K) for one run."""
    T, K = config.horizon, len(config.arms)
    starts, rows = _rate_schedule(config)
    seg = np.searchsorted(starts, np.arange(T), side="right") - 1
    rates_t = rows[seg]
    if config.reward_kind == "binary":
        table = (rng.random((T, K)) < rates_t).astype(np.float64)
    else:
        sd = np.array([a.reward_sd for a in config.arms])
        low, high = config.reward_bounds
        table = np.clip(rates_t + sd * rng.standard_normal((T, K)), low, high)
    return table, rates_t


def run_simulation(config: SimulationConfig, seed: int | None = None, n_checkpoints: int = 200,
                   progress: Callable[[int, int], None] | None = None) -> SimulationResult:
    """Run every policy of ``config`` on the same reward tables; see the module docstring.

    ``seed`` overrides ``config.seed``; None in both draws one (echoed in the result).
    ``progress(done, total)`` is called after each policy run (total: runs x policies).
    """
    from optimizer.seeding import resolve_seed

    used = resolve_seed(seed if seed is not None else config.seed)
    T = config.horizon
    checkpoints = np.unique(np.linspace(0, T, n_checkpoints + 1).astype(np.int64))
    seeds = np.random.SeedSequence(used).generate_state(config.n_runs, dtype=np.uint32).tolist()
    per = {sp.label: [] for sp in config.policies}
    total = config.n_runs * len(config.policies)
    for r in range(config.n_runs):
        table, rates_t = reward_table(config, np.random.default_rng(seeds[r]))
        for k, sp in enumerate(config.policies):
            per[sp.label].append(_run_one(sp, config, table, rates_t, seeds[r] + 1, checkpoints))
            if progress is not None:
                progress(r * len(config.policies) + k + 1, total)
    outcomes = []
    warnings = []
    for sp in config.policies:
        res = per[sp.label]
        regrets = np.array([x[0] for x in res])
        mean = float(regrets.mean())
        half = 1.96 * float(regrets.std(ddof=1)) / math.sqrt(len(res)) if len(res) > 1 else 0.0
        reward = float(np.mean([x[1] for x in res]))
        spend = float(np.mean([x[2] for x in res]))
        outcomes.append(PolicyOutcome(
            label=sp.label, regret=mean, regret_ci=(mean - half, mean + half), reward=reward, spend=spend,
            reward_per_cost=reward / spend if spend > 0 else math.nan,
            n_decisions=float(np.mean([x[3] for x in res])), seconds=float(np.mean([x[5] for x in res])),
            curve=tuple(np.mean([x[4] for x in res], axis=0).tolist()),
        ))
        if config.budget is None and outcomes[-1].n_decisions < T:
            warnings.append(f"policy {sp.label!r} stopped early at {outcomes[-1].n_decisions:.0f} decisions (budget)")
    warnings += forgetting_warnings(config, outcomes)
    return SimulationResult(name=config.name, status="ok", warnings=tuple(warnings), seed=used, horizon=T,
                            n_runs=config.n_runs, checkpoints=tuple(checkpoints.tolist()), outcomes=tuple(outcomes))
