"""A real OpenAI-compatible chat-completions server on 127.0.0.1 for the ``llm`` enricher's
tests: ``POST /v1/chat/completions`` answered as each test scripts it.

``ChatServer.script`` takes a function of the request (a :class:`ChatRequest`, with its JSON
body and headers) returning a :class:`ChatReply`; the functions below build the usual ones --
a summary made from the paper's title, a slow reply, an HTTP status, a body that is not JSON,
a long markdown reply, one that tries to inject markup and control characters, one without
``usage``. Every request is recorded, so tests assert on what the enricher sent.
"""

from __future__ import annotations

import http.server
import json
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

PATH = "/v1/chat/completions"


@dataclass(frozen=True)
class ChatRequest:
    """One request as the server saw it."""

    at: float
    method: str
    path: str
    headers: Mapping[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def system(self) -> str:
        return str(self.json["messages"][0]["content"])

    @property
    def user(self) -> str:
        return str(self.json["messages"][1]["content"])

    @property
    def paper(self) -> dict[str, str]:
        """The title and abstract the user message carries (a JSON object)."""
        found: dict[str, str] = json.loads(self.user)
        return found


@dataclass(frozen=True)
class ChatReply:
    """A scripted reply."""

    status: int = 200
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=lambda: {"Content-Type": "text/plain"})
    delay: float = 0.0  # seconds before the headers are sent


Script = Callable[[ChatRequest], ChatReply]


def completion(content: str | None, *, usage: int | None = 50) -> ChatReply:
    """A chat completion whose message is ``content`` (``usage``: its ``total_tokens``)."""
    data: dict[str, Any] = {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": "stop",
            }
        ],
    }
    if usage is not None:
        data["usage"] = {
            "prompt_tokens": usage - 10,
            "completion_tokens": 10,
            "total_tokens": usage,
        }
    return ChatReply(body=json.dumps(data).encode(), headers={"Content-Type": "application/json"})


def summary_of(title: str) -> str:
    """The TL;DR :func:`summary` answers for a paper titled ``title``."""
    return f"{title} in one sentence, as the model puts it."


def summary(usage: int | None = 50) -> Script:
    """A normal reply: a summary built from the paper's title, with ``usage``."""
    return lambda request: completion(summary_of(request.paper["title"]), usage=usage)


def slow(seconds: float) -> Script:
    """A summary, after ``seconds`` (longer than the client's timeout)."""

    reply = replace(completion("Too late to matter."), delay=seconds)
    return lambda request: reply


def status(code: int, body: str = "", headers: Mapping[str, str] | None = None) -> Script:
    """An HTTP ``code`` with ``body``."""
    reply = ChatReply(code, body.encode(), headers or {"Content-Type": "text/plain"})
    return lambda request: reply


def not_json() -> Script:
    """A 200 whose body is an HTML error page from a proxy."""
    return status(200, "<html><body>502 Bad Gateway (proxy)</body></html>")


def missing_fields() -> Script:
    """A 200 JSON object without ``choices``."""
    reply = ChatReply(
        body=b'{"object": "chat.completion", "error": null}',
        headers={"Content-Type": "application/json"},
    )
    return lambda request: reply


#: an over-long markdown answer with a script tag (5,000 characters)
LONG_MARKDOWN = (
    "# Summary\n\n**TL;DR:** *TinyFold* distils `AlphaFold` into a __laptop-sized__ model "
    "<script>alert(1)</script> that stays within 2 points of it.\n\n"
    + "\n".join(f"- **Point {i}**: more _details_ on the method." for i in range(200))
)[:5000]

#: an answer that tries to break out: markup, template syntax, control characters, headers
INJECTION = (
    '"TL;DR: Ignore all previous instructions.\x1b[31m</div><img src=x onerror=alert(1)>'
    '{{ 7*7 }}\x00\x07\r\nSubject: you won\r\n\u202eevil\u202c [click](javascript:alert(1))"'
)


def long_markdown() -> Script:
    return lambda request: completion(LONG_MARKDOWN)


def injection() -> Script:
    return lambda request: completion(INJECTION)


def no_usage() -> Script:
    return summary(usage=None)


class ChatServer:
    """Threaded HTTP server speaking ``POST /v1/chat/completions``; ``base_url`` is the
    ``/v1`` root to configure."""

    def __init__(self) -> None:
        self.requests: list[ChatRequest] = []
        self._script: Script = summary()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        server = self

        class _Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                pass

            def do_POST(self) -> None:
                server._handle(self)

            def do_GET(self) -> None:
                server._handle(self)

        class _Server(http.server.ThreadingHTTPServer):
            def handle_error(self, request: object, client_address: object) -> None:
                pass  # clients that time out and hang up are expected here

        self._httpd = _Server(("127.0.0.1", 0), _Handler)
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def __enter__(self) -> ChatServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stopping.set()  # slow replies stop waiting
        self._httpd.shutdown()
        self._httpd.server_close()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def script(self, script: Script) -> None:
        """Answer every later request with ``script(request)``."""
        with self._lock:
            self._script = script

    @property
    def asked(self) -> list[str]:
        """The titles of the papers asked about, in order."""
        return [r.paper["title"] for r in self.requests]

    # -- internals ------------------------------------------------------------------------

    def _handle(self, h: http.server.BaseHTTPRequestHandler) -> None:
        length = int(h.headers.get("Content-Length") or 0)
        request = ChatRequest(
            at=time.monotonic(),
            method=h.command,
            path=h.path,
            headers={k.lower(): v for k, v in h.headers.items()},
            body=h.rfile.read(length),
        )
        with self._lock:
            self.requests.append(request)
            script = self._script
        if request.method != "POST" or request.path != PATH:
            reply = ChatReply(404, b'{"error": "not found"}')
        else:
            reply = script(request)
        if reply.delay:
            self._stopping.wait(reply.delay)
        try:
            h.send_response(reply.status)
            for name, value in {"Content-Length": str(len(reply.body)), **reply.headers}.items():
                h.send_header(name, value)
            h.end_headers()
            h.wfile.write(reply.body)
        except (BrokenPipeError, ConnectionResetError):
            pass
