"""Seeds: every random path takes ``seed: int | None``; ``None`` draws one that is echoed back."""

from __future__ import annotations

import numpy as np


def resolve_seed(seed: int | None) -> int:
    """Return ``seed`` itself, or a fresh non-negative seed when it is ``None``.

    The drawn seed is recorded in results so that any run can be repeated exactly.
    Tests ``seed is None`` rather than truthiness: 0 is a valid seed.
    """
    if seed is None:
        return int(np.random.SeedSequence().entropy % (2**63))
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be an int or None, got {type(seed).__name__}")
    if seed < 0:
        raise ValueError(f"seed is {seed}; it must be >= 0")
    return int(seed)


def make_rng(seed: int | None) -> tuple[np.random.Generator, int]:
    """A ``numpy.random.Generator`` and the seed it was made from."""
    used = resolve_seed(seed)
    return np.random.default_rng(used), used
