"""JSON-safe values and DataFrame rows (NaN/inf -> None, numpy scalars -> Python), for every plan.json part."""

from __future__ import annotations

import math
from typing import Any


def clean(v: Any) -> Any:
    """A JSON-safe scalar."""
    if v is None:
        return None
    if hasattr(v, "item"):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def records(df) -> list[dict[str, Any]]:
    """``df`` as a list of JSON-safe dicts, one per row."""
    cols = [str(c) for c in df.columns]
    return [{c: clean(v) for c, v in zip(cols, row)} for row in df.itertuples(index=False, name=None)]
