"""A subscriber in a real browser (headless Chromium): the web version, then unsubscribing.

Runs against a real uvicorn server (test_web's ``serve``) and starts from the link in the
delivered email, exactly as a subscriber would click it. Screenshots go to
``$DIGEST_SCREENSHOT_DIR`` when set, else to the test's tmp_path.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from html import unescape
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

from digest.testing import HOSTILE_TITLE
from test_web import Site, serve

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
WAIT = 20  # seconds, for pages to load after a click


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    yield from serve(tmp_path / "site")


@pytest.fixture
def driver(tmp_path: Path) -> Iterator[webdriver.Chrome]:
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.is_file()]
    if missing:
        message = f"headless Chromium needs {' and '.join(missing)} (apt: chromium chromium-driver)"
        if os.environ.get("CI") == "true":  # .ci/run installs them: missing there is a failure
            pytest.fail(message)
        pytest.skip(message)
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (
        "--headless=new",
        "--no-sandbox",  # we run as root
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
        "--window-size=1000,1400",
    ):
        options.add_argument(flag)
    # An explicit driver path: Selenium Manager is never asked to find or download anything.
    chrome = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    try:
        chrome.set_page_load_timeout(WAIT)
        yield chrome
    finally:
        chrome.quit()


def screenshot(driver: webdriver.Chrome, directory: Path, name: str) -> Path:
    path = directory / f"{name}.png"
    assert driver.save_screenshot(str(path)), path
    return path


@pytest.mark.slow
def test_subscriber_reads_the_web_version_and_unsubscribes_in_a_browser(
    driver: webdriver.Chrome, site: Site, tmp_path: Path
) -> None:
    shots = Path(os.environ.get("DIGEST_SCREENSHOT_DIR") or tmp_path / "screenshots")
    shots.mkdir(parents=True, exist_ok=True)
    wait = WebDriverWait(driver, WAIT)
    archive = site.links("ada", r"/archive/[^/\"]+/[^\"]+")
    assert archive, "ada's email links its web version"
    titles = [
        " ".join(unescape(t).split())
        for t in re.findall(r'class="dg-title"[^>]*>([^<]+)<', site.html("ada"))
    ]
    assert len(titles) == 3, titles

    # The web version shows the email's papers, the hostile title as inert text.
    driver.get(archive[0])
    wait.until(EC.presence_of_element_located((By.LINK_TEXT, "Unsubscribe")))
    text = " ".join(driver.find_element(By.TAG_NAME, "body").text.split())
    missing = [t for t in titles if t not in text]
    assert not missing, f"not on the page: {missing}"
    hostile = "<script>alert(1)</script>"
    assert hostile in HOSTILE_TITLE and any(hostile in t for t in titles)
    assert hostile in text  # shown as text...
    assert driver.find_elements(By.TAG_NAME, "script") == []  # ...never as an element
    assert EC.alert_is_present()(driver) is False  # and nothing ran
    pages = [screenshot(driver, shots, "1-archive")]

    # The footer's Unsubscribe link opens a confirmation page that changes nothing.
    link = driver.find_element(By.LINK_TEXT, "Unsubscribe")
    unsubscribe_url = link.get_attribute("href")
    assert unsubscribe_url in site.links("ada", r"/unsubscribe/[^\"]+")  # the email's link
    link.click()
    if len(driver.window_handles) > 1:  # in case the link opens a new tab
        driver.switch_to.window(driver.window_handles[-1])
    confirm = wait.until(EC.element_to_be_clickable((By.ID, "confirm")))
    assert driver.current_url == unsubscribe_url
    assert "Unsubscribe?" in driver.find_element(By.TAG_NAME, "h1").text
    assert site.subscriber("ada").unsubscribed is False  # opening the link (a GET) did nothing
    pages.append(screenshot(driver, shots, "2-confirm"))

    # Pressing the button unsubscribes, answered in place: no redirect, no cookie.
    confirm.click()
    done = wait.until(EC.visibility_of_element_located((By.ID, "unsubscribed")))
    assert done.text == "You are unsubscribed"
    assert driver.current_url == unsubscribe_url
    assert driver.get_cookies() == []
    assert site.subscriber("ada").unsubscribed
    assert not site.subscriber("grace").unsubscribed
    assert EC.alert_is_present()(driver) is False
    pages.append(screenshot(driver, shots, "3-done"))

    for path in pages:
        data = path.read_bytes()
        assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 5_000, (path, len(data))


@pytest.mark.slow
@pytest.mark.parametrize("name", ["rss.xml", "atom.xml"])
def test_a_feed_opened_in_a_browser_reads_as_a_page_on_following_it(
    driver: webdriver.Chrome, site: Site, tmp_path: Path, name: str
) -> None:
    shots = Path(os.environ.get("DIGEST_SCREENSHOT_DIR") or tmp_path / "screenshots")
    shots.mkdir(parents=True, exist_ok=True)
    (rss,) = set(site.links("ada", r"/feeds/[^/\"]+/rss\.xml"))  # the email's feed link
    url = rss.removesuffix("rss.xml") + name
    titles = [
        " ".join(unescape(t).split())
        for t in re.findall(r'class="dg-title"[^>]*>([^<]+)<', site.html("ada"))
    ]
    pages = []
    for width in (1200, 390):
        driver.set_window_size(width, 1400)
        driver.get(url)
        heading = WebDriverWait(driver, WAIT).until(
            EC.presence_of_element_located((By.TAG_NAME, "h1"))
        )
        assert heading.text.startswith("This is your private feed of")
        text = " ".join(driver.find_element(By.TAG_NAME, "body").text.split())
        assert "feed reader" in text and url in text  # what it is, and the address to copy
        missing = [t for t in titles if t not in text]
        assert not missing, f"not on the page: {missing}"
        assert "—" in heading.text  # the site title's dash: UTF-8, no mojibake
        assert "â€" not in text
        assert "Why:" in text and "Score" not in text
        assert driver.find_elements(By.TAG_NAME, "script") == []  # the hostile title is text
        assert EC.alert_is_present()(driver) is False
        scroll = driver.execute_script(
            "return document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert scroll <= 0, f"{width} px: {scroll} px of sideways scroll"
        pages.append(screenshot(driver, shots, f"feed-{name}-{width}"))
    for path in pages:
        data = path.read_bytes()
        assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 5_000, (path, len(data))
