"""A/B experiment analysis: sufficient statistics, tests, power, sequential monitoring, decisions.

The seam with the aggregation layer is :class:`experiments.stats.VariantStats`. Heavy modules
(scipy, statsmodels) are imported by the analysis modules, not here, so ``import experiments`` is fast.
"""

from experiments.stats import VariantArrays, VariantStats, merge

__all__ = ["VariantStats", "VariantArrays", "merge"]
