"""What earlier plan sections hand the budget, applied to its config before solving.

- ``experiments``: a shipped experiment with ``applies_to: {channel: ...}`` multiplies that
  channel's response by 1 + its relative lift (``ExperimentsAnalysis.channel_multipliers()``).
- ``churn``: the retention contact schedule's cost is reserved: the total budget shrinks by it,
  so retention money comes out of the same budget. It is not modelled as a channel: a frozen
  channel would be spread over the budget's periods and scaled by their seasonality multipliers,
  which would misstate a schedule whose weeks the churn section has already fixed.

Every change is described in one sentence, reported in the plan as ``adjustments``; so is the
equal-shares assumption when the budget's segments give no audience size (see
``BudgetConfig.segment_share_note``).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


def apply_upstream(config: BaseModel, results: dict[str, Any], currency: str | None) -> tuple[BaseModel, tuple[str, ...]]:
    """Return the config the budget should solve and the sentences saying what changed.

    Parameters
    ----------
    config:
        The validated ``budget:`` config (core or advanced model).
    results:
        Results of the sections that ran before the budget, by name.
    currency:
        Currency code, for the sentences.
    """
    from optimizer.budget.money import money

    config, size_notes = segment_sizes_from_segments(config, results)
    notes: list[str] = list(size_notes)
    share_note = getattr(config, "segment_share_note", None)
    if share_note:  # an assumption, not a change: reported so the planner can give real sizes
        notes.append(share_note)
    channels = [c.model_dump(exclude_none=True) for c in config.channels]
    names = [c["name"] for c in channels]

    experiments = results.get("experiments")
    if experiments is not None and hasattr(experiments, "channel_multipliers"):
        for channel, mult in sorted(experiments.channel_multipliers().items()):
            if channel not in names:
                notes.append(f"experiments: a shipped change applies to channel {channel!r}, which the budget does "
                             f"not have (channels: {', '.join(names)}); not applied")
                continue
            ch = channels[names.index(channel)]
            ch["response_multiplier"] = ch.get("response_multiplier", 1.0) * mult
            notes.append(f"experiments: channel {channel} response x{mult:.4f} ({mult - 1:+.2%}) from a shipped experiment")

    churn = results.get("churn")
    data = config.model_dump(exclude_none=True)
    if churn is not None and hasattr(churn, "retention_line") and getattr(config, "churn_retention", "ignore") == "reserve":
        line = churn.retention_line()
        spend = float(line["total_spend"])
        net = float(line["expected_value"])
        budget = data.get("total_budget")
        if spend <= 0:
            notes.append("churn: no retention contact pays, so nothing is reserved")
        elif budget is None:
            notes.append(f"churn: retention contacts cost {money(spend, currency)}; not reserved (the budget has no "
                         "total_budget)")
        elif spend >= budget["amount"]:
            notes.append(f"churn: retention contacts cost {money(spend, currency)}, not less than the total budget "
                         f"{money(budget['amount'], currency)}; not reserved")
        else:
            budget["amount"] = budget["amount"] - spend
            notes.append(f"churn: {money(spend, currency)} of the total budget reserved for retention contacts "
                         f"({line['name']}; expected value {money(net, currency)} net of their cost); "
                         f"{money(budget['amount'], currency)} left for the channels")

    if not notes or notes == [share_note] or notes == list(size_notes):
        return config, tuple(notes)
    data["channels"] = channels
    return type(config).model_validate(data), tuple(notes)


# --------------------------------------------------------------------------- segments -> audience sizes
# Owned by the customers/segments work (issue #12); kept apart so the budget code above stays readable.
def segment_sizes_from_segments(config: BaseModel, results: dict[str, Any]) -> tuple[BaseModel, tuple[str, ...]]:
    """Give budget segments their ``audience_size`` from the ``segments:`` section's customer counts.

    Applies only when the budget has segments, none of them gives ``audience_share`` or
    ``audience_size``, and every budget segment name is a segment label (``S1``...) or an RFM group
    name (``champions``...) of the segments result; otherwise the config is returned unchanged
    (a partial match is reported, never guessed).
    """
    seg_result = results.get("segments")
    segs = getattr(config, "segments", None)
    if seg_result is None or not segs or not hasattr(seg_result, "segment_to_size"):
        return config, ()
    if any(s.audience_share is not None or s.audience_size is not None for s in segs):
        return config, ()
    sizes = dict(seg_result.segment_to_size())
    groups = getattr(seg_result, "rfm_groups", None)
    if groups is not None and len(groups):
        sizes.update({str(g): int(n) for g, n in zip(groups["group"], groups["n_customers"])})
    names = [s.name for s in segs]
    unknown = [n for n in names if n not in sizes]
    if unknown:
        return config, (f"segments: budget segment(s) {unknown} are not segments or RFM groups of the segments "
                        f"section ({sorted(sizes)}); audience sizes not taken from it",)
    data = config.model_dump(exclude_none=True)
    for seg in data["segments"]:
        seg["audience_size"] = float(sizes[seg["name"]])
    note = ("segments: audience sizes from the segments section (" +
            ", ".join(f"{n} {sizes[n]:,}" for n in names) + " customers)")
    return type(config).model_validate(data), (note,)
