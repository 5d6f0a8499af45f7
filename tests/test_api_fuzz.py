"""`digest serve` under schemathesis and hand-made hostile requests: never a 5xx.

Every operation of the app's OpenAPI schema (as the server serves it) is fuzzed against a real
uvicorn server, one per module (test_web's ``serve``): with random tokens, and again with a
valid token in the path so the rest of the request gets past the token check. Then requests a
fuzzer rarely builds are sent by hand: huge or odd tokens and values, garbage conditional and
auth headers. Random tokens must never be accepted: afterwards nobody is unsubscribed, no
feedback is recorded, and the subscriber's links still work.
"""

from __future__ import annotations

import base64
import collections
import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error

from digest.tokens import Tokens
from test_web import Site, serve

OPERATOR_TOKEN = "op-s3cret"  # test_web.CONFIG's [serve] operator_token
SECRET = "k2"  # serve()'s default secret_key

#: (method, path template, status) of every fuzzed request that passed the checks
Seen = collections.Counter[tuple[str, str, int]]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    yield from serve(tmp_path_factory.mktemp("fuzz"))


@pytest.fixture(scope="module")
def api_schema(site: Site) -> Any:
    return schemathesis.openapi.from_url(f"{site.url}/openapi.json")


@pytest.fixture(scope="module")
def fuzzed() -> Seen:
    return collections.Counter()


def tokens(site: Site, name: str) -> dict[str, str]:
    """``name``'s valid tokens for every purpose, as their delivered email carries them."""
    sid = site.subscriber(name).id
    purposes = ("read", "unsubscribe", "feedback", "preferences")
    return {p: Tokens(SECRET).make(p, sid) for p in purposes}


def send(site: Site, method: str, url: str, **kwargs: Any) -> httpx.Response:
    """One request on a fresh connection (after a 5xx uvicorn closes the one it came on)."""
    with httpx.Client(base_url=site.url, timeout=30) as client:
        return client.request(method, url, **kwargs)


def assert_alive(site: Site) -> None:
    assert send(site, "GET", "/healthz").status_code == 200


# -- fuzzing -----------------------------------------------------------------------------------
#
# One test per operation, in both generation modes, through the public
# ``operation.as_strategy()`` under Hypothesis' ``@given``. (With schemathesis 4.32 and
# pytest 9, the lazy ``schemathesis.pytest.from_fixture(...).parametrize()`` fails: it sets
# ``Function._nodeid``, which pytest 9 no longer has; and ``schema.parametrize()`` needs the
# schema at import time, before the server is up.)

OPERATIONS = [
    ("GET", "/"),
    ("GET", "/healthz"),
    ("GET", "/feeds/{token}/{filename}"),
    ("GET", "/archive/{edition_id}/{token}"),
    ("GET", "/unsubscribe/{token}"),
    ("POST", "/unsubscribe/{token}"),
    ("GET", "/feedback/{token}"),
    ("POST", "/feedback/{token}"),
    ("GET", "/preferences/{token}"),
    ("POST", "/preferences/{token}/feedback/{feedback_id}/delete"),
    ("POST", "/preferences/{token}"),
    ("POST", "/preferences/{token}/resubscribe"),
    ("POST", "/preferences/{token}/import"),
    ("POST", "/preferences/{token}/import/{import_id}/delete"),
    ("GET", "/preferences/{token}/export.json"),
    ("POST", "/preferences/{token}/delete"),
    ("GET", "/subscribe"),
    ("POST", "/subscribe"),
    ("GET", "/confirm/{token}"),
    ("POST", "/confirm/{token}"),
    ("GET", "/static/profile.js"),
    ("GET", "/operator"),
    ("POST", "/operator/signup-mode"),
    ("GET", "/operator/subscribers.{fmt}"),
    ("GET", "/operator/preview/{name}"),
]
#: the purpose of the token a real link carries, per path
PURPOSES = {
    "/feeds/{token}/{filename}": "read",
    "/archive/{edition_id}/{token}": "read",
    "/unsubscribe/{token}": "unsubscribe",
    "/feedback/{token}": "feedback",
    "/preferences/{token}": "preferences",
    "/preferences/{token}/feedback/{feedback_id}/delete": "preferences",
    "/preferences/{token}/resubscribe": "preferences",
    "/preferences/{token}/import": "preferences",
    "/preferences/{token}/import/{import_id}/delete": "preferences",
    "/preferences/{token}/export.json": "preferences",
    "/preferences/{token}/delete": "preferences",
}
FUZZ_SETTINGS = settings(
    max_examples=30,
    deadline=None,
    derandomize=True,  # the same requests on every run
    database=None,
    suppress_health_check=list(HealthCheck),
    phases=[Phase.explicit, Phase.generate, Phase.shrink],
)


def fuzz_operation(
    site: Site, operation: Any, fuzzed: Seen, path_parameters: dict[str, str] | None = None
) -> None:
    """Invalid then valid cases (max_examples each), sent as they are and, to the operator
    area, also with its token."""
    method, path = operation.method.upper(), operation.path
    logins: list[dict[str, str] | None] = [None]
    if path.startswith("/operator"):
        logins.append({"Authorization": f"Bearer {OPERATOR_TOKEN}"})
    for mode in (GenerationMode.NEGATIVE, GenerationMode.POSITIVE):

        @FUZZ_SETTINGS
        @given(case=operation.as_strategy(generation_mode=mode, path_parameters=path_parameters))
        def fuzz(case: schemathesis.Case) -> None:
            for headers in logins:
                response = case.call_and_validate(
                    base_url=site.url, headers=headers, checks=[not_a_server_error], timeout=30
                )
                fuzzed[(method, path, response.status_code)] += 1

        try:
            fuzz()
        except Unsatisfiable:
            if mode is GenerationMode.POSITIVE:
                raise
            # else nothing in the operation's schema can be made invalid (free-form strings)


def test_every_operation_of_the_served_schema_is_fuzzed(api_schema: Any) -> None:
    served = {(o.ok().method.upper(), o.ok().path) for o in api_schema.get_all_operations()}
    assert served == set(OPERATIONS), "add new operations to OPERATIONS (and PURPOSES)"


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_fuzzed_requests_never_get_a_server_error(
    site: Site, api_schema: Any, fuzzed: Seen, method: str, path: str
) -> None:
    fuzz_operation(site, api_schema[path][method], fuzzed)


WITH_TOKEN = [
    pytest.param(
        m,
        p,
        id=f"{m} {p}",
    )
    for m, p in OPERATIONS
    if p in PURPOSES
]


@pytest.mark.parametrize(("method", "path"), WITH_TOKEN)
def test_fuzzed_requests_with_a_valid_token_never_get_a_server_error(
    site: Site, api_schema: Any, fuzzed: Seen, method: str, path: str
) -> None:
    token = tokens(site, "grace")[PURPOSES[path]]  # ada's links only ever see random tokens
    fuzz_operation(site, api_schema[path][method], fuzzed, {"token": token})


# -- requests a fuzzer rarely builds --------------------------------------------------------------

HOSTILE_TOKENS = [
    "A" * 10_000,
    "x" * 10_000 + ".AAAA",
    "ünïcödé-🙂-токен",
    "%00",
    "MQ%00.abc",
    "..%2F..%2F..%2Fetc%2Fpasswd",
    "%2e%2e",
    "%FF%FE",
    "MQ.not-a-signature",
    "e30.AAAAAAAAAAAAAAAAAAAAAAAAAAA",  # "{}" with a made-up signature
    Tokens("not-our-key").make("unsubscribe", 1),
]


@pytest.mark.parametrize("token", HOSTILE_TOKENS, ids=lambda t: repr(t[:24]))
def test_hostile_tokens_get_a_4xx_on_every_subscriber_page(site: Site, token: str) -> None:
    archive = site.links("ada", r"/archive/[^/\"]+/[^\"]+")[0]
    edition = archive.split("/archive/")[1].split("/")[0]
    read = tokens(site, "ada")["read"]
    operator = {"Authorization": f"Bearer {OPERATOR_TOKEN}"}
    requests: list[tuple[str, str, dict[str, Any]]] = [
        ("GET", f"/feeds/{token}/rss.xml", {}),
        ("GET", f"/feeds/{read}/{token}", {}),
        ("GET", f"/archive/{edition}/{token}", {}),
        ("GET", f"/archive/{token}/{read}", {}),
        ("GET", f"/unsubscribe/{token}", {}),
        ("POST", f"/unsubscribe/{token}", {"data": {"List-Unsubscribe": "One-Click"}}),
        ("GET", f"/feedback/{token}", {"params": {"paper": "arxiv:2411.00001"}}),
        ("POST", f"/feedback/{token}", {"data": {"paper": "arxiv:2411.00001", "action": "more"}}),
        ("GET", f"/preferences/{token}", {}),
        ("POST", f"/preferences/{token}/feedback/1/delete", {}),
        ("GET", f"/operator/preview/{token}", {"headers": operator}),
    ]
    for method, url, kwargs in requests:
        response = send(site, method, url, **kwargs)
        assert 400 <= response.status_code < 500, (method, url[:80], response.status_code)
    assert_alive(site)


def test_huge_and_odd_values_with_valid_tokens_get_a_4xx(site: Site) -> None:
    valid = tokens(site, "ada")
    feedback, unsubscribe = f"/feedback/{valid['feedback']}", f"/unsubscribe/{valid['unsubscribe']}"
    delete = f"/preferences/{valid['preferences']}/feedback/{{}}/delete"
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    operator = {"Authorization": f"Bearer {OPERATOR_TOKEN}"}
    paper = "arxiv:2411.00001"
    requests: list[tuple[str, str, dict[str, Any]]] = [
        ("GET", feedback, {"params": {"paper": "arxiv:" + "9" * 60_000}}),
        ("GET", feedback, {"params": {"paper": "..%2F..%2Fetc%2Fpasswd"}}),
        ("GET", feedback, {"params": {"paper": paper, "action": "\x00"}}),
        ("GET", feedback, {"params": {"paper": paper, "action": "x" * 5000}}),
        ("GET", feedback, {"params": [("paper", "a"), ("paper", "b")] * 500}),
        ("POST", feedback, {"data": {"paper": "p" * 1_000_000, "action": "more"}}),
        ("POST", feedback, {"data": {"paper": paper, "action": "mute", "author": "\x00" * 300}}),
        ("POST", feedback, {"content": b"\xff\xfe%%%=&&=", "headers": form}),
        ("POST", feedback, {"content": b"{}", "headers": {"Content-Type": "multipart/form-data"}}),
        ("POST", unsubscribe, {"data": {"List-Unsubscribe": "One-Click" * 10_000}}),
        ("POST", unsubscribe, {"content": b"List-Unsubscribe=One%2", "headers": form}),
        ("POST", unsubscribe, {"json": {"List-Unsubscribe": "One-Click"}}),
        ("POST", delete.format("not-a-number"), {}),
        ("POST", delete.format("1e400"), {}),
        ("POST", delete.format("%00"), {}),
        ("GET", f"/archive/{'9' * 10_000}/{valid['read']}", {}),
        ("GET", f"/archive/..%2F..%2Fconfig.toml/{valid['read']}", {}),
        ("GET", f"/feeds/{valid['read']}/..%2F..%2Fconfig.toml", {}),
        ("GET", f"/operator/preview/{'%00' * 100}", {"headers": operator}),
        ("GET", f"/operator/preview/{'n' * 10_000}", {"headers": operator}),
        ("GET", "/operator/preview/..%2Fada", {"headers": operator}),
    ]
    for method, url, kwargs in requests:
        response = send(site, method, url, **kwargs)
        assert 400 <= response.status_code < 500, (method, url[:80], response.status_code)
    assert_alive(site)


# What SQLite or PostgreSQL cannot store must be refused before it gets there.


@contextlib.contextmanager
def serve_on(database_url: str, tmp_path: Path) -> Iterator[Site]:
    yield from serve(tmp_path, database=database_url)


def test_out_of_range_feedback_id_with_a_valid_token_gets_a_4xx(
    database_url: str, tmp_path: Path
) -> None:
    with serve_on(database_url, tmp_path) as site:
        token = tokens(site, "ada")["preferences"]
        responses = {
            feedback_id: send(site, "POST", f"/preferences/{token}/feedback/{feedback_id}/delete")
            for feedback_id in (2**63 - 1, -(2**63), 2**63, -(2**63) - 1, 2**70, 10**400)
        }
        assert_alive(site)
        assert {i: r.status_code for i, r in responses.items() if r.status_code >= 500} == {}
        # in range: "Already removed." (200); out of range: refused like any unknown id
        assert all(r.status_code in (200, 404, 422) for r in responses.values())


def test_nul_in_values_with_valid_tokens_gets_a_4xx(database_url: str, tmp_path: Path) -> None:
    with serve_on(database_url, tmp_path) as site:
        valid = tokens(site, "ada")
        feedback = f"/feedback/{valid['feedback']}"
        requests: list[tuple[str, str, dict[str, Any]]] = [
            ("GET", f"/archive/%00/{valid['read']}", {}),
            ("GET", f"/archive/20261122T000000Z-%00/{valid['read']}", {}),
            ("GET", f"/feeds/{valid['read']}/rss.xml%00", {}),
            ("GET", feedback, {"params": {"paper": "\x00"}}),
            ("GET", feedback, {"params": {"paper": "arxiv:2411.00001\x00"}}),
            ("POST", feedback, {"data": {"paper": "a\x00", "action": "more"}}),
            ("POST", feedback, {"data": {"paper": "arxiv:2411.00001", "action": "more\x00"}}),
            ("POST", f"/preferences/{valid['preferences']}/feedback/%00/delete", {}),
            (
                "GET",
                "/operator/preview/%00",
                {"headers": {"Authorization": f"Bearer {OPERATOR_TOKEN}"}},
            ),
        ]
        statuses = [(m, u[:60], send(site, m, u, **kw).status_code) for m, u, kw in requests]
        assert_alive(site)
        assert [s for s in statuses if not 400 <= s[2] < 500] == []
        ada = site.subscriber("ada")
        assert not ada.unsubscribed and site.pipeline.store.feedback([ada.id]) == {}


INVALID_DATES = [
    "garbage",
    "",
    "Tue, 15 Nov 1994 08:12:31",  # no zone
    "Tue, 15 Nov 99999 08:12:31 GMT",
    "Mon, 31 Feb 2020 00:00:00 GMT",
    "Sat, 01 Jan 0000 00:00:00 GMT",
    "Fri, 31 Dec 9999 23:59:61 GMT",
    "-1",
    "9" * 5000,
]
NON_GMT_DATES = ["Tue, 15 Nov 1994 08:12:31 +0500", "Fri, 31 Dec 9999 23:59:59 -2359"]


def test_garbage_or_non_gmt_if_modified_since_is_ignored_not_a_5xx(site: Site) -> None:
    rss = site.links("ada", r"/feeds/[^/\"]+/rss\.xml")[0]
    archive = site.links("ada", r"/archive/[^/\"]+/[^\"]+")[0]
    for url in (rss, archive):
        # RFC 9110 13.1.3: an If-Modified-Since that is not an HTTP-date is ignored: 200
        for value in INVALID_DATES:
            response = send(site, "GET", url, headers={"If-Modified-Since": value})
            assert response.status_code == 200 and response.content, (url, value)
        response = send(site, "GET", url, headers={"If-Modified-Since": b"Tue, \xff\xfe 1994"})
        assert response.status_code == 200
        for value in NON_GMT_DATES:  # lenient either way, but never a 5xx
            response = send(site, "GET", url, headers={"If-Modified-Since": value})
            assert response.status_code in (200, 304), (url, value, response.status_code)
        for tag in ("", ",", "W/", '"unterminated', "\u00e9".encode()):
            response = send(site, "GET", url, headers={"If-None-Match": tag})
            assert response.status_code == 200, (url, tag, response.status_code)
    for value in ("garbage", "*"):  # a bad token answers 404 whatever the conditions say
        headers = {"If-Modified-Since": value, "If-None-Match": value}
        assert send(site, "GET", "/feeds/nope/rss.xml", headers=headers).status_code == 404
    assert_alive(site)


def _basic(raw: bytes) -> bytes:
    return b"Basic " + base64.b64encode(raw)


BAD_AUTHORIZATION = [
    b"Basic !!!not*base64",
    b"Basic " + b"QUJD" * 3000 + b"=",  # long, and not user:password
    b"Basic",
    _basic(b"\xff\xfe:\xff"),  # base64 of bytes that are not UTF-8
    _basic(b"operator"),  # no colon
    _basic(b"operator:" + OPERATOR_TOKEN.encode() + b"x"),
    _basic(b":" + OPERATOR_TOKEN.upper().encode()),
    b"Bearer",
    b"Bearer \xc3\xa9\xff\xfe",  # not ASCII, not even UTF-8
    b"Bearer " + OPERATOR_TOKEN.encode() + b"\xc3\xa9",
    b"Bearer " + b"t" * 10_000,
    b"bearer op-s3cre",
    b"Digest username=op",
    b"\xff\xff",
]


def test_bad_operator_credentials_get_a_401_never_a_5xx(site: Site) -> None:
    for path in ("/operator", "/operator/preview/ada"):
        for value in BAD_AUTHORIZATION:
            response = send(site, "GET", path, headers={"Authorization": value})
            assert response.status_code == 401, (path, value[:40], response.status_code)
            assert response.headers["www-authenticate"].startswith("Basic ")
    # the right token still opens the area, as a Bearer token or as a Basic password
    for value in (b"Bearer " + OPERATOR_TOKEN.encode(), _basic(b"ops:" + OPERATOR_TOKEN.encode())):
        assert send(site, "GET", "/operator", headers={"Authorization": value}).status_code == 200
    assert_alive(site)


# -- after all of the above (tests run in file order): what must not have changed ----------------


def test_fuzzing_unsubscribed_nobody_and_recorded_no_feedback(site: Site, fuzzed: Seen) -> None:
    if not fuzzed:
        pytest.skip("checks what the fuzz tests above left behind; run them in the same session")
    statuses = collections.Counter(status for (_, _, status) in fuzzed.elements())
    print(f"fuzzed: {sum(fuzzed.values())} requests, {dict(sorted(statuses.items()))}")
    # random tokens were refused, valid ones got past the check to the rest of the request
    behind_tokens = {status for (_, path, status) in fuzzed if path in PURPOSES}
    assert {200, 404, 422} <= behind_tokens, behind_tokens
    store = site.pipeline.store
    subscribers = store.subscribers()
    assert {s.subscriber.name for s in subscribers} == {"ada", "grace"}
    assert [s.subscriber.name for s in subscribers if s.unsubscribed] == []
    assert store.feedback([s.id for s in subscribers]) == {}
    # and ada's links work as she would click them
    rss = site.links("ada", r"/feeds/[^/\"]+/rss\.xml")[0]
    assert send(site, "GET", rss).status_code == 200
    page = send(site, "GET", site.links("ada", r"/unsubscribe/[^\"]+")[0])
    assert page.status_code == 200 and 'id="confirm"' in page.text
