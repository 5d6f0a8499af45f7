"""A real HTTP server on 127.0.0.1 for source tests: fixture files plus scripted replies.

Two layers of files are served, as they are (with ETag / Last-Modified and 304s):

* :data:`FIXTURES` -- the project's own hand-written fixtures in ``tests/fixtures`` (invented
  papers in the formats arXiv, Hugging Face and journals publish; see its README). Always
  there: every source test runs on them.
* :data:`RECORDED` -- recorded captures of the real services in the sibling checkout
  ``../shared/fixtures``, when it is present. Tests that read them are an extra layer, marked
  :data:`needs_recorded` (not collected where the checkout is absent).

A path is looked up in the own fixtures first, then in the captures (their names never
overlap; ``test_sources_together`` checks). ``route()`` scripts any other reply -- a status,
headers, a body, a delay, a redirect -- so tests go through real sockets and the real HTTP
client, never a mocked library.
"""

from __future__ import annotations

import email.utils
import hashlib
import http.server
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

#: the project's own fixtures: hand-written documents about invented papers
FIXTURES = Path(__file__).resolve().parent / "fixtures"
#: recorded captures of arXiv / Hugging Face responses (optional sibling checkout)
RECORDED = Path(__file__).resolve().parents[2] / "shared" / "fixtures"
#: for tests that read the recorded captures in ../shared: an extra layer over the project's
#: own fixtures, not collected where the checkout is absent (conftest.py says how many)
needs_recorded = pytest.mark.shared
#: the former name of :data:`needs_recorded`
needs_fixtures = needs_recorded
CONTENT_TYPES = {
    ".xml": "application/xml; charset=utf-8",
    ".json": "application/json",
    ".atom": "application/atom+xml; charset=utf-8",
    ".rdf": "application/rdf+xml; charset=utf-8",
}


def find_fixture(name: str, roots: Iterable[Path] = (FIXTURES, RECORDED)) -> Path | None:
    """The file ``name`` (relative, e.g. ``"arxiv_rss/cs.LG_2025-06-11.rss.xml"``) in the first
    of ``roots`` that has it, never a file outside them; ``None`` when none has it."""
    relative = name.lstrip("/")
    for root in roots:
        path = (root / relative).resolve()
        if path.is_file() and root.resolve() in path.parents:
            return path
    return None


def fixture_path(name: str) -> Path:
    """Like :func:`find_fixture`, but the own fixtures' path when it is missing (errors name it)."""
    return find_fixture(name) or FIXTURES / name.lstrip("/")


def fixture_bytes(name: str) -> bytes:
    """The bytes of a fixture file (own fixtures first, then recorded captures)."""
    return fixture_path(name).read_bytes()


@dataclass(frozen=True)
class Request:
    """One request as the server saw it."""

    at: float
    method: str
    path: str
    query: dict[str, str]
    headers: Mapping[str, str]


@dataclass
class Reply:
    """A scripted reply; ``body`` may be bytes or a fixture path relative to the root."""

    status: int = 200
    body: bytes | str = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds before the headers are sent
    stall: float = 0.0  # seconds after the first 10 bytes of the body (read timeouts)


Handler = Callable[[Request], Reply]


class FixtureServer:
    """Threaded HTTP server; ``url(path)`` gives a full URL for a path on it.

    Files are looked up under ``roots`` in order (default: own fixtures, then the recorded
    captures when present).
    """

    def __init__(self, roots: Path | Iterable[Path] = (FIXTURES, RECORDED)) -> None:
        self.roots = (roots,) if isinstance(roots, Path) else tuple(roots)
        self.requests: list[Request] = []
        self._routes: list[tuple[str, Mapping[str, str], Handler]] = []
        self._lock = threading.Lock()
        server = self

        class _Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                pass

            def do_GET(self) -> None:
                server._handle(self)

        class _Server(http.server.ThreadingHTTPServer):
            def handle_error(self, request: object, client_address: object) -> None:
                pass  # clients that hang up mid-body (size caps, timeouts) are expected here

        self._httpd = _Server(("127.0.0.1", 0), _Handler)
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def __enter__(self) -> FixtureServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def route(
        self,
        path: str,
        reply: Reply | Handler,
        *,
        query: Mapping[str, str] | None = None,
    ) -> None:
        """Answer GET ``path`` (when its query contains ``query``) with ``reply``.

        Later routes win over earlier ones, and every route wins over the fixture files.
        """
        handler: Handler = reply if callable(reply) else (lambda _r, reply=reply: reply)
        with self._lock:
            self._routes.insert(0, (path, dict(query or {}), handler))

    def hits(self, path: str) -> list[Request]:
        return [r for r in self.requests if r.path == path]

    # -- internals ------------------------------------------------------------------------

    def _handle(self, h: http.server.BaseHTTPRequestHandler) -> None:
        parts = urlsplit(h.path)
        request = Request(
            at=time.monotonic(),
            method=h.command,
            path=parts.path,
            query=dict(parse_qsl(parts.query, keep_blank_values=True)),
            headers={k.lower(): v for k, v in h.headers.items()},
        )
        with self._lock:
            self.requests.append(request)
            routes = list(self._routes)
        for path, query, handler in routes:
            if path == request.path and all(request.query.get(k) == v for k, v in query.items()):
                reply = handler(request)
                if isinstance(reply.body, str) and reply.status == 200:
                    # A fixture file under another path: served like one (ETag, 304).
                    served = self._file(request, reply.body)
                    served.headers.update(reply.headers)
                    reply = served
                self._send(h, reply)
                return
        self._send(h, self._file(request, request.path))

    def _locate(self, name: str) -> Path | None:
        return find_fixture(name, self.roots)

    def _file(self, request: Request, name: str) -> Reply:
        path = self._locate(name)
        if path is None:
            return Reply(status=404, body=b"not found", headers={"Content-Type": "text/plain"})
        data = path.read_bytes()
        etag = '"' + hashlib.sha1(data).hexdigest()[:16] + '"'
        modified = email.utils.formatdate(path.stat().st_mtime, usegmt=True)
        headers = {
            "Content-Type": CONTENT_TYPES.get(path.suffix, "application/octet-stream"),
            "ETag": etag,
            "Last-Modified": modified,
        }
        if request.headers.get("if-none-match") == etag:
            return Reply(status=304, headers=headers)
        return Reply(status=200, body=data, headers=headers)

    def _send(self, h: http.server.BaseHTTPRequestHandler, reply: Reply) -> None:
        if reply.delay:
            time.sleep(reply.delay)
        body = reply.body
        if isinstance(body, str):
            located = self._locate(body)
            body = located.read_bytes() if located is not None else b"fixture not found"
        h.send_response(reply.status)
        headers = {"Content-Length": str(len(body)), **reply.headers}
        for name, value in headers.items():
            h.send_header(name, value)
        h.end_headers()
        if reply.status == 304 or not body:
            return
        try:
            if reply.stall:
                h.wfile.write(body[:10])
                h.wfile.flush()
                time.sleep(reply.stall)
                h.wfile.write(body[10:])
            else:
                h.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass
