"""The ``smtp`` deliverer: see :class:`SmtpDeliverer`."""

from __future__ import annotations

import contextlib
import importlib
import os
import queue
import ssl
import threading
import time
from collections.abc import Iterator
from email.utils import parseaddr
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, model_validator

from digest import Deliverer, DelivererConfig, PluginError, RateGate
from digest.models import DeliveryStatus, Outcome, Parcel
from digest_smtp.client import (
    END,
    MAIL,
    Connection,
    Lost,
    Refused,
    Reply,
    Settings,
    SmtpFailure,
    connect,
)
from digest_smtp.pool import Pool, RateLimiter

#: headers covered by the DKIM signature; absent ones (Reply-To) are signed as absent, so
#: they cannot be added in transit
DKIM_HEADERS = (
    b"from",
    b"to",
    b"subject",
    b"date",
    b"message-id",
    b"list-id",
    b"list-unsubscribe",
    b"list-unsubscribe-post",
    b"mime-version",
    b"content-type",
    b"reply-to",
)
MAX_BACKOFF = 300.0
_DNS_NAME = r"^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$"


class DkimSigner:
    """Signs messages with dkimpy (relaxed/relaxed, rsa-sha256)."""

    def __init__(self, *, selector: str, domain: str, key: bytes) -> None:
        self._dkim: Any = importlib.import_module("dkim")  # imported only when configured
        self.selector = selector.encode("ascii")
        self.domain = domain.encode("ascii")
        self.key = key

    def signature(self, message: bytes) -> bytes:
        """The ``DKIM-Signature`` header field (CRLF-terminated) to put before ``message``."""
        header: bytes = self._dkim.sign(
            message,
            self.selector,
            self.domain,
            self.key,
            canonicalize=(b"relaxed", b"relaxed"),
            include_headers=list(DKIM_HEADERS),
            linesep=b"\r\n",
        )
        return header


class _State:
    """What one process needs to deliver: built by ``open()`` in every process."""

    def __init__(
        self,
        *,
        settings: Settings,
        sender: str,
        connections: int,
        rate: float | None,
        signer: DkimSigner | None,
        limiter: RateGate | None,
    ) -> None:
        self.settings = settings
        self.sender = sender
        self.pool = Pool(connections)
        self.limiter = limiter
        self.signer = signer


def _valid_address(address: str) -> bool:
    local, at, domain = address.rpartition("@")
    return bool(
        at and local and domain and address.isprintable() and not any(c in address for c in " <>")
    )


def stuff(message: bytes) -> bytes:
    """The DATA payload: dots at line starts doubled, ended by ``CRLF.CRLF`` (RFC 5321)."""
    data = message.replace(b"\n.", b"\n..")
    if data.startswith(b"."):
        data = b"." + data
    if not data.endswith(b"\r\n"):
        data += b"\r\n"
    return data + b".\r\n"


class SmtpConfig(DelivererConfig):
    """``[deliverers.<instance>]`` options of :class:`SmtpDeliverer`."""

    host: str = Field(
        "localhost", min_length=1, pattern=r"^[^\s/]+$", description="SMTP server host name"
    )
    port: int = Field(
        587, ge=1, le=65535, description="SMTP port: 587 for STARTTLS, 465 for TLS, 25"
    )
    security: Literal["starttls", "tls", "none"] = Field(
        "starttls",
        description=(
            '"starttls" (upgrade a plain connection, port 587), "tls" (implicit TLS, port '
            '465) or "none" (plain text: only for a relay on localhost)'
        ),
    )
    username: str | None = Field(None, description="AUTH user name; none: no AUTH")
    password_env: str | None = Field(
        None, description="name of the environment variable holding the AUTH password"
    )
    timeout: float = Field(
        30.0, gt=0, description="seconds to wait for the server on each command or message"
    )
    connections: int = Field(
        1,
        ge=1,
        le=100,
        description=(
            "connections per process: messages are sent over them while the next ones "
            "are rendered (at most this many plus one in flight)"
        ),
    )
    rate: float | None = Field(
        None,
        gt=0,
        description=(
            "messages per second across every worker process, and every machine sharing the "
            "database; none: unlimited"
        ),
    )
    retries: int = Field(
        3,
        ge=0,
        le=20,
        description="retries per message after 4xx replies, disconnects and timeouts",
    )
    backoff: float = Field(
        1.0, ge=0, description="seconds before the first retry, doubled for each next one"
    )
    envelope_from: str | None = Field(
        None, description="envelope sender (bounce address); default: the [digest] sender"
    )
    dkim_selector: str | None = Field(
        None,
        pattern=_DNS_NAME,
        description="DKIM selector (the DNS record is <selector>._domainkey.<domain>)",
    )
    dkim_domain: str | None = Field(
        None,
        pattern=_DNS_NAME,
        description="DKIM signing domain (d=); align it with the From domain",
    )
    dkim_key_file: Path | None = Field(
        None, description="PEM file with the DKIM RSA private key (relative: to the config)"
    )
    verify_tls: bool = Field(
        True, description="verify the server's certificate and host name (keep it on)"
    )
    ca_file: Path | None = Field(
        None, description="PEM CA certificate(s) to trust instead of the system store"
    )
    local_hostname: str | None = Field(
        None, pattern=_DNS_NAME, description="name sent in EHLO; default: this machine's FQDN"
    )

    @model_validator(mode="after")
    def _together(self) -> SmtpConfig:
        dkim = (self.dkim_selector, self.dkim_domain, self.dkim_key_file)
        if any(v is not None for v in dkim) and not all(v is not None for v in dkim):
            raise ValueError("dkim_selector, dkim_domain and dkim_key_file go together")
        if (self.username is None) != (self.password_env is None):
            raise ValueError("username and password_env go together")
        if self.envelope_from is not None and not _valid_address(self.envelope_from):
            raise ValueError(f"envelope_from {self.envelope_from!r} is not an email address")
        return self


class SmtpDeliverer(Deliverer[SmtpConfig]):
    """Sends each digest email over SMTP, exactly once per recipient as far as SMTP allows.

    The core hands over the complete message (``parcel.message``); this deliverer optionally
    DKIM-signs it and sends it over a pooled connection (STARTTLS, implicit TLS or plain;
    AUTH PLAIN/LOGIN with the password from an environment variable), at most ``rate``
    messages per second per process. Outcomes:

    - ``sent`` with the server's reply (``250 … queued as …``);
    - ``failed_permanent`` with the server's reply for a 5xx to ``RCPT TO`` or ``DATA``
      (that recipient or message will never be accepted);
    - ``claimed`` ("not done, resume on a later run") when 4xx replies, disconnects or
      timeouts persist after ``retries`` retries with exponential backoff, when the server
      refuses the envelope sender (5xx to ``MAIL FROM``), and for every message once the
      server rejected the password or certificate — so a misconfiguration pauses the edition
      instead of failing every recipient.

    A configuration error (missing password variable, unreadable DKIM key, rejected login,
    untrusted certificate) raises :class:`digest.PluginError` from :meth:`open`, which checks
    the server with one connection. A message whose connection broke after its body was sent
    may have been accepted; it is retried with the same Message-ID.
    """

    name = "smtp"
    description = "Send digest emails over SMTP (TLS, AUTH, pooled connections, rate limit, DKIM)"
    channels = ("email",)
    idempotent = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._state: _State | None = None
        self._pid: int | None = None  # the process the state belongs to
        #: set once retrying is pointless (a missing password, a rejected login, an untrusted
        #: certificate): every message is then left for a later run
        self._broken: str | None = None
        self._lock = threading.Lock()

    # -- lifecycle -------------------------------------------------------------------------------

    def open(self) -> None:
        """Prepare this process's pool and check the server with one connection."""
        with self._lock:
            # A forked worker inherits the parent's pool: drop it untouched (its sockets are
            # the parent's) and start afresh.
            self._state, self._broken, self._pid = None, None, os.getpid()
            try:
                self._state = state = self._new_state()
            except PluginError as error:
                self._broken = str(error)
                raise
        try:
            connection = connect(state.settings)
        except SmtpFailure as error:
            if error.fatal:
                self._broken = f"smtp: {error}"
                raise PluginError(self._broken) from None
            self.log.warning("smtp: %s (retrying per message)", error)
            return
        state.pool.keep(connection)

    def close(self) -> None:
        """QUIT the idle connections of this process."""
        if self._state is not None and self._pid == os.getpid():
            self._state.pool.close()
        self._state, self._pid = None, None

    def _new_state(self) -> _State:
        c = self.config
        password = None
        if c.password_env is not None:
            password = os.environ.get(c.password_env)
            if password is None:
                raise PluginError(f"smtp: password env var {c.password_env} is not set")
        sender = c.envelope_from or parseaddr(self.runtime.site.sender)[1]
        if not _valid_address(sender):
            raise PluginError(f"smtp: envelope sender {sender!r} is not an email address")
        settings = Settings(
            host=c.host,
            port=c.port,
            security=c.security,
            timeout=c.timeout,
            local_hostname=c.local_hostname,
            tls=self._tls() if c.security != "none" else None,
            username=c.username,
            password=password,
        )
        return _State(
            settings=settings,
            sender=sender,
            connections=c.connections,
            rate=c.rate,
            signer=self._signer(),
            limiter=self._limiter(),
        )

    def _limiter(self) -> RateGate | None:
        """``rate`` across every worker process and machine sharing the store; without one
        (outside a pipeline) within this process."""
        rate = self.config.rate
        if not rate:
            return None
        shared = self.runtime.rates
        if shared is None:
            return RateLimiter(rate)
        return shared.rate_limiter(f"smtp.{self.instance}", rate)

    def _tls(self) -> ssl.SSLContext:
        ca_file = self.runtime.path(self.config.ca_file) if self.config.ca_file else None
        try:
            context = ssl.create_default_context(cafile=ca_file)
        except (OSError, ssl.SSLError) as error:
            raise PluginError(f"smtp: cannot load ca_file {ca_file}: {error}") from None
        if not self.config.verify_tls:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context

    def _signer(self) -> DkimSigner | None:
        c = self.config
        if not (c.dkim_selector and c.dkim_domain and c.dkim_key_file):
            return None
        path = self.runtime.path(c.dkim_key_file)
        try:
            key = path.read_bytes()
        except OSError as error:
            raise PluginError(f"smtp: cannot read dkim_key_file {path}: {error.strerror}") from None
        try:
            signer = DkimSigner(selector=c.dkim_selector, domain=c.dkim_domain, key=key)
            signer.signature(b"From: check@example.org\r\nSubject: key check\r\n\r\nok\r\n")
        except Exception as error:
            raise PluginError(
                f"smtp: dkim_key_file {path} is not a usable RSA private key: {error}"
            ) from None
        from_domain = parseaddr(self.runtime.site.sender)[1].rpartition("@")[2].lower()
        domain = c.dkim_domain.lower()
        if from_domain != domain and not from_domain.endswith("." + domain):
            self.log.warning(
                "smtp: DKIM domain %s does not align with the From domain %s (DMARC fails)",
                domain,
                from_domain,
            )
        return signer

    # -- delivery ---------------------------------------------------------------------------------

    def deliver(self, parcel: Parcel) -> Outcome:
        message = parcel.message
        if message is None:
            return Outcome(
                status=DeliveryStatus.FAILED_PERMANENT,
                detail=f"smtp sends email only; channel {parcel.channel!r} has no message",
            )
        rcpt = parcel.selection.subscriber.email or ""
        if not _valid_address(rcpt):
            return Outcome(
                status=DeliveryStatus.FAILED_PERMANENT,
                detail=f"not a deliverable email address: {rcpt!r}",
            )
        if self._pid != os.getpid():  # not opened in this process (the core always opens)
            with contextlib.suppress(PluginError):
                self.open()
        state = self._state
        if self._broken or state is None:
            return Outcome(status=DeliveryStatus.CLAIMED, detail=self._broken or "smtp: closed")
        if state.signer is not None:
            try:
                message = state.signer.signature(message) + message
            except Exception as error:
                return Outcome(
                    status=DeliveryStatus.FAILED_PERMANENT, detail=f"DKIM signing failed: {error}"
                )
        data = stuff(message)
        config = self.config
        detail = ""
        for attempt in range(config.retries + 1):
            if attempt:
                time.sleep(min(config.backoff * 2 ** (attempt - 1), MAX_BACKOFF))
            if state.limiter is not None:
                state.limiter.wait()
            result = self._attempt(state, rcpt, data, parcel.return_path or state.sender)
            if isinstance(result, Outcome):
                return result
            detail = result
            if self._broken:
                return Outcome(status=DeliveryStatus.CLAIMED, detail=self._broken)
            self.log.debug("smtp: %s: attempt %d: %s", rcpt, attempt + 1, detail)
        tries = config.retries + 1
        return Outcome(
            status=DeliveryStatus.CLAIMED,
            detail=f"{detail} (gave up after {tries} attempt{'s' if tries > 1 else ''})",
        )

    def deliver_many(self, parcels: Iterator[Parcel]) -> Iterator[tuple[Parcel, Outcome]]:
        """Send over ``connections`` threads while the core renders the next parcels.

        A parcel is taken from ``parcels`` (which renders it) only when a sender is free or
        about to be, so at most ``connections + 1`` messages are in flight: those are the
        ones a crash could send twice, with the same Message-ID.
        """
        senders = self.config.connections
        work: queue.Queue[Parcel | None] = queue.Queue(maxsize=1)
        done: queue.Queue[tuple[Parcel, Outcome]] = queue.Queue()

        def send() -> None:
            while (parcel := work.get()) is not None:
                try:
                    outcome = self.deliver(parcel)
                except Exception as error:  # deliver() handles SMTP; this is a bug guard
                    outcome = Outcome(
                        status=DeliveryStatus.CLAIMED,
                        detail=f"smtp: {type(error).__name__}: {error}",
                    )
                done.put((parcel, outcome))

        threads = [threading.Thread(target=send, daemon=True) for _ in range(senders)]
        for thread in threads:
            thread.start()
        pending = 0
        try:
            for parcel in parcels:
                work.put(parcel)
                pending += 1
                while not done.empty():
                    yield done.get()
                    pending -= 1
            while pending:
                yield done.get()
                pending -= 1
        finally:
            for _ in threads:
                work.put(None)
            for thread in threads:
                thread.join()

    def _attempt(self, state: _State, rcpt: str, data: bytes, sender: str) -> Outcome | str:
        """One try: an Outcome when it is final, else what went wrong (worth a retry).
        ``sender`` is the envelope sender: the parcel's VERP return path, else the configured
        one."""
        connection = state.pool.acquire()
        try:
            while True:
                reused = connection is not None
                if connection is None:
                    try:
                        connection = connect(state.settings)
                    except SmtpFailure as error:
                        if error.fatal:
                            self._broken = f"smtp: {error}"
                        return str(error)
                try:
                    reply = connection.send(sender, rcpt, data)
                except Lost as error:
                    connection = None
                    if reused and error.stage == MAIL:
                        continue  # the server had closed this idle connection: reconnect now
                    return str(error)
                except Refused as error:
                    return Outcome(status=DeliveryStatus.FAILED_PERMANENT, detail=str(error))
                if not connection.usable:  # after a 421 the server closes the connection
                    connection.close()
                    connection = None
                    if reused and reply.code == 421 and reply.stage == MAIL:
                        continue  # e.g. "421 4.4.2 timeout exceeded" while it was idle
                return self._judge(sender, reply)
        finally:
            state.pool.release(connection)

    @staticmethod
    def _judge(sender: str, reply: Reply) -> Outcome | str:
        if reply.stage == END and 200 <= reply.code < 300:
            return Outcome(status=DeliveryStatus.SENT, detail=str(reply))
        if 500 <= reply.code < 600:
            if reply.stage == MAIL and reply.code != 552:
                # The sender, not the recipient, is refused: every message would be; leave it
                # for a later run (the core pauses the edition after consecutive failures).
                return Outcome(
                    status=DeliveryStatus.CLAIMED,
                    detail=f"the server refused the envelope sender {sender}: {reply}",
                )
            return Outcome(status=DeliveryStatus.FAILED_PERMANENT, detail=str(reply))
        return str(reply)  # 4xx (or nonsense): transient


__all__ = ["Connection", "DkimSigner", "SmtpDeliverer", "stuff"]
