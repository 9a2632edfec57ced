"""--out DIR: files respect the umask; one set per run (manifest), stale files of the previous run removed."""

from __future__ import annotations

import json
import os
import stat

import pytest

from optimizer.io import atomic_write_bytes
from optimizer.planreport.outdir import MANIFEST, write_output_set


@pytest.mark.parametrize("mask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_atomic_write_respects_the_umask(tmp_path, mask, mode):
    old = os.umask(mask)
    try:
        p = atomic_write_bytes(tmp_path / "report.html", b"x")
    finally:
        os.umask(old)
    assert stat.S_IMODE(p.stat().st_mode) == mode


def test_second_run_removes_only_its_own_stale_files(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    first = write_output_set(tmp_path, {"plan.json": b"{}", "frontier.csv": b"a", "risk.png": b"p"})
    assert first.left_alone == ("notes.txt",)
    assert json.loads((tmp_path / MANIFEST).read_text())["files"] == ["frontier.csv", "plan.json", "risk.png"]
    second = write_output_set(tmp_path, {"plan.json": b"{}", "media_plan.csv": b"m"})
    assert second.removed == ("frontier.csv", "risk.png")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["manifest.json", "media_plan.csv", "notes.txt", "plan.json"]
    assert (tmp_path / "notes.txt").read_text() == "mine"  # never listed by a manifest: never deleted


def test_a_manifest_cannot_delete_outside_its_folder(tmp_path):
    outside = tmp_path / "keep.txt"
    outside.write_text("keep")
    folder = tmp_path / "out"
    folder.mkdir()
    (folder / MANIFEST).write_text(json.dumps({"files": ["../keep.txt", "/etc/passwd", "plan.json"]}))
    (folder / "plan.json").write_text("{}")
    res = write_output_set(folder, {"report.html": b"r"})
    assert res.removed == ("plan.json",)
    assert outside.read_text() == "keep"
