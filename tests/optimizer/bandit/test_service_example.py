"""The example shipped in docs/examples runs and prints exactly what docs/bandit-service.md shows."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "docs" / "examples" / "bandit_service_quickstart.py"
DOC = ROOT / "docs" / "bandit-service.md"


def test_quickstart_example_runs_and_matches_the_docs(tmp_path):
    result = subprocess.run([sys.executable, str(EXAMPLE)], capture_output=True, text=True, timeout=180,
                            cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.splitlines()
    assert len(lines) == 3 and lines[0].startswith("decisions per arm: {'email': ")
    counts = eval(lines[0].split(": ", 1)[1])  # noqa: S307 - our own printed dict
    assert sum(counts.values()) == 200
    mix = eval(lines[1].split(": ", 1)[1])  # noqa: S307
    assert abs(sum(mix.values()) - 1) < 0.01
    doc = DOC.read_text()
    for line in lines:  # seeded end to end: the documented output is the real output
        assert line in doc, line
