"""The ``churn:`` scenario section: config validation (broken files), run, outputs, retention line."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pydantic import BaseModel, ConfigDict

from optimizer.churn.section import SECTION, ChurnConfig, run
from optimizer.errors import ScenarioError
from optimizer.sections import RunContext
from optimizer.validation import load_model

REPO = Path(__file__).resolve().parents[3]


class Scenario(BaseModel):
    """A scenario holding only the churn section (the lead's Scenario registers it for real)."""

    model_config = ConfigDict(extra="forbid")
    churn: ChurnConfig


def ctx(base: Path, results=None) -> RunContext:
    return RunContext(seed=7, rng=np.random.default_rng(7), base_dir=base, results=results or {})


BROKEN = [
    ("scenario_bad_threshold.yaml", r"scenario_bad_threshold\.yaml:9: churn\.threshold is 1\.5; input should be less than 1"),
    ("scenario_unknown_key.yaml", r":10: unknown key churn\.lead_day; did you mean 'lead_days'\?"),
    ("scenario_uplift_out_of_range.yaml", r":11: churn\.uplift\.number is 1\.2; input should be less than or equal to 1"),
    ("scenario_bad_date.yaml", r":14: churn\.start_date is 'next monday'"),
]


@pytest.mark.parametrize("name,message", BROKEN, ids=[b[0] for b in BROKEN])
def test_broken_scenarios(fixtures_dir, name, message):
    with pytest.raises(ScenarioError, match=message) as info:
        load_model(Scenario, fixtures_dir / name)
    assert "1 problem found" in str(info.value)


def test_run_valid_scenario(fixtures_dir):
    cfg = load_model(Scenario, fixtures_dir / "scenario_valid.yaml").churn
    r = run(cfg, ctx(fixtures_dir))
    assert r.status == "ok" and r.report.selected == "weibull_aft"
    active = pd.read_csv(fixtures_dir / "valid.csv").query("churned == 0")
    assert r.totals["n_active"] == len(active) == len(r.customers)
    assert r.totals["n_contacts"] == r.schedule["n_contacts"].sum() == r.customers["contact"].sum()
    line = r.retention_line()
    assert line["name"] == "churn_retention"
    assert sum(w["spend"] for w in line["weekly_spend"]) == pytest.approx(line["total_spend"]) == pytest.approx(3 * r.totals["n_contacts"])
    assert line["expected_value"] == pytest.approx(r.customers.loc[r.customers.contact, "value"].sum())
    json.dumps(r.to_dict(), allow_nan=False)
    files = SECTION.files(r)
    back = pd.read_csv(__import__("io").BytesIO(files["churn_customers.csv"]))
    assert list(back["customer_id"]) == list(active["customer_id"])
    md = SECTION.markdown(r)
    assert md.startswith("## Churn retention") and "| week | segment |" in md
    assert "Contact schedule" in str(r)


def test_zero_uplift_scenario_contacts_nobody(fixtures_dir):
    cfg = load_model(Scenario, fixtures_dir / "scenario_zero_uplift.yaml").churn
    r = run(cfg, ctx(fixtures_dir))
    assert r.status == "no_contacts" and r.totals["n_contacts"] == 0 and r.schedule.empty
    assert r.retention_line()["weekly_spend"] == []


def _experiments_result(lift: float):
    """A real ExperimentsAnalysis (the experiments section's result type) with one churn comparison."""
    from experiments.pipeline import Decision, ExperimentAnalysis, ExperimentsAnalysis

    comp = pd.DataFrame({"metric": ["churn_rate"], "variant": ["email"], "lift_relative": [lift], "status": ["ok"]})
    e = ExperimentAnalysis(name="retention_email", description="", status="ok", week="2026-W47", comparisons=comp,
                           decision=Decision("ship", "email", ("SUCCESS_SIG_POSITIVE",)))
    return ExperimentsAnalysis(week="2026-W47", experiments=(e,), status="ok")


def test_uplift_from_experiment(fixtures_dir):
    cfg = load_model(Scenario, fixtures_dir / "scenario_uplift_experiment.yaml").churn
    r = run(cfg, ctx(fixtures_dir, {"experiments": _experiments_result(-0.25)}))
    assert (r.customers["uplift"] == 0.25).all()
    r0 = run(cfg, ctx(fixtures_dir, {"experiments": _experiments_result(0.05)}))
    assert r0.totals["n_contacts"] == 0 and any("no churn reduction" in w for w in r0.warnings)
    with pytest.raises(ScenarioError, match="the plan has no experiments result"):
        run(cfg, ctx(fixtures_dir))


def test_per_segment_uplift_needs_every_segment(fixtures_dir):
    base = load_model(Scenario, fixtures_dir / "scenario_valid.yaml").churn.model_dump()
    base["uplift"] = {"segment_to_uplift": {"basic": 0.1}}
    cfg = ChurnConfig.model_validate(base)
    with pytest.raises(ScenarioError, match=r"no uplift for segment\(s\) \['plus'\]"):
        run(cfg, ctx(fixtures_dir))
    base["uplift"] = {"segment_to_uplift": {"basic": 0.0}, "default": 0.5}
    r = run(ChurnConfig.model_validate(base), ctx(fixtures_dir))
    seg = r.customers.set_index("segment")["uplift"]
    assert (seg.loc["basic"] == 0).all() and (seg.loc["plus"] == 0.5).all()
    assert set(r.customers.loc[r.customers.contact, "segment"]) == {"plus"}


def test_shipped_scenario_plans_through_the_runner():
    """scenarios/churn_retention.yaml (the tutorial's scenario) loads and plans with the real runner."""
    from optimizer.runner import run as run_plan
    from optimizer.scenario import load_scenario

    plan = run_plan(load_scenario(REPO / "scenarios" / "churn_retention.yaml"))
    _, r = plan.sections["churn"]
    assert r.status == "ok" and r.totals["n_contacts"] > 0
    # uplift per segment: the basic plan (2 % uplift) is never worth a 5-unit contact at CLV 300
    assert "basic" not in set(r.schedule["segment"])


def test_section_module_imports_light():
    """The section module must not import lifelines/matplotlib at import time (dmpopt --help speed)."""
    import subprocess
    import sys

    code = "import sys, optimizer.churn.section, optimizer.churn.cli; print(sorted(m for m in ('lifelines','matplotlib','scipy','pandas') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]"


def test_missing_data_file_names_the_path_rule(fixtures_dir, tmp_path):
    from optimizer.errors import DataError

    base = load_model(Scenario, fixtures_dir / "scenario_valid.yaml").churn.model_dump()
    base["data"] = "customers_2026.csv"
    with pytest.raises(DataError, match=r"customers_2026\.csv: file not found\. Suggestion: paths in a scenario are relative"):
        run(ChurnConfig.model_validate(base), ctx(tmp_path))


def test_incentives_and_fixed_cost_reach_the_retention_line(fixtures_dir):
    """Every cost is counted: contacts + expected incentives + the fixed cost make the budget's retention spend."""
    base = load_model(Scenario, fixtures_dir / "scenario_valid.yaml").churn
    cfg = base.model_copy(update={"incentive_cost": 5.0, "acceptance_if_staying": 0.2, "fixed_cost": 10.0})
    r = run(cfg, ctx(fixtures_dir))
    t = r.totals
    assert t["n_contacts"] > 0
    assert t["total_cost"] == pytest.approx(t["contact_cost"] + t["incentive_cost"] + t["fixed_cost"])
    assert t["incentive_cost"] > 0 and t["fixed_cost"] == 10.0
    line = r.retention_line()
    assert sum(w["spend"] for w in line["weekly_spend"]) == pytest.approx(line["total_spend"]) == pytest.approx(t["total_cost"])
    huge = run(base.model_copy(update={"fixed_cost": 1e9}), ctx(fixtures_dir))
    assert huge.totals["n_contacts"] == 0 and huge.totals["total_cost"] == 0.0
    assert any("not more than the fixed cost" in w for w in huge.warnings)


def test_pseudonymized_customer_list_has_no_raw_id_and_no_key(fixtures_dir, monkeypatch):
    key = "churn-test-key-0123456789"
    monkeypatch.setenv("CHURN_TEST_KEY", key)
    base = load_model(Scenario, fixtures_dir / "scenario_valid.yaml").churn
    plain = run(base, ctx(fixtures_dir))
    hidden = run(base.model_copy(update={"pseudonymize": True, "pseudonym_key_env": "CHURN_TEST_KEY"}), ctx(fixtures_dir))
    blob = b"".join(SECTION.files(hidden).values()) + json.dumps(hidden.to_dict()).encode()
    assert key.encode() not in blob
    assert hidden.customers["customer_id"].str.fullmatch(r"[0-9a-f]{32}").all()
    assert not set(map(str, plain.customers["customer_id"])) & set(hidden.customers["customer_id"])
    assert hidden.customers.drop(columns="customer_id").equals(plain.customers.drop(columns="customer_id"))
