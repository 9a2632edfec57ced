"""Offline evaluation: hand-computed known answers, CI coverage by simulation, input errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from optimizer.bandit.config import ThompsonConfig
from optimizer.bandit.offline import evaluate_offline
from optimizer.bandit.policies import make_policy
from optimizer.errors import DataError


def test_estimators_by_hand():
    """Log (arm, reward, propensity): (a,1,.5) (b,0,.5) (a,0,.8) (b,1,.2); candidate: always a.
    w = (2, 0, 1.25, 0).
    IPS = mean(2, 0, 0, 0) = 0.5; se = sd(2,0,0,0)/2 = 1/2 = 0.5.
    SNIPS = 2 / 3.25 = 0.6153846; se = sqrt(4 (1 - V)^2 + 1.5625 V^2) / 3.25 = 0.3347251.
    DR with per-arm means (a: 0.5, b: 0.5): terms 1.5, 0.5, -0.125, 0.5 -> 0.59375.
    """
    log = pd.DataFrame({"arm": ["a", "b", "a", "b"], "reward": [1, 0, 0, 1], "propensity": [0.5, 0.5, 0.8, 0.2]})
    target = np.array([[1.0, 0.0]] * 4)
    res = evaluate_offline(log, target, ["a", "b"], seed=0)
    assert res["ips"].value == pytest.approx(0.5)
    assert res["ips"].se == pytest.approx(0.5)
    assert res["snips"].value == pytest.approx(2 / 3.25)
    assert res["snips"].se == pytest.approx(0.3347251, rel=1e-6)
    assert res["dr"].value == pytest.approx(0.59375)
    assert res["ips"].ci_low == pytest.approx(0.5 - 1.959964 * 0.5, rel=1e-6)
    assert res.effective_sample_size == pytest.approx(3.25**2 / (4 + 1.5625))
    assert any("uniformly random" in w for w in res.warnings)


def _simulate_log(rng, n, logging_p, rates):
    k = len(rates)
    arms = rng.choice(k, size=n, p=logging_p)
    rewards = (rng.random(n) < np.asarray(rates)[arms]).astype(float)
    return pd.DataFrame({"arm": [f"arm{i}" for i in arms], "reward": rewards,
                         "propensity": np.asarray(logging_p)[arms]})


@pytest.mark.parametrize("logging_p", [[1 / 3, 1 / 3, 1 / 3], [0.5, 0.3, 0.2]])
@pytest.mark.parametrize("target_p", [[0.0, 0.0, 1.0], [0.2, 0.3, 0.5]])
def test_confidence_intervals_cover_the_true_value(logging_p, target_p):
    """Rates 0.1/0.2/0.3: the candidate's true value is sum(target * rates). 300 logs of 3,000 rows
    (seed 42): each 95 % interval must cover it in 91-99 % of logs (0.95 +- 3 binomial SE)."""
    rates = [0.1, 0.2, 0.3]
    truth = float(np.dot(target_p, rates))
    rng = np.random.default_rng(42)
    names = ["arm0", "arm1", "arm2"]
    hits = {e: 0 for e in ("ips", "snips", "dr", "replay")}
    reps = 300
    for _ in range(reps):
        log = _simulate_log(rng, 3000, logging_p, rates)
        res = evaluate_offline(log, np.tile(target_p, (3000, 1)), names, seed=int(rng.integers(2**31)))
        for e in hits:
            hits[e] += res[e].ci_low <= truth <= res[e].ci_high
    for e in ("ips", "snips", "dr"):
        assert 0.91 <= hits[e] / reps <= 0.99, (e, hits[e] / reps)
    if logging_p[0] == 1 / 3:  # replay is only valid under uniform logging
        assert 0.91 <= hits["replay"] / reps <= 0.99


def test_policy_target_and_linear_reward_model():
    """A fitted Thompson policy as the candidate; DR with a linear reward model on a context
    that drives the reward is unbiased and tighter than IPS."""
    rng = np.random.default_rng(1)
    n = 20_000
    x = rng.random(n)
    arms = rng.integers(0, 2, n)
    p_conv = np.where(arms == 0, 0.1 + 0.3 * x, 0.2 + 0.1 * x)
    log = pd.DataFrame({"arm": np.where(arms == 0, "a", "b"), "reward": (rng.random(n) < p_conv).astype(float),
                        "propensity": 0.5, "x": x})
    pol = make_policy(ThompsonConfig(kind="thompson"), ["a", "b"], seed=0)
    pol.update_batch(["a"] * 100 + ["b"] * 100, [1] * 25 + [0] * 75 + [1] * 25 + [0] * 75)
    pi = pol.probabilities()
    truth = pi[0] * (0.1 + 0.3 * 0.5) + pi[1] * (0.2 + 0.1 * 0.5)
    res = evaluate_offline(log, pol, ["a", "b"], context_cols=["x"], reward_model="linear", seed=0)
    assert res["dr"].ci_low <= truth <= res["dr"].ci_high
    assert res["dr"].se < res["ips"].se


@pytest.mark.parametrize(
    "change, match",
    [
        ({"arm": ["a", "z", "a", "b"]}, "unknown arm"),
        ({"reward": [1, np.nan, 0, 1]}, "NaN or infinite"),
        ({"propensity": [0.5, 0.0, 0.5, 0.5]}, r"outside \(0, 1\]"),
        ({"propensity": [0.5, 1.5, 0.5, 0.5]}, r"outside \(0, 1\]"),
    ],
)
def test_bad_logs_are_clear_errors(change, match):
    base = {"arm": ["a", "b", "a", "b"], "reward": [1, 0, 0, 1], "propensity": [0.5, 0.5, 0.5, 0.5]}
    base.update(change)
    with pytest.raises(DataError, match=match):
        evaluate_offline(pd.DataFrame(base), np.full((4, 2), 0.5), ["a", "b"])


def test_bad_target_and_missing_column():
    log = pd.DataFrame({"arm": ["a", "b"], "reward": [1, 0], "propensity": [0.5, 0.5]})
    with pytest.raises(DataError, match="not probability distributions"):
        evaluate_offline(log, np.array([[0.7, 0.7], [0.5, 0.5]]), ["a", "b"])
    with pytest.raises(DataError, match=r"expected \(2, 2\)"):
        evaluate_offline(log, np.ones((3, 2)) / 2, ["a", "b"])
    with pytest.raises(DataError, match="no column 'p'"):
        evaluate_offline(log, np.ones((2, 2)) / 2, ["a", "b"], propensity_col="p")


def test_docs_quickstart_example_runs(capsys):
    """docs/examples/bandit_policies_quickstart.py, the tutorial's example, runs and its offline
    estimate of "always sms" (true value 0.05) brackets the truth."""
    import runpy
    from pathlib import Path

    root = Path(__file__).resolve().parents[3]
    ns = runpy.run_path(str(root / "docs" / "examples" / "bandit_policies_quickstart.py"), run_name="__main__")
    out = capsys.readouterr().out
    assert "next-period shares" in out and "dr" in out
    res = ns["result"]
    assert res["dr"].ci_low <= 0.05 <= res["dr"].ci_high
    assert ns["shares"]["sms"] == pytest.approx(0.8)
