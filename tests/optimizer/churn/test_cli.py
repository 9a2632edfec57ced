"""``dmpopt churn fit`` / ``schedule`` through typer's CliRunner on the sub-app."""

from __future__ import annotations

import json

import pandas as pd
from typer.testing import CliRunner

from optimizer.churn.cli import app

ARGS = ["--duration-col", "tenure_days", "--event-col", "churned", "--covariates", "plan,fee", "--seed", "1"]


def test_fit_prints_report_and_writes_plots(fixtures_dir, tmp_path):
    r = CliRunner().invoke(app, ["fit", str(fixtures_dir / "valid.csv"), *ARGS, "--horizon-days", "60", "--out", str(tmp_path)])
    assert r.exit_code == 0, r.output
    assert "Churn model:" in r.stdout and "c_index" in r.stdout and "Proportional hazards:" in r.stdout
    for name in ("survival.png", "hazard.png"):
        assert (tmp_path / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["selected"] in {row["model"] for row in report["comparison"]}


def test_schedule_writes_csvs(fixtures_dir, tmp_path):
    r = CliRunner().invoke(app, ["schedule", str(fixtures_dir / "valid.csv"), *ARGS, "--uplift", "0.3", "--clv", "400",
                                 "--contact-cost", "2", "--threshold", "0.05", "--horizon-days", "60",
                                 "--start-date", "2026-12-01", "--id-col", "customer_id", "--segment-col", "plan",
                                 "--out", str(tmp_path)])
    assert r.exit_code == 0, r.output
    sched = pd.read_csv(tmp_path / "schedule.csv")
    cust = pd.read_csv(tmp_path / "customers.csv")
    assert list(sched.columns) == ["week_start", "segment", "n_contacts", "cost", "expected_value"]
    assert sched["n_contacts"].sum() == cust["contact"].sum() > 0
    assert r.stdout.startswith("week_start,segment")  # the schedule on stdout, pipeable


def test_user_errors_exit_1_without_traceback(fixtures_dir):
    r = CliRunner().invoke(app, ["fit", str(fixtures_dir / "missing_column.csv"), *ARGS])
    assert r.exit_code == 1
    assert "column(s) ['tenure_days'] not found; the columns found are: customer_id, tenure" in r.stderr
    assert "Traceback" not in r.output
    r = CliRunner().invoke(app, ["schedule", str(fixtures_dir / "valid.csv"), *ARGS, "--uplift", "1.5", "--clv", "1",
                                 "--contact-cost", "1", "--start-date", "2026-12-01"])
    assert r.exit_code == 1 and "uplift.number is 1.5" in r.stderr
    r = CliRunner().invoke(app, ["schedule", str(fixtures_dir / "valid.csv"), *ARGS, "--uplift", "0.1", "--clv", "1",
                                 "--contact-cost", "1", "--start-date", "1 Dec"])
    assert r.exit_code == 1 and "--start-date is '1 Dec'" in r.stderr


def test_usage_error_exit_2():
    r = CliRunner().invoke(app, ["fit"])
    assert r.exit_code == 2
