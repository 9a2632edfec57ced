"""The budget section in `dmpopt plan`: files, markdown, shipped scenarios, exit code 3."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

import sys as _sys
from pathlib import Path as _Path

_sys.path.insert(0, str(_Path(__file__).resolve().parent))  # budgetkit (--import-mode=importlib)
from budgetkit import article_config  # noqa: E402

from optimizer.budget import allocate
from optimizer.budget.section import SECTION, budget_files, budget_markdown

ROOT = Path(__file__).resolve().parents[3]
MY_SCENARIOS = ["article.yaml", "article_per_unit.yaml", "multi_segment_weeks.yaml"]


def test_section_spec_registration() -> None:
    from optimizer.sections import load_sections

    assert SECTION.name == "budget"
    assert any(s is SECTION for s in load_sections())


def test_files_and_markdown() -> None:
    r = allocate(article_config("A"), currency="CNY")
    files = budget_files(r)
    alloc = pd.read_csv(io.BytesIO(files["allocations.csv"]))
    # the same columns for every plan, plus the currency and response unit of the CSV
    assert list(alloc.columns) == ["channel", "segment", "period", "spend", "effective_spend", "units", "used",
                                   "response", "roi", "marginal_roi", "currency", "response_unit"]
    assert set(alloc["currency"]) == {"CNY"} and set(alloc["response_unit"]) == {"currency"}
    assert alloc["spend"].sum() == pytest.approx(1_130_000)
    md = budget_markdown(r)
    assert "| feed_ads | ¥500,000 | 10,000 | 1 | ¥0 | ¥1,600,000 | 3.2 | 3.2 | 44.2% | 44.2% |" in md
    assert "ROI (¥ per ¥ spent)" in md and "share of spend" in md and "share of budget" in md
    assert "- one more ¥ of total budget (now ¥1,130,000) returns ¥2.8 of response per ¥" in md


@pytest.mark.parametrize("name", MY_SCENARIOS)
def test_shipped_scenarios_validate_and_plan(name: str, tmp_path: Path) -> None:
    from optimizer.cli import app

    res = CliRunner().invoke(app, ["plan", str(ROOT / "scenarios" / name), "--out", str(tmp_path), "-q",
                                   "--format", "json"])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "allocations.csv").exists()


def test_infeasible_scenario_exits_3_with_the_money_explanation(tmp_path: Path) -> None:
    from optimizer.cli import app

    text = (ROOT / "scenarios" / "article.yaml").read_text(encoding="utf-8").replace("amount: 1130000", "amount: 250000")
    path = tmp_path / "too_small.yaml"
    path.write_text(text, encoding="utf-8")
    res = CliRunner().invoke(app, ["plan", str(path), "-q"])
    assert res.exit_code == 3
    assert "raise the budget by ¥60k" in res.output


def test_python_examples_in_budget_docs_run() -> None:
    import re

    text = (ROOT / "docs" / "budget.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert blocks
    for code in blocks:
        exec(compile(code, "docs/budget.md", "exec"), {})  # noqa: S102 - our own documentation
