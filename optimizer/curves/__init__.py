"""Response curves from data: fit them from spend history, import them from other MMM tools.

The exchange format is the curves file (:mod:`optimizer.curves.curvefile`); a scenario's budget
channel references it with ``response: {from: curves.yaml, channel: search}``
(:mod:`optimizer.curves.reference`).
"""
