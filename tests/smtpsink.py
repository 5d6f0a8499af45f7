"""A real SMTP server (aiosmtpd) on 127.0.0.1 for tests and benchmarks.

::

    with SmtpSink() as sink:                       # plain SMTP on a free port
        sink.reply("421 4.7.0 Try again later")    # the next transaction gets a 421, once
        sink.reply("550 5.1.1 No such user", rcpt="bob@example.org", times=None)
        sink.drop(nth=3, stage="data")             # close the connection on the 3rd message
        sink.delay(2.0, stage="data")              # answer DATA 2 s late (client timeouts)
        ...
        sink.received[0].data                      # the raw message bytes as received

``SmtpSink(security="starttls" | "tls", auth=True)`` adds STARTTLS or implicit TLS with a
self-signed certificate generated at test time (``sink.ca_file`` is the certificate to trust)
and AUTH PLAIN/LOGIN accepting only ``sink.user`` / ``sink.password`` (``auth_exclude``
hides mechanisms); ``pipelining=True`` advertises PIPELINING (RFC 2920).

Rules fire at a stage of the SMTP transaction (``mail``, ``rcpt``, or ``data``: the reply to
the message body), optionally only for one recipient or for the N-th transaction (1-based,
counting MAIL commands since the sink started), ``times`` times (``None``: every time). A 421
reply also closes the connection, as real servers do. Run as a script
(``python tests/smtpsink.py``) to serve in a separate process for benchmarks: it prints
``PORT <n>``, counts messages, answers a ``STATS`` line with ``STATS <messages> <bytes>`` and
prints ``RECEIVED <n>`` when its standard input closes.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import datetime as dt
import functools
import ipaddress
import shutil
import ssl
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

HOST = "127.0.0.1"
Stage = Literal["mail", "rcpt", "data"]
Security = Literal["none", "starttls", "tls"]


class _Drop:
    def __repr__(self) -> str:
        return "DROP"


#: close the connection without a reply
DROP = _Drop()


@dataclass(frozen=True)
class Delay:
    """Wait ``seconds`` before answering normally (the client may give up first)."""

    seconds: float


Action = str | _Drop | Delay


@dataclass
class Rule:
    """A scripted reaction: ``action`` at ``stage`` for matching transactions."""

    action: Action
    stage: Stage = "rcpt"
    rcpt: str | None = None
    nth: int | None = None
    times: int | None = 1
    fired: int = 0

    def matches(self, stage: Stage, number: int, rcpts: list[str]) -> bool:
        if stage != self.stage or (self.times is not None and self.fired >= self.times):
            return False
        if self.nth is not None and number != self.nth:
            return False
        return self.rcpt is None or self.rcpt.lower() in (r.lower() for r in rcpts)


@dataclass(frozen=True)
class Received:
    """One accepted message: the envelope and the raw bytes (CRLF, dots unstuffed)."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes
    number: int
    tls: bool
    user: str | None


@dataclass
class _SessionState:
    number: int = 0
    rcpts: list[str] = field(default_factory=list)


@functools.cache
def self_signed_cert() -> tuple[Path, Path]:
    """A certificate for ``localhost`` and ``127.0.0.1`` and its key (PEM files), made once."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address(HOST))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = Path(tempfile.mkdtemp(prefix="smtpsink-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


class _Handler:
    def __init__(self, sink: SmtpSink) -> None:
        self.sink = sink

    async def _react(self, server: SMTP, stage: Stage, state: _SessionState) -> str | None:
        action = self.sink._fire(stage, state)
        if action is None:
            return None
        if isinstance(action, Delay):
            await asyncio.sleep(action.seconds)  # cancelled if the client hangs up meanwhile
            return None
        if isinstance(action, _Drop) or action.startswith("421"):
            if isinstance(action, str):
                await server.push(action)
            assert server.transport is not None
            server.transport.close()
            await asyncio.sleep(3600)  # connection_lost() cancels this handler
        return str(action)

    @staticmethod
    def _state(session: Session) -> _SessionState:
        state = getattr(session, "sink_state", None)
        if state is None:
            state = _SessionState()
            session.sink_state = state  # type: ignore[attr-defined]
        return state

    async def handle_EHLO(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        hostname: str,
        responses: list[str],
    ) -> list[str]:
        session.host_name = hostname
        if self.sink.pipelining:  # aiosmtpd reads commands in order, so it copes
            responses.insert(-1, "250-PIPELINING")
        return responses

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        state = self._state(session)
        state.number = self.sink._next_number()
        state.rcpts = []
        reply = await self._react(server, "mail", state)
        if reply is not None:
            return reply
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        state = self._state(session)
        state.rcpts.append(address)
        reply = await self._react(server, "rcpt", state)
        if reply is not None:
            state.rcpts.pop()
            return reply
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(options)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        state = self._state(session)
        state.rcpts = list(envelope.rcpt_tos)
        reply = await self._react(server, "data", state)
        if reply is not None:
            return reply
        assert server.transport is not None
        tls = server.transport.get_extra_info("ssl_object") is not None
        return self.sink._accept(session, envelope, state.number, tls=tls)


class SmtpSink:
    """An aiosmtpd server on 127.0.0.1:<free port>, in a thread of this process."""

    user = "digest"
    password = "s3cret-pässword"

    def __init__(
        self,
        *,
        security: Security = "none",
        auth: bool = False,
        keep: bool = True,
        idle_timeout: float = 300,
        pipelining: bool = False,
        auth_exclude: tuple[str, ...] = (),
    ) -> None:
        self.security = security
        self.auth = auth
        self.pipelining = pipelining
        self.auth_exclude = auth_exclude
        self.keep = keep
        self.idle_timeout = idle_timeout
        self.host = HOST
        self.port = 0
        self.received: list[Received] = []
        self.count = 0
        #: bytes of the messages accepted so far
        self.bytes = 0
        #: connections opened so far
        self.sessions = 0
        self.rules: list[Rule] = []
        self.logins: list[tuple[str, bool]] = []  # (user, accepted)
        self._number = 0
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.AbstractServer | None = None
        self._thread: threading.Thread | None = None
        self._ssl: ssl.SSLContext | None = None
        if security != "none":
            cert, key = self_signed_cert()
            self._ssl = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            self._ssl.load_cert_chain(cert, key)

    # -- scripting ---------------------------------------------------------------------------

    def add(self, rule: Rule) -> Rule:
        with self._lock:
            self.rules.append(rule)
        return rule

    def reply(
        self,
        reply: str,
        *,
        stage: Stage = "rcpt",
        rcpt: str | None = None,
        nth: int | None = None,
        times: int | None = 1,
    ) -> Rule:
        """Answer with ``reply`` (e.g. ``"550 5.1.1 No such user"``) instead of accepting."""
        return self.add(Rule(reply, stage=stage, rcpt=rcpt, nth=nth, times=times))

    def drop(
        self,
        *,
        stage: Stage = "data",
        rcpt: str | None = None,
        nth: int | None = None,
        times: int | None = 1,
    ) -> Rule:
        """Close the connection without answering."""
        return self.add(Rule(DROP, stage=stage, rcpt=rcpt, nth=nth, times=times))

    def delay(
        self,
        seconds: float,
        *,
        stage: Stage = "data",
        rcpt: str | None = None,
        nth: int | None = None,
        times: int | None = 1,
    ) -> Rule:
        """Answer ``seconds`` late; a client that hangs up meanwhile gets nothing stored."""
        return self.add(Rule(Delay(seconds), stage=stage, rcpt=rcpt, nth=nth, times=times))

    def clear(self) -> None:
        with self._lock:
            self.rules.clear()
            self.received.clear()
            self.logins.clear()
            self.count = 0
            self.sessions = 0

    @property
    def ca_file(self) -> Path:
        return self_signed_cert()[0]

    # -- called from the server thread -------------------------------------------------------

    def _next_number(self) -> int:
        with self._lock:
            self._number += 1
            return self._number

    def _fire(self, stage: Stage, state: _SessionState) -> Action | None:
        with self._lock:
            for rule in self.rules:
                if rule.matches(stage, state.number, state.rcpts):
                    rule.fired += 1
                    return rule.action
        return None

    def _accept(self, session: Session, envelope: Envelope, number: int, *, tls: bool) -> str:
        with self._lock:
            self.count += 1
            self.bytes += len(envelope.original_content or b"")
            if self.keep:
                data = envelope.original_content or b""
                assert isinstance(data, bytes)
                auth = session.auth_data
                self.received.append(
                    Received(
                        mail_from=envelope.mail_from or "",
                        rcpt_tos=tuple(envelope.rcpt_tos),
                        data=data,
                        number=number,
                        tls=tls,
                        user=auth.login.decode() if isinstance(auth, LoginPassword) else None,
                    )
                )
        return f"250 2.0.0 Ok: queued as M{number}"

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        ok = (
            isinstance(data, LoginPassword)
            and data.login == self.user.encode()
            and data.password == self.password.encode()
        )
        login = data.login.decode(errors="replace") if isinstance(data, LoginPassword) else "?"
        with self._lock:
            self.logins.append((login, ok))
        if ok:
            return AuthResult(success=True, auth_data=data)
        return AuthResult(
            success=False, handled=False, message="535 5.7.8 Authentication credentials invalid"
        )

    def _factory(self) -> SMTP:
        with self._lock:
            self.sessions += 1
        kwargs: dict[str, Any] = {
            "hostname": "sink.localhost",
            "timeout": self.idle_timeout,
            "enable_SMTPUTF8": True,
        }
        if self.security == "starttls":
            kwargs["tls_context"] = self._ssl
        if self.auth:
            kwargs["authenticator"] = self._authenticate
            kwargs["auth_require_tls"] = self.security == "starttls"
            kwargs["auth_exclude_mechanism"] = self.auth_exclude
        return SMTP(_Handler(self), **kwargs)

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> SmtpSink:
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            self._loop = loop
            try:
                ssl_context = self._ssl if self.security == "tls" else None
                self._server = loop.run_until_complete(
                    loop.create_server(self._factory, HOST, 0, ssl=ssl_context)
                )
                self.port = self._server.sockets[0].getsockname()[1]
            except BaseException as error:
                failure.append(error)
                ready.set()
                return
            ready.set()
            loop.run_forever()
            self._server.close()
            loop.run_until_complete(self._server.wait_closed())
            for task in asyncio.all_tasks(loop):
                task.cancel()
            loop.run_until_complete(asyncio.sleep(0))
            loop.close()

        self._thread = threading.Thread(target=run, name="smtpsink", daemon=True)
        self._thread.start()
        ready.wait(10)
        if failure:
            raise failure[0]
        return self

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
        self._thread = None
        self._loop = None

    def __enter__(self) -> SmtpSink:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def wait_for(self, count: int, timeout: float = 5.0) -> None:
        """Wait until ``count`` messages were accepted."""
        deadline = time.monotonic() + timeout
        while self.count < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.count} messages received, expected {count}")
            time.sleep(0.005)


def main() -> None:
    """Serve in this process until stdin closes (for benchmarks that need a separate process)."""
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--keep", action="store_true", help="keep message bytes in memory")
    parser.add_argument("--pipelining", action="store_true", help="advertise PIPELINING")
    args = parser.parse_args()
    with SmtpSink(keep=args.keep, pipelining=args.pipelining) as server:
        print(f"PORT {server.port}", flush=True)
        for line in sys.stdin:  # "STATS": messages and bytes so far
            if line.strip() == "STATS":
                print(f"STATS {server.count} {server.bytes}", flush=True)
        with contextlib.suppress(BrokenPipeError):  # the benchmark may be gone
            print(f"RECEIVED {server.count}", flush=True)


if __name__ == "__main__":
    main()
