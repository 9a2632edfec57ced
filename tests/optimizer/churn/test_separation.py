"""Cox (quasi-)separation is reported with the covariate's name, never returned as a huge hazard ratio;
`churn schedule --penalizer` fits it; `churn fit` records its seed; lifelines never warns on the terminal."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from optimizer.churn.fitters import fit_kind
from optimizer.errors import SolverError


def _separated(n: int = 300, seed: int = 0) -> pd.DataFrame:
    """`flag` is 1 exactly for churners among the earliest 20 % of tenures: it orders churn almost perfectly."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    t = np.round(np.exp(-3 * x) * 50 + 1)
    e = (rng.random(n) < 0.7).astype(int)
    flag = ((t < np.quantile(t, 0.2)) & (e == 1)).astype(int)
    return pd.DataFrame({"tenure_days": t, "churned": e, "flag": flag, "z": rng.normal(size=n)})


def test_separation_names_the_covariate():
    df = _separated()
    X = df[["flag", "z"]].to_numpy(float)
    with pytest.raises(SolverError, match=r"\(quasi-\)separation.*covariate\(s\) \['flag'\].*penalizer"):
        fit_kind("cox", df["tenure_days"].to_numpy(float), df["churned"].to_numpy(), X, ["flag", "z"])
    m = fit_kind("cox", df["tenure_days"].to_numpy(float), df["churned"].to_numpy(), X, ["flag", "z"], penalizer=0.1)
    assert np.all(np.isfinite(m.fit.params)) and np.max(np.abs(m.fit.params)) < 20


def test_cli_cox_separation_exits_1_and_schedule_takes_penalizer(tmp_path):
    from optimizer.cli import app

    p = tmp_path / "sep.csv"
    _separated().to_csv(p, index=False)
    r = CliRunner().invoke(app, ["churn", "fit", str(p), "--duration-col", "tenure_days", "--event-col", "churned",
                                 "--model", "cox", "--seed", "1"])
    assert r.exit_code == 1 and "['flag']" in r.output and "Traceback" not in r.output
    r = CliRunner().invoke(app, ["churn", "schedule", str(p), "--duration-col", "tenure_days", "--event-col", "churned",
                                 "--model", "cox", "--penalizer", "0.1", "--uplift", "0.2", "--clv", "100",
                                 "--contact-cost", "1", "--start-date", "2026-12-01", "--seed", "3"])
    assert r.exit_code == 0, r.output
    assert "(cox, seed 3)" in r.output


def test_churn_fit_records_its_seed_and_is_reproducible(tmp_path):
    import json

    from optimizer.cli import app

    p = tmp_path / "c.csv"
    _separated(seed=4).assign(flag=lambda d: np.random.default_rng(1).integers(0, 2, len(d))).to_csv(p, index=False)
    outs = []
    for k in range(2):
        r = CliRunner().invoke(app, ["churn", "fit", str(p), "--duration-col", "tenure_days", "--event-col", "churned",
                                     "--seed", "5", "--out", str(tmp_path / f"o{k}")])
        assert r.exit_code == 0, r.output
        assert "seed: 5" in r.output
        outs.append(json.loads((tmp_path / f"o{k}" / "report.json").read_text()))
    assert outs[0] == outs[1] and outs[0]["seed"] == 5
