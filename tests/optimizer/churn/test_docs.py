"""The churn tutorial's Python blocks run, and its reference lists every config field."""

from __future__ import annotations

import re
from pathlib import Path

from optimizer.churn.section import ChurnConfig

REPO = Path(__file__).resolve().parents[3]
DOC = REPO / "docs" / "churn.md"


def test_tutorial_python_blocks_run(monkeypatch, capsys):
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)
    assert blocks, "docs/churn.md has no python example"
    monkeypatch.chdir(REPO)  # the example reads scenarios/data/...; it writes nothing
    for code in blocks:
        exec(compile(code, str(DOC), "exec"), {"__name__": "__doc_example__"})
    assert "Churn model:" in capsys.readouterr().out


def test_reference_lists_every_field():
    text = DOC.read_text()
    missing = [f for f in ChurnConfig.model_fields if f"| `{f}` |" not in text]
    assert missing == []
