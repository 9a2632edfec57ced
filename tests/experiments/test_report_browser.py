"""The HTML report in a real headless Chromium: renders the expected content, no console errors.

Chromium (Debian's ``chromium`` package) loads the file with ``--dump-dom`` and
``--enable-logging=stderr --v=0``, which logs every console message as ``INFO:CONSOLE``; a
positive control page proves that check catches an uncaught exception and a console.error.
A screenshot is taken too (the PNG is checked for size and non-uniform content).
"""

from __future__ import annotations

import re
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest

from experiments.config import load_experiments_config
from experiments.pipeline import analyze_experiments
from experiments.report import write_report

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)")

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--enable-logging=stderr", "--v=0"]


def run_chromium(tmp_path: Path, page: Path, *extra: str) -> subprocess.CompletedProcess:
    profile = tmp_path / f"profile-{len(list(tmp_path.glob('profile-*')))}"
    return subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *extra, page.resolve().as_uri()],
                          capture_output=True, text=True, timeout=90, check=False)


def console_messages(stderr: str) -> list[str]:
    """Console output and page errors from Chromium's log (one per line)."""
    return [line for line in stderr.splitlines() if re.search(r"CONSOLE|Uncaught|net::ERR_", line)]


def png_size_and_variety(path: Path) -> tuple[int, int, int]:
    """(width, height, number of distinct byte values in the decoded pixel rows)."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    idat, pos = b"", 8
    while pos < len(data):
        length = struct.unpack(">I", data[pos:pos + 4])[0]
        kind = data[pos + 4:pos + 8]
        if kind == b"IDAT":
            idat += data[pos + 8:pos + 8 + length]
        pos += 12 + length
    pixels = zlib.decompress(idat)
    return width, height, len(set(pixels))


def test_console_check_catches_errors(tmp_path):
    """Positive control: the same check must see an uncaught error and console.error."""
    bad = tmp_path / "bad.html"
    bad.write_text('<!DOCTYPE html><html><body><p>x</p><script>console.error("boom"); missing_fn();</script></body></html>')
    proc = run_chromium(tmp_path, bad, "--dump-dom")
    messages = console_messages(proc.stderr)
    assert any("boom" in m for m in messages)
    assert any("Uncaught ReferenceError" in m for m in messages)


@pytest.fixture(scope="module")
def report_dir(tmp_path_factory):
    """The example report plus one experiment whose data lacks a column (it must not break the page)."""
    work = tmp_path_factory.mktemp("work")
    (work / "broken.csv").write_text("user_id,variant,convertd\n1,control,0\n2,treatment,1\n")
    text = (ROOT / "scenarios" / "experiments" / "weekly.yaml").read_text().replace("path: data/", f"path: {ROOT}/scenarios/experiments/data/")
    text += """
  - name: broken_export
    start_date: 2026-11-02
    data: {kind: users, path: broken.csv}
    control: control
    variants: [control, treatment]
    metrics: [{name: conversion, kind: proportion, column: converted}]
"""
    (work / "experiments.yaml").write_text(text)
    analysis = analyze_experiments(load_experiments_config(work / "experiments.yaml"), work, "2026-W47")
    out = tmp_path_factory.mktemp("report")
    write_report(analysis, out)
    return out


def test_report_renders_in_chromium(tmp_path, report_dir):
    proc = run_chromium(tmp_path, report_dir / "report.html", "--dump-dom")
    assert proc.returncode == 0, proc.stderr[-2000:]
    dom = proc.stdout
    assert "<title>Experiments report, week 2026-W47</title>" in dom
    for name, action in [("checkout_button", "ship"), ("feed_creative", "ship"), ("email_subject", "continue"),
                         ("promo_banner", "stop")]:
        assert f'id="exp-{name}"' in dom
        assert re.search(rf"<td>{name}</td><td><span class=\"badge {action}\">{action}</span>", dom), name
    assert dom.count('<img class="plot"') == 4
    assert "SRM_FAIL" in dom and "Why the sequential interval is wider" in dom
    assert re.search(r'<td>broken_export</td><td><span class="badge error">error</span>', dom)
    assert "Analysis error MISSING_COLUMN" in dom
    assert console_messages(proc.stderr) == []


def test_report_screenshot(tmp_path, report_dir):
    shot = tmp_path / "report.png"
    proc = run_chromium(tmp_path, report_dir / "report.html", f"--screenshot={shot}", "--window-size=1200,2400",
                        "--hide-scrollbars")
    assert proc.returncode == 0 and shot.exists(), proc.stderr[-2000:]
    width, height, variety = png_size_and_variety(shot)
    assert (width, height) == (1200, 2400)
    assert variety > 20  # text, tables and plots, not a blank page
    assert console_messages(proc.stderr) == []


LAYOUT_PROBE = """<script>
(function () {
  var de = document.documentElement, bad = [];
  if (de.scrollWidth > de.clientWidth) bad.push("page " + de.scrollWidth + ">" + de.clientWidth);
  document.querySelectorAll("table, svg.chart, img.plot, dl.facts, .verdict, .box, h1, h2, h3, p").forEach(function (el, i) {
    var r = el.getBoundingClientRect();
    if (r.right > de.clientWidth + 0.5) bad.push(el.tagName + "#" + i + " ends at " + r.right.toFixed(1));
    if (el.clientWidth > 0 && el.scrollWidth > el.clientWidth + 1) bad.push(el.tagName + "#" + i + " scrolls " + el.scrollWidth + ">" + el.clientWidth);
  });
  var charts = Array.prototype.map.call(document.querySelectorAll("svg.chart"), function (el) {
    return Math.round(el.getBoundingClientRect().width); });
  var out = document.createElement("pre");
  out.id = "layout-probe";
  out.textContent = JSON.stringify({bad: bad, width: de.clientWidth, charts: charts,
    tables: document.querySelectorAll("table").length,
    headlines: Array.prototype.map.call(document.querySelectorAll(".verdict .headline"), function (el) { return el.textContent; })});
  document.body.appendChild(out);
})();
</script>"""


@pytest.mark.parametrize("width", [900, 1400])
def test_report_layout_fits_the_window(tmp_path, report_dir, width):
    """At 900 px and 1,400 px nothing is cut off: the page, every table, chart, box and heading fit
    (scrollWidth <= clientWidth, right edge inside the viewport), measured in the page by a probe script
    added to a copy of the report (the report itself has no script)."""
    import json

    page = tmp_path / "probe.html"
    page.write_text((report_dir / "report.html").read_text().replace("</body>", LAYOUT_PROBE + "</body>"))
    proc = run_chromium(tmp_path, page, "--dump-dom", f"--window-size={width},3000", "--hide-scrollbars")
    assert proc.returncode == 0, proc.stderr[-2000:]
    probe = json.loads(re.search(r'<pre id="layout-probe">(.*?)</pre>', proc.stdout, re.S).group(1).replace("&gt;", ">"))
    assert probe["width"] == width  # the window size really applied
    assert probe["bad"] == []
    assert probe["tables"] >= 20 and len(probe["charts"]) >= 8 and min(probe["charts"]) > 300
    assert probe["headlines"][:4] == ["Ship now: new_button", "Ship now: new_creative",
                                      "About 27 day(s) left (until 2026-12-19)",
                                      "Unhealthy: fix the data before reading the results"]
    assert console_messages(proc.stderr) == []


@pytest.mark.parametrize("width", [900, 1400])
def test_report_screenshot_at_width(tmp_path, report_dir, width):
    """The screenshot is the requested width and every horizontal band of the first screen has content
    (header, summary box, table, verdict): not blank, not cut to one colour."""
    shot = tmp_path / f"report-{width}.png"
    proc = run_chromium(tmp_path, report_dir / "report.html", f"--screenshot={shot}", f"--window-size={width},1400",
                        "--hide-scrollbars")
    assert proc.returncode == 0 and shot.exists(), proc.stderr[-2000:]
    w, h, variety = png_size_and_variety(shot)
    assert (w, h) == (width, 1400) and variety > 20
    rows = png_rows(shot)
    for band in range(0, 1400, 200):  # 7 bands of 200 px: each holds text or a table
        assert any(len(set(r)) > 3 for r in rows[band:band + 200]), band
    assert console_messages(proc.stderr) == []


def png_rows(path: Path) -> list[bytes]:
    """Decoded scanlines (filter byte dropped) of an 8-bit RGB(A) PNG."""
    data = path.read_bytes()
    width, height = struct.unpack(">II", data[16:24])
    channels = {2: 3, 6: 4}[data[25]]
    idat, pos = b"", 8
    while pos < len(data):
        length = struct.unpack(">I", data[pos:pos + 4])[0]
        if data[pos + 4:pos + 8] == b"IDAT":
            idat += data[pos + 8:pos + 8 + length]
        pos += 12 + length
    raw = zlib.decompress(idat)
    stride = width * channels + 1
    return [raw[i * stride + 1:(i + 1) * stride] for i in range(height)]
