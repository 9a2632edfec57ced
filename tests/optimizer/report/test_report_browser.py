"""report.html in a real headless Chromium at 900 and 1,400 px: no console errors, nothing cut off, content.

Mechanism as in tests/experiments/test_report_browser.py: Debian's ``chromium`` with
``--enable-logging=stderr --v=0`` logs console messages as ``INFO:CONSOLE``. "Nothing cut off" is
measured in the page: a copy of the report gets a probe script that lists every element whose right
edge passes the viewport and every scroll box whose content is wider than the box; a positive
control at 500 px proves the probe sees overflow. Screenshots are read back (matplotlib's PNG
reader) and checked for the header colour, the recommendation bar and the charts' colours.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from optimizer.cli import app

ROOT = Path(__file__).resolve().parents[3]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install chromium)")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--enable-logging=stderr", "--v=0"]
PROBE = """<script>
window.addEventListener("load", () => {
  const vw = document.documentElement.clientWidth, out = [];
  if (document.documentElement.scrollWidth > vw) out.push("page " + document.documentElement.scrollWidth);
  for (const el of document.querySelectorAll("body *")) {
    const r = el.getBoundingClientRect();
    if (r.width > 0 && r.right > vw + 0.5) out.push(el.tagName + " right " + Math.round(r.right));
    if (el.classList.contains("scroll") && el.scrollWidth > el.clientWidth) out.push("scroll box " + el.scrollWidth);
  }
  const p = document.createElement("pre"); p.id = "layout"; p.textContent = "LAYOUT=" + JSON.stringify(out);
  document.body.appendChild(p);
});
</script></body>"""


def chromium(tmp_path: Path, page: Path, *extra: str) -> subprocess.CompletedProcess:
    profile = tmp_path / f"profile-{len(list(tmp_path.glob('profile-*')))}"
    return subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *extra, page.resolve().as_uri()],
                          capture_output=True, text=True, timeout=90, check=False)


def console_messages(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if re.search(r"CONSOLE|Uncaught|net::ERR_", line)]


def overflow(tmp_path: Path, report: Path, width: int) -> tuple[list[str], str, list[str]]:
    probe = tmp_path / f"probe-{width}.html"
    probe.write_text(report.read_text(encoding="utf-8").replace("</body>", PROBE), encoding="utf-8")
    proc = chromium(tmp_path, probe, "--dump-dom", f"--window-size={width},1600")
    assert proc.returncode == 0, proc.stderr[-2000:]
    found = re.search(r"LAYOUT=(\[.*?\])</pre>", proc.stdout)
    assert found, "the probe did not run"
    return json.loads(found.group(1).replace("&gt;", ">")), proc.stdout, console_messages(proc.stderr)


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("plan")
    res = CliRunner().invoke(app, ["plan", str(ROOT / "scenarios" / "media_plan.yaml"), "--out", str(out), "-q"])
    assert res.exit_code == 0, res.output
    return out / "report.html"


def test_probe_sees_overflow_at_500px(tmp_path, report):
    """Positive control: the wide tables do not fit 500 px, and the probe says so."""
    problems, _, _ = overflow(tmp_path, report, 500)
    assert problems


@pytest.mark.parametrize("width", [900, 1400])
def test_report_fits_and_has_no_console_errors(tmp_path, report, width):
    problems, dom, messages = overflow(tmp_path, report, width)
    assert problems == []
    assert messages == []
    assert "<title>Plan: media-plan-q1</title>" in dom
    assert re.search(r'id="sentence">Moving \$[\d.]+k from display to ', dom)
    assert re.search(r'<tr class="total"><td class="l">total</td><td class="l"></td>(<td>[\d,]+</td>){8}<td>800,000</td></tr>', dom)
    assert 'id="current-table"' in dom and "Recommendations, ranked by value" in dom
    assert dom.count('<img class="chart"') >= 5


@pytest.mark.parametrize("width", [900, 1400])
def test_screenshot_shows_the_expected_content(tmp_path, report, width):
    from matplotlib.image import imread

    shot = tmp_path / f"shot-{width}.png"
    proc = chromium(tmp_path, report, f"--screenshot={shot}", f"--window-size={width},2200", "--hide-scrollbars")
    assert proc.returncode == 0 and shot.exists(), proc.stderr[-2000:]
    img = (imread(shot)[..., :3] * 255).round().astype(int)
    assert img.shape[:2] == (2200, width)

    def has(color, rows=slice(None)) -> bool:
        return bool((np.abs(img[rows] - np.array(color)).max(axis=-1) <= 6).any())

    header = img[5:40, 5:width - 5]
    assert (np.abs(header - [0x1F, 0x3B, 0x5C]).max(axis=-1) <= 6).mean() > 0.8  # the dark header bar
    assert has([0x2C, 0xA0, 0x2C], slice(0, 600))  # the green bar of the current-vs-recommended sentence
    assert has([0x31, 0x82, 0xBD])  # recommended bars of the current-vs-recommended chart
    assert has([0x1F, 0x77, 0xB4]) and has([0xFF, 0x7F, 0x0E])  # flighting chart channel colours
    assert console_messages(proc.stderr) == []


def test_all_sections_report_fits_900px(tmp_path_factory, tmp_path):
    """experiments + churn + bandit + budget in one plan: each section has its table and chart, and fits."""
    out = tmp_path_factory.mktemp("campaign")
    res = CliRunner().invoke(app, ["plan", str(ROOT / "scenarios" / "campaign_plan.yaml"), "--out", str(out), "-q"])
    assert res.exit_code == 0, res.output
    problems, dom, messages = overflow(tmp_path, out / "report.html", 900)
    assert problems == [] and messages == []
    for name in ("experiments", "churn", "bandit"):
        section = re.search(rf'<section id="section-{name}">(.*?)</section>', dom, re.S)
        assert section and '<img class="chart"' in section.group(1), name
