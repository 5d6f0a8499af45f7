"""Liked papers from files and libraries, on the sign-up form and the preferences page.

Against a real uvicorn server (tests/signupsite.py): a BibTeX / Zotero export uploaded with
the form, and a Zotero library imported from the preferences page from the project's
hand-written Zotero replies on the local fixture server (tests/httpserver.py), then resynced
by ``digest serve``'s chores and stopped by the reader.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from signupsite import SECRET, SignupSite, csrf_of, serve_signup

from digest.config import SignupSettings
from digest.scheduler import EditionScheduler
from digest.tokens import Tokens
from digest.web.serve import SchedulerLifecycle
from digest.web.service import WebService
from digest_importers.zotero import ZoteroImporter
from httpserver import FixtureServer, Reply

ZOTERO_ITEMS = "/users/1001/items"
JSON = {"Content-Type": "application/json"}
#: what tests/fixtures/importers/zotero_users_1001_start*.json list with an arXiv id or DOI
#: (and one more paper with neither, known by its fingerprint)
ZOTERO_IDS = {"arxiv:2506.91001", "doi:10.5555/jtr.2024.0042", "arxiv:2311.99123"}


def liked_zotero(liked: list[str]) -> bool:
    return set(liked) - ZOTERO_IDS == {liked[-1]} and liked[-1].startswith("fp:")


BIBTEX = (
    b"@article{grasp, title={Grasping with {T}actile Skins \\& Friends},"
    b" author={Lovelace, Ada and Hopper, Grace}, eprint={2506.91001}, year={2025}}\n"
    b"@misc{notes, title={My reading notes}}\n"
    b"@article{cloth, title={Cloth folding}, doi={10.5555/jtr.2024.0042}}\n"
)
UPLOADED = ["arxiv:2506.91001", "doi:10.5555/jtr.2024.0042"]


def serve(tmp_path: Path, **signup: Any) -> Iterator[SignupSite]:
    """A sign-up site whose HTTP client may reach the fixture server on 127.0.0.1."""
    return serve_signup(
        tmp_path, more={"fetch": {"allow": ["127.0.0.0/8"], "retries": 0}}, **signup
    )


@pytest.fixture
def site(tmp_path: Path) -> Iterator[SignupSite]:
    yield from serve(tmp_path / "site")


@pytest.fixture
def zotero(fixture_server: FixtureServer, monkeypatch: pytest.MonkeyPatch) -> FixtureServer:
    """User 1001's library, two pages, where the Zotero importer looks."""
    monkeypatch.setattr(ZoteroImporter, "base_url", fixture_server.url(""))
    nxt = fixture_server.url(f"{ZOTERO_ITEMS}?format=json&limit=100&start=3")
    for start, link in (("0", {"Link": f'<{nxt}>; rel="next"'}), ("3", {})):
        fixture_server.route(
            ZOTERO_ITEMS,
            Reply(
                body=f"importers/zotero_users_1001_start{start}.json",
                headers={**JSON, "Total-Results": "6", **link},
            ),
            query={"start": start},
        )
    return fixture_server


def form(site: SignupSite, **fields: str) -> dict[str, Any]:
    data = {
        "csrf": site.csrf(),
        "email": "uploader@example.org",
        "keywords": "robot",
        "frequency": "daily",
        "hour": "7",
        "timezone": "UTC",
        "max_items": "10",
        "channels": "email",
        "action": "subscribe",
    }
    return {**data, **fields}


def liked_of(site: SignupSite, address: str) -> list[str]:
    sid = site.store.subscriber_id_by_email(address)
    assert sid is not None
    stored = site.store.subscriber(sid)
    assert stored is not None
    return list(stored.subscriber.profile.liked)


def preferences(site: SignupSite, sid: int) -> str:
    return f"/preferences/{Tokens(SECRET).make('preferences', sid)}"


# -- uploads ----------------------------------------------------------------------------------


def test_an_uploaded_bibtex_export_becomes_liked_papers_of_the_new_subscriber(
    site: SignupSite,
) -> None:
    answer = site.http.post(
        "/subscribe",
        data=form(site, liked="2411.10003"),
        files={"liked_file": ("library.bib", BIBTEX, "application/x-bibtex")},
    )
    assert answer.status_code == 200, answer.text[:500]
    assert liked_of(site, "uploader@example.org") == ["arxiv:2411.10003", *UPLOADED]
    # the entries are kept as references for the rankers, never as news
    kept = site.store.papers_by_id(UPLOADED)
    assert kept["arxiv:2506.91001"].title == "Grasping with Tactile Skins & Friends"
    assert [a.name for a in kept["arxiv:2506.91001"].authors] == ["Ada Lovelace", "Grace Hopper"]
    _, news = site.store.papers_since(
        after_seq=0, first_seen_after=dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
    )
    assert not set(UPLOADED) & {str(p.id) for p in news}


def test_a_preview_with_an_upload_lists_its_papers_in_the_liked_field(site: SignupSite) -> None:
    answer = site.http.post(
        "/subscribe",
        data=form(site, action="preview"),
        files={"liked_file": ("library.bib", BIBTEX, "application/x-bibtex")},
    )
    assert answer.status_code == 200
    field = answer.text.split('name="liked"', 1)[1].split("</textarea>", 1)[0]
    assert all(ref in field for ref in UPLOADED), field
    assert site.store.subscriber_id_by_email("uploader@example.org") is None


@pytest.mark.parametrize(
    ("name", "data", "error"),
    [
        ("library.bib", b"\xff\xfe@article{", "library.bib: not UTF-8"),
        ("library.bib", b"@misc{x, title={No id}}\n", "library.bib: no entry with a title and"),
        ("huge.bib", b"%" * (2 * 1024 * 1024 + 1), "huge.bib: larger than 2 MB"),
    ],
)
def test_a_bad_upload_is_a_field_error_and_nothing_is_stored(
    site: SignupSite, name: str, data: bytes, error: str
) -> None:
    answer = site.http.post(
        "/subscribe", data=form(site), files={"liked_file": (name, data, "text/plain")}
    )
    assert answer.status_code == 400
    assert error in answer.text
    assert 'value="uploader@example.org"' in answer.text  # what was typed is kept
    assert site.store.subscriber_id_by_email("uploader@example.org") is None
    assert site.mails("uploader@example.org") == []


def test_an_upload_on_the_preferences_page_adds_liked_papers(site: SignupSite) -> None:
    sid = site.confirmed("reader@example.org")
    prefs = preferences(site, sid)
    page = site.http.get(prefs)
    assert 'enctype="multipart/form-data"' in page.text
    data = form(site, email="", csrf=csrf_of(page.text), categories="cs.RO")
    data.pop("action")
    saved = site.http.post(
        prefs, data=data, files={"liked_file": ("export.bib", BIBTEX, "application/x-bibtex")}
    )
    assert saved.status_code == 200, saved.text[:500]
    assert liked_of(site, "reader@example.org") == UPLOADED
    assert "arxiv:2506.91001" in site.store.papers_by_id(UPLOADED)


# -- imports from the preferences page --------------------------------------------------------


def start_import(site: SignupSite, sid: int, importer: str, ref: str) -> Any:
    prefs = preferences(site, sid)
    token = csrf_of(site.http.get(prefs).text)
    return site.http.post(f"{prefs}/import", data={"csrf": token, "importer": importer, "ref": ref})


def test_a_reader_imports_a_zotero_library_and_stops_syncing_it(
    site: SignupSite, zotero: FixtureServer
) -> None:
    sid = site.confirmed("zotero@example.org")
    page = site.http.get(preferences(site, sid)).text
    assert '<option value="zotero">Zotero library' in page and '<option value="orcid">' in page

    done = start_import(site, sid, "zotero", "https://www.zotero.org/users/1001")
    assert done.status_code == 200, done.text[:500]
    assert "Imported 4 papers" in done.text
    assert liked_zotero(liked_of(site, "zotero@example.org"))
    assert "users/1001" in done.text and "Stop syncing" in done.text
    assert len(zotero.hits(ZOTERO_ITEMS)) == 2  # both pages
    assert "zotero-api-key" not in zotero.hits(ZOTERO_ITEMS)[0].headers  # public data only

    (recorded,) = site.store.profile_imports(subscriber_id=sid)
    prefs = preferences(site, sid)
    token = csrf_of(done.text)
    stopped = site.http.post(f"{prefs}/import/{recorded.id}/delete", data={"csrf": token})
    assert stopped.status_code == 200 and "No longer synced" in stopped.text
    assert site.store.profile_imports(subscriber_id=sid) == []
    assert liked_zotero(liked_of(site, "zotero@example.org"))  # the papers stay


def test_nobody_stops_another_readers_import(site: SignupSite, zotero: FixtureServer) -> None:
    owner = site.confirmed("owner@example.org")
    other = site.confirmed("other@example.org")
    assert start_import(site, owner, "zotero", "users/1001").status_code == 200
    (recorded,) = site.store.profile_imports(subscriber_id=owner)
    prefs = preferences(site, other)
    token = csrf_of(site.http.get(prefs).text)
    answer = site.http.post(f"{prefs}/import/{recorded.id}/delete", data={"csrf": token})
    assert "Already removed" in answer.text
    assert len(site.store.profile_imports(subscriber_id=owner)) == 1


@pytest.mark.parametrize(
    ("importer", "ref", "reply", "reason"),
    [
        ("mendeley", "users/1", None, "no profile importer called 'mendeley'"),
        ("zotero", "users/1001\nBcc: x@example.org", None, "on one line"),
        ("zotero", "x" * 201, None, "at most 200 characters"),
        ("zotero", "users/1001", Reply(status=404, body=b"Not found"), "zotero users/1001"),
        ("zotero", "users/1001", Reply(status=403, body=b"Forbidden"), "zotero users/1001"),
        ("orcid", "0000-0002-1825-0098", None, "0000-0002-1825-0098"),
    ],
)
def test_a_failed_import_says_why_and_changes_nothing(
    site: SignupSite,
    fixture_server: FixtureServer,
    monkeypatch: pytest.MonkeyPatch,
    importer: str,
    ref: str,
    reply: Reply | None,
    reason: str,
) -> None:
    monkeypatch.setattr(ZoteroImporter, "base_url", fixture_server.url(""))
    if reply is not None:
        fixture_server.route(ZOTERO_ITEMS, reply)
    sid = site.confirmed("failing@example.org")
    answer = start_import(site, sid, importer, ref)
    assert answer.status_code == 400
    notice = answer.text.split("Not imported: ", 1)[1].split("<", 1)[0]
    assert reason in notice.replace("&#39;", "'"), notice
    assert "Traceback" not in answer.text
    assert liked_of(site, "failing@example.org") == []
    assert site.store.profile_imports(subscriber_id=sid) == []


def test_imports_are_rate_limited_per_subscriber(tmp_path: Path, zotero: FixtureServer) -> None:
    for site in serve(tmp_path, imports_per_subscriber="1/hour"):
        sid = site.confirmed("eager@example.org")
        assert start_import(site, sid, "zotero", "users/1001").status_code == 200
        again = start_import(site, sid, "zotero", "users/1001")
        assert again.status_code == 429 and int(again.headers["retry-after"]) > 0
        assert len(zotero.hits(ZOTERO_ITEMS)) == 2  # the refused one fetched nothing
        # another reader is not held back
        assert start_import(
            site, site.confirmed("b@example.org"), "zotero", "users/1001"
        ).is_success


def test_subscribers_from_the_config_file_cannot_import(
    site: SignupSite, zotero: FixtureServer
) -> None:
    (sid,) = [s.id for s in site.store.subscribers() if s.subscriber.name == "ada"]
    answer = start_import(site, sid, "zotero", "users/1001")
    assert answer.status_code == 400 and "manage their own subscription" in answer.text
    assert zotero.hits(ZOTERO_ITEMS) == []


# -- resync by digest serve -------------------------------------------------------------------


def test_imports_are_resynced_when_due_and_a_failure_loses_nothing(
    site: SignupSite, zotero: FixtureServer
) -> None:
    sid = site.confirmed("synced@example.org")
    assert start_import(site, sid, "zotero", "users/1001").status_code == 200
    first = liked_of(site, "synced@example.org")
    web = WebService(site.pipeline)
    start = dt.datetime(2026, 12, 7, 8, 0, tzinfo=dt.UTC)
    assert web.imports.resync_due(start) is None  # the first call starts the clock
    assert web.imports.resync_due(start + dt.timedelta(hours=23)) is None
    assert len(zotero.hits(ZOTERO_ITEMS)) == 2
    # a day later the library has one page only: what left it is no longer liked
    zotero.route(
        ZOTERO_ITEMS,
        Reply(body="importers/zotero_users_1001_start0.json", headers=JSON),
        query={"start": "0"},
    )
    assert web.imports.resync_due(start + dt.timedelta(hours=24)) == []
    second = liked_of(site, "synced@example.org")
    assert second and set(second) < set(first)
    # the library then fails: the error is kept on the import and shown to its reader
    zotero.route(ZOTERO_ITEMS, Reply(status=503, body=b"down"))
    problems = web.imports.resync_due(start + dt.timedelta(hours=48))
    assert problems and "zotero users/1001" in problems[0]
    (recorded,) = site.store.profile_imports(subscriber_id=sid)
    assert recorded.error and "503" in recorded.error
    page = site.http.get(preferences(site, sid)).text
    assert "Last sync failed" in page
    assert liked_of(site, "synced@example.org") == second  # nothing lost


def test_resync_is_off_with_zero_hours(tmp_path: Path, zotero: FixtureServer) -> None:
    for site in serve(tmp_path, resync_imports_hours=0):
        sid = site.confirmed("manual@example.org")
        assert start_import(site, sid, "zotero", "users/1001").status_code == 200
        web = WebService(site.pipeline)
        start = dt.datetime(2026, 12, 7, tzinfo=dt.UTC)
        for days in (0, 2, 30):
            assert web.imports.resync_due(start + dt.timedelta(days=days)) is None
        assert len(zotero.hits(ZOTERO_ITEMS)) == 2


def test_a_failing_chore_is_logged_and_the_next_still_runs(
    site: SignupSite, caplog: pytest.LogCaptureFixture
) -> None:
    scheduler = EditionScheduler(
        database_url=site.application.loaded.database_url, config_path=None
    )
    lifecycle = SchedulerLifecycle(scheduler, site.pipeline, resync_seconds=60)
    ran = threading.Event()

    def broken() -> None:
        raise RuntimeError("chore exploded")

    lifecycle.chores += [broken, ran.set]
    with caplog.at_level(logging.ERROR, logger="digest.serve"):
        lifecycle.start()
        try:
            assert ran.wait(20), "the chore after a failing one never ran"
        finally:
            lifecycle.stop()
    assert any("broken failed" in r.getMessage() for r in caplog.records), caplog.text


def test_new_signup_limits_are_checked_as_rates() -> None:
    with pytest.raises(ValueError, match="imports_per_subscriber"):
        SignupSettings.model_validate({"imports_per_subscriber": "lots"})
    with pytest.raises(ValueError, match="preview_per_ip"):
        SignupSettings.model_validate({"preview_per_ip": "5 per"})
    with pytest.raises(ValueError, match="resync_imports_hours"):
        SignupSettings.model_validate({"resync_imports_hours": -1})
