"""The one HTTP client: real requests to a real server on 127.0.0.1, every failure named."""

from __future__ import annotations

import gzip
import itertools
import time

import pytest

from digest.fetch import Fetcher, FetchError, FetchPolicy, HostLimit
from digest.testing import make_context
from httpserver import FixtureServer, Reply, fixture_path

RSS = "/arxiv_rss/cs.LG_2025-06-11.rss.xml"


def fetcher(**policy: object) -> Fetcher:
    options: dict[str, object] = {"allow": ("127.0.0.1/32",), "retries": 2, "backoff": 0.01}
    options.update(policy)
    return Fetcher(FetchPolicy(**options))  # type: ignore[arg-type]


def test_a_fixture_comes_back_whole_with_validators(fixture_server: FixtureServer) -> None:
    got = fetcher(contact="ops@example.org").get(fixture_server.url(RSS))
    assert got.status == 200 and got.content.startswith(b"<?xml")
    assert got.content == fixture_path(RSS).read_bytes()
    assert got.etag and got.last_modified
    (request,) = fixture_server.hits(RSS)
    assert request.headers["user-agent"].startswith("papers-digest/")
    assert "ops@example.org" in request.headers["user-agent"]


def test_conditional_get_returns_not_modified_and_keeps_state(
    fixture_server: FixtureServer,
) -> None:
    first = make_context()
    assert first.http.get(fixture_server.url(RSS)).status == 200
    assert any(k.startswith("http.etag ") for k in first.pending_state)
    second = make_context(state=first.pending_state)
    got = second.http.get(fixture_server.url(RSS))
    assert got.not_modified and got.content == b"" and got.status == 304
    assert fixture_server.hits(RSS)[-1].headers["if-none-match"]


def test_429_with_retry_after_is_waited_out(fixture_server: FixtureServer) -> None:
    calls = {"n": 0}

    def busy_then_ok(_request: object) -> Reply:
        calls["n"] += 1
        if calls["n"] == 1:
            return Reply(status=429, headers={"Retry-After": "1"}, body=b"slow down")
        return Reply(body=b"<rss/>")

    fixture_server.route("/busy", busy_then_ok)
    slept: list[float] = []
    f = Fetcher(FetchPolicy(allow=("127.0.0.1/32",)), sleep=lambda s: slept.append(s))
    assert f.get(fixture_server.url("/busy")).content == b"<rss/>"
    assert slept == [1.0]


def test_503_that_never_recovers_is_one_clear_error(fixture_server: FixtureServer) -> None:
    fixture_server.route("/down", Reply(status=503, headers={"Retry-After": "0"}))
    with pytest.raises(FetchError) as caught:
        fetcher().get(fixture_server.url("/down"))
    message = str(caught.value)
    assert message.startswith(fixture_server.url("/down"))
    assert "HTTP 503 Service Unavailable (gave up after 3 attempts)" in message
    assert len(fixture_server.hits("/down")) == 3


def test_500_is_not_retried_and_keeps_the_body(fixture_server: FixtureServer) -> None:
    fixture_server.route("/boom", Reply(status=500, body=b"stack trace"))
    with pytest.raises(FetchError) as caught:
        fetcher().get(fixture_server.url("/boom"))
    assert str(caught.value) == f"{fixture_server.url('/boom')}: HTTP 500 Internal Server Error"
    assert caught.value.status == 500 and caught.value.content == b"stack trace"
    assert len(fixture_server.hits("/boom")) == 1


def test_a_read_timeout_is_retried_then_reported(fixture_server: FixtureServer) -> None:
    fixture_server.route("/slow", Reply(body=b"x" * 100, stall=1.5))
    with pytest.raises(FetchError, match=r"read timeout after 0\.3 s \(gave up after 2 attempts"):
        fetcher(read_timeout=0.3, retries=1).get(fixture_server.url("/slow"))


def test_a_gzip_bomb_is_stopped_after_decompression(fixture_server: FixtureServer) -> None:
    bomb = gzip.compress(b"\0" * 50_000_000, compresslevel=9)
    assert len(bomb) < 100_000
    fixture_server.route("/bomb", Reply(body=bomb, headers={"Content-Encoding": "gzip"}))
    with pytest.raises(FetchError, match="exceeds 1,000,000 bytes after decompression"):
        fetcher(max_bytes=1_000_000).get(fixture_server.url("/bomb"))


def test_an_oversized_body_is_refused_before_reading_it(fixture_server: FixtureServer) -> None:
    fixture_server.route("/big", Reply(body=b"y" * 2_000_000))
    with pytest.raises(FetchError, match="body of 2,000,000 bytes exceeds 1,000,000"):
        fetcher(max_bytes=1_000_000).get(fixture_server.url("/big"))


def test_a_redirect_to_a_private_address_is_refused_before_connecting(
    fixture_server: FixtureServer,
) -> None:
    fixture_server.route("/jump", Reply(status=302, headers={"Location": "http://10.1.2.3/x"}))
    with pytest.raises(FetchError) as caught:
        fetcher().get(fixture_server.url("/jump"))
    assert "10.1.2.3" in str(caught.value) and "refused" in str(caught.value)
    assert "redirected to http://10.1.2.3/x" in str(caught.value)


def test_loopback_is_refused_unless_allowed(fixture_server: FixtureServer) -> None:
    with pytest.raises(FetchError, match=r"resolves to 127\.0\.0\.1.*refused"):
        Fetcher(FetchPolicy()).get(fixture_server.url(RSS))
    assert fixture_server.hits(RSS) == []
    for url in ("file:///etc/passwd", "ftp://example.org/x"):
        with pytest.raises(FetchError, match="refusing"):
            fetcher().get(url)


def test_redirects_are_followed_and_capped(fixture_server: FixtureServer) -> None:
    fixture_server.route("/a", Reply(status=301, headers={"Location": "/b"}))
    fixture_server.route("/b", Reply(status=302, headers={"Location": RSS}))
    got = fetcher().get(fixture_server.url("/a"))
    assert got.url == fixture_server.url(RSS) and got.status == 200
    fixture_server.route("/loop", Reply(status=302, headers={"Location": "/loop"}))
    with pytest.raises(FetchError, match="more than 5 redirects"):
        fetcher().get(fixture_server.url("/loop"))


def test_two_sources_on_one_host_share_its_rate_limit(fixture_server: FixtureServer) -> None:
    shared = Fetcher(
        FetchPolicy(
            allow=("127.0.0.1/32",), hosts={"127.0.0.1": HostLimit(interval=0.25, connections=1)}
        )
    )
    arxiv_like = make_context(fetcher=shared)
    hf_like = make_context(fetcher=shared)
    for _ in range(2):
        arxiv_like.http.get(fixture_server.url(RSS), conditional=False)
        hf_like.http.get(fixture_server.url("/hf_daily_papers/2024-06-18.json"))
    times = sorted(r.at for r in fixture_server.requests)
    assert len(times) == 4
    gaps = [b - a for a, b in itertools.pairwise(times)]
    # Without the shared limit these four requests would be ~1 ms apart.
    assert min(gaps) >= 0.2, gaps


def test_arxiv_hosts_default_to_one_request_per_three_seconds() -> None:
    limit = FetchPolicy().limit_for("export.arxiv.org")
    assert (limit.interval, limit.connections) == (3.0, 1)
    assert FetchPolicy().limit_for("rss.arxiv.org").interval == 3.0


def test_an_unreachable_port_is_one_line() -> None:
    start = time.monotonic()
    with pytest.raises(FetchError, match=r"cannot connect to 127\.0\.0\.1"):
        fetcher().get("http://127.0.0.1:9/nothing")
    assert time.monotonic() - start < 30


# -- DNS rebinding: the connection goes to the address the guard checked -----------------------


def test_the_connection_goes_to_the_checked_address(fixture_server: FixtureServer) -> None:
    # "papers.test" resolves nowhere on this machine: only the guard's own resolution (pinned
    # into the request) can reach the server; the Host header still names the host.
    port = fixture_server.url("").rsplit(":", 1)[1].split("/")[0]
    asked: list[str] = []

    def resolve(host: str) -> list[str]:
        asked.append(host)
        return ["127.0.0.1"]

    f = Fetcher(FetchPolicy(allow=("127.0.0.0/8",), retries=0), resolve=resolve)
    got = f.get(f"http://papers.test:{port}{RSS}")
    assert got.status == 200 and got.url == f"http://papers.test:{port}{RSS}"
    (request,) = fixture_server.hits(RSS)
    assert request.headers["host"] == f"papers.test:{port}"
    assert asked == ["papers.test"]  # resolved once, by the guard


def test_a_name_rebound_to_a_private_address_after_the_check_is_not_reached(
    fixture_server: FixtureServer,
) -> None:
    # Public for the check, loopback ever after: a client resolving again to connect would
    # reach the local server. Pinned, the request goes to the public address (unreachable
    # here) and the local server sees nothing.
    port = fixture_server.url("").rsplit(":", 1)[1].split("/")[0]
    answers = iter([["93.184.215.14"]])

    def rebinding(_host: str) -> list[str]:
        return next(answers, ["127.0.0.1"])

    f = Fetcher(FetchPolicy(retries=0, connect_timeout=1.0), resolve=rebinding)
    with pytest.raises(FetchError, match=r"cannot connect to rebind\.test|timeout"):
        f.get(f"http://rebind.test:{port}{RSS}")
    assert fixture_server.hits(RSS) == []


def test_https_is_pinned_with_the_name_kept_for_tls() -> None:
    from digest.fetch import _pinned

    url, headers, extensions = _pinned("https://papers.example.org/feed?x=1", "93.184.215.14")
    assert url == "https://93.184.215.14/feed?x=1"
    assert headers == {"Host": "papers.example.org"}
    assert extensions == {"sni_hostname": "papers.example.org"}
    url, headers, extensions = _pinned("http://papers.example.org:8080/f", "2001:db8::1")
    assert url == "http://[2001:db8::1]:8080/f"
    assert headers == {"Host": "papers.example.org:8080"} and extensions == {}


# -- what sources may ask of context.http ---------------------------------------------------------


def test_a_source_paces_its_api_unless_the_operator_did(fixture_server: FixtureServer) -> None:
    slept: list[float] = []
    now = [0.0]

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    f = Fetcher(FetchPolicy(allow=("127.0.0.1/32",)), clock=lambda: now[0], sleep=sleep)
    context = make_context(fetcher=f)
    context.http.pace("127.0.0.1", interval=0.34)
    for _ in range(3):
        context.http.get(fixture_server.url(RSS), conditional=False)
    assert slept == [pytest.approx(0.34), pytest.approx(0.34)]
    # An operator's [fetch.hosts] limit wins over the source's.
    mine = Fetcher(
        FetchPolicy(allow=("127.0.0.1/32",), hosts={"127.0.0.1": HostLimit(interval=0.0)}),
        sleep=slept.append,
    )
    slept.clear()
    make_context(fetcher=mine).http.pace("127.0.0.1", interval=5.0)
    for _ in range(2):
        mine.get(fixture_server.url(RSS))
    assert slept == []


def test_forget_drops_this_runs_validators(fixture_server: FixtureServer) -> None:
    context = make_context()
    context.http.get(fixture_server.url(RSS))
    context.http.forget(fixture_server.url(RSS))
    again = make_context(state=context.pending_state)
    assert again.http.get(fixture_server.url(RSS)).status == 200  # not a 304


def test_an_api_key_in_the_query_never_reaches_a_message_or_the_log(
    fixture_server: FixtureServer, caplog: pytest.LogCaptureFixture
) -> None:
    fixture_server.route("/eutils", Reply(status=503, body=b"busy"))
    f = Fetcher(FetchPolicy(allow=("127.0.0.1/32",), retries=1, backoff=0.01))
    with caplog.at_level("INFO", logger="digest"), pytest.raises(FetchError) as caught:
        f.get(fixture_server.url("/eutils"), params={"db": "pubmed", "api_key": "s3cr3t-k3y"})
    message = str(caught.value)
    assert "s3cr3t-k3y" not in message and "api_key=…" in message and "db=pubmed" in message
    assert caught.value.status == 503
    assert "s3cr3t-k3y" not in caplog.text and "retrying" in caplog.text
    (request, _) = fixture_server.hits("/eutils")
    assert request.query["api_key"] == "s3cr3t-k3y"  # the server still gets it
