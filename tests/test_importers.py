"""Profile importers: Zotero, ORCID, arXiv author and Semantic Scholar → liked papers.

Every importer runs against the real test HTTP server (tests/httpserver.py) with the
hand-written replies in tests/fixtures/importers (see its README), through the project's one
HTTP client; resyncs keep manual likes and dislikes; imported papers are references for the
rankers, never news.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from conftest import CliResult
from digest import hookimpl
from digest.fetch import Fetcher, FetchPolicy, HostLimit
from digest.importers import (
    ImportHTTP,
    ProfileImporter,
    ProfileImportError,
    import_into,
    parse_from,
    parse_liked_lines,
    read_upload,
    run_import,
    sync_imports,
)
from digest.models import Paper, Profile, Subscriber
from digest.store import Store
from digest.testing import make_host, make_paper
from digest_importers.arxiv_author import ArxivAuthorImporter
from digest_importers.orcid import OrcidImporter, checksum
from digest_importers.semantic_scholar import SemanticScholarImporter
from digest_importers.zotero import ZoteroImporter
from httpserver import FixtureServer, Reply

NOW = dt.datetime(2025, 6, 11, 12, 0, tzinfo=dt.UTC)
JSON = {"Content-Type": "application/json"}
ZOTERO_ITEMS = "/users/1001/items"
ORCID = "0000-0002-1825-0097"
ORCID_WORKS = f"/v3.0/{ORCID}/works"
S2_PAPERS = "/graph/v1/author/4242/papers"
ARXIV_API = "/api/query"

ZOTERO_IDS = [
    "arxiv:2506.91001",
    "doi:10.5555/jtr.2024.0042",
    "arxiv:2311.99123",
]


@pytest.fixture
def http() -> Iterator[ImportHTTP]:
    policy = FetchPolicy(
        allow=("127.0.0.0/8",),
        retries=1,
        backoff=0.01,
        max_retry_wait=1.0,
        default_limit=HostLimit(interval=0.0, connections=4),
    )
    with ImportHTTP(Fetcher(policy)) as client:
        yield client


def zotero_pages(server: FixtureServer, *, total: int = 6) -> None:
    """The two pages of user 1001's library, linked by ``rel="next"``."""
    nxt = server.url(f"{ZOTERO_ITEMS}?format=json&limit=100&start=3")
    last = server.url(f"{ZOTERO_ITEMS}?format=json&limit=100&start=3")
    server.route(
        ZOTERO_ITEMS,
        Reply(
            body="importers/zotero_users_1001_start0.json",
            headers={
                **JSON,
                "Total-Results": str(total),
                "Link": f'<{nxt}>; rel="next", <{last}>; rel="last"',
            },
        ),
        query={"start": "0"},
    )
    server.route(
        ZOTERO_ITEMS,
        Reply(
            body="importers/zotero_users_1001_start3.json",
            headers={**JSON, "Total-Results": str(total)},
        ),
        query={"start": "3"},
    )


def zotero(server: FixtureServer) -> ZoteroImporter:
    return ZoteroImporter(base_url=server.url(""))


# -- Zotero -----------------------------------------------------------------------------------


def test_zotero_reads_every_page_and_skips_attachments_and_notes(
    fixture_server: FixtureServer, http: ImportHTTP
) -> None:
    zotero_pages(fixture_server)
    papers = zotero(fixture_server).read("users/1001", http, options={"api_key": "k3y"})
    ids = [str(p.id) for p in papers]
    assert ids[:3] == ZOTERO_IDS and len(ids) == 4 and ids[3].startswith("fp:")
    folding = papers[0]
    assert folding.title == "Folding Cloth with Tactile Diffusion Policies"
    assert [a.name for a in folding.authors] == ["Ada Lovelace", "Robotics Consortium"]
    assert folding.published == dt.datetime(2025, 6, 2, tzinfo=dt.UTC)
    grasp = papers[1]
    assert [a.name for a in grasp.authors] == ["Grace Hopper"]  # the editor is no author
    assert grasp.published is None  # "2024-11" is no full date
    first, second = fixture_server.hits(ZOTERO_ITEMS)
    assert first.query == {"format": "json", "limit": "100", "start": "0"}
    assert second.query["start"] == "3"
    assert first.headers["zotero-api-key"] == "k3y"
    assert first.headers["zotero-api-version"] == "3"


def test_zotero_reads_a_collection_and_normalises_refs(
    fixture_server: FixtureServer, http: ImportHTTP
) -> None:
    path = "/groups/98765/collections/AB12CD34/items"
    fixture_server.route(path, Reply(body="importers/zotero_users_1001_start3.json", headers=JSON))
    importer = zotero(fixture_server)
    assert importer.validate(" /Groups/98765/collections/ab12cd34/ ") == (
        "groups/98765/collections/AB12CD34"
    )
    for address in (
        "https://www.zotero.org/groups/98765/lab_papers/collections/AB12CD34",
        "https://www.zotero.org/groups/98765/lab_papers/library",
        "zotero.org/users/1001",
        "https://api.zotero.org/users/1001/?v=3",
    ):
        assert importer.validate(address).split("/")[1] in {"98765", "1001"}, address
    assert importer.validate("https://www.zotero.org/groups/98765/x/collections/AB12CD34") == (
        "groups/98765/collections/AB12CD34"
    )
    for bad in ("https://evil.example/users/1001", "users/ada", "groups/1/a/b/c"):
        with pytest.raises(ProfileImportError, match="want users/<id>"):
            importer.validate(bad)
    papers = importer.read("groups/98765/collections/ab12cd34", http, options={})
    assert str(papers[0].id) == "arxiv:2311.99123"
    assert "zotero-api-key" not in fixture_server.hits(path)[0].headers


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        (Reply(status=403, body=b"Forbidden", headers=JSON), "HTTP 403 Forbidden: access denied"),
        (Reply(status=404, body=b"Not found", headers=JSON), "HTTP 404 Not Found: not found"),
        (Reply(status=500, body=b"An error occurred", headers=JSON), "HTTP 500"),
        (Reply(body=b'[{"key": "QX7T', headers=JSON), "not JSON"),
        (Reply(body=b'{"items": []}', headers=JSON), "want a JSON array"),
    ],
    ids=["bad-key", "unknown-user", "server-error", "malformed-json", "not-a-list"],
)
def test_zotero_errors_are_one_line_naming_importer_and_ref(
    fixture_server: FixtureServer, http: ImportHTTP, reply: Reply, expected: str
) -> None:
    fixture_server.route(ZOTERO_ITEMS, reply)
    with pytest.raises(ProfileImportError) as error:
        zotero(fixture_server).read("users/1001", http, options={"api_key": "wrong"})
    message = str(error.value)
    assert message.startswith("zotero users/1001: ") and expected in message
    assert "\n" not in message


def test_zotero_follows_next_links_only_on_its_own_host(
    fixture_server: FixtureServer, http: ImportHTTP
) -> None:
    fixture_server.route(
        ZOTERO_ITEMS,
        Reply(
            body="importers/zotero_users_1001_start0.json",
            headers={**JSON, "Link": '<http://169.254.169.254/latest>; rel="next"'},
        ),
    )
    with pytest.raises(ProfileImportError, match="is not on"):
        zotero(fixture_server).read("users/1001", http, options={})


def test_zotero_api_key_from_a_named_environment_variable(
    fixture_server: FixtureServer, http: ImportHTTP, monkeypatch: pytest.MonkeyPatch
) -> None:
    zotero_pages(fixture_server)
    monkeypatch.setenv("ZOTERO_TEST_KEY", "from-env")
    zotero(fixture_server).read("users/1001", http, options={"api_key_env": "ZOTERO_TEST_KEY"})
    assert fixture_server.hits(ZOTERO_ITEMS)[0].headers["zotero-api-key"] == "from-env"
    monkeypatch.delenv("ZOTERO_TEST_KEY")
    with pytest.raises(ProfileImportError, match=r"ZOTERO_TEST_KEY .* is not set"):
        zotero(fixture_server).read("users/1001", http, options={"api_key_env": "ZOTERO_TEST_KEY"})


@pytest.mark.parametrize(
    "ref", ["", "users", "users/abc", "people/1", "users/1/collections/SHORT", "users/1/../2"]
)
def test_bad_zotero_refs_are_one_line(ref: str) -> None:
    with pytest.raises(ProfileImportError, match=r"^zotero .*(want users/<id>|empty)") as error:
        ZoteroImporter().validate(ref)
    assert "\n" not in str(error.value)


# -- ORCID ------------------------------------------------------------------------------------


def orcid(server: FixtureServer) -> OrcidImporter:
    return OrcidImporter(base_url=server.url("/v3.0"))


def test_orcid_works_become_papers(fixture_server: FixtureServer, http: ImportHTTP) -> None:
    fixture_server.route(
        ORCID_WORKS, Reply(body="importers/orcid_0000-0002-1825-0097_works.json", headers=JSON)
    )
    papers = orcid(fixture_server).read(f"https://orcid.org/{ORCID}", http, options={})
    assert [str(p.id) for p in papers][:2] == ["doi:10.5555/jtr.2024.0042", "arxiv:2506.91001"]
    assert len(papers) == 3 and papers[2].id.kind == "fp"
    assert papers[0].title == "Grasp Planning under Uncertainty"  # the first summary wins
    assert papers[0].published == dt.datetime(2024, 11, 5, tzinfo=dt.UTC)
    assert papers[1].published is None  # no day
    (request,) = fixture_server.hits(ORCID_WORKS)
    assert request.headers["accept"] == "application/json"


def test_orcid_checksums() -> None:
    importer = OrcidImporter()
    assert importer.validate("0000000218250097") == ORCID
    assert importer.validate("https://orcid.org/0000-0002-1694-233x") == "0000-0002-1694-233X"
    assert checksum("000000021694233") == "X"
    with pytest.raises(ProfileImportError) as error:
        importer.validate("0000-0002-1825-0098")
    assert str(error.value) == (
        "orcid 0000-0002-1825-0098: not an ORCID iD: the check digit does not match"
    )
    with pytest.raises(ProfileImportError, match="not an ORCID iD"):
        importer.validate("0000-0002-1825")


def test_orcid_unknown_id_and_bad_replies(fixture_server: FixtureServer, http: ImportHTTP) -> None:
    body = json.dumps({"response-code": 404, "developer-message": "404 Not Found"}).encode()
    fixture_server.route(ORCID_WORKS, Reply(status=404, body=body, headers=JSON))
    with pytest.raises(ProfileImportError, match=f"^orcid {ORCID}: .*HTTP 404"):
        orcid(fixture_server).read(ORCID, http, options={})
    fixture_server.route(ORCID_WORKS, Reply(body=b'{"works": []}', headers=JSON))
    with pytest.raises(ProfileImportError, match="no 'group' list"):
        orcid(fixture_server).read(ORCID, http, options={})


# -- Semantic Scholar and arXiv ---------------------------------------------------------------


def test_semantic_scholar_pages_with_next(fixture_server: FixtureServer, http: ImportHTTP) -> None:
    fixture_server.route(
        S2_PAPERS,
        Reply(body="importers/s2_author_4242_offset0.json", headers=JSON),
        query={"offset": "0"},
    )
    fixture_server.route(
        S2_PAPERS,
        Reply(body="importers/s2_author_4242_offset2.json", headers=JSON),
        query={"offset": "2"},
    )
    importer = SemanticScholarImporter(base_url=fixture_server.url("/graph/v1"))
    url = "https://www.semanticscholar.org/author/Ada-Lovelace/4242"
    papers = importer.read(url, http, options={})
    ids = [str(p.id) for p in papers]
    assert ids[:2] == ["arxiv:2506.91001", "doi:10.5555/jtr.2024.0042"] and len(ids) == 3
    assert papers[1].abstract == "" and papers[1].authors[0].name == "Grace Hopper"
    first, second = fixture_server.hits(S2_PAPERS)
    assert first.query["fields"] == "title,externalIds,authors,abstract,year"
    assert (first.query["offset"], second.query["offset"]) == ("0", "2")
    with pytest.raises(ProfileImportError, match="not a Semantic Scholar author id"):
        importer.validate("Ada Lovelace")


def test_arxiv_author_reuses_the_arxiv_parser(
    fixture_server: FixtureServer, http: ImportHTTP
) -> None:
    fixture_server.route(ARXIV_API, Reply(body="importers/arxiv_au_Lovelace_A.xml"))
    importer = ArxivAuthorImporter(base_url=fixture_server.url(ARXIV_API))
    assert importer.validate("Ada Lovelace") == importer.validate("Lovelace, Ada") == "Lovelace_A"
    papers = importer.read('"Lovelace_A"', http, options={"max_results": "50"})
    assert [str(p.id) for p in papers] == ["arxiv:2506.91001", "arxiv:2311.99123"]
    assert papers[0].title == "Folding Cloth with Tactile Diffusion Policies"
    assert papers[0].sources == ("library",)
    (request,) = fixture_server.hits(ARXIV_API)
    assert request.query["search_query"] == 'au:"Lovelace_A"'
    assert request.query["max_results"] == "50"
    with pytest.raises(ProfileImportError, match="not an arXiv author name"):
        importer.validate('Lovelace_A" OR all:x')


def test_arxiv_author_reports_the_api_error_feed(
    fixture_server: FixtureServer, http: ImportHTTP
) -> None:
    fixture_server.route(ARXIV_API, Reply(status=400, body="arxiv_api/error_http400_bad_id.xml"))
    importer = ArxivAuthorImporter(base_url=fixture_server.url(ARXIV_API))
    with pytest.raises(ProfileImportError) as error:
        importer.read("Lovelace_A", http, options={})
    assert str(error.value).startswith("arxiv-author Lovelace_A: arXiv API error: incorrect id")


# -- pasted lists and uploads -----------------------------------------------------------------


def test_parse_liked_lines() -> None:
    text = (
        "# my favourites\n"
        "2506.91001v2\n"
        "\n"
        "foo\n"
        "https://arxiv.org/abs/2311.99123\n"
        "https://doi.org/10.5555/JTR.2024.0042\n"
        "arXiv:2506.91001\n"
        "fp:0123456789abcdef0123\n"
    )
    refs, problems = parse_liked_lines(text)
    assert refs == ["arxiv:2506.91001", "arxiv:2311.99123", "doi:10.5555/jtr.2024.0042"]
    assert problems == [
        "line 4: 'foo' is not an arXiv id, DOI or arXiv/DOI URL",
        "line 8: 'fp:0123456789abcdef0123' is not an arXiv id, DOI or arXiv/DOI URL",
    ]


def test_read_upload_reads_exports_by_name_or_content() -> None:
    bib = b"@article{a, title={Grasping}, author={Lovelace, Ada}, eprint={2506.91001}}\n"
    assert [str(p.id) for p in read_upload("library.bib", bib)] == ["arxiv:2506.91001"]
    assert [str(p.id) for p in read_upload("upload", b"\xef\xbb\xbf" + bib)] == ["arxiv:2506.91001"]
    with pytest.raises(ProfileImportError, match=r"^notes\.txt: cannot tell the format"):
        read_upload("notes.txt", b"hello")
    with pytest.raises(ProfileImportError, match=r"^x\.bib: not UTF-8"):
        read_upload("x.bib", b"\xff\xfe@")


# -- storing and syncing ----------------------------------------------------------------------


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    store = Store.open(f"sqlite:///{tmp_path / 'digest.sqlite'}")
    people = [
        Subscriber(
            name="ada",
            email="ada@example.org",
            # liked by hand; the Zotero library lists the second one too
            profile=Profile(liked=("arxiv:2401.00001", "arxiv:2311.99123")),
        ),
        Subscriber(name="grace", email="grace@example.org"),
    ]
    store.save_subscribers(people, origin="import", now=NOW)
    yield store
    store.close()


def liked(store: Store, name: str) -> tuple[str, ...]:
    (found,) = [s for s in store.subscribers() if s.subscriber.name == name]
    return found.subscriber.profile.liked


def test_a_resync_replaces_what_the_import_contributed_and_keeps_manual_likes_and_dislikes(
    fixture_server: FixtureServer, http: ImportHTTP, store: Store
) -> None:
    zotero_pages(fixture_server)
    importer = zotero(fixture_server)
    first = run_import(store, "ada", importer, "users/1001", http, now=NOW)
    book = next(i for i in liked(store, "ada") if i.startswith("fp:"))
    assert liked(store, "ada") == (
        "arxiv:2401.00001",
        "arxiv:2311.99123",
        "arxiv:2506.91001",
        "doi:10.5555/jtr.2024.0042",
        book,
    )
    assert first.found == 4 and len(first.added) == 3 and not first.removed
    (recorded,) = store.profile_imports()
    assert (recorded.subscriber, recorded.importer, recorded.ref) == ("ada", "zotero", "users/1001")
    assert set(recorded.papers) == {"arxiv:2506.91001", "doi:10.5555/jtr.2024.0042", book}

    # Ada says "less like this" about one imported paper; the library loses its second page.
    (ada,) = [s for s in store.subscribers() if s.subscriber.name == "ada"]
    store.add_feedback(ada.id, "doi:10.5555/jtr.2024.0042", "less", now=NOW)
    fixture_server.route(
        ZOTERO_ITEMS,
        Reply(
            body="importers/zotero_users_1001_start0.json", headers={**JSON, "Total-Results": "3"}
        ),
    )
    again = run_import(store, "ada", importer, "users/1001", http, now=NOW)
    # The hand-liked paper stays though the library no longer lists it; the book goes; the
    # disliked paper is no longer liked and is not liked again.
    assert liked(store, "ada") == ("arxiv:2401.00001", "arxiv:2311.99123", "arxiv:2506.91001")
    assert set(again.removed) == {"doi:10.5555/jtr.2024.0042", book}
    assert again.disliked == ("doi:10.5555/jtr.2024.0042",)
    (recorded,) = store.profile_imports()
    assert recorded.papers == ("arxiv:2506.91001",) and recorded.error is None
    assert "1 disliked left out" in again.summary()


def test_a_paper_two_imports_list_stays_while_one_still_lists_it(
    fixture_server: FixtureServer, http: ImportHTTP, store: Store
) -> None:
    a = make_paper("2506.91001", title="Folding")
    b = make_paper("2506.91002", title="Grasping")
    import_into(store, "grace", [a, b], importer="zotero", ref="users/1", now=NOW)
    import_into(store, "grace", [a], importer="orcid", ref=ORCID, now=NOW)
    import_into(store, "grace", [], importer="zotero", ref="users/1", now=NOW)
    assert liked(store, "grace") == ("arxiv:2506.91001",)
    import_into(store, "grace", [], importer="orcid", ref=ORCID, now=NOW)
    assert liked(store, "grace") == ()


def test_imported_papers_are_references_never_news(store: Store) -> None:
    papers = [make_paper("2506.91001", title="Folding"), make_paper("2506.91002", title="Grasp")]
    import_into(store, "grace", papers, importer="zotero", ref="users/1", now=NOW)
    assert set(store.papers_by_id(["arxiv:2506.91001", "arxiv:2506.91002"])) == {
        "arxiv:2506.91001",
        "arxiv:2506.91002",
    }
    _, news = store.papers_since(after_seq=0, first_seen_after=NOW - dt.timedelta(days=30))
    assert news == []


def test_import_into_refuses_unknown_subscribers(store: Store) -> None:
    with pytest.raises(ProfileImportError, match="no subscriber named 'nobody'"):
        import_into(store, "nobody", [], now=NOW)


def test_one_failing_import_never_stops_the_others(
    fixture_server: FixtureServer, http: ImportHTTP, store: Store
) -> None:
    zotero_pages(fixture_server)
    fixture_server.route(
        ORCID_WORKS, Reply(body="importers/orcid_0000-0002-1825-0097_works.json", headers=JSON)
    )
    importers = {"zotero": zotero(fixture_server), "orcid": orcid(fixture_server)}
    run_import(store, "ada", importers["zotero"], "users/1001", http, now=NOW)
    run_import(store, "grace", importers["orcid"], ORCID, http, now=NOW)
    before = liked(store, "ada")
    fixture_server.route(ZOTERO_ITEMS, Reply(status=500, body=b"down"))
    fixture_server.route(ORCID_WORKS, Reply(body=b'{"group": []}', headers=JSON))
    seen: list[tuple[str, bool]] = []
    later = NOW + dt.timedelta(days=1)
    problems = sync_imports(
        store,
        {**importers, "gone": ZoteroImporter},
        http,
        now=later,
        on_result=lambda item, result, error: seen.append((item.importer, result is not None)),
    )
    assert seen == [("zotero", False), ("orcid", True)]
    (problem,) = problems
    assert problem.startswith("ada: zotero users/1001: ") and "HTTP 500" in problem
    assert liked(store, "ada") == before  # a failed sync takes nothing away
    assert liked(store, "grace") == ()  # the ORCID record is empty now
    rows = {r.importer: r for r in store.profile_imports()}
    assert rows["zotero"].error is not None and "HTTP 500" in rows["zotero"].error
    assert rows["zotero"].synced_at == later and rows["orcid"].error is None


def test_an_import_whose_importer_is_gone_records_the_error(store: Store, http: ImportHTTP) -> None:
    import_into(store, "grace", [make_paper("2506.91001")], importer="mendeley", ref="x", now=NOW)
    problems = sync_imports(store, {"zotero": ZoteroImporter}, http, now=NOW)
    assert problems == ["grace: no profile importer called 'mendeley' (known: zotero)"]
    (row,) = store.profile_imports()
    assert row.error == "no profile importer called 'mendeley' (known: zotero)"


# -- the plugin host --------------------------------------------------------------------------


class Broken:
    @hookimpl
    def register_profile_importers(self) -> list[type[ProfileImporter]]:
        raise RuntimeError("importer plugin exploded")


class Impostor:
    @hookimpl
    def register_profile_importers(self) -> list[object]:
        class FakeZotero(ProfileImporter):
            name = "zotero"

            def read(self, ref: str, http: ImportHTTP, *, options: object) -> list[Paper]:
                return []

        return [FakeZotero, "not a class"]


def test_the_host_collects_importers_in_isolation() -> None:
    host = make_host(Broken(), Impostor())
    found = host.profile_importers()
    assert {"zotero", "orcid", "arxiv-author", "semantic-scholar"} <= set(found)
    assert found["zotero"] is ZoteroImporter  # the built-in wins a name conflict
    messages = [str(f) for f in host.failures]
    assert any("Broken" in m and "importer plugin exploded" in m for m in messages)
    assert any("'zotero' is already registered by plugin 'importers'" in m for m in messages)
    assert any("'not a class' is not a subclass" in m for m in messages)
    for cls in found.values():
        assert cls.label and cls.placeholder and cls.help and cls.__doc__


def test_parse_from() -> None:
    assert parse_from("arxiv-author:Hinton_G") == ("arxiv-author", "Hinton_G")
    assert parse_from("zotero:users/1/collections/AB12CD34") == (
        "zotero",
        "users/1/collections/AB12CD34",
    )
    with pytest.raises(ProfileImportError, match="want IMPORTER:REF"):
        parse_from("users/1")


# -- the command line -------------------------------------------------------------------------


def test_like_from_and_sync_on_the_command_line(
    cli: Callable[..., CliResult],
    write_config: Callable[..., Path],
    fixture_server: FixtureServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = str(write_config(fetch={"allow": ["127.0.0.0/8"], "retries": 0}))
    people = tmp_path / "people.jsonl"
    people.write_text(json.dumps({"name": "hopper", "email": "h@example.org"}) + "\n")
    assert cli("subscribers", "import", "--config", config, str(people)).exit_code == 0
    monkeypatch.setattr(ZoteroImporter, "base_url", fixture_server.url(""))
    monkeypatch.setenv("HOPPER_ZOTERO_KEY", "s3cret")
    zotero_pages(fixture_server)

    result = cli(
        "subscribers", "like", "--config", config, "hopper",
        "--from", "zotero:users/1001", "--api-key-env", "HOPPER_ZOTERO_KEY",
    )  # fmt: skip
    assert result.exit_code == 0, result.err
    assert result.out == (
        "hopper: 4 papers from zotero:users/1001, 4 newly liked; 4 liked in all\n"
    )
    assert fixture_server.hits(ZOTERO_ITEMS)[0].headers["zotero-api-key"] == "s3cret"

    result = cli("subscribers", "sync", "--config", config)
    assert result.exit_code == 0, result.err
    assert result.out.splitlines()[-1] == "Synced 1 of 1 imports"

    fixture_server.route(ZOTERO_ITEMS, Reply(status=403, body=b"Invalid key"))
    result = cli("subscribers", "sync", "--config", config)
    assert result.exit_code == 1
    assert "hopper: zotero:users/1001 failed: zotero users/1001: " in result.err
    assert result.out.splitlines()[-1] == "Synced 0 of 1 imports"

    from digest.config import load_settings

    stored = Store.open(load_settings(Path(config)).database_url)
    (row,) = stored.profile_imports()
    assert row.options == {"api_key_env": "HOPPER_ZOTERO_KEY"}  # the name, never the key
    stored.close()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--from", "orcid:0000-0002-1825-0098"), "check digit does not match"),
        (("--from", "mendeley:x"), "no profile importer called 'mendeley'"),
        (("--from", "zotero"), "want IMPORTER:REF"),
    ],
)
def test_like_from_errors_are_one_line(
    cli: Callable[..., CliResult],
    write_config: Callable[..., Path],
    tmp_path: Path,
    args: tuple[str, ...],
    message: str,
) -> None:
    config = str(write_config())
    people = tmp_path / "people.jsonl"
    people.write_text(json.dumps({"name": "hopper", "email": "h@example.org"}) + "\n")
    assert cli("subscribers", "import", "--config", config, str(people)).exit_code == 0
    result = cli("subscribers", "like", "--config", config, "hopper", *args)
    assert result.exit_code == 1 and message in result.err
    assert result.err.count("\n") == 1 and "Traceback" not in result.err
