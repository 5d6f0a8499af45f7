"""Polling the bounce mailbox over IMAP or POP3.

Each message is fetched without marking it read (IMAP ``BODY.PEEK``), classified and recorded,
and only *then* deleted (or, over IMAP, flagged as seen): a crash between the two leaves the
message in the mailbox, and reading it again records nothing twice (each notice has a unique
key). POP3 deletes take effect when the session ends normally (``QUIT``); a session cut short
deletes nothing.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import poplib
import ssl
import time
from collections.abc import Callable
from typing import Any

from digest.bounces.book import BounceBook, BounceTally
from digest.bounces.intake import Ingested
from digest.config import MailboxSettings
from digest.errors import DigestError

__all__ = ["MailboxPoller", "poll_mailbox"]

_DEFAULT_PORTS = {
    ("imap", True): 993,
    ("imap", False): 143,
    ("pop3", True): 995,
    ("pop3", False): 110,
}


def _password(settings: MailboxSettings) -> str:
    value = os.environ.get(settings.password_env)
    if value is None:
        raise DigestError(
            f"[bounces.mailbox] password_env: the environment variable {settings.password_env} "
            "is not set"
        )
    return value


def _port(settings: MailboxSettings) -> int:
    return settings.port or _DEFAULT_PORTS[(settings.protocol, settings.security == "tls")]


def _tls(settings: MailboxSettings) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if not settings.verify_tls:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def poll_mailbox(
    settings: MailboxSettings, book: BounceBook, *, now: dt.datetime, timeout: float = 30.0
) -> Ingested:
    """Read every message waiting in the mailbox, record it, then delete or flag it."""
    where = f"{settings.protocol}://{settings.host}:{_port(settings)}"
    try:
        if settings.protocol == "imap":
            return _imap(settings, book, now=now, timeout=timeout)
        return _pop3(settings, book, now=now, timeout=timeout)
    except DigestError:
        raise
    except (OSError, poplib.error_proto, ssl.SSLError) as error:
        raise DigestError(f"bounce mailbox {where}: {error}") from None
    except Exception as error:  # imapclient's errors (IMAPClientError and friends)
        if type(error).__module__.startswith(("imapclient", "imaplib")):
            raise DigestError(f"bounce mailbox {where}: {error}") from None
        raise


def _record(book: BounceBook, content: bytes, origin: str, now: dt.datetime) -> BounceTally:
    from digest.bounces.classify import classify

    notices = classify(
        content, origin=origin, verp_domain=book.verp_domain, verp_local=book.verp_local
    )
    return book.record(notices, now=now)


def _imap(
    settings: MailboxSettings, book: BounceBook, *, now: dt.datetime, timeout: float
) -> Ingested:
    from imapclient import IMAPClient
    from imapclient.imapclient import DELETED, SEEN

    client = IMAPClient(
        settings.host,
        port=_port(settings),
        ssl=settings.security == "tls",
        ssl_context=_tls(settings) if settings.security == "tls" else None,
        timeout=timeout,
    )
    tally, messages = BounceTally(), 0
    try:
        if settings.security == "starttls":
            client.starttls(_tls(settings))
        client.login(settings.username, _password(settings))
        client.select_folder(settings.folder)
        wanted = ["NOT", "DELETED"] if settings.after == "delete" else ["UNSEEN", "NOT", "DELETED"]
        for uid in client.search(wanted):
            fetched: dict[Any, Any] = client.fetch([uid], ["BODY.PEEK[]"])
            content = fetched.get(uid, {}).get(b"BODY[]")
            if content is None:
                continue
            tally.add(_record(book, bytes(content), "imap", now))
            messages += 1
            # Recorded: now it may go.
            if settings.after == "delete":
                client.add_flags([uid], [DELETED])
                client.expunge()
            else:
                client.add_flags([uid], [SEEN])
    finally:
        # The server may have gone: what was not recorded stays for the next poll.
        with contextlib.suppress(Exception):
            client.logout()
    return Ingested(messages=messages, tally=tally)


def _pop3(
    settings: MailboxSettings, book: BounceBook, *, now: dt.datetime, timeout: float
) -> Ingested:
    port = _port(settings)
    if settings.security == "tls":
        client: poplib.POP3 = poplib.POP3_SSL(
            settings.host, port, timeout=timeout, context=_tls(settings)
        )
    else:
        client = poplib.POP3(settings.host, port, timeout=timeout)
    tally, messages = BounceTally(), 0
    try:
        if settings.security == "starttls":
            client.stls(_tls(settings))
        client.user(settings.username)
        client.pass_(_password(settings))
        count, _size = client.stat()
        for number in range(1, count + 1):
            _response, lines, _octets = client.retr(number)
            tally.add(_record(book, b"\r\n".join(lines) + b"\r\n", "pop3", now))
            messages += 1
            client.dele(number)  # takes effect at QUIT, after every message was recorded
        client.quit()
    except BaseException:
        with contextlib.suppress(OSError):  # the socket may be gone already (a failed STLS)
            client.close()  # no QUIT: the server deletes nothing
        raise
    return Ingested(messages=messages, tally=tally)


class MailboxPoller:
    """A ``digest serve`` chore: polls the mailbox every ``every_minutes``."""

    def __init__(
        self,
        settings: MailboxSettings,
        book: Callable[[], BounceBook],
        *,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self.settings = settings
        self.book = book
        self._clock = clock
        self._now = now
        self._next = 0.0
        #: what the last poll did, for the operator page
        self.last: Ingested | None = None
        self.last_error: str | None = None

    def __call__(self) -> Ingested | None:
        """Poll when due; errors are kept as :attr:`last_error` and raised (the chore runner
        logs them)."""
        if self._clock() < self._next:
            return None
        self._next = self._clock() + self.settings.every_minutes * 60
        try:
            self.last = poll_mailbox(self.settings, self.book(), now=self._now())
        except DigestError as error:
            self.last_error = str(error)
            raise
        self.last_error = None
        return self.last
