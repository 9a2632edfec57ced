"""Importers: another MMM tool's saved model -> a dmpopt curves file.

:data:`IMPORTERS` maps the ``--from`` name to ``module:function``; each function takes the tool's
file and returns a :class:`~optimizer.curves.curvefile.CurvesFile` (per-period curves of
steady-state spend, see that module). docs/curves-import.md says what each tool writes and how it
is converted, with the tools' source lines.
"""

from __future__ import annotations

import hashlib
import importlib
from pathlib import Path
from typing import Any, Callable

from optimizer.errors import DataError

#: ``--from`` name -> "module:function" (imported lazily: each reader has its own dependencies).
IMPORTERS: dict[str, str] = {
    "meridian": "optimizer.curves.importers.meridian:import_meridian",
    "pymc-marketing": "optimizer.curves.importers.pymc_marketing:import_pymc_marketing",
    "robyn": "optimizer.curves.importers.robyn:import_robyn",
}


def importer(tool: str) -> Callable[..., Any]:
    """The import function of ``tool`` (a key of :data:`IMPORTERS`)."""
    if tool not in IMPORTERS:
        import difflib

        hint = difflib.get_close_matches(tool, list(IMPORTERS), n=1)
        tip = f"did you mean {hint[0]!r}?" if hint else f"choose one of: {', '.join(IMPORTERS)}"
        raise DataError(f"--from is {tool!r}, an unknown tool; {tip}")
    module, func = IMPORTERS[tool].split(":")
    return getattr(importlib.import_module(module), func)


def file_sha256(path: Path) -> str:
    """SHA-256 hex digest of a file (a directory: of its files' names and bytes, in sorted order)."""
    h = hashlib.sha256()
    if path.is_dir():
        for f in sorted(p for p in path.rglob("*") if p.is_file()):
            h.update(str(f.relative_to(path)).encode())
            h.update(f.read_bytes())
    else:
        h.update(path.read_bytes())
    return h.hexdigest()


def read_bytes(path: Path, what: str) -> bytes:
    """The file's bytes, or a :class:`DataError` naming the file."""
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise DataError(f"{path}: file not found; give the {what} (relative paths start at {Path.cwd()}).") from None
    except IsADirectoryError:
        raise DataError(f"{path}: is a directory; give the {what} file.") from None
    except PermissionError:
        raise DataError(f"{path}: permission denied; the file cannot be read.") from None
