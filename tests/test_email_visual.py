"""The default digest email in a real browser (headless Chromium): desktop, phone, dark mode.

The email is made by the main job on the embedded default (``digest run``: the bundled demo
papers, default settings) and opened as the file it writes. At 390 px (a phone) each paper
takes at most 450 px of height on average — its card and its line in the contents — no card
is taller than that, every link is a tap target at least 44 px tall, and nothing scrolls
sideways. Screenshots go to ``$DIGEST_SCREENSHOT_DIR`` when set, else to the test's tmp_path.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from selenium import webdriver
from test_browser import driver, screenshot  # noqa: F401  (the driver fixture)

PHONE, DESKTOP = 390, 1200
MAX_HEIGHT_PER_PAPER = 450
MIN_TAP = 44

MEASURE = """
const rect = e => e.getBoundingClientRect();
const cards = [...document.querySelectorAll('.dg-card[id]')];
const rows = [...document.querySelectorAll('.dg-toc-link')];
const links = [...document.querySelectorAll('a')].filter(a => rect(a).width > 0);
return {
  cards: cards.map(c => rect(c).height),
  rows: rows.map(r => rect(r).height),
  small: links.filter(a => rect(a).height < arguments[0])
              .map(a => [a.textContent.trim().slice(0, 40), rect(a).height]),
  links: links.length,
  scroll: document.documentElement.scrollWidth - document.documentElement.clientWidth,
  images: [...document.querySelectorAll('img')].map(i => i.alt),
  why: [...document.querySelectorAll('.dg-why')].map(w => w.textContent),
  background: getComputedStyle(document.querySelector('.dg-sheet') || document.body)
                .backgroundColor,
};
"""


@pytest.fixture(scope="module")
def email(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """ada's email from the main job on the embedded default."""
    folder = tmp_path_factory.mktemp("default-job")
    script = Path(sys.executable).parent / "digest"
    result = subprocess.run(
        [str(script), "run"], cwd=folder, capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, result.stderr
    (html,) = (folder / "digests" / "ada").glob("*/digest.html")
    return html


def look(chrome: webdriver.Chrome, page: Path, width: int, *, dark: bool = False) -> Any:
    chrome.set_window_size(width, 1000)
    chrome.execute_cdp_cmd(
        "Emulation.setEmulatedMedia",
        {"features": [{"name": "prefers-color-scheme", "value": "dark" if dark else "light"}]},
    )
    chrome.get(page.as_uri())
    return chrome.execute_script(MEASURE, MIN_TAP)


@pytest.mark.slow
def test_the_default_email_scans_on_a_phone_desktop_and_in_dark_mode(
    driver: webdriver.Chrome,  # noqa: F811
    email: Path,
    tmp_path: Path,
) -> None:
    shots = Path(os.environ.get("DIGEST_SCREENSHOT_DIR") or tmp_path / "screenshots")
    shots.mkdir(parents=True, exist_ok=True)
    pages = []
    for name, width, dark in (
        ("email-desktop", DESKTOP, False),
        ("email-phone", PHONE, False),
        ("email-phone-dark", PHONE, True),
    ):
        seen = look(driver, email, width, dark=dark)
        pages.append(screenshot(driver, shots, name))
        cards, rows = seen["cards"], seen["rows"]
        assert len(cards) >= 3 and len(rows) == len(cards), (len(cards), len(rows))
        assert seen["small"] == [], f"{name}: tap targets under {MIN_TAP} px: {seen['small']}"
        assert seen["scroll"] <= 0, f"{name}: {seen['scroll']} px of sideways scroll"
        assert all(w.startswith("Why: ") and w.endswith(".") for w in seen["why"]), seen["why"]
        if width == PHONE:
            per_paper = (sum(cards) + sum(rows)) / len(cards)
            assert per_paper <= MAX_HEIGHT_PER_PAPER, f"{name}: {per_paper:.0f} px per paper"
            assert max(cards) <= MAX_HEIGHT_PER_PAPER, f"{name}: a card of {max(cards):.0f} px"
        sheet = seen["background"]
        assert (sheet == "rgb(22, 27, 34)") is dark, f"{name}: sheet colour {sheet}"
    for name, width, dark in (("email-desktop", DESKTOP, False), ("email-phone", PHONE, False)):
        look(driver, email, width, dark=dark)  # full height, for people reviewing them
        height = driver.execute_script("return document.documentElement.scrollHeight")
        driver.set_window_size(width, min(int(height) + 120, 12_000))
        pages.append(screenshot(driver, shots, f"{name}-full"))
    for path in pages:
        data = path.read_bytes()
        assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 5_000, (path, len(data))
