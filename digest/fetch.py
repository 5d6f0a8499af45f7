"""The one HTTP client every plugin uses (ARCHITECTURE §4, invariant I5).

httpx underneath, with what a polite, hardened crawler needs and a bare client lacks:
timeouts (connect, read, total); a size cap counted *after* decompression, so a gzip bomb is
stopped; redirects followed by hand, at most ``max_redirects``, each hop checked by an SSRF
guard (loopback, private, link-local and reserved addresses refused unless allowed); a
User-Agent naming the project and the operator's contact; conditional GET; retries with
backoff honouring ``Retry-After`` on 429/503 (and on timeouts and dropped connections); and
per-host rate limits shared by every plugin in the process (arXiv: one request per 3 s, one
connection at a time).
"""

from __future__ import annotations

import email.utils
import ipaddress
import json
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, quote, urljoin, urlsplit, urlunsplit

from digest.errors import SourceError

if TYPE_CHECKING:
    import httpx

log = logging.getLogger("digest.fetch")

#: arXiv's terms: no more than one request every three seconds, a single connection.
ARXIV_HOSTS = ("export.arxiv.org", "rss.arxiv.org", "arxiv.org", "www.arxiv.org")
RETRY_STATUSES = frozenset({429, 503})
REDIRECTS = frozenset({301, 302, 303, 307, 308})


class FetchError(SourceError):
    """A request failed; the message names the URL. ``status``/``content`` when there was
    an HTTP reply (e.g. arXiv's error feed comes with HTTP 400)."""

    def __init__(self, message: str, *, status: int | None = None, content: bytes = b"") -> None:
        super().__init__(message)
        self.status = status
        self.content = content


@dataclass(frozen=True, slots=True, kw_only=True)
class Fetched:
    """A successful reply: the final URL, status, headers and the decompressed body."""

    url: str
    status: int
    headers: Mapping[str, str]
    content: bytes
    not_modified: bool = False

    @property
    def etag(self) -> str | None:
        return self.headers.get("etag")

    @property
    def last_modified(self) -> str | None:
        return self.headers.get("last-modified")


@dataclass(frozen=True, slots=True, kw_only=True)
class HostLimit:
    """At most ``connections`` requests at once and one every ``interval`` seconds."""

    interval: float = 0.0
    connections: int = 4


@dataclass(frozen=True, slots=True, kw_only=True)
class FetchPolicy:
    """Everything configurable about fetching (``[fetch]`` in the config)."""

    connect_timeout: float = 10.0
    read_timeout: float = 30.0
    total_timeout: float = 120.0
    max_bytes: int = 50_000_000
    max_redirects: int = 5
    retries: int = 3
    backoff: float = 2.0
    max_retry_wait: float = 300.0
    contact: str = ""
    allow: Sequence[str] = ()  # networks or hosts exempt from the SSRF guard ("127.0.0.1/32")
    hosts: Mapping[str, HostLimit] = field(default_factory=dict)
    default_limit: HostLimit = HostLimit()

    def limit_for(self, host: str) -> HostLimit:
        if host in self.hosts:
            return self.hosts[host]
        if host in ARXIV_HOSTS or host.endswith(".arxiv.org"):
            return HostLimit(interval=3.0, connections=1)
        return self.default_limit


class _HostGate:
    """Per-host concurrency and spacing, shared by every thread of the process.

    Starts are ``interval`` apart; with one connection, a start is also ``interval`` after the
    previous request ended.
    """

    def __init__(self, limit: HostLimit, clock: Callable[[], float]) -> None:
        self.limit = limit
        self._slots = threading.BoundedSemaphore(max(1, limit.connections))
        self._lock = threading.Lock()
        self._next = 0.0
        self._clock = clock

    @contextmanager
    def turn(self, sleep: Callable[[float], None]) -> Iterator[None]:
        with self._slots:
            with self._lock:
                now = self._clock()
                start = max(now, self._next)
                self._next = start + self.limit.interval
            if start > now:
                sleep(start - now)
            try:
                yield
            finally:
                if self.limit.connections <= 1:
                    # One request at a time (arXiv): also keep the interval after the previous
                    # one finished, so the server never sees two closer than the interval
                    # however long connecting or sending took.
                    with self._lock:
                        self._next = max(self._next, self._clock() + self.limit.interval)


class Fetcher:
    """One per process; thread-safe. Use :meth:`get`, or ``context.http.get`` in a source."""

    def __init__(
        self,
        policy: FetchPolicy | None = None,
        *,
        version: str = "0",
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        resolve: Callable[[str], list[str]] | None = None,
    ) -> None:
        self.policy = policy or FetchPolicy()
        contact = f"; {self.policy.contact}" if self.policy.contact else ""
        self.user_agent = (
            f"papers-digest/{version} (+https://pypi.org/project/papers-digest/{contact})"
        )
        self._clock = clock
        self._sleep = sleep
        self._resolve = resolve or _resolve
        self._gates: dict[str, _HostGate] = {}
        self._suggested: dict[str, HostLimit] = {}
        self._gates_lock = threading.Lock()
        self._allowed = [_network(a) for a in self.policy.allow]
        self._client: httpx.Client | None = None
        self._client_lock = threading.Lock()

    # -- public ---------------------------------------------------------------------------

    def get(
        self,
        url: str,
        *,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        accept: str | None = None,
        etag: str | None = None,
        last_modified: str | None = None,
    ) -> Fetched:
        """GET ``url``; raise :class:`FetchError` with a one-line message on any failure.

        ``etag``/``last_modified`` make the request conditional; a 304 comes back as
        ``Fetched(not_modified=True, content=b"")``.
        """
        if params:  # merged with any query the URL already has
            url = with_params(url, params)
        request_headers = {"User-Agent": self.user_agent, "Accept-Encoding": "gzip, deflate"}
        if accept:
            request_headers["Accept"] = accept
        if etag:
            request_headers["If-None-Match"] = etag
        if last_modified:
            request_headers["If-Modified-Since"] = last_modified
        request_headers.update(headers or {})
        try:
            return self._get(url, request_headers)
        except FetchError as error:
            shown = redact(url)
            if shown == url:
                raise
            # An API key in the query (NCBI's api_key) never reaches a message or a log.
            raise FetchError(
                str(error).replace(url, shown), status=error.status, content=error.content
            ) from None

    def _get(self, url: str, request_headers: dict[str, str]) -> Fetched:
        deadline = self._clock() + self.policy.total_timeout
        attempt = 0
        while True:
            try:
                return self._follow(url, request_headers, deadline)
            except _Retry as retry:
                attempt += 1
                if attempt > self.policy.retries:
                    raise FetchError(
                        f"{url}: {retry.reason} (gave up after {attempt} attempts)",
                        status=retry.status,
                        content=retry.content,
                    ) from None
                wait = retry.wait if retry.wait is not None else self.policy.backoff**attempt
                wait = min(wait, self.policy.max_retry_wait)
                if self._clock() + wait > deadline:
                    raise FetchError(
                        f"{url}: {retry.reason}; retrying in {wait:.0f} s would pass the "
                        f"{self.policy.total_timeout:.0f} s limit",
                        status=retry.status,
                        content=retry.content,
                    ) from None
                log.info("%s: %s; retrying in %.1f s", redact(url), retry.reason, wait)
                self._sleep(wait)

    def pace(self, host: str, limit: HostLimit) -> None:
        """Use ``limit`` for ``host`` (a source knows its API's documented rate limit) unless the
        operator set one under ``[fetch.hosts]``, which always wins."""
        host = host.lower()
        with self._gates_lock:
            if host in self.policy.hosts or self._suggested.get(host) == limit:
                return
            self._suggested[host] = limit
            self._gates.pop(host, None)  # the next request opens a gate with the new limit

    def close(self) -> None:
        with self._client_lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    # -- internals ------------------------------------------------------------------------

    def _http(self) -> httpx.Client:
        with self._client_lock:
            if self._client is None:
                import httpx

                p = self.policy
                self._client = httpx.Client(
                    timeout=httpx.Timeout(p.read_timeout, connect=p.connect_timeout),
                    follow_redirects=False,
                    trust_env=False,
                )
            return self._client

    def _gate(self, host: str) -> _HostGate:
        with self._gates_lock:
            gate = self._gates.get(host)
            if gate is None:
                limit = self.policy.hosts.get(host) or self._suggested.get(host)
                gate = self._gates[host] = _HostGate(
                    limit or self.policy.limit_for(host), self._clock
                )
            return gate

    def _follow(self, url: str, headers: dict[str, str], deadline: float) -> Fetched:
        current = url
        for _hop in range(self.policy.max_redirects + 1):
            address = self._guard(url, current)
            status, reply_headers, content, location = self._once(
                url, current, headers, deadline, address
            )
            if location is None:
                if status == 304:
                    return Fetched(
                        url=current,
                        status=304,
                        headers=reply_headers,
                        content=b"",
                        not_modified=True,
                    )
                if 200 <= status < 300:
                    return Fetched(
                        url=current, status=status, headers=reply_headers, content=content
                    )
                raise FetchError(
                    f"{url}: HTTP {status} {_reason(status)}", status=status, content=content
                )
            current = urljoin(current, location)
        raise FetchError(f"{url}: more than {self.policy.max_redirects} redirects")

    def _once(
        self,
        origin: str,
        url: str,
        headers: Mapping[str, str],
        deadline: float,
        address: str | None = None,
    ) -> tuple[int, Mapping[str, str], bytes, str | None]:
        import httpx as errors  # imported with the client, on the first request

        host = urlsplit(url).hostname or ""
        target: str = url
        extensions: dict[str, Any] = {}
        if address is not None:
            target, pinned_headers, extensions = _pinned(url, address)
            headers = {**headers, **pinned_headers}
        with self._gate(host).turn(self._sleep):
            remaining = deadline - self._clock()
            if remaining <= 0:
                raise FetchError(f"{origin}: no reply within {self.policy.total_timeout:.0f} s")
            try:
                with self._http().stream(
                    "GET", target, headers=headers, extensions=extensions
                ) as response:
                    status = response.status_code
                    reply_headers = {k.lower(): v for k, v in response.headers.items()}
                    if status in REDIRECTS and "location" in reply_headers:
                        return status, reply_headers, b"", reply_headers["location"]
                    if status in RETRY_STATUSES:
                        body = self._read(origin, response, deadline, limit=65_536)
                        raise _Retry(
                            f"HTTP {status} {_reason(status)}",
                            wait=_retry_after(reply_headers.get("retry-after")),
                            status=status,
                            content=body,
                        )
                    body = b"" if status == 304 else self._read(origin, response, deadline)
                    return status, reply_headers, body, None
            except errors.TimeoutException as error:
                kind = "connect" if isinstance(error, errors.ConnectTimeout) else "read"
                timeout = (
                    self.policy.connect_timeout if kind == "connect" else self.policy.read_timeout
                )
                raise _Retry(f"{kind} timeout after {timeout:g} s") from None
            except (errors.RemoteProtocolError, errors.ReadError, errors.WriteError) as error:
                raise _Retry(f"connection dropped ({type(error).__name__})") from None
            except errors.ConnectError as error:
                raise FetchError(f"{origin}: cannot connect to {host}: {_first(error)}") from None
            except errors.DecodingError as error:
                raise FetchError(f"{origin}: undecodable response ({_first(error)})") from None
            except errors.HTTPError as error:
                raise FetchError(f"{origin}: {type(error).__name__}: {_first(error)}") from None

    def _read(
        self, origin: str, response: httpx.Response, deadline: float, limit: int | None = None
    ) -> bytes:
        """The decompressed body, refusing more than ``max_bytes`` (a gzip bomb stops here)."""
        cap = limit or self.policy.max_bytes
        declared = response.headers.get("content-length")
        if (
            limit is None
            and declared
            and declared.isdigit()
            and "content-encoding" not in response.headers
            and int(declared) > cap
        ):
            raise FetchError(f"{origin}: body of {int(declared):,} bytes exceeds {cap:,}")
        chunks: list[bytes] = []
        size = 0
        for chunk in response.iter_bytes(chunk_size=65_536):
            size += len(chunk)
            if size > cap:
                if limit is not None:
                    break
                raise FetchError(
                    f"{origin}: body exceeds {cap:,} bytes after decompression; stopped reading"
                )
            if self._clock() > deadline:
                raise FetchError(
                    f"{origin}: no complete reply within {self.policy.total_timeout:.0f} s"
                )
            chunks.append(chunk)
        return b"".join(chunks)

    def _guard(self, origin: str, url: str) -> str | None:
        """Refuse non-HTTP schemes and hosts resolving to internal addresses (every hop).

        Returns the checked address to connect to, so the connection goes where the check
        looked: a name that resolves to a public address for the check and to a private one a
        moment later (DNS rebinding) cannot reach the private one. ``None`` for an IP literal
        or a host exempted by name under ``[fetch] allow`` (resolved as usual).
        """
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https"):
            raise FetchError(f"{origin}: refusing {parts.scheme or 'relative'} URL {url!r}")
        host = parts.hostname or ""
        if not host:
            raise FetchError(f"{origin}: no host in {url!r}")
        if host in self.policy.allow:
            return None
        try:
            addresses = self._resolve(host)
        except OSError as error:
            raise FetchError(f"{origin}: cannot resolve {host}: {error}") from None
        if not addresses:
            raise FetchError(f"{origin}: cannot resolve {host}: no address")
        for text in addresses:
            address = ipaddress.ip_address(text.split("%", 1)[0])
            if any(address in net for net in self._allowed):
                continue
            if not address.is_global or address.is_multicast:
                where = "" if url == origin else f" (redirected to {url})"
                raise FetchError(
                    f"{origin}: {host} resolves to {address}, a private, loopback or "
                    f"link-local address{where}; refused (allow it under [fetch] allow)"
                )
        first = addresses[0].split("%", 1)[0]
        return None if first == host.strip("[]") else first


class _Retry(Exception):
    def __init__(
        self,
        reason: str,
        *,
        wait: float | None = None,
        status: int | None = None,
        content: bytes = b"",
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.wait = wait
        self.status = status
        self.content = content


def _pinned(url: str, address: str) -> tuple[str, dict[str, str], dict[str, Any]]:
    """``url`` aimed at ``address`` instead of its host name, with the ``Host`` header and the
    TLS server name (SNI, and the name the certificate is checked against) still the name."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    literal = f"[{address}]" if ":" in address else address
    netloc = f"{literal}:{parts.port}" if parts.port else literal
    default = {"http": 80, "https": 443}.get(parts.scheme)
    host_header = host if parts.port in (None, default) else f"{host}:{parts.port}"
    extensions: dict[str, Any] = {"sni_hostname": host} if parts.scheme == "https" else {}
    return urlunsplit(parts._replace(netloc=netloc)), {"Host": host_header}, extensions


def _resolve(host: str) -> list[str]:
    try:
        ipaddress.ip_address(host)
        return [host]
    except ValueError:
        pass
    return sorted({str(info[4][0]) for info in socket.getaddrinfo(host, None)})


def _network(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    return ipaddress.ip_network(text, strict=False)


def _retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _reason(status: int) -> str:
    try:
        from http import HTTPStatus

        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def _first(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__


@dataclass(slots=True)
class SourceHTTP:
    """``context.http`` for one source: conditional GET with validators kept in its state.

    Validators are saved through ``save`` (the source's pending state), which the core
    persists only after the papers are stored (invariant I3).
    """

    fetcher: Fetcher
    state: Mapping[str, str]
    save: Callable[[str, str], None]

    def pace(self, host: str, *, interval: float, connections: int = 1) -> None:
        """Space requests to ``host`` at least ``interval`` seconds apart, at most
        ``connections`` at once: the rate limit the service documents (NCBI: 3 requests a
        second without a key). An operator's ``[fetch.hosts."<host>"]`` overrides it."""
        self.fetcher.pace(host, HostLimit(interval=interval, connections=connections))

    def get(
        self,
        url: str,
        *,
        params: Mapping[str, str] | None = None,
        conditional: bool = True,
        accept: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Fetched:
        key = with_params(url, params) if params else url
        etag = self.state.get(f"http.etag {key}") if conditional else None
        modified = self.state.get(f"http.modified {key}") if conditional else None
        fetched = self.fetcher.get(
            url, params=params, headers=headers, accept=accept, etag=etag, last_modified=modified
        )
        if conditional and not fetched.not_modified:
            if fetched.etag:
                self.save(f"http.etag {key}", fetched.etag)
            if fetched.last_modified:
                self.save(f"http.modified {key}", fetched.last_modified)
        return fetched

    def forget(self, url: str, *, params: Mapping[str, str] | None = None) -> None:
        """Do not keep this run's validators for ``url``: the next run fetches it whole (a
        document only partly readable must not be answered "not modified" next time)."""
        key = with_params(url, params) if params else url
        self.save(f"http.etag {key}", "")
        self.save(f"http.modified {key}", "")


#: query parameters whose values are secrets: shown as "…" in messages and logs
SECRET_PARAMS = frozenset(
    {"api_key", "apikey", "key", "token", "access_token", "client_secret", "secret", "password"}
)


def redact(url: str) -> str:
    """``url`` with the values of :data:`SECRET_PARAMS` replaced by "…", for messages."""
    parts = urlsplit(url)
    if not parts.query:
        return url
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    if not any(k.lower() in SECRET_PARAMS for k, _ in pairs):
        return url
    query = "&".join(
        f"{quote(k, safe='')}={'…' if k.lower() in SECRET_PARAMS else quote(v, safe='')}"
        for k, v in pairs
    )
    return urlunsplit(parts._replace(query=query))


def parse_json(content: bytes, *, url: str, expected: str) -> Any:
    """The JSON of an API's reply, or :class:`~digest.SourceError` naming ``url`` when it is
    empty, an HTML/XML page (proxies and maintenance pages answer 200 with one) or not JSON.
    ``expected`` says what should have come ("Crossref's JSON"); checking its shape is the
    caller's."""
    head = content.lstrip()[:1]
    if not head:
        raise SourceError(f"{url}: empty response, expected {expected}")
    if head == b"<":
        raise SourceError(f"{url}: got an HTML/XML page, expected {expected}")
    try:
        return json.loads(content)
    except (UnicodeDecodeError, ValueError) as error:
        raise SourceError(f"{url}: invalid JSON ({_first(error)})") from None


def with_params(url: str, params: Mapping[str, str]) -> str:
    """``url`` with ``params`` merged into any query it already has."""
    import httpx

    return str(httpx.URL(url).copy_merge_params(dict(params)))


def policy_from_settings(settings: Any) -> FetchPolicy:
    """Build the policy from ``[fetch]`` settings (see :class:`digest.config.FetchSettings`)."""
    return FetchPolicy(
        connect_timeout=settings.connect_timeout,
        read_timeout=settings.read_timeout,
        total_timeout=settings.total_timeout,
        max_bytes=settings.max_bytes,
        max_redirects=settings.max_redirects,
        retries=settings.retries,
        backoff=settings.backoff,
        max_retry_wait=settings.max_retry_wait,
        contact=settings.contact,
        allow=tuple(settings.allow),
        hosts={
            host: HostLimit(interval=limit.interval, connections=limit.connections)
            for host, limit in settings.hosts.items()
        },
    )
