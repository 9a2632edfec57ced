"""Every section writes its warnings into plan.md with the same block (optimizer.plan.warnings_markdown)."""

from __future__ import annotations

import re
from pathlib import Path

from optimizer.plan import warnings_markdown

ROOT = Path(__file__).resolve().parents[2]


def test_block_shape():
    assert warnings_markdown([]) == [] and warnings_markdown(None) == []
    assert warnings_markdown(["a", "b"]) == ["", "Warnings:", "", "- a", "- b"]


def test_no_section_renders_warnings_by_hand():
    """Sections once wrote "- note:", "- warning:" and "Warnings:" blocks each their own way; a renderer that
    loops over its warnings itself would bring that back."""
    hand = re.compile(r'f"\s*-\s*(warning|note): \{w\}"|"Warnings:"')
    offenders = [str(p.relative_to(ROOT)) for pkg in ("optimizer", "experiments") for p in (ROOT / pkg).rglob("*.py")
                 if p.name != "plan.py" and hand.search(p.read_text())]
    assert offenders == []
