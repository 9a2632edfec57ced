"""Quickstart of the bandit policy library (run by tests/optimizer/bandit/test_simulate.py).

Three channels convert at unknown rates; Thompson sampling learns which is best while serving
traffic, logs propensities, and the log is then used to evaluate another policy offline.
"""

import numpy as np

from optimizer.bandit.config import ArmConfig, GuardrailConfig, ThompsonConfig
from optimizer.bandit.engine import allocation_shares, decide, update
from optimizer.bandit.offline import evaluate_offline
from optimizer.bandit.policies import make_policy

arms = [ArmConfig(name="email"), ArmConfig(name="sms"), ArmConfig(name="push")]
true_rate = {"email": 0.03, "sms": 0.05, "push": 0.02}  # unknown to the policy
policy = make_policy(ThompsonConfig(kind="thompson"), arms, seed=42)
guard = GuardrailConfig(exploration_floor=0.1, max_share={"sms": 0.8})
rng = np.random.default_rng(7)

log = {"arm": [], "reward": [], "propensity": []}
for _ in range(2_000):
    d = decide(policy, guard, rng)                      # arm + its probability of being chosen
    reward = int(rng.random() < true_rate[d.arm])      # did the user convert?
    update(policy, d.arm, reward)
    log["arm"].append(d.arm)
    log["reward"].append(reward)
    log["propensity"].append(d.propensity)

shares = allocation_shares(policy, guard)              # weights to push for the next period
print("next-period shares:", {a: round(s, 3) for a, s in shares.items()})
print("posterior means:", {a: round(m, 4) for a, m in policy.arm_to_expectation().items()})

# Offline: what would "always sms" have earned on this traffic?
always_sms = np.tile([0.0, 1.0, 0.0], (len(log["arm"]), 1))
result = evaluate_offline(log, always_sms, [a.name for a in arms], seed=0)
print(result)
