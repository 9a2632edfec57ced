"""What every LP backend returns: a :class:`Solution` with one status vocabulary and one dual sign.

Sign convention (normalised in every backend): ``row_dual[r]`` is the change of the *maximised*
objective per unit increase of row ``r``'s active bound. A binding upper bound has a dual >= 0, a
binding lower bound a dual <= 0; a row that does not bind has 0. ``col_dual`` likewise for column
bounds (reduced costs).
"""

from __future__ import annotations

import contextlib
import enum
import os
import sys
from dataclasses import dataclass

import numpy as np


class SolveStatus(enum.Enum):
    """Outcome of a solve. FEASIBLE (a point, optimality not proven) is never reported as OPTIMAL."""

    OPTIMAL = "optimal"
    FEASIBLE = "feasible"
    INFEASIBLE = "infeasible"
    UNBOUNDED = "unbounded"
    ERROR = "error"


@dataclass(frozen=True)
class Solution:
    """A backend's answer.

    Attributes
    ----------
    status:
        :class:`SolveStatus`; read ``x`` and duals only when OPTIMAL or FEASIBLE.
    x:
        Primal values per column (empty when there is no point).
    row_dual, col_dual:
        Duals per row and reduced costs per column (see the module's sign convention).
    objective:
        Objective value of ``x`` (maximised form), or nan.
    solver, solver_version:
        Backend name (e.g. "highs") and library version.
    time_seconds:
        Wall-clock seconds spent in the solver call (model passing included).
    message:
        The solver's own status text, for diagnostics.
    """

    status: SolveStatus
    x: np.ndarray
    row_dual: np.ndarray
    col_dual: np.ndarray
    objective: float
    solver: str
    solver_version: str
    time_seconds: float
    message: str = ""


@contextlib.contextmanager
def quiet_stdout():
    """Send file descriptor 1 to /dev/null for the duration (solver banners must not reach stdout).

    ortools' bundled HiGHS prints "Running HiGHS ..." from C++ even with logging off, so a
    Python-level ``redirect_stdout`` is not enough.
    """
    try:
        sys.stdout.flush()
    except Exception:  # noqa: BLE001 - a closed stdout must not stop a solve
        pass
    try:
        saved = os.dup(1)
    except OSError:
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)


def empty_solution(status: SolveStatus, solver: str, version: str, seconds: float, message: str = "") -> Solution:
    """A Solution with no point (infeasible, unbounded, error)."""
    z = np.zeros(0)
    return Solution(status, z, z, z, float("nan"), solver, version, seconds, message)
