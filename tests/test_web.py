"""`digest serve`'s web side, driven over HTTP against a real uvicorn server on 127.0.0.1.

Every link is taken from a delivered email, as a subscriber would click it.
"""

from __future__ import annotations

import base64
import email
import email.policy
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from html import unescape
from pathlib import Path
from typing import Any

import feedparser
import httpx
import pytest
from configs import JSONL_SOURCE, config_text

from digest.application import Application
from digest.models import Subscriber
from digest.pipeline import Pipeline, RunOptions
from digest.store import utcnow
from digest.testing import HOSTILE_TITLE, make_host, make_paper
from digest.tokens import Tokens
from digest.web.serve import build_app
from helpers import TestPlugin, write_papers
from webserver import ServerThread, reserve_port

WEB = {
    "sources": {"sample": None, **JSONL_SOURCE},
    "selection": {"rankers": {"keywords": 1.0, "recency": 0.1}},
    "subscribers": {
        "ada": {"email": "ada@example.org", "keywords": ["robot"]},
        "grace": {"email": "grace@example.org", "keywords": ["language model"]},
    },
    "serve": {"operator_token": "op-s3cret"},
}


def web_config(url: str, secret: str, **digest: Any) -> str:
    """The tests' configuration served at ``url``, signing with ``secret``."""
    return config_text(
        **WEB, digest={"base_url": url, "secret_key": secret, "title": "Lab digest", **digest}
    )


PAPERS = [
    make_paper("2411.00001", title="Robot grasping with tactile skins",
               authors=("Ada Lovelace", "Mallory Muted")),
    make_paper("2411.00002", title="A robot that folds laundry", authors=("Carol Chen",)),
    make_paper("2411.00003", title=HOSTILE_TITLE + " robot", authors=("Eve <e@evil.example>",)),
    make_paper("2411.00004", title="Small language model reasoning", authors=("Grace Hopper",)),
]  # fmt: skip


@dataclass
class Site:
    url: str
    dir: Path
    pipeline: Pipeline
    http: httpx.Client

    def email(self, name: str) -> EmailMessage:
        path = next((self.dir / "out" / name).glob("*/digest.eml"))
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        return message

    def html(self, name: str) -> str:
        part = self.email(name).get_body(("html",))
        assert part is not None
        return str(part.get_content())

    def links(self, name: str, pattern: str) -> list[str]:
        return [
            unescape(u)
            for u in re.findall(rf'href="({re.escape(self.url)}{pattern})"', self.html(name))
        ]

    def subscriber(self, name: str) -> Any:
        return next(s for s in self.pipeline.store.subscribers() if s.subscriber.name == name)


def served_application(config: Path) -> Application:
    """The application ``digest serve --config config`` runs, with the test plugin."""
    return Application.from_path(config, host=make_host(TestPlugin()))


def serve(
    tmp_path: Path,
    *,
    secret: str = "k2",
    old_keys: tuple[str, ...] = (),
    run: bool = True,
    database: str | None = None,
) -> Iterator[Site]:
    """A served site; ``database`` (a SQLAlchemy URL) replaces the SQLite file."""
    digest: dict[str, Any] = {"database": database} if database else {}
    if old_keys:
        digest["old_secret_keys"] = list(old_keys)
    sock = reserve_port()
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    tmp_path.mkdir(parents=True, exist_ok=True)
    config = tmp_path / "config.toml"
    config.write_text(web_config(url, secret, **digest), "utf-8")
    write_papers(tmp_path / "papers.jsonl", PAPERS)
    application = served_application(config)
    pipeline = application.pipeline
    if run:
        report = pipeline.run()
        assert report.delivered == 2 and not report.problems, report
    app = build_app(application, scheduler=False)
    with ServerThread(app, sock), httpx.Client(base_url=url, timeout=30) as http:
        yield Site(url=url, dir=tmp_path, pipeline=pipeline, http=http)


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    yield from serve(tmp_path)


# -- unsubscribe --------------------------------------------------------------------------------


def test_unsubscribe_link_get_confirms_and_changes_nothing(site: Site) -> None:
    header = str(site.email("ada")["List-Unsubscribe"])
    url = re.search(r"<(http[^>]+)>", header)
    assert url is not None
    page = site.http.get(url.group(1))
    assert page.status_code == 200
    assert "Unsubscribe?" in page.text and 'name="List-Unsubscribe" value="One-Click"' in page.text
    assert not site.subscriber("ada").unsubscribed  # a mail scanner's prefetch does nothing


def test_one_click_post_unsubscribes_idempotently_without_redirect_or_cookie(site: Site) -> None:
    url = re.search(r"<(http[^>]+)>", str(site.email("ada")["List-Unsubscribe"]))
    assert url is not None
    for _ in range(2):  # what a mail provider sends (RFC 8058), twice
        response = site.http.post(url.group(1), data={"List-Unsubscribe": "One-Click"})
        assert response.status_code == 200
        assert "location" not in response.headers and "set-cookie" not in response.headers
        assert "unsubscribed" in response.text
    assert site.subscriber("ada").unsubscribed
    assert not site.subscriber("grace").unsubscribed
    # the next run sends ada nothing, even with a new paper that matches her keywords
    write_papers(site.dir / "papers.jsonl", [*PAPERS, make_paper("2411.00009", title="New robot")])
    report = site.pipeline.run()
    assert report.delivered == 0 and "ada" not in report.skipped, report
    assert len(list((site.dir / "out" / "ada").glob("*/digest.eml"))) == 1


def test_unsubscribe_post_needs_the_one_click_body(site: Site) -> None:
    url = re.search(r"<(http[^>]+)>", str(site.email("ada")["List-Unsubscribe"]))
    assert url is not None
    response = site.http.post(url.group(1), data={"List-Unsubscribe": "yes please"})
    assert response.status_code == 400
    assert not site.subscriber("ada").unsubscribed


def test_tampered_foreign_and_rotated_tokens_get_4xx_and_change_nothing(tmp_path: Path) -> None:
    # Links signed with k1 keep working while k1 is an old key, and stop once it is dropped.
    for site in serve(tmp_path / "a", secret="k1"):
        ada = site.subscriber("ada")
        old = Tokens("k1").make("unsubscribe", ada.id)
        tampered = old[:-2] + ("AA" if not old.endswith("AA") else "BB")
        read_token = Tokens("k1").make("read", ada.id)
        assert (
            site.http.post(
                f"/unsubscribe/{tampered}", data={"List-Unsubscribe": "One-Click"}
            ).status_code
            == 404
        )
        # a token made for another purpose (the feed's) cannot unsubscribe
        assert (
            site.http.post(
                f"/unsubscribe/{read_token}", data={"List-Unsubscribe": "One-Click"}
            ).status_code
            == 404
        )
        assert site.http.get(f"/preferences/{read_token}").status_code == 404
        assert site.http.get("/feeds/not-a-token/rss.xml").status_code == 404
        assert not site.subscriber("ada").unsubscribed
    for site in serve(tmp_path / "b", secret="k2", old_keys=("k1",)):
        ada = site.subscriber("ada")
        assert (
            site.http.get(f"/unsubscribe/{Tokens('k1').make('unsubscribe', ada.id)}").status_code
            == 200
        )
    for site in serve(tmp_path / "c", secret="k2"):
        ada = site.subscriber("ada")
        rotated = Tokens("k1").make("unsubscribe", ada.id)
        assert (
            site.http.post(
                f"/unsubscribe/{rotated}", data={"List-Unsubscribe": "One-Click"}
            ).status_code
            == 404
        )
        assert not site.subscriber("ada").unsubscribed


# -- feeds ----------------------------------------------------------------------------------------


def test_private_feeds_carry_the_subscribers_picks_with_caching(site: Site) -> None:
    rss_url = site.links("ada", r"/feeds/[^/\"]+/rss\.xml")[0]
    emailed = {m for m in re.findall(r"arxiv:\d{4}\.\d{5}", site.email("ada").as_string())}
    rss = site.http.get(rss_url)
    assert rss.status_code == 200 and rss.headers["content-type"].startswith("application/rss+xml")
    parsed = feedparser.parse(rss.content)
    assert not parsed.bozo
    ids = [e.id for e in parsed.entries]
    assert ids and set(ids) == {"arxiv:2411.00001", "arxiv:2411.00002", "arxiv:2411.00003"}
    assert "arxiv:2411.00004" not in ids  # grace's paper never shows in ada's feed
    assert emailed <= set(ids) | emailed
    # each entry carries the subscriber's own feedback links, which lead to a working page
    entry = next(e for e in parsed.entries if e.id == "arxiv:2411.00002")
    less = re.search(r'href="([^"]+/feedback/[^"]+action=less)"', entry.description)
    assert less is not None and "paper=arxiv:2411.00002" in less.group(1)
    page = site.http.get(unescape(less.group(1)))
    assert page.status_code == 200 and "A robot that folds laundry" in page.text
    atom = site.http.get(rss_url.replace("rss.xml", "atom.xml"))
    assert atom.status_code == 200 and not feedparser.parse(atom.content).bozo
    assert [
        e.id.rsplit(":", 2)[-2] + ":" + e.id.rsplit(":", 1)[-1]
        for e in feedparser.parse(atom.content).entries
    ] == ids
    # conditional GET: the same ETag (or a Last-Modified not older) answers 304 with no body
    etag, modified = rss.headers["etag"], rss.headers["last-modified"]
    again = site.http.get(rss_url, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag
    assert site.http.get(rss_url, headers={"If-Modified-Since": modified}).status_code == 304
    assert site.http.get(rss_url, headers={"If-None-Match": '"other"'}).status_code == 200
    assert site.http.get(rss_url.replace("rss.xml", "secrets.txt")).status_code == 404
    # a new edition changes the feed: the old ETag no longer matches, the new paper is there
    write_papers(site.dir / "papers.jsonl", [*PAPERS, make_paper("2411.00009", title="New robot")])
    assert site.pipeline.run().delivered == 1
    fresh = site.http.get(rss_url, headers={"If-None-Match": etag})
    assert fresh.status_code == 200 and fresh.headers["etag"] != etag
    assert "arxiv:2411.00009" in [e.id for e in feedparser.parse(fresh.content).entries]


BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,*/*;q=0.8"
READER_ACCEPTS = (
    "application/rss+xml, application/atom+xml, application/xml;q=0.9, */*;q=0.8",
    "*/*",
    "",
)


@pytest.mark.parametrize("name", ["rss.xml", "atom.xml"])
def test_a_browser_gets_the_feed_as_a_page_and_readers_get_the_feed(site: Site, name: str) -> None:
    url = site.links("ada", r"/feeds/[^/\"]+/rss\.xml")[0].replace("rss.xml", name)
    feeds = []
    for accept in READER_ACCEPTS:
        feed = site.http.get(url, headers={"Accept": accept} if accept else {})
        kind = "rss" if name == "rss.xml" else "atom"
        assert feed.headers["content-type"] == f"application/{kind}+xml; charset=utf-8", accept
        assert feed.headers["vary"] == "Accept"
        assert '<?xml-stylesheet type="text/xsl" href="feed.xsl"?>' in feed.text
        assert not feedparser.parse(feed.content).bozo
        feeds.append(feed)
    page = site.http.get(url, headers={"Accept": BROWSER_ACCEPT})
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert page.headers["vary"] == "Accept"
    assert "This is your private feed of" in page.text and url in page.text
    assert "Robot grasping with tactile skins" in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text and "<script>" not in page.text
    assert "Score" not in page.text
    # one validator per representation: a reader's ETag never answers the browser, nor back
    reader_etag, page_etag = feeds[0].headers["etag"], page.headers["etag"]
    assert reader_etag != page_etag
    again = site.http.get(url, headers={"Accept": BROWSER_ACCEPT, "If-None-Match": page_etag})
    assert again.status_code == 304 and again.headers["vary"] == "Accept"
    crossed = site.http.get(url, headers={"Accept": BROWSER_ACCEPT, "If-None-Match": reader_etag})
    assert crossed.status_code == 200
    assert site.http.get(url, headers={"If-None-Match": page_etag}).status_code == 200
    # the stylesheet the feed names, next to it
    sheet = site.http.get(url.replace(name, "feed.xsl"))
    assert sheet.status_code == 200 and sheet.headers["content-type"] == "text/xsl; charset=utf-8"
    assert "<xsl:stylesheet" in sheet.text


def test_json_feed(site: Site) -> None:
    rss_url = site.links("ada", r"/feeds/[^/\"]+/rss\.xml")[0]
    response = site.http.get(rss_url.replace("rss.xml", "feed.json"))
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/feed+json")
    document = response.json()
    assert document["version"] == "https://jsonfeed.org/version/1.1"
    items = document["items"]
    assert {i["id"] for i in items} == {"arxiv:2411.00001", "arxiv:2411.00002", "arxiv:2411.00003"}
    assert all("/feedback/" in i["content_html"] for i in items)
    assert all(i["_digest"]["reasons"] for i in items)


def test_feed_of_an_unsubscribed_subscriber_is_gone(site: Site) -> None:
    rss_url = site.links("ada", r"/feeds/[^/\"]+/rss\.xml")[0]
    site.pipeline.store.unsubscribe(
        site.subscriber("ada").id, now=site.subscriber("ada").last_edition_at
    )
    assert site.http.get(rss_url).status_code == 410


# -- archive -----------------------------------------------------------------------------------


def test_archive_page_shows_the_email(site: Site) -> None:
    archive = site.links("ada", r"/archive/[^/\"]+/[^\"]+")
    assert archive, "the email links its web version"
    page = site.http.get(archive[0])
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    titles = re.findall(r'class="dg-title"[^>]*>([^<]+)<', site.html("ada"))
    assert titles and all(t in page.text for t in titles)
    assert "<script>" not in page.text  # the hostile title is escaped here too
    # the web version has the abstracts the email leaves out, and no link to itself
    abstract = "We study things and find results."
    assert abstract not in site.html("ada") and abstract in page.text
    assert "View in browser" not in page.text and "View in browser" in site.html("ada")
    # Someone else's read token opens their own copy, never ada's
    edition_id = archive[0].split("/archive/")[1].split("/")[0]
    grace_read = Tokens("k2").make("read", site.subscriber("grace").id)
    other = site.http.get(f"/archive/{edition_id}/{grace_read}")
    assert other.status_code == 200 and "Small language model reasoning" in other.text
    assert "Robot grasping" not in other.text
    assert site.http.get(f"/archive/20990101T000000-nope/{grace_read}").status_code == 404


# -- feedback --------------------------------------------------------------------------------------


def test_feedback_links_confirm_then_record_and_can_be_undone(site: Site) -> None:
    more = [u for u in site.links("ada", r"/feedback/[^\"]+") if "action=more" in u]
    assert len(more) == 3, "one 'more like this' link per paper"
    target = next(u for u in more if "2411.00001" in u)
    page = site.http.get(target)
    assert page.status_code == 200 and "Robot grasping with tactile skins" in page.text
    store = site.pipeline.store
    ada = site.subscriber("ada")
    assert store.feedback([ada.id]) == {}  # opening the link records nothing
    form = site.http.post(
        target.split("?")[0], data={"paper": "arxiv:2411.00001", "action": "more"}
    )
    assert form.status_code == 200 and "Thanks" in form.text
    mute = site.http.post(
        target.split("?")[0],
        data={"paper": "arxiv:2411.00001", "action": "mute", "author": "Mallory Muted"},
    )
    assert mute.status_code == 200
    # muting someone who is not an author of the paper is refused
    bad = site.http.post(
        target.split("?")[0],
        data={"paper": "arxiv:2411.00001", "action": "mute", "author": "Grace Hopper"},
    )
    assert bad.status_code == 400
    kinds = [(f.kind, f.paper_id, f.detail) for f in store.feedback([ada.id])[ada.id]]
    assert kinds == [
        ("more", "arxiv:2411.00001", ""),
        ("mute", "arxiv:2411.00001", "Mallory Muted"),
    ]
    # the preferences page lists it; undo removes it
    prefs_url = re.search(r'href="([^"]+/preferences/[^"]+)"', form.text)
    assert prefs_url is not None
    prefs = site.http.get(unescape(prefs_url.group(1)))
    assert "Mallory Muted" in prefs.text and "Robot grasping" in prefs.text
    shown = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", prefs.text))
    assert "More like Robot grasping with tactile skins" in shown  # words apart, as read
    undo = re.findall(r'action="([^"]+/feedback/\d+/delete)"', prefs.text)
    assert len(undo) == 2
    # a state-changing form: without its CSRF token the post is refused and changes nothing
    assert site.http.post(unescape(undo[0])).status_code == 403
    assert len(store.feedback([ada.id])[ada.id]) == 2
    done = site.http.post(unescape(undo[0]), data={"csrf": csrf_of(prefs.text)})
    assert done.status_code == 200
    assert len(store.feedback([ada.id])[ada.id]) == 1


def test_muted_author_and_less_like_this_shape_the_next_digest(tmp_path: Path) -> None:
    for site in serve(tmp_path, run=False):
        store = site.pipeline.store
        site.pipeline.run(RunOptions(dry_run=True))  # collects the papers, sends nothing
        ada = site.subscriber("ada")
        store.add_feedback(
            ada.id, "arxiv:2411.00001", "mute", detail="mallory  MUTED", now=utcnow()
        )
        report = site.pipeline.run()
        assert report.delivered == 2, report
        text = site.email("ada").get_body(("plain",))
        assert text is not None
        sent = str(text.get_content())
        assert "Robot grasping" not in sent and "A robot that folds laundry" in sent


# -- operator, health, headers ---------------------------------------------------------------------


def test_operator_area_needs_the_token(tmp_path: Path) -> None:
    for site in serve(tmp_path, run=False):
        assert site.http.get("/operator").status_code == 401
        assert (
            site.http.get("/operator", headers={"Authorization": "Bearer nope"}).status_code == 401
        )
        ok = site.http.get("/operator", headers={"Authorization": "Bearer op-s3cret"})
        assert ok.status_code == 200 and "ada" in ok.text and "grace" in ok.text
        basic = base64.b64encode(b"admin:op-s3cret").decode()
        assert (
            site.http.get("/operator", headers={"Authorization": f"Basic {basic}"}).status_code
            == 200
        )
        site.pipeline.run(RunOptions(dry_run=True))
        preview = site.http.get(
            "/operator/preview/ada", headers={"Authorization": "Bearer op-s3cret"}
        )
        assert preview.status_code == 200 and "Robot grasping with tactile skins" in preview.text
        assert not list((site.dir / "out").glob("ada/*/digest.eml")), "a preview sends nothing"
        assert site.http.get("/operator/preview/ada").status_code == 401


def test_the_operator_page_shows_the_lists_health(tmp_path: Path) -> None:
    from digest.store.bounces import BounceRow

    for site in serve(tmp_path, run=False):
        store = site.pipeline.store
        ada = {s.subscriber.name: s.id for s in store.subscribers()}["ada"]
        row = BounceRow(
            key="k1", at=utcnow(), origin="mbox", kind="hard", subscriber_id=ada,
            edition_id="20261207T070000Z-ab12cd", domain="example.org", status="5.1.1",
            detail="550 5.1.1 no such user",
        )  # fmt: skip
        assert store.record_bounce(row, soft_limit=3, soft_days=14) == "bounced"
        page = site.http.get("/operator", headers={"Authorization": "Bearer op-s3cret"})
        assert page.status_code == 200
        text = page.text
        assert "List health" in text and "1 bounced" in text and "1 suppressed" in text
        assert "<code>20261207T070000Z-ab12cd</code>" in text and "example.org" in text
        assert 'ada <span class="muted">(bounced)</span>' in text


def test_healthz_reports_sources(site: Site) -> None:
    response = site.http.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["database"] == "ok"
    assert [s["source"] for s in body["sources"]] == ["main"] and body["sources"][0]["ok"]


def test_pages_send_no_referrer_and_forbid_scripts(site: Site) -> None:
    page = site.http.get(site.links("ada", r"/archive/[^/\"]+/[^\"]+")[0])
    assert page.headers["referrer-policy"] == "no-referrer"
    policy = dict(
        part.strip().split(" ", 1) for part in page.headers["content-security-policy"].split(";")
    )
    assert policy["script-src"] == "'self'"  # the site's own file only: no inline script
    assert policy["default-src"] == "'none'" and policy["frame-ancestors"] == "'none'"


def test_subscribers_added_while_serving_get_their_schedule(tmp_path: Path) -> None:
    tmp_path.mkdir(parents=True, exist_ok=True)
    sock = reserve_port()
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    config = tmp_path / "config.toml"
    config.write_text(web_config(url, "k"), "utf-8")
    write_papers(tmp_path / "papers.jsonl", PAPERS)
    application = served_application(config)
    pipeline = application.pipeline
    app = build_app(application, scheduler=True, resync_seconds=0.2)
    with ServerThread(app, sock), httpx.Client(base_url=url, timeout=30) as http:
        assert http.get("/healthz").json()["scheduler"]["schedules"] == 1  # both 07:00 UTC
        pipeline.store.save_subscribers(
            [Subscriber(name="kenji", schedule="30 6 * * 1-5", timezone="Asia/Tokyo")],
            origin="import",
            now=utcnow(),
        )
        deadline = time.monotonic() + 20
        while http.get("/healthz").json()["scheduler"]["schedules"] != 2:
            assert time.monotonic() < deadline, "the new schedule was never picked up"
            time.sleep(0.1)
        jobs = http.get("/operator", headers={"Authorization": "Bearer op-s3cret"}).text
        assert "edition|Asia/Tokyo|30 6 * * 1-5" in jobs


def csrf_of(html: str) -> str:
    """The CSRF token of the first form on a page (the client keeps the cookie it is bound to)."""
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found is not None, "the page has no form with a CSRF token"
    return found.group(1)
