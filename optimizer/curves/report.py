"""Plots (PNG) and a self-contained HTML report of a curve fit (images embedded as base64, no network)."""

from __future__ import annotations

import base64
import html
import io
import math

import numpy as np

from optimizer.curves.results import CurveFit, response_value


def _png(fig) -> bytes:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def plots(result: CurveFit) -> dict[str, bytes]:
    """``decomposition.png`` (stacked area), ``response_curves.png``, ``fit.png`` (actual vs fitted)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    d = result.decomposition
    out = {}
    # decomposition: stacked area of non-negative parts, controls/holidays may be negative -> drawn as lines
    fig, ax = plt.subplots(figsize=(10, 5))
    parts = ["baseline"] + list(result.channels)
    ax.stackplot(d["date"], *[d[p].clip(lower=0) for p in parts], labels=parts, alpha=0.8)
    for extra in ("holidays", "controls"):
        if np.any(d[extra] != 0):
            ax.plot(d["date"], d[extra], lw=1, ls="--", label=extra)
    ax.plot(d["date"], d["actual"], color="black", lw=1, label="actual KPI")
    ax.set_title("KPI decomposition over time (baseline + channel contributions)")
    ax.set_ylabel("KPI per period")
    ax.legend(loc="upper left", fontsize=7, ncol=4)
    out["decomposition.png"] = _png(fig)
    # response curves
    n = len(result.channels)
    cols = min(4, n)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.6 * cols, 2.9 * rows), squeeze=False)
    for ax, c in zip(axes.ravel(), result.channels.values()):
        hi = max(c.historical_spend["max"] * 1.5, c.current_spend * 2)
        x = np.linspace(0, hi, 120)
        ax.plot(x, response_value(c.response, x), color="C0", lw=2, label="fit")
        if c.draws:
            ys = _draw_curves(c, x)
            if ys is not None:
                lo, up = np.quantile(ys, [0.05, 0.95], axis=0)
                ax.fill_between(x, lo, up, color="C0", alpha=0.2, label="90 % band")
        ax.axvspan(c.historical_spend["min"], c.historical_spend["max"], color="grey", alpha=0.15, label="spend seen")
        ax.plot([c.current_spend], response_value(c.response, np.array([c.current_spend])), "o", color="C3",
                label="current")
        ax.set_title(f"{c.name} ({c.response['kind']})", fontsize=9)
        ax.tick_params(labelsize=7)
    for ax in axes.ravel()[n:]:
        ax.axis("off")
    axes.ravel()[0].legend(fontsize=6)
    fig.suptitle("Response per period to spend per period (steady state, carry-over included)", fontsize=10, y=1.03)
    out["response_curves.png"] = _png(fig)
    # fit
    fig, ax = plt.subplots(figsize=(10, 3.5))
    ax.plot(d["date"], d["actual"], color="black", lw=1, label="actual")
    ax.plot(d["date"], d["fitted"], color="C1", lw=1, label="fitted")
    h = result.metrics.get("holdout")
    if h:
        ax.axvspan(np.datetime64(h["first_date"]), d["date"].iloc[-1], color="grey", alpha=0.15,
                   label="holdout (fitted without it)")
    ax.legend(fontsize=8)
    ax.set_title("Actual vs fitted KPI")
    out["fit.png"] = _png(fig)
    return out


def _draw_curves(c, x: np.ndarray) -> np.ndarray | None:
    p = {k: np.asarray(v, dtype=float)[:, None] for k, v in c.draws.items()}
    if "max_response" in p:
        with np.errstate(divide="ignore", over="ignore"):
            return np.where(x > 0, p["max_response"] / (1 + (p["half_saturation_spend"] / np.maximum(x, 1e-300))
                                                       ** p["shape"]), 0.0)
    if "scale" in p:
        return p["scale"] * np.log1p(x / p["saturation_spend"])
    if "coefficient" in p:
        return p["coefficient"] * np.power(x, p["exponent"])
    return None


def _fmt(v) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return ""
    if isinstance(v, float):
        return f"{v:,.4g}" if abs(v) < 1000 else f"{v:,.0f}"
    return html.escape(str(v))


def html_report(result: CurveFit, images: dict[str, bytes], title: str = "dmpopt curve fit") -> str:
    """A self-contained HTML page: metrics, channel table, warnings, the plots."""
    m = result.metrics
    rows = []
    for name, key in (("in-sample", "in_sample"), ("holdout", "holdout")):
        v = m.get(key)
        if v:
            rows.append(f"<tr><td>{name}</td><td>{v['n_periods']}</td><td>{v['r2']:.3f}</td><td>{v['nrmse']:.3f}</td>"
                        f"<td>{v['mape']:.1%}</td></tr>")
    summ = result.summary().reset_index()
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in summ.columns)
    body = "".join("<tr>" + "".join(f"<td>{_fmt(v)}</td>" for v in r) + "</tr>" for r in summ.itertuples(index=False))
    warns = "".join(f"<li>{html.escape(w)}</li>" for w in result.warnings) or "<li>none</li>"
    imgs = "".join(f'<h2>{html.escape(k)}</h2><img alt="{html.escape(k)}" src="data:image/png;base64,'
                   f'{base64.b64encode(v).decode()}">' for k, v in images.items())
    r = result.residual
    # "mcmc" draws are posterior draws (optimizer/curves/posterior.py); older fits record no method
    method = "posterior (MCMC)" if result.settings.get("uncertainty") == "mcmc" else "bootstrap"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif;max-width:1200px;margin:2em auto;}} table{{border-collapse:collapse;font-size:13px}}
td,th{{border:1px solid #ccc;padding:3px 6px;text-align:right}} img{{max-width:100%}}</style></head><body>
<h1>{html.escape(title)}</h1>
<p>Seed {result.seed}; {result.n_bootstrap} {method} draws; fitted in {result.elapsed_seconds:.1f} s.
Curves are per-period responses to spend sustained every period (carry-over included); money per period.
ROI and marginal ROI are read at the current spend (mean of the last periods) with
{result.settings.get('interval', 0.9):.0%} {method} intervals.</p>
<h2>Fit</h2><table><tr><th>sample</th><th>periods</th><th>R^2</th><th>NRMSE</th><th>MAPE</th></tr>{''.join(rows)}</table>
<p>Residuals: Durbin-Watson {r['durbin_watson']:.2f}, Ljung-Box p {r['ljung_box_p']:.3g} ({r['ljung_box_lags']} lags).</p>
<h2>Channels</h2><table><tr>{head}</tr>{body}</table>
<h2>Warnings</h2><ul>{warns}</ul>
{imgs}
</body></html>
"""
