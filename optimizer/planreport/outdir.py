"""``--out DIR`` as one set of files per run: a manifest, and the previous run's stale files removed.

Reusing a folder used to leave the previous scenario's frontier and risk files beside the new plan.
Now every run writes ``manifest.json`` (the files of this run, with the scenario and the time) last,
after its files. On the next run into the same folder, files listed in the PREVIOUS manifest that
this run does not write are removed; files no manifest lists (a user's own notes, files of an
older dmpopt) are never deleted, only reported. All writes are atomic (optimizer.io).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from optimizer.io import atomic_write_bytes, atomic_write_json

MANIFEST = "manifest.json"


@dataclass(frozen=True)
class OutputSet:
    """What a run did to its folder.

    Attributes
    ----------
    written: names written by this run (manifest.json included), sorted.
    removed: stale names of the previous run (listed in its manifest) that were deleted.
    left_alone: other files in the folder that no manifest lists (never deleted).
    """

    written: tuple[str, ...]
    removed: tuple[str, ...]
    left_alone: tuple[str, ...]


def previous_manifest(folder: Path) -> list[str]:
    """File names listed in ``folder/manifest.json`` ([] when absent or unreadable)."""
    try:
        doc = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    names = doc.get("files", []) if isinstance(doc, dict) else []
    # only relative paths inside the folder: a manifest can never make us delete elsewhere
    return [n for n in names if isinstance(n, str) and n and "\\" not in n and not n.startswith("/")
            and all(part not in ("", ".", "..") for part in n.split("/"))]


def write_output_set(folder: Path, files: dict[str, bytes], scenario: str = "") -> OutputSet:
    """Write ``files`` into ``folder`` atomically, then the manifest; remove the previous run's stale files."""
    folder = Path(folder)
    before = previous_manifest(folder)
    for name, data in files.items():
        atomic_write_bytes(folder / name, data)
    removed = []
    for name in before:
        p = folder / name
        if name not in files and name != MANIFEST and p.is_file() and not p.is_symlink():
            p.unlink()
            removed.append(name)
    atomic_write_json(folder / MANIFEST, {
        "generated_by": "dmpopt plan",
        "scenario": scenario,
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "files": sorted(files),
        "note": "Files of one run. The next `dmpopt plan --out` into this folder removes the files listed here "
                "that it does not write again; other files are never deleted.",
    })
    known = set(files) | {MANIFEST}
    left = sorted(p.name for p in folder.iterdir() if p.is_file() and p.name not in known and not p.name.startswith("."))
    return OutputSet(tuple(sorted(known)), tuple(sorted(removed)), tuple(left))
