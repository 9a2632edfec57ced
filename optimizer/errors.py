"""The whole exception and warning vocabulary of dmpopt.

Every error a user can cause is a :class:`DmpoptError`. The CLI catches ``DmpoptError`` and prints
its message without a traceback; anything else is a bug and keeps its traceback.

Messages follow one template: what was wrong, the bad value, what is allowed, how to fix it::

    scenario.yaml:14: channels[2].cost_per_unit is -5; it must be > 0.
"""

from __future__ import annotations


class DmpoptError(Exception):
    """Base class of every error a user can act on."""

    #: CLI exit code for this family (documented in docs/cli.md).
    exit_code: int = 1


class ScenarioError(DmpoptError, ValueError):
    """A scenario, config file, CLI flag or request holds a bad value.

    Parameters
    ----------
    message:
        The whole message, or a summary line when ``problems`` is given.
    problems:
        One line per defect, each already naming file, line, field path, value and what is allowed.
    """

    def __init__(self, message: str, problems: list[str] | None = None):
        self.problems = list(problems or [])
        text = message if not self.problems else message + "\n" + "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(text)


class DataError(DmpoptError, ValueError):
    """Input data (CSV, Parquet, event logs) is malformed: missing columns, bad values."""


class SolverError(DmpoptError):
    """A solver failed, or is not available, or returned a status that has no usable answer."""


class InfeasibleError(DmpoptError):
    """The problem has no solution; the message explains the conflict in the user's units."""

    exit_code = 3


class NotFittedError(DmpoptError, ValueError):
    """A model was asked to predict before ``fit`` was called."""


class ConvergenceWarning(UserWarning):
    """An iterative fit stopped before converging; results may be unreliable."""


class StatisticalWarning(UserWarning):
    """A statistical result is valid but should be read with care (small samples, ties...)."""
