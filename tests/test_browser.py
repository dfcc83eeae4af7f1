"""``audit.html`` read in a real browser: Debian's headless Chromium driven by Selenium.

The report is small (a few claims on their reference points, hand-made benchmark, capacity
and regime payloads in the shapes the commands write), so the test runs in seconds. It opens
the page offline (``file://``) at a fixed window size and checks what a reader would notice:
figures shown at a readable size, summary links that land on exactly one element, unique
ids, nothing wider than the window. One screenshot per section is kept as an artefact in
the test's temporary folder, ``<pytest basetemp>/test_audit_html_reads_right_in0/screenshots/
ID.png``, one per section id (basetemp is ``/tmp/pytest-of-$USER/pytest-current/`` unless
``--basetemp`` says otherwise).

Skipped, with the reason, only where Selenium, Chromium or chromedriver is not installed;
``.ci/run`` installs all three, so CI runs it.
"""

from __future__ import annotations

import copy
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from properties.registry import get_claim
from tests.test_report_sections import CAPACITY, REGIME
from verify.audit import AuditOptions, run_audit, write_audit

#: Window size the page is read at; figures must be shown at least this wide (CSS px).
WINDOW = (1280, 1000)
MIN_FIGURE_PX = 400

#: Claims with plottable records (prompt-length figure, exact zeros, counts at the bound).
CLAIMS = ("readout_is_last_l_columns", "constructive_lengths_respect_lower_bound",
          "pigeonhole_forces_shared_prompt", "lower_bound_formulas_agree")

BENCH: dict[str, Any] = {
    "B": 0.5, "s": 8, "d": 8, "delta_F": 1e-6, "method": "chebyshev", "degree": 5,
    "rank": 1287, "n": 2048, "seconds_fast": 0.14, "seconds_exact_best": 0.37,
    "exact_best_method": "sdpa_chunked", "speedup": 2.66, "max_error": 2.3e-10,
    "bound": 5.4e-8, "slope_fast": 0.57, "slope_exact": 2.04, "device": "cpu: test",
    "quick": True, "source": "bench-kernel.json",
    "rows": [{"method": m, "B": 0.5, "n": n, "seconds": t * n / 512, "max_error": e}
             for m, t, e in (("exact_reference", 0.02, 0.0), ("polynomial", 0.06, 3e-10),
                             ("sdpa_chunked", 0.03, 1e-16))
             for n in (512, 1024, 2048)],
}


def _chromium() -> tuple[str, str]:
    """Paths of the Chromium binary and its driver, or skip saying what is missing."""
    pytest.importorskip("selenium", reason="selenium is not installed (pip install selenium)")
    browser = next((p for name in ("chromium", "chromium-browser", "google-chrome")
                    if (p := shutil.which(name))), None)
    driver = shutil.which("chromedriver")
    if browser is None or driver is None:
        pytest.skip("Chromium or chromedriver is not installed "
                    "(apt-get install chromium chromium-driver)")
    return browser, driver


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    report = run_audit([get_claim(c) for c in CLAIMS], AuditOptions(seed=0, draws=0, jobs=1))
    report["benchmarks"] = copy.deepcopy(BENCH)
    report["real_models"] = [copy.deepcopy(REGIME)]
    report["capacity"] = copy.deepcopy(CAPACITY)
    out = tmp_path_factory.mktemp("report")
    write_audit(report, out)
    return out / "audit.html"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    binary, driver_path = _chromium()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--hide-scrollbars", "--force-device-scale-factor=1",
                f"--window-size={WINDOW[0]},{WINDOW[1]}"):
        options.add_argument(arg)
    # An explicit driver path: Selenium Manager would otherwise try to reach the network.
    driver = webdriver.Chrome(options=options, service=Service(executable_path=driver_path))
    try:
        yield driver
    finally:
        driver.quit()


def test_audit_html_reads_right_in_a_browser(page: Path, browser: Any,
                                             tmp_path: Path) -> None:
    """Figures readable, links resolve, ids unique, no horizontal overflow; screenshots of
    every section in ``tmp_path / "screenshots"``."""
    assert page.stat().st_size < 1_000_000
    browser.get(page.as_uri())
    assert browser.title == "ptlimits audit"
    js = browser.execute_script

    images = js("return [...document.images].map(i => ({alt: i.alt, complete: i.complete, "
                "natural: i.naturalWidth, width: i.getBoundingClientRect().width, "
                "shown: i.offsetParent !== null}))")
    titles = {image["alt"] for image in images}
    for expected in ("Polynomial-method kernel", "Prompt length", "Real models",
                     "Empirical capacity"):
        assert any(t.startswith(expected) for t in titles), (expected, sorted(titles))
    for image in images:
        assert image["complete"] and image["shown"], image
        assert image["natural"] >= MIN_FIGURE_PX and image["width"] >= MIN_FIGURE_PX, image

    ids = js("return [...document.querySelectorAll('[id]')].map(e => e.id)")
    assert len(ids) == len(set(ids)), sorted(i for i in set(ids) if ids.count(i) > 1)
    links = js("return [...document.querySelectorAll('a[href^=\"#\"]')]"
               ".map(a => a.getAttribute('href').slice(1))")
    assert {f"claim-{c}" for c in CLAIMS} <= set(links)
    for target in links:
        assert js("return document.querySelectorAll('[id=\"' + arguments[0] + '\"]').length",
                  target) == 1, target

    width = js("return window.innerWidth")
    assert js("return document.documentElement.scrollWidth") <= width
    too_wide = js("""return [...document.querySelectorAll('table, img, pre, figure, .scroll')]
        .filter(e => !e.closest('details:not([open])'))
        .map(e => [e.tagName, e.className, e.getBoundingClientRect()])
        .filter(([t, c, r]) => r.left < 0 || r.right > arguments[0] + 0.5)
        .map(([t, c, r]) => t + '.' + c + ' ' + r.left + '..' + r.right)""", width)
    assert not too_wide, too_wide

    shots = tmp_path / "screenshots"
    shots.mkdir()
    sections = browser.find_elements("css selector", "h2[id]")
    header = json.loads((page.parent / "audit.json").read_text())["header"]
    lemmas = ["lemmas"] if header.get("lemmas") else []      # present where coqc ran
    assert [s.get_attribute("id") for s in sections] == [
        "summary", "attention", *lemmas, "benchmark", "figures", "real-models", "capacity",
        "claims"]
    for section in sections:
        js("arguments[0].scrollIntoView()", section)
        assert browser.save_screenshot(str(shots / f"{section.get_attribute('id')}.png"))
    assert len(list(shots.glob("*.png"))) == len(sections)
