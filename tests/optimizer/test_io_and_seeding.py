"""Atomic output files and seed handling."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from optimizer.io import atomic_write_bytes, atomic_write_json
from optimizer.seeding import make_rng, resolve_seed


def test_atomic_write_replaces_whole_file_and_leaves_no_temp(tmp_path):
    target = tmp_path / "out" / "plan.json"
    atomic_write_json(target, {"a": 1})
    atomic_write_json(target, {"a": 2})
    assert json.loads(target.read_text()) == {"a": 2}
    assert os.listdir(target.parent) == ["plan.json"]


def test_failed_write_keeps_the_old_file(tmp_path):
    target = tmp_path / "plan.json"
    target.write_text("old")

    with pytest.raises(ValueError):  # JSON has no NaN: refused before the file is touched
        atomic_write_json(target, {"x": float("nan")})
    assert target.read_text() == "old"
    with pytest.raises(TypeError):
        atomic_write_bytes(target, "not bytes")  # type: ignore[arg-type]
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["plan.json"]


def test_seed_zero_is_a_seed_not_random():
    assert resolve_seed(0) == 0
    a, _ = make_rng(0)
    b, _ = make_rng(0)
    assert a.random() == b.random()


def test_none_draws_and_reports_a_seed():
    s1, s2 = resolve_seed(None), resolve_seed(None)
    assert isinstance(s1, int) and s1 >= 0
    assert s1 != s2  # 2**63 space: a collision here is not a realistic outcome
    rng, used = make_rng(None)
    assert np.random.default_rng(used).random() == rng.random()


@pytest.mark.parametrize("bad", [-1])
def test_negative_seed_refused(bad):
    with pytest.raises(ValueError, match="must be >= 0"):
        resolve_seed(bad)


def test_bool_seed_refused():
    with pytest.raises(TypeError):
        resolve_seed(True)  # type: ignore[arg-type]
