"""The ``segments:`` scenario section: customer segments from transactions, before churn and budget.

Same settings as ``dmpopt segments fit --config`` (see :mod:`optimizer.segments.config`); ``data``
is required here and relative to the scenario file. Later sections read the result from
``RunContext.results["segments"]``: the churn section's non-contractual models can take the
per-customer summary from it (``churn.data: segments``), and the budget takes each segment's
share of customers as its audience share (``SegmentsResult.segment_to_audience_share``).

With ``--out`` the plan gets the files listed in :mod:`optimizer.segments.profiles` under
``segments/``. Import-light: pandas, DuckDB and scikit-learn load inside :func:`run`.
"""

from __future__ import annotations

from optimizer.plan import warnings_markdown
from optimizer.sections import RunContext, SectionSpec
from optimizer.segments.config import SegmentsConfig


def run(config: SegmentsConfig, ctx: RunContext):
    """Run :func:`optimizer.segments.profiles.run_segments` with the scenario's seed and folder."""
    from optimizer.errors import ScenarioError
    from optimizer.segments.profiles import run_segments

    if config.data is None:
        raise ScenarioError(f"{ctx.source}: segments.data is required in a scenario (the transactions file).")
    return run_segments(config, ctx.base_dir, seed=ctx.seed)


def files(result) -> dict[str, bytes]:
    """The segments files under ``segments/``."""
    return {f"segments/{name}": data for name, data in result.files().items()}


def markdown(result) -> str:
    """The section's part of plan.md (no customer ids)."""
    c = result.counts
    lines = [
        "## Customer segments",
        "",
        f"{c['n_customers']} customers from {c['n_rows']} transactions (as of {result.as_of}); "
        f"k = {result.k} ({result.k_rule}).",
        "",
        "| segment | customers | share | mean recency (days) | mean frequency | mean monetary | revenue share | expected value |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in result.profiles.itertuples():
        lines.append(f"| {r.segment} | {r.n_customers} | {r.share:.1%} | {r.mean_recency_days:.1f} | "
                     f"{r.mean_frequency:.2f} | {r.mean_monetary:.2f} | {r.revenue_share:.1%} | {r.expected_value:.2f} |")
    lines += warnings_markdown(result.warnings)
    return "\n".join(lines) + "\n"


SECTION = SectionSpec(
    name="segments",
    config_model=SegmentsConfig,
    run=run,
    files=files,
    markdown=markdown,
    description="Customer segments from transactions: RFM groups, K-means segments, P(alive) and CLV.",
)
