"""Shadow prices when binding limits are linearly dependent (period budgets adding up to the total).

Found by the planner follow-up: with segment shares 0.45/0.25/0.30 in scenarios/media_plan.yaml the
8 period caps add up exactly to the total budget, all bind, and bounded least squares returned
multipliers of +-4.78e8 that cancel ("spending the whole budget costs $4.78e+08 per $"). The
multipliers are not unique there; dmpopt now takes the minimum-norm ones and says they are tied.
"""

from pathlib import Path

import numpy as np
import yaml

from optimizer.budget import allocate
from optimizer.budget.config import BudgetConfig

SCENARIO = Path(__file__).resolve().parents[3] / "scenarios" / "media_plan.yaml"


def _config(shares):
    raw = yaml.safe_load(SCENARIO.read_text())["budget"]
    raw.pop("current", None)
    for seg, share in zip(raw["segments"], shares):
        seg["audience_share"] = share
    return BudgetConfig.model_validate(raw)


def test_tied_period_budgets_get_bounded_prices_and_say_so():
    for shares in ((0.45, 0.25, 0.30), (0.5, 0.2, 0.3), (0.4, 0.3, 0.3)):
        res = allocate(_config(shares), currency="USD")
        assert res.status == "optimal"
        prices = np.array([b.shadow_price for b in res.binding_constraints])
        # every price is a plausible marginal value (the plan's own marginal ROIs are below ~1 per $)
        assert np.all(np.abs(prices) < 5.0), prices
        tied = [b for b in res.binding_constraints if b.group in ("total_budget", "period_spend")]
        assert tied and all("not unique" in b.text for b in tied)
        # a limit that is not part of the dependent set keeps its own, unique price
        assert all("not unique" not in b.text for b in res.binding_constraints if b.group == "channel_spend")
