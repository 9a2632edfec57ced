"""Non-contractual customer-base models: who is still active, how much they will buy, what they are worth.

- ``bgnbd``: BG/NBD (Fader, Hardie & Lee 2005); ``paretonbd``: Pareto/NBD (Schmittlein et al. 1987);
  both give P(alive) and expected purchases in the next t time units from (frequency, recency, T).
- ``gammagamma``: spend per transaction (Fader, Hardie & Lee 2005, "RFM and CLV").
- ``sbg``: shifted-beta-geometric retention of contract cohorts (Fader & Hardie 2007).
- ``value``: discounted CLV from a purchase model and a spend model.

Time units: whatever unit T is in (days in dmpopt's summaries); money in the data's currency.
"""

from __future__ import annotations

from optimizer.churn.clv.bgnbd import BetaGeoModel
from optimizer.churn.clv.gammagamma import GammaGammaModel
from optimizer.churn.clv.paretonbd import ParetoNBDModel
from optimizer.churn.clv.sbg import ShiftedBetaGeometricModel
from optimizer.churn.clv.value import customer_lifetime_value

#: purchase-model name (the ``model`` key of a non-contractual churn section) -> estimator class.
PURCHASE_MODELS = {"bgnbd": BetaGeoModel, "paretonbd": ParetoNBDModel}

__all__ = ["BetaGeoModel", "GammaGammaModel", "ParetoNBDModel", "ShiftedBetaGeometricModel",
           "customer_lifetime_value", "PURCHASE_MODELS"]
