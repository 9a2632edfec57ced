"""dmpopt: marketing decision optimization.

Import packages: ``optimizer`` (budget, bandit, churn, the scenario runner and the CLI) and
``experiments`` (A/B analysis). The distribution and the console command are ``dmpopt``.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("dmpopt")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
