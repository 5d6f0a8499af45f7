"""Sign-up with double opt-in, end to end, against a real uvicorn server on 127.0.0.1.

Emails go through the ``smtp`` deliverer to an in-process SMTP server (tests/smtpsink.py),
so every link a reader follows is taken from a message as it arrived. The first test walks
the whole journey in headless Chromium (form, live preview, subscribe, confirmation email,
confirm, preferences, first digest) with screenshots at desktop and phone width; the others
drive the same server over HTTP with httpx (CSRF, rate limits, honeypot, tokens, hostile
input, modes, deletion, export, re-subscription).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from collections.abc import Iterator
from html import unescape
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
import time_machine
from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait
from signupsite import (
    ROBOT_TITLES,
    SECRET,
    SignupSite,
    bodies,
    confirm_link,
    csrf_of,
    serve_signup,
)

from digest.store.schema import deliveries
from digest.tokens import Tokens

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
WAIT = 20  # seconds, for pages to load after a click
DESKTOP = (1280, 900)
PHONE = (390, 844)


@pytest.fixture
def site(tmp_path: Path) -> Iterator[SignupSite]:
    yield from serve_signup(tmp_path / "site")


# -- the journey in a browser ----------------------------------------------------------------


@pytest.fixture
def driver(tmp_path: Path) -> Iterator[webdriver.Chrome]:
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.is_file()]
    if missing:
        message = f"headless Chromium needs {' and '.join(missing)} (apt: chromium chromium-driver)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
        f"--window-size={DESKTOP[0]},{DESKTOP[1]}",
    ):
        options.add_argument(flag)
    chrome = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    try:
        chrome.set_page_load_timeout(WAIT)
        yield chrome
    finally:
        chrome.quit()


def viewport(driver: webdriver.Chrome, width: int, height: int) -> None:
    """Make the page's viewport ``width`` x ``height`` CSS pixels (what a device shows)."""
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600},
    )


def shoot(driver: webdriver.Chrome, directory: Path, name: str) -> list[Path]:
    """Screenshots of the current page at desktop and phone width; at phone width the page
    must not scroll sideways. Leaves the desktop viewport in place."""
    paths = []
    for label, (width, height) in (("desktop", DESKTOP), ("phone", PHONE)):
        viewport(driver, width, height)
        inner = driver.execute_script("return window.innerWidth")
        assert inner == width, (name, label, inner)
        if label == "phone":
            scroll, wide = driver.execute_script(
                "const d = document.documentElement;"
                "const wide = [...document.querySelectorAll('body *')]"
                "  .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1)"
                "  .slice(0, 5).map(e => e.tagName + '.' + e.className + '#' + e.id);"
                "return [d.scrollWidth, wide];"
            )
            assert scroll <= inner + 1, f"{name}: scrolls sideways at {width}px ({scroll}): {wide}"
        path = directory / f"{name}-{label}.png"
        assert driver.save_screenshot(str(path)), path
        paths.append(path)
    viewport(driver, *DESKTOP)
    return paths


def body_text(driver: webdriver.Chrome) -> str:
    return " ".join(driver.find_element(By.TAG_NAME, "body").text.split())


def click(driver: webdriver.Chrome, element: WebElement) -> None:
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", element)
    element.click()


def submit(driver: webdriver.Chrome, element: WebElement) -> None:
    """Click ``element`` and wait until the next page replaced this one."""
    old = driver.find_element(By.TAG_NAME, "html")
    click(driver, element)
    WebDriverWait(driver, WAIT, ignored_exceptions=(WebDriverException,)).until(
        EC.staleness_of(old)
    )


@pytest.mark.slow
def test_a_reader_signs_up_confirms_edits_and_gets_a_digest_in_a_browser(
    driver: webdriver.Chrome, site: SignupSite, tmp_path: Path
) -> None:
    shots = tmp_path / "screenshots"
    shots.mkdir()
    # while a page is swapped for the next, Chromium may answer "Node with given id does not
    # belong to the document" (a WebDriverException): the waits try again
    wait = WebDriverWait(driver, WAIT, ignored_exceptions=(WebDriverException,))
    address = "reader@example.org"
    pages: list[Path] = []

    # The form, then the live preview: papers with their reasons, nothing stored.
    driver.get(f"{site.url}/subscribe")
    wait.until(EC.presence_of_element_located((By.ID, "profile-form")))
    pages += shoot(driver, shots, "1-subscribe")
    driver.find_element(By.ID, "email").send_keys(address)
    driver.find_element(By.ID, "keywords").send_keys("robot")
    category = driver.find_element(By.CSS_SELECTOR, 'input[name="categories"][value="cs.RO"]')
    click(driver, category)
    assert category.is_selected()
    # profile.js fetches the preview as the reader types (the button works without it)
    wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "#preview .paper")))
    assert driver.find_element(By.ID, "email").get_attribute("value") == address  # same page
    submit(driver, driver.find_element(By.CSS_SELECTOR, 'button[value="preview"]'))
    wait.until(EC.presence_of_element_located((By.CSS_SELECTOR, "#preview .paper")))
    preview = driver.find_element(By.ID, "preview")
    papers = preview.find_elements(By.CSS_SELECTOR, ".paper")
    assert papers, preview.text
    shown = " ".join(preview.text.split())
    assert any(title in shown for title in ROBOT_TITLES), shown
    assert "Small language model reasoning" not in shown
    assert all("Why:" in p.text for p in papers), [p.text for p in papers]
    # the form keeps what was typed
    assert driver.find_element(By.ID, "email").get_attribute("value") == address
    assert driver.find_element(
        By.CSS_SELECTOR, 'input[name="categories"][value="cs.RO"]'
    ).is_selected()
    assert site.store.subscriber_id_by_email(address) is None  # a preview stores nothing
    pages += shoot(driver, shots, "2-preview")

    # Subscribe: "check your inbox", and one confirmation email with a text and an HTML part.
    submit(driver, driver.find_element(By.CSS_SELECTOR, 'button[value="subscribe"]'))
    wait.until(EC.text_to_be_present_in_element((By.TAG_NAME, "h1"), "Check your inbox"))
    assert address in body_text(driver)
    pages += shoot(driver, shots, "3-check-your-inbox")
    assert site.status(address) == "pending"
    mails = site.mails(address)
    assert len(mails) == 1, [m["Subject"] for m in mails]
    assert "Confirm" in str(mails[0]["Subject"])
    link = confirm_link(mails[0], site.url)

    # Opening the link (as a mail scanner would) changes nothing; the button confirms.
    driver.get(link)
    button = wait.until(EC.element_to_be_clickable((By.XPATH, '//button[text()="Confirm"]')))
    assert address in body_text(driver)
    sid = site.store.subscriber_id_by_email(address)
    assert sid is not None
    stored = site.store.subscriber(sid)
    assert stored is not None and stored.status == "pending"
    pages += shoot(driver, shots, "4-confirm")
    button = driver.find_element(By.XPATH, '//button[text()="Confirm"]')
    submit(driver, button)
    wait.until(EC.text_to_be_present_in_element((By.TAG_NAME, "h1"), "You're subscribed"))
    stored = site.store.subscriber(sid)
    assert stored is not None and stored.status == "active"
    pages += shoot(driver, shots, "5-subscribed")

    # The preferences page: change the keywords, save.
    submit(driver, driver.find_element(By.LINK_TEXT, "Your preferences"))
    keywords = wait.until(EC.presence_of_element_located((By.ID, "keywords")))
    assert keywords.get_attribute("value") == "robot"
    pages += shoot(driver, shots, "6-preferences")
    keywords = driver.find_element(By.ID, "keywords")
    keywords.clear()
    keywords.send_keys("robot, grasping")
    submit(driver, driver.find_element(By.XPATH, '//button[text()="Save"]'))
    wait.until(EC.text_to_be_present_in_element((By.CSS_SELECTOR, ".notice"), "Saved"))
    assert driver.find_element(By.ID, "keywords").get_attribute("value") == "robot, grasping"
    stored = site.store.subscriber(sid)
    assert stored is not None
    assert stored.subscriber.profile.keywords == ("robot", "grasping")
    assert stored.subscriber.profile.categories == ("cs.RO",)
    pages += shoot(driver, shots, "7-saved")

    # The next run sends this reader's first digest through SMTP.
    report = site.pipeline.run()
    assert not report.problems, report
    digests = [m for m in site.mails(address) if "Confirm" not in str(m["Subject"])]
    assert len(digests) == 1, [m["Subject"] for m in site.mails(address)]
    text, html = bodies(digests[0])
    assert "Robot grasping with tactile skins" in text
    assert "Robot grasping with tactile skins" in unescape(html)

    assert len(pages) == 14
    for path in pages:
        data = path.read_bytes()
        assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 5_000, (path, len(data))


# -- over HTTP ------------------------------------------------------------------------------


def _normalised(html: str, *addresses: str) -> str:
    out = re.sub(r'name="csrf" value="[^"]+"', 'name="csrf" value="-"', html)
    for address in addresses:
        out = out.replace(address, "ADDRESS")
    return out


def test_known_and_unknown_addresses_get_the_same_answer_and_one_email_each(
    site: SignupSite,
) -> None:
    known, unknown = "ada@example.org", "newcomer@example.org"
    assert site.status(known) == "active" and site.status(unknown) is None
    sent_before = len(site.mails(known))
    answers = [site.subscribe(known), site.subscribe(unknown)]
    assert [a.status_code for a in answers] == [200, 200]
    assert "Check your inbox" in answers[0].text
    assert _normalised(answers[0].text, known) == _normalised(answers[1].text, unknown)
    headers = [
        {k: v for k, v in a.headers.items() if k not in ("date", "content-length", "set-cookie")}
        for a in answers
    ]
    assert headers[0] == headers[1]
    # one email each: the newcomer a confirmation link, ada a link to her preferences
    new_mails = site.mails(unknown)
    assert len(new_mails) == 1
    confirm_link(new_mails[0], site.url)
    known_mails = site.mails(known)[sent_before:]
    assert len(known_mails) == 1
    text, html = bodies(known_mails[0])
    assert "manage your subscription" in text.casefold()
    assert f"{site.url}/preferences/" in text and "/confirm/" not in text
    assert f"{site.url}/preferences/" in html and "/confirm/" not in html
    # the same mailbox in other letter case is the known address, not a second sign-up
    assert site.subscribe("ADA@Example.ORG").status_code == 200
    assert len(site.mails(known)) == sent_before + 2
    assert "/confirm/" not in bodies(site.mails(known)[-1])[0]
    assert site.status(known) == "active" and site.status(unknown) == "pending"


def test_a_post_without_the_forms_token_or_with_another_browsers_is_refused(
    site: SignupSite,
) -> None:
    address = "csrf@example.org"
    site.csrf()  # this client has its cookie
    fields = {"email": address, "keywords": "robot", "channels": "email", "action": "subscribe"}
    missing = site.http.post("/subscribe", data=fields)
    assert missing.status_code == 403
    with httpx.Client(base_url=site.url, timeout=30) as other:
        theirs = site.csrf(client=other)
    foreign = site.http.post("/subscribe", data={**fields, "csrf": theirs})
    assert foreign.status_code == 403
    # no cookie at all, with a token that was valid for some browser
    with httpx.Client(base_url=site.url, timeout=30) as bare:
        assert bare.post("/subscribe", data={**fields, "csrf": theirs}).status_code == 403
    # a cross-site origin, with a good token and cookie
    mine = site.csrf()
    cross = site.http.post(
        "/subscribe",
        data={**fields, "csrf": mine},
        headers={"Origin": "https://evil.example"},
    )
    assert cross.status_code == 403
    assert site.store.subscriber_id_by_email(address) is None
    assert site.mails(address) == []


def test_per_ip_limit_answers_429_with_retry_after(tmp_path: Path) -> None:
    for site in serve_signup(tmp_path, per_ip="2/minute"):
        answers = [site.subscribe(f"limit{n}@example.org") for n in range(3)]
        assert [a.status_code for a in answers] == [200, 200, 429]
        retry = answers[2].headers.get("retry-after")
        assert retry is not None and 1 <= int(retry) <= 60, retry
        assert "Too many attempts" in answers[2].text
        assert site.status("limit0@example.org") == "pending"
        assert site.status("limit2@example.org") is None
        assert site.mails("limit2@example.org") == []


def test_the_honeypot_gets_the_same_page_and_nothing_is_stored(site: SignupSite) -> None:
    bot, person = "bot@example.org", "person@example.org"
    trapped = site.subscribe(bot, website="http://spam.example")
    genuine = site.subscribe(person)
    assert trapped.status_code == genuine.status_code == 200
    assert _normalised(trapped.text, bot) == _normalised(genuine.text, person)
    assert site.store.subscriber_id_by_email(bot) is None
    assert site.mails(bot) == []
    assert site.status(person) == "pending"


def test_expired_forged_and_foreign_tokens_get_404_on_confirm(site: SignupSite) -> None:
    address = "tokens@example.org"
    assert site.subscribe(address).status_code == 200
    sid = site.store.subscriber_id_by_email(address)
    assert sid is not None
    tokens = Tokens(SECRET)
    fresh = tokens.make_timed("confirm", sid)
    assert site.http.get(f"/confirm/{fresh}").status_code == 200  # the control
    with time_machine.travel(dt.datetime.now(dt.UTC) - dt.timedelta(days=8), tick=False):
        expired = tokens.make_timed("confirm", sid)
    forged = fresh[:-3] + ("AAA" if not fresh.endswith("AAA") else "BBB")
    other_purpose = tokens.make("preferences", sid)
    form_token = tokens.make_timed("form", sid)
    other_key = Tokens("not-the-secret").make_timed("confirm", sid)
    for token in (expired, forged, other_purpose, form_token, other_key, "nonsense"):
        page = site.http.get(f"/confirm/{token}")
        assert page.status_code == 404, (token, page.status_code)
        post = site.http.post(f"/confirm/{token}", data={"csrf": site.csrf()})
        assert post.status_code == 404, (token, post.status_code)
    # the good token still needs the form's CSRF token to confirm
    assert site.http.post(f"/confirm/{fresh}").status_code == 403
    assert site.http.post(f"/confirm/{fresh}", data={"csrf": "x"}).status_code == 403
    assert site.status(address) == "pending"
    # reading an old token with max_age=0 fails too (the signature itself is fine)
    assert tokens.read_timed("confirm", expired, max_age=0) is None
    assert tokens.read_timed("confirm", expired, max_age=30 * 86400) == sid


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"email": "evil@example.org\r\nBcc: victim@example.org"}, "email", "one line"),
        ({"email": "evil@example.org\nBcc: victim@example.org"}, "email", "one line"),
        ({"keywords": "robot, " * 1430}, "keywords", "at most 1000 characters"),
    ],
    ids=["crlf-email", "lf-email", "10k-keywords"],
)
def test_hostile_fields_get_400_with_a_readable_error(
    site: SignupSite, fields: dict[str, str], field: str, words: str
) -> None:
    if field == "keywords":
        assert len(fields["keywords"]) >= 10_000
    address = fields.get("email", "hostile@example.org")
    answer = site.subscribe(address, **{k: v for k, v in fields.items() if k != "email"})
    assert answer.status_code == 400, answer.status_code
    assert answer.headers["content-type"].startswith("text/html")
    error = re.search(rf'id="{field}-error">([^<]*)<', answer.text)
    assert error is not None and words in unescape(error.group(1)), answer.text[:2000]
    assert "Please check the fields marked below" in answer.text
    assert len(site.sink.received) == 1  # only ada's digest from the first run
    assert site.store.subscriber_id_by_email("evil@example.org") is None
    assert site.store.subscriber_id_by_email("hostile@example.org") is None
    # the preview of the same form answers too (never a 5xx)
    preview = site.subscribe(
        address, action="preview", **{k: v for k, v in fields.items() if k != "email"}
    )
    assert preview.status_code < 500


def test_an_idn_address_is_accepted(site: SignupSite) -> None:
    address = "forskare@exempel.bücher.de"
    answer = site.subscribe(address)
    assert answer.status_code == 200, answer.text[:2000]
    assert "Check your inbox" in answer.text
    assert site.status(address) == "pending"
    sent = site.mails(address) or site.mails("forskare@exempel.xn--bcher-kva.de")
    assert len(sent) == 1, [r.rcpt_tos for r in site.sink.received]
    confirm_link(sent[0], site.url)


def test_closed_sign_up_is_not_found(tmp_path: Path) -> None:
    for site in serve_signup(tmp_path, mode="closed"):
        assert site.http.get("/subscribe").status_code == 404
        assert site.http.post("/subscribe", data={"email": "x@example.org"}).status_code == 404


def test_domains_mode_refuses_other_domains_with_a_field_error(tmp_path: Path) -> None:
    for site in serve_signup(tmp_path, mode="domains", allowed_domains=["lab.example.org"]):
        refused = site.subscribe("outsider@example.com")
        assert refused.status_code == 400
        error = re.search(r'id="email-error">([^<]*)<', refused.text)
        assert error is not None and "lab.example.org" in error.group(1), refused.text[:2000]
        assert site.store.subscriber_id_by_email("outsider@example.com") is None
        # a look-alike domain is no subdomain
        assert site.subscribe("x@evillab.example.org").status_code == 400
        for address in ("member@lab.example.org", "member@robots.lab.example.org"):
            answer = site.subscribe(address)
            assert answer.status_code == 200 and "Check your inbox" in answer.text
            assert site.status(address) == "pending"


def _preferences_url(site: SignupSite, sid: int) -> str:
    return f"/preferences/{Tokens(SECRET).make('preferences', sid)}"


def test_delete_me_removes_the_profile_and_keeps_the_ledger(site: SignupSite) -> None:
    address = "leaving@example.org"
    sid = site.confirmed(address)
    assert site.pipeline.run().delivered == 1
    with site.store.engine.connect() as conn:
        count = sa.select(sa.func.count()).where(deliveries.c.subscriber_id == sid)
        delivered = conn.execute(count).scalar_one()
    assert delivered >= 1
    prefs = _preferences_url(site, sid)
    page = site.http.get(prefs)
    assert page.status_code == 200 and "Delete me" in page.text
    # without the tick box nothing happens
    unticked = site.http.post(f"{prefs}/delete", data={"csrf": csrf_of(page.text)})
    assert unticked.status_code == 200 and "Tick the box" in unticked.text
    assert site.status(address) == "active"
    done = site.http.post(f"{prefs}/delete", data={"csrf": csrf_of(page.text), "confirm": "yes"})
    assert done.status_code == 200 and "Deleted" in done.text
    stored = site.store.subscriber(sid)
    assert stored is None or stored.status == "deleted"
    if stored is not None:
        assert stored.subscriber.email is None and address not in stored.subscriber.name
    assert site.store.subscriber_id_by_email(address) is None
    with site.store.engine.connect() as conn:
        assert conn.execute(count).scalar_one() == delivered
    assert site.http.get(prefs).status_code == 404  # the links no longer work


def test_export_json_returns_the_subscribers_settings(site: SignupSite) -> None:
    address = "exporter@example.org"
    sid = site.confirmed(address)
    answer = site.http.get(f"{_preferences_url(site, sid)}/export.json")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/json")
    assert "attachment" in answer.headers["content-disposition"]
    data = answer.json()
    assert data["status"] == "active"
    settings = data["settings"]
    assert settings["email"] == address
    assert settings["keywords"] == ["robot"] and settings["categories"] == ["cs.RO"]
    assert json.dumps(data).count("ada@example.org") == 0  # nobody else's data


def test_resubscribing_after_unsubscribing_sends_a_fresh_confirmation(site: SignupSite) -> None:
    address = "returning@example.org"
    sid = site.confirmed(address)
    unsubscribe = Tokens(SECRET).make("unsubscribe", sid)
    gone = site.http.post(f"/unsubscribe/{unsubscribe}", data={"List-Unsubscribe": "One-Click"})
    assert gone.status_code == 200
    assert site.status(address) == "unsubscribed"
    prefs = _preferences_url(site, sid)
    page = site.http.get(prefs)
    assert page.status_code == 200 and "Subscribe again" in page.text
    before = len(site.mails(address))
    again = site.http.post(f"{prefs}/resubscribe", data={"csrf": csrf_of(page.text)})
    assert again.status_code == 200 and "We sent a confirmation link" in again.text
    mails = site.mails(address)
    assert len(mails) == before + 1
    link = confirm_link(mails[-1], site.url)
    assert site.status(address) == "unsubscribed"
    opened = site.http.get(link)
    assert opened.status_code == 200
    assert site.status(address) == "unsubscribed"  # the GET changed nothing
    done = site.http.post(link, data={"csrf": csrf_of(opened.text)})
    assert done.status_code == 200 and "You're subscribed" in unescape(done.text)
    assert site.status(address) == "active"
    assert site.pipeline.run().delivered >= 1
    assert any("Confirm" not in str(m["Subject"]) for m in site.mails(address)[before + 1 :])


def test_links_of_a_deleted_subscriber_never_open_someone_elses_subscription(
    site: SignupSite,
) -> None:
    """ "Delete me" before any delivery removes the row; the next sign-up must not inherit its
    id, or the deleted reader's (non-expiring) links would open the newcomer's preferences."""
    first = site.confirmed("first@example.org")
    old_links = [
        _preferences_url(site, first),
        f"{_preferences_url(site, first)}/export.json",
        f"/feeds/{Tokens(SECRET).make('read', first)}/rss.xml",
        f"/unsubscribe/{Tokens(SECRET).make('unsubscribe', first)}",
    ]
    page = site.http.get(old_links[0])
    deleted = site.http.post(
        f"{old_links[0]}/delete", data={"csrf": csrf_of(page.text), "confirm": "yes"}
    )
    assert deleted.status_code == 200 and "Deleted" in deleted.text
    old_confirm = confirm_link(site.mails("first@example.org")[0], site.url)
    # someone else signs up: their pending sign-up must not be confirmable with first's link
    assert site.subscribe("second@example.org").status_code == 200
    opened = site.http.get(old_confirm)
    if opened.status_code == 200:
        site.http.post(old_confirm, data={"csrf": csrf_of(opened.text)})
    assert site.status("second@example.org") == "pending", (
        "first@example.org's old confirmation link confirmed second@example.org's sign-up"
    )
    second = site.confirmed("second@example.org")
    answers = {url: site.http.get(url) for url in old_links}
    leaked = {
        url: (a.status_code, "second@example.org" in a.text)
        for url, a in answers.items()
        if a.status_code != 404
    }
    assert second != first and not leaked, (
        f"the deleted subscriber's id {first} was given to second@example.org ({second}); "
        f"their old links answer: {leaked}"
    )
