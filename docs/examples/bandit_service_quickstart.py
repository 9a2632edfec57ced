"""Bandit service quickstart: start the service, create a campaign, choose, reward, read the mix.

Run it: ``python docs/examples/bandit_service_quickstart.py`` (needs nothing but dmpopt; it starts
the service itself on a free port with a SQLite store in a temporary folder, and stops it).
In production you start the service once, e.g.::

    DMPOPT_API_KEY=... dmpopt bandit serve --store sqlite:///bandit.db --workers 2 --port 8787
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import numpy as np

from optimizer.bandit.client import BanditClient


def start_service(store: str, api_key: str) -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:  # a free port
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "optimizer.bandit.cli_serve", "serve", "--store", store, "--port", str(port),
         "--log-level", "warning",
         # every decision from the newest state, so this one-client run prints the same each time
         # (the default, 0.05 s, is faster under load; see docs/bandit-service.md)
         "--decision-refresh-seconds", "0"],
        env={**os.environ, "DMPOPT_API_KEY": api_key},
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            with BanditClient(url, api_key) as c:
                c.health()
            return proc, url
        except Exception:  # noqa: BLE001 - not up yet
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("the service did not start")


def main() -> None:
    api_key = "change-me"
    folder = tempfile.mkdtemp(prefix="bandit_quickstart_")
    proc, url = start_service(f"sqlite:///{folder}/bandit.db", api_key)
    try:
        with BanditClient(url, api_key) as bandit:
            bandit.create_campaign({
                "name": "welcome",
                "arms": [{"name": "email"}, {"name": "sms", "cost_per_action": 0.05}, {"name": "push"}],
                "policy": {"kind": "thompson"},
                "guardrails": {"exploration_floor": 0.05},
                "reward_window_seconds": 3600,
            }, seed=42)
            true_rate = {"email": 0.04, "sms": 0.07, "push": 0.02}  # unknown to the bandit
            rng = np.random.default_rng(0)
            for _ in range(200):
                d = bandit.choose("welcome", user_id=None)
                converted = rng.random() < true_rate[d["arm"]]
                bandit.reward(d["decision_id"], 1.0 if converted else 0.0)
            info = bandit.campaign("welcome")
            print("decisions per arm:", {a: s["n_decisions"] for a, s in info["arm_to_stats"].items()})
            print("next period's mix:", {a: round(v, 3) for a, v in bandit.shares("welcome").items()})
            last = bandit.decisions("welcome")[-1]
            print("last decision:", last["arm"], "propensity", round(last["propensity"], 3))
    finally:
        proc.terminate()
        proc.wait(15)
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
