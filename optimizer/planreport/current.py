"""Current vs recommended: what the plan changes against what is running now, on the same curves.

The scenario's ``current:`` key states the spend running now: per channel over the horizon
(``spend``), per channel and period (``spend_per_period``), or a previous ``plan.json`` (``plan``).
A channel amount without periods is spread evenly over the channel's cells (its segments and the
periods it runs in); a period amount evenly over the channel's segments in that period; a previous
plan's cells are used as they are when they match this budget's cells, else as channel totals.

Both plans are evaluated with the budget's own model (:func:`optimizer.budget.problem.build_model`
and :func:`optimizer.budget.allocation.cell_response`: the same curves, multipliers and segment
rules, after what earlier sections changed), so the difference is the plan's and not the curves'.
With curve draws (``budget.advanced.uncertainty``) every response gets a 5-95 % interval over the
draws and the report gives the share of draws in which the recommended plan beats the current one.

Money in the scenario currency over the horizon; response in the budget's ``response_unit``; ROI in
response per currency unit spent.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator

from optimizer.errors import ScenarioError
from optimizer.plan import warnings_markdown
from optimizer.sections import RunContext, SectionSpec

_CFG = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)
#: money in the scenario currency; strict: a YAML ``yes`` is refused, not read as 1 (issue 10, defect 10)
Money = Annotated[float, Field(strict=True, allow_inf_nan=False)]


class CurrentSpend(BaseModel):
    """What is running now (the ``current:`` key): give exactly one of spend, spend_per_period, plan."""

    model_config = _CFG

    label: str = Field("current", min_length=1, description="What to call the running plan in the report.")
    spend: dict[str, Money] | None = Field(
        None, description="Channel -> spend over the whole horizon (currency); spread evenly over the channel's "
        "segments and periods. Channels not listed spend 0.")
    spend_per_period: dict[str, dict[str, Money]] | None = Field(
        None, description="Channel -> period -> spend (currency); spread evenly over the channel's segments.")
    plan: Path | None = Field(
        None, description="A previous plan.json (relative to the scenario file): its budget allocations are the "
        "current plan.")

    @model_validator(mode="after")
    def _one(self) -> "CurrentSpend":
        given = [k for k in ("spend", "spend_per_period", "plan") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of spend, spend_per_period or plan; got {given or 'none'}")
        for key in ("spend", "spend_per_period"):
            d = getattr(self, key)
            if d is None:
                continue
            for ch, v in d.items():
                vals = v.items() if isinstance(v, dict) else [(None, v)]
                for per, x in vals:
                    where = f"{key}.{ch}" + (f".{per}" if per is not None else "")
                    if isinstance(x, bool) or not math.isfinite(x) or x < 0:
                        raise ValueError(f"{where} is {x!r}; spend must be a number >= 0 (currency)")
        return self


@dataclass(frozen=True)
class CurrentComparison:
    """Current vs recommended per channel and in total.

    Attributes
    ----------
    status:
        "ok", or "error" when there is no recommended plan to compare (infeasible budget).
    label:
        Name of the current plan ("current").
    table:
        One row per channel then a ``total`` row: current_spend, recommended_spend (currency),
        current_response, recommended_response, incremental_response (response_unit),
        current_roi, recommended_roi, roi_change (response per currency unit), and with draws
        the 5 % / 95 % quantiles of both responses.
    cells:
        One row per channel x segment x period: current_spend, recommended_spend (currency).
    sentence:
        What a planner would say ("moving $120k from display to search adds $410k of revenue, +6.1 %").
    p_recommended_beats_current:
        Share (0-1) of curve draws in which the recommended plan's response exceeds the current
        one's; None without draws.
    draws_current, draws_recommended:
        Total response per draw (response_unit); empty without draws.
    currency, response_unit:
        Currency code and "currency" or "conversions".
    warnings, notes:
        Conditions to read the comparison with; how the current plan was read.
    """

    status: str
    label: str
    table: pd.DataFrame
    cells: pd.DataFrame
    sentence: str
    p_recommended_beats_current: float | None
    draws_current: tuple[float, ...]
    draws_recommended: tuple[float, ...]
    currency: str
    response_unit: str
    warnings: tuple[str, ...] = ()
    notes_: tuple[str, ...] = ()

    def summary(self) -> pd.DataFrame:
        """The per-channel table (with the total row)."""
        return self.table.copy()

    def headline(self) -> str:
        return f"current vs recommended: {self.sentence}"

    def notes(self) -> list[str]:
        out = list(self.notes_)
        if self.p_recommended_beats_current is not None:
            out.append(f"The recommended plan beats the {self.label} one in "
                       f"{self.p_recommended_beats_current:.0%} of {len(self.draws_current)} curve draws.")
        return out

    def to_dict(self) -> dict[str, Any]:
        from optimizer.jsonsafe import records as _records

        return {
            "status": self.status,
            "warnings": list(self.warnings),
            "label": self.label,
            "sentence": self.sentence,
            "currency": self.currency,
            "response_unit": self.response_unit,
            "p_recommended_beats_current": self.p_recommended_beats_current,
            "channels": _records(self.table),
            "notes": list(self.notes_),
        }

    def __str__(self) -> str:
        return "\n".join([self.headline(), self.table.to_string(index=False), *self.notes()])


# --------------------------------------------------------------------------- evaluation
def budget_model_for(config: Any):
    """The budget's :class:`~optimizer.budget.problem.BudgetModel` and per-draw curves (or None)."""
    from optimizer.budget.problem import build_model

    core = config
    if hasattr(config, "advanced"):
        from optimizer.budget.advanced.formulation import core_config

        core = core_config(config)
    model = build_model(core)
    draws = None
    adv = getattr(config, "advanced", None)
    if adv is not None and adv.uncertainty is not None:
        from optimizer.budget.advanced.risk import draw_curves

        draws = draw_curves(config, model)
    return model, draws


def cells_frame(model) -> pd.DataFrame:
    """The model's cells as (channel, segment, period) names, in cell order."""
    names = [c.name for c in model.config.channels]
    return pd.DataFrame({
        "channel": [names[i] for i in model.cells.channel],
        "segment": [model.segment_names[i] for i in model.cells.segment],
        "period": [model.period_names[i] for i in model.cells.period],
    })


def spread_current(current: CurrentSpend, model, base_dir: Path | None = None) -> tuple[np.ndarray, list[str]]:
    """Spend per model cell (currency) for the ``current:`` block, and notes on how it was read."""
    cells = cells_frame(model)
    x = np.zeros(len(cells))
    names = [c.name for c in model.config.channels]
    notes: list[str] = []

    def unknown(ch: str, key: str) -> ScenarioError:
        import difflib

        hint = difflib.get_close_matches(ch, names, n=1)
        tip = f"did you mean {hint[0]!r}?" if hint else f"known channels: {', '.join(names)}"
        return ScenarioError(f"current.{key}.{ch}: {ch!r} is not a budget channel; {tip}")

    if current.spend is not None:
        for ch, amount in current.spend.items():
            m = (cells["channel"] == ch).to_numpy()
            if ch not in names:
                raise unknown(ch, "spend")
            if not m.any():
                raise ScenarioError(f"current.spend.{ch}: the channel has no segment x period it can spend in")
            x[m] = amount / m.sum()
        notes.append(f"{current.label.capitalize()} spend per channel is spread evenly over each channel's "
                     "segments and periods.")
    elif current.spend_per_period is not None:
        periods = list(model.period_names)
        for ch, per_amount in current.spend_per_period.items():
            if ch not in names:
                raise unknown(ch, "spend_per_period")
            for per, amount in per_amount.items():
                if per not in periods:
                    raise ScenarioError(f"current.spend_per_period.{ch}.{per}: {per!r} is not a budget period; "
                                        f"known periods: {', '.join(periods)}")
                m = ((cells["channel"] == ch) & (cells["period"] == per)).to_numpy()
                if not m.any():
                    if amount > 0:
                        raise ScenarioError(f"current.spend_per_period.{ch}.{per} is {amount:g} but channel {ch!r} "
                                            f"does not run in period {per!r}")
                    continue
                x[m] = amount / m.sum()
        notes.append(f"{current.label.capitalize()} spend per channel and period is spread evenly over segments.")
    else:
        path = current.plan if current.plan.is_absolute() or base_dir is None else base_dir / current.plan
        x, how = _from_plan_json(path, cells, names)
        notes.append(how)
    return x, notes


def _from_plan_json(path: Path, cells: pd.DataFrame, names: list[str]) -> tuple[np.ndarray, str]:
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ScenarioError(f"current.plan: cannot read {path}: {exc.strerror or exc}") from None
    except json.JSONDecodeError as exc:
        raise ScenarioError(f"current.plan: {path} is not JSON ({exc.msg} at line {exc.lineno}); "
                            "expected a plan.json written by `dmpopt plan --out`") from None
    rows = (doc.get("budget") or {}).get("allocations") if isinstance(doc, dict) else None
    if not rows:
        raise ScenarioError(f"current.plan: {path} has no budget.allocations; expected a plan.json written by "
                            "`dmpopt plan --out` from a scenario with a budget")
    prev = pd.DataFrame(rows)[["channel", "segment", "period", "spend"]]
    prev["spend"] = prev["spend"].fillna(0.0).astype(float)
    key = cells.assign(i=np.arange(len(cells)))
    merged = prev.merge(key, on=["channel", "segment", "period"], how="left")
    x = np.zeros(len(cells))
    if merged["i"].notna().all():
        x[merged["i"].astype(int).to_numpy()] = merged["spend"].to_numpy()
        return x, f"Current plan: the cells of {path}."
    totals = prev.groupby("channel")["spend"].sum()
    missing = [c for c in totals.index if c not in names]
    for ch, amount in totals.items():
        m = (cells["channel"] == ch).to_numpy()
        if m.any():
            x[m] = amount / m.sum()
    extra = f"; channels not in this budget ignored: {', '.join(missing)}" if missing else ""
    return x, (f"Current plan: channel totals of {path} (its segments or periods differ from this budget's), "
               f"spread evenly{extra}.")


def recommended_cells(allocations: pd.DataFrame, model) -> np.ndarray:
    """Spend per model cell of the budget result's ``allocations`` (currency)."""
    cells = cells_frame(model).assign(i=np.arange(model.cells.n))
    merged = allocations[["channel", "segment", "period", "spend"]].merge(cells, on=["channel", "segment", "period"],
                                                                          how="inner")
    x = np.zeros(model.cells.n)
    x[merged["i"].astype(int).to_numpy()] = merged["spend"].astype(float).fillna(0.0).to_numpy()
    return x


def _cell_values(model, curves, x: np.ndarray) -> np.ndarray:
    """Response per cell (response_unit) on ``curves`` (the model's own, or one draw's), by the budget's rule."""
    import dataclasses

    from optimizer.budget.allocation import cell_response

    if curves is not model.curves:
        model = dataclasses.replace(model, curves=tuple(curves))
    return cell_response(model, np.asarray(x, dtype=float))


def compare_cells(model, x_cur: np.ndarray, x_rec: np.ndarray, draws=None, label: str = "current",
                  currency: str = "", response_unit: str = "currency", notes: tuple[str, ...] = (),
                  warnings: tuple[str, ...] = ()) -> CurrentComparison:
    """Per-channel comparison of two cell spends on the model's curves (and its draws, if any)."""
    names = [c.name for c in model.config.channels]
    ch = model.cells.channel
    r_cur = _cell_values(model, model.curves, x_cur)
    r_rec = _cell_values(model, model.curves, x_rec)
    n_c = len(names)

    def per_channel(v: np.ndarray) -> np.ndarray:
        return np.bincount(ch, weights=v, minlength=n_c)

    table = pd.DataFrame({
        "channel": names,
        "current_spend": per_channel(x_cur),
        "recommended_spend": per_channel(x_rec),
        "current_response": per_channel(r_cur),
        "recommended_response": per_channel(r_rec),
    })
    total = {"channel": "total", **{c: float(table[c].sum()) for c in table.columns[1:]}}
    table = pd.concat([table, pd.DataFrame([total])], ignore_index=True)
    table["incremental_response"] = table["recommended_response"] - table["current_response"]
    with np.errstate(divide="ignore", invalid="ignore"):
        table["current_roi"] = np.where(table["current_spend"] > 0, table["current_response"] / table["current_spend"], np.nan)
        table["recommended_roi"] = np.where(table["recommended_spend"] > 0,
                                            table["recommended_response"] / table["recommended_spend"], np.nan)
    table["roi_change"] = table["recommended_roi"] - table["current_roi"]
    p_beat = None
    d_cur: tuple[float, ...] = ()
    d_rec: tuple[float, ...] = ()
    if draws:
        cur_s = np.array([[*per_channel(_cell_values(model, cs, x_cur))] for cs in draws])  # (S, channels)
        rec_s = np.array([[*per_channel(_cell_values(model, cs, x_rec))] for cs in draws])
        cur_s = np.c_[cur_s, cur_s.sum(axis=1)]
        rec_s = np.c_[rec_s, rec_s.sum(axis=1)]
        for name, arr in (("current", cur_s), ("recommended", rec_s)):
            table[f"{name}_response_q05"] = np.quantile(arr, 0.05, axis=0)
            table[f"{name}_response_q95"] = np.quantile(arr, 0.95, axis=0)
        p_beat = float(np.mean(rec_s[:, -1] > cur_s[:, -1]))
        d_cur, d_rec = tuple(cur_s[:, -1].tolist()), tuple(rec_s[:, -1].tolist())
    cells = cells_frame(model).assign(current_spend=x_cur, recommended_spend=x_rec)
    sentence = planner_sentence(table, currency, response_unit, label)
    return CurrentComparison("ok", label, table, cells, sentence, p_beat, d_cur, d_rec, currency, response_unit,
                             tuple(warnings), tuple(notes))


def _names(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def planner_sentence(table: pd.DataFrame, currency: str, response_unit: str, label: str = "current") -> str:
    """"moving $120k from display to search adds $410k of revenue, +6.1 %" from a comparison table."""
    from optimizer.budget.money import money, response_text

    rows = table[table["channel"] != "total"]
    tot = table[table["channel"] == "total"].iloc[0]
    delta = rows["recommended_spend"] - rows["current_spend"]
    scale = max(float(tot["current_spend"]), float(tot["recommended_spend"]), 1.0)
    big = delta.abs() >= 0.005 * scale  # moves under 0.5 % of the budget are not worth naming
    moves = rows.assign(d=delta)
    cut = moves[big & (delta < 0)].assign(d=lambda f: -f["d"]).sort_values("d", ascending=False)
    add = moves[big & (delta > 0)].sort_values("d", ascending=False)
    inc = float(tot["incremental_response"])
    what = "revenue" if response_unit == "currency" else "conversions"
    gain = response_text(abs(inc), response_unit, currency, compact=True)
    pct = inc / tot["current_response"] * 100 if tot["current_response"] > 0 else math.nan
    pct_text = f", {pct:+.1f} %" if math.isfinite(pct) else ""
    verb = "adds" if inc >= 0 else "loses"
    d_total = float(tot["recommended_spend"] - tot["current_spend"])
    parts = []
    if len(cut) and len(add):
        moved = min(float(cut["d"].sum()), float(add["d"].sum()))
        parts.append(f"moving {money(moved, currency, compact=True)} from {_names(list(cut['channel'].iloc[:2]))} "
                     f"to {_names(list(add['channel'].iloc[:2]))}")
    if abs(d_total) >= 0.005 * scale:
        parts.append(f"spending {money(abs(d_total), currency, compact=True)} {'more' if d_total > 0 else 'less'}")
    if not parts:
        return f"the recommended plan is the {label} plan within 0.5 % of the budget per channel ({verb} {gain} of {what}{pct_text})."
    return f"{' and '.join(parts)} {verb} {gain} of {what}{pct_text} against the {label} plan."


# --------------------------------------------------------------------------- the section
def run_current(config: CurrentSpend, ctx: RunContext) -> CurrentComparison:
    """Compare the ``current:`` plan with the budget section's plan (which ran just before)."""
    from optimizer.budget.upstream import apply_upstream

    scenario = ctx.options.get("scenario") if ctx.options else None
    budget_cfg = getattr(scenario, "budget", None)
    result = ctx.results.get("budget")
    if budget_cfg is None or result is None:
        raise ScenarioError(f"{ctx.source}: `current:` is compared with the budget plan; add a `budget:` section")
    currency = (ctx.options or {}).get("currency") or ""
    upstream = {k: v for k, v in ctx.results.items() if k != "budget"}
    budget_cfg, _ = apply_upstream(budget_cfg, upstream, currency)
    model, draws = budget_model_for(budget_cfg)
    try:
        x_cur, notes = spread_current(config, model, ctx.base_dir)
    except ScenarioError as exc:  # name the file, as load-time errors do
        raise ScenarioError(f"{ctx.source}: {exc}") from None
    warnings: list[str] = []
    if result.status not in ("optimal", "feasible") or result.allocations.empty:
        empty = pd.DataFrame(columns=["channel"])
        return CurrentComparison("error", config.label, empty, empty, "no recommended plan to compare "
                                 f"(budget {result.status}).", None, (), (), currency, budget_cfg.response_unit,
                                 (f"budget is {result.status}: nothing to compare",), tuple(notes))
    adv = getattr(budget_cfg, "advanced", None)
    if adv is not None and any(r.adstock is not None or r.s_curve is not None for r in adv.rules):
        warnings.append("adstock carry-over and S-curves are not in this comparison: both plans are read on the "
                        "channels' concave curves, cell by cell")
    x_rec = recommended_cells(result.allocations, model)
    cmp_ = compare_cells(model, x_cur, x_rec, draws, config.label, currency, budget_cfg.response_unit,
                         tuple(notes), tuple(warnings))
    return cmp_


def current_files(result: CurrentComparison) -> dict[str, bytes]:
    """current_vs_recommended.csv (per channel, with the total row)."""
    if result.table.empty:
        return {}
    df = result.table.copy()
    df["currency"] = result.currency
    df["response_unit"] = result.response_unit
    return {"current_vs_recommended.csv": df.to_csv(index=False).encode("utf-8")}


def current_markdown(result: CurrentComparison) -> str:
    """The current-vs-recommended part of plan.md."""
    from optimizer.budget.money import money, rate_text, response_text

    cur, ru = result.currency, result.response_unit
    out = [f"## {result.label.capitalize()} vs recommended", "", result.sentence[:1].upper() + result.sentence[1:], ""]
    if result.table.empty:
        return "\n".join(out)
    interval = "current_response_q05" in result.table.columns
    head = ["channel", f"{result.label} spend", "recommended spend", f"{result.label} response",
            "recommended response", "incremental response", "ROI change (per currency unit)"]
    out += ["| " + " | ".join(head) + " |", "|---|" + "---:|" * (len(head) - 1)]
    for r in result.table.itertuples(index=False):
        cr = response_text(r.current_response, ru, cur)
        rr = response_text(r.recommended_response, ru, cur)
        if interval:
            cr += f" ({response_text(r.current_response_q05, ru, cur, True)}-{response_text(r.current_response_q95, ru, cur, True)})"
            rr += f" ({response_text(r.recommended_response_q05, ru, cur, True)}-{response_text(r.recommended_response_q95, ru, cur, True)})"
        roi = "" if r.roi_change != r.roi_change else rate_text(r.roi_change, ru, cur)
        cells = [r.channel, money(r.current_spend, cur), money(r.recommended_spend, cur), cr, rr,
                 response_text(r.incremental_response, ru, cur), roi]
        if r.channel == "total":
            cells = [f"**{c}**" if c else c for c in cells]
        out.append("| " + " | ".join(cells) + " |")
    if interval:
        out += ["", "Responses in brackets: 5-95 % over the curve draws."]
    out += [""] + [f"- {n}" for n in result.notes()]
    out += warnings_markdown(result.warnings)
    return "\n".join(out) + "\n"


SECTION = SectionSpec(
    name="current",
    config_model=CurrentSpend,
    run=run_current,
    files=current_files,
    markdown=current_markdown,
    description="What is running now (spend per channel, per channel and period, or a previous plan.json): the "
    "plan reports current vs recommended spend and response on the same curves.",
)
