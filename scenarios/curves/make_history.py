"""Regenerate the example history: python scenarios/curves/make_history.py

156 weeks of a simulated advertiser (optimizer.curves.simulate, seed 2026, noise 5 %), four
channels renamed search / social / tv / display. The true curves are printed so the tutorial
(docs/curves.md) can compare them with the fit. Then:

    dmpopt curves fit scenarios/curves/history.csv --config scenarios/curves/curves.yaml --out scenarios/curves/fitted
    dmpopt plan scenarios/budget_from_fitted_curves.yaml
"""

from __future__ import annotations

from pathlib import Path

from optimizer.curves.simulate import simulate

NAMES = {"ch01": "search", "ch02": "social", "ch03": "tv", "ch04": "display"}


def main() -> None:
    s = simulate(4, 156, 0.05, seed=2026, n_correlated_pairs=0, flight_every=3, start="2023-01-02")
    df = s.data.rename(columns={f"spend_{k}": v for k, v in NAMES.items()}).rename(columns={"kpi": "revenue"})
    df["date"] = df["date"].dt.strftime("%Y-%m-%d")
    df.to_csv(Path(__file__).parent / "history.csv", index=False)
    for k, v in NAMES.items():
        t = s.truth[k]
        print(f"{v}: decay {t.decay:.3f}, true steady-state curve {t.budget_response()}")


if __name__ == "__main__":
    main()
