"""A served site with open sign-up for the web tests: uvicorn on 127.0.0.1, email through
the ``smtp`` deliverer to an in-process SMTP server (tests/smtpsink.py), so every link a reader
follows is taken from a message as it arrived (tests/test_signup_journey.py,
tests/test_web_imports.py)."""

from __future__ import annotations

import email
import email.policy
import importlib.metadata
import re
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from html import unescape
from pathlib import Path
from typing import Any

import httpx
from configs import JSONL_SOURCE, config_text

import digest_smtp
from digest.application import Application
from digest.pipeline import Pipeline
from digest.store import Store
from digest.testing import make_host, make_paper
from digest.web.serve import build_app
from helpers import TestPlugin, write_papers
from smtpsink import SmtpSink
from webserver import ServerThread, reserve_port

SECRET = "signup-secret"

PAPERS = [
    make_paper("2411.10001", title="Robot grasping with tactile skins", categories=("cs.RO",),
               abstract="A robot learns to grasp fragile objects from touch."),
    make_paper("2411.10002", title="A robot that folds laundry", categories=("cs.RO", "cs.LG"),
               authors=("Carol Chen",)),
    make_paper("2411.10003", title="Sim-to-real transfer for legged robot locomotion",
               categories=("cs.RO",), authors=("Dan Dobbs",)),
    make_paper("2411.10004", title="Small language model reasoning", categories=("cs.CL",),
               authors=("Grace Hopper",)),
]  # fmt: skip
ROBOT_TITLES = [p.title for p in PAPERS if "robot" in p.title.lower()]


def _smtp_plugin() -> tuple[object, ...]:
    """``digest_smtp`` unless its entry point is installed already (as tests/test_smtp.py)."""
    installed = importlib.metadata.entry_points(group="digest", name="smtp")
    return () if installed else (digest_smtp,)


def signup_config(
    url: str, smtp_port: int, *, more: dict[str, Any] | None = None, **signup: Any
) -> str:
    """The tests' configuration with open sign-up: email through SMTP, feeds to files;
    ``more``: other tables (``{"fetch": {...}}``)."""
    return config_text(
        **(more or {}),
        digest={"base_url": url, "secret_key": SECRET, "title": "Lab digest"},
        sources={"sample": None, **JSONL_SOURCE},
        selection={"rankers": {"keywords": 1.0, "recency": 0.1}},
        deliverers={
            "files": {"component": "files", "channels": ["feed"]},
            "smtp": {
                "component": "smtp",
                "host": "127.0.0.1",
                "port": smtp_port,
                "security": "none",
                "backoff": 0.01,
            },
        },
        subscribers={
            "ada": {"email": "ada@example.org", "keywords": ["robot"], "channels": ["email"]},
        },
        serve={"operator_token": "op-s3cret"},
        signup={"mode": "open", **signup},
    )


@dataclass
class SignupSite:
    url: str
    dir: Path
    application: Application
    sink: SmtpSink
    http: httpx.Client

    @property
    def pipeline(self) -> Pipeline:
        return self.application.pipeline

    @property
    def store(self) -> Store:
        return self.application.pipeline.store

    def mails(self, address: str) -> list[EmailMessage]:
        """The messages the sink accepted for ``address``, oldest first."""
        out = []
        for received in list(self.sink.received):
            if address.casefold() in (r.casefold() for r in received.rcpt_tos):
                message = email.message_from_bytes(received.data, policy=email.policy.default)
                assert isinstance(message, EmailMessage)
                out.append(message)
        return out

    def status(self, address: str) -> str | None:
        sid = self.store.subscriber_id_by_email(address)
        if sid is None:
            return None
        stored = self.store.subscriber(sid)
        return None if stored is None else stored.status

    def csrf(self, path: str = "/subscribe", client: httpx.Client | None = None) -> str:
        page = (client or self.http).get(path)
        assert page.status_code == 200, (path, page.status_code, page.text[:300])
        return csrf_of(page.text)

    def subscribe(self, address: str, client: httpx.Client | None = None, **fields: Any) -> Any:
        client = client or self.http
        data: dict[str, Any] = {
            "csrf": self.csrf(client=client),
            "email": address,
            "keywords": "robot",
            "categories": ["cs.RO"],
            "frequency": "daily",
            "hour": "7",
            "timezone": "UTC",
            "max_items": "10",
            "channels": ["email"],
            "action": "subscribe",
        }
        data.update(fields)
        return client.post("/subscribe", data={k: v for k, v in data.items() if v is not None})

    def confirmed(self, address: str) -> int:
        """Sign ``address`` up and confirm it over HTTP; its subscriber id."""
        before = len(self.mails(address))
        assert self.subscribe(address).status_code == 200
        self.sink.wait_for(self.sink.count)  # delivered synchronously: already there
        mails = self.mails(address)
        assert len(mails) == before + 1
        link = confirm_link(mails[-1], self.url)
        page = self.http.get(link)
        assert page.status_code == 200
        done = self.http.post(link, data={"csrf": csrf_of(page.text)})
        assert done.status_code == 200 and "subscribed" in done.text, done.text[:500]
        sid = self.store.subscriber_id_by_email(address)
        assert sid is not None and self.status(address) == "active"
        return sid


def serve_signup(
    tmp_path: Path, *, more: dict[str, Any] | None = None, **signup: Any
) -> Iterator[SignupSite]:
    """A served site with open sign-up whose papers were collected (and ada's digest sent)."""
    with SmtpSink() as sink:
        sock = reserve_port()
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        tmp_path.mkdir(parents=True, exist_ok=True)
        config = tmp_path / "config.toml"
        config.write_text(signup_config(url, sink.port, more=more, **signup), "utf-8")
        write_papers(tmp_path / "papers.jsonl", PAPERS)
        application = Application.from_path(config, host=make_host(TestPlugin(), *_smtp_plugin()))
        report = application.pipeline.run()
        assert report.delivered == 1 and not report.problems, report
        assert len(sink.received) == 1  # ada's digest
        app = build_app(application, scheduler=False)
        with ServerThread(app, sock), httpx.Client(base_url=url, timeout=30) as http:
            yield SignupSite(url=url, dir=tmp_path, application=application, sink=sink, http=http)


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found is not None, "the page has no form with a CSRF token"
    return found.group(1)


def bodies(message: EmailMessage) -> tuple[str, str]:
    """The text and HTML parts of ``message``."""
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None and html is not None, message.as_string()[:500]
    return str(text.get_content()), str(html.get_content())


def confirm_link(message: EmailMessage, base: str) -> str:
    text, html = bodies(message)
    pattern = rf"{re.escape(base)}/confirm/[A-Za-z0-9._-]+"
    in_text = re.findall(pattern, text)
    in_html = [unescape(u) for u in re.findall(rf'href="({pattern})"', html)]
    assert in_text and in_html, (text, html)
    assert in_text[0] == in_html[0], "the text and HTML parts carry the same link"
    return in_text[0]
