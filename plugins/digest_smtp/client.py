"""One SMTP connection: connect, STARTTLS or implicit TLS, AUTH, and message transactions.

Built on :mod:`smtplib` for the socket, TLS and reply parsing, but the transaction itself is
written out here: the message bytes are already CRLF-terminated, so the body only needs dot
stuffing (a ``bytes.replace``; smtplib's regular expression costs ~0.5 ms per 50 KB), and
when the server offers PIPELINING (RFC 2920) ``MAIL``, ``RCPT`` and ``DATA`` go out in one
write, saving two round trips per message.
"""

from __future__ import annotations

import base64
import smtplib
import ssl
from dataclasses import dataclass
from typing import Literal

Security = Literal["starttls", "tls", "none"]

MAIL = "MAIL FROM"
RCPT = "RCPT TO"
DATA = "DATA"
END = "end of DATA"


class SmtpFailure(Exception):
    """Talking to the server failed before a transaction could run.

    ``fatal`` marks failures that retrying cannot fix (a rejected password, an untrusted
    certificate, a server without STARTTLS): configuration errors.
    """

    def __init__(self, message: str, *, fatal: bool = False) -> None:
        super().__init__(message)
        self.fatal = fatal


class Lost(Exception):
    """The connection broke (closed or timed out) during ``stage`` of a transaction."""

    def __init__(self, stage: str, error: BaseException, timeout: float) -> None:
        self.stage = stage
        self.timed_out = isinstance(error, TimeoutError) or isinstance(
            error.__context__, TimeoutError
        )
        if self.timed_out:
            message = f"timed out after {timeout:g} s waiting for the server ({stage})"
        else:
            reason = str(error) or type(error).__name__
            message = f"connection lost ({stage}): {reason}"
        super().__init__(message)


class Refused(Exception):
    """This message cannot be sent over this connection, ever (e.g. no SMTPUTF8)."""


@dataclass(frozen=True, slots=True)
class Reply:
    """A server reply to one step of a transaction."""

    code: int
    text: str
    stage: str

    def __str__(self) -> str:
        return f"{self.code} {self.text}" if self.text else str(self.code)


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    """Where and how to connect; built once per process by the deliverer."""

    host: str
    port: int
    security: Security
    timeout: float
    local_hostname: str | None
    tls: ssl.SSLContext | None
    username: str | None
    password: str | None

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"


def _text(message: bytes | str) -> str:
    if isinstance(message, bytes):
        message = message.decode("utf-8", "replace")
    return " ".join(message.split())


def _b64(value: str) -> str:
    return base64.b64encode(value.encode("utf-8")).decode("ascii")


def _reason(error: BaseException) -> str:
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return str(error) or type(error).__name__


def connect(settings: Settings) -> Connection:
    """Open, secure and authenticate a connection; raises :class:`SmtpFailure`."""
    where = settings.where
    smtp: smtplib.SMTP | None = None
    try:
        if settings.security == "tls":
            smtp = smtplib.SMTP_SSL(
                settings.host,
                settings.port,
                settings.local_hostname,
                timeout=settings.timeout,
                context=settings.tls,
            )
        else:
            smtp = smtplib.SMTP(
                settings.host, settings.port, settings.local_hostname, timeout=settings.timeout
            )
        smtp.ehlo_or_helo_if_needed()
        if settings.security == "starttls":
            if not smtp.has_extn("starttls"):
                raise SmtpFailure(
                    f'{where} does not offer STARTTLS; use security = "tls" (usually port '
                    f'465) or "none"',
                    fatal=True,
                )
            smtp.starttls(context=settings.tls)
            smtp.ehlo()
        if settings.username is not None:
            _login(smtp, settings)
        return Connection(smtp, settings.timeout)
    except Exception as error:
        if smtp is not None:
            smtp.close()
        failure = _failure(error, settings)
        if failure is error:
            raise
        raise failure from error


def _failure(error: Exception, settings: Settings) -> Exception:
    """Translate what connecting raised into a :class:`SmtpFailure` (others pass through)."""
    where = settings.where
    if isinstance(error, SmtpFailure):
        return error
    if isinstance(error, ssl.SSLCertVerificationError):
        return SmtpFailure(
            f"{where}: TLS certificate not trusted ({error.verify_message}); set ca_file to "
            "the server's CA certificate",
            fatal=True,
        )
    if isinstance(error, ssl.SSLError):
        hint = " (is it a plain or STARTTLS port?)" if settings.security == "tls" else ""
        return SmtpFailure(
            f"{where}: TLS handshake failed{hint}: {error.reason or error}", fatal=True
        )
    if isinstance(error, smtplib.SMTPServerDisconnected):
        if isinstance(error.__context__, TimeoutError):
            return SmtpFailure(
                f"{where}: timed out after {settings.timeout:g} s waiting for the server"
            )
        return SmtpFailure(f"{where} closed the connection: {error}")
    if isinstance(error, smtplib.SMTPResponseException):  # greeting, EHLO or STARTTLS refused
        return SmtpFailure(
            f"{where} refused the session: {error.smtp_code} {_text(error.smtp_error)}",
            fatal=error.smtp_code >= 500 and not isinstance(error, smtplib.SMTPConnectError),
        )
    if isinstance(error, smtplib.SMTPException):
        return SmtpFailure(f"{where}: {error}", fatal=True)
    if isinstance(error, TimeoutError):
        return SmtpFailure(f"cannot connect to {where}: timed out after {settings.timeout:g} s")
    if isinstance(error, OSError):
        return SmtpFailure(f"cannot connect to {where}: {_reason(error)}")
    return error


def _login(smtp: smtplib.SMTP, settings: Settings) -> None:
    """AUTH PLAIN or LOGIN with UTF-8 credentials (smtplib's own encode them as ASCII)."""
    user, password = settings.username or "", settings.password or ""
    where = settings.where
    if not smtp.has_extn("auth"):
        after = " after STARTTLS" if settings.security == "starttls" else ""
        raise SmtpFailure(
            f"{where} offers no AUTH{after}; remove username or check security", fatal=True
        )
    methods = smtp.esmtp_features["auth"].upper().split()
    reply: bytes | str
    if "PLAIN" in methods:
        token = _b64(f"\0{user}\0{password}")
        code, reply = smtp.docmd("AUTH", "PLAIN " + token)
        if code == 334:  # a server that wants the credentials on their own line
            code, reply = smtp.docmd(token)
    elif "LOGIN" in methods:
        code, reply = smtp.docmd("AUTH", "LOGIN " + _b64(user))
        if code == 334:
            code, reply = smtp.docmd(_b64(password))
    else:
        try:
            code, reply = smtp.login(user, password)
        except smtplib.SMTPAuthenticationError as error:
            code, reply = error.smtp_code, error.smtp_error
    if code in (235, 503):  # 503: already authenticated
        return
    raise SmtpFailure(
        f"authentication as {user!r} on {where} failed: {code} {_text(reply)}", fatal=code >= 500
    )


class Connection:
    """An open, authenticated session that runs one transaction at a time."""

    __slots__ = ("pipelining", "size", "smtp", "smtputf8", "timeout", "usable")

    def __init__(self, smtp: smtplib.SMTP, timeout: float) -> None:
        self.smtp = smtp
        self.timeout = timeout
        self.pipelining = smtp.has_extn("pipelining")
        self.size = smtp.has_extn("size")
        self.smtputf8 = smtp.has_extn("smtputf8")
        self.usable = True

    def _reply(self, stage: str) -> Reply:
        code, text = self.smtp.getreply()
        return Reply(code, _text(text), stage)

    def send(self, sender: str, rcpt: str, data: bytes) -> Reply:
        """One transaction; returns the first reply that is not a success, or the last one.

        ``sender`` and ``rcpt`` are bare addresses, ``data`` the dot-stuffed message ending
        in ``CRLF.CRLF``. Raises :class:`Lost` when the connection breaks and
        :class:`Refused` when the message can never go through this server.
        """
        smtp = self.smtp
        options = f" SIZE={len(data)}" if self.size else ""
        if not (sender.isascii() and rcpt.isascii()):
            if not self.smtputf8:
                raise Refused(
                    f"{rcpt}: the server does not support SMTPUTF8, needed for this address"
                )
            options += " SMTPUTF8"
            smtp.command_encoding = "utf-8"
        stage = MAIL
        try:
            if self.pipelining:
                commands = f"MAIL FROM:<{sender}>{options}\r\nRCPT TO:<{rcpt}>\r\nDATA\r\n"
                smtp.send(commands.encode(smtp.command_encoding))
                failed: Reply | None = None
                for stage, ok in ((MAIL, (250,)), (RCPT, (250, 251)), (DATA, (354,))):
                    reply = self._reply(stage)
                    if reply.code == 421:  # closing: the other replies will never come
                        self.usable = False
                        return reply
                    if reply.code not in ok and failed is None:
                        failed = reply
                if failed is not None:
                    if reply.code == 354:  # DATA accepted all the same: end the empty message
                        stage = END
                        smtp.send(b".\r\n")
                        self._reply(END)
                    self._reset()
                    return failed
            else:
                smtp.putcmd("mail", f"FROM:<{sender}>{options}")
                reply = self._reply(MAIL)
                if reply.code != 250:
                    return self._refused(reply)
                stage = RCPT
                smtp.putcmd("rcpt", f"TO:<{rcpt}>")
                reply = self._reply(RCPT)
                if reply.code not in (250, 251):
                    return self._refused(reply)
                stage = DATA
                smtp.putcmd("data")
                reply = self._reply(DATA)
                if reply.code != 354:
                    return self._refused(reply)
            stage = END
            smtp.send(data)
            reply = self._reply(END)
            if reply.code == 421:
                self.usable = False
            return reply
        except (smtplib.SMTPServerDisconnected, OSError) as error:
            self.usable = False
            raise Lost(stage, error, self.timeout) from error

    def _refused(self, reply: Reply) -> Reply:
        if reply.code == 421:  # the server is closing the connection
            self.usable = False
        else:
            self._reset()
        return reply

    def _reset(self) -> None:
        """RSET after a refused step; a connection that cannot reset is not reused."""
        try:
            code, _ = self.smtp.docmd("rset")
        except (smtplib.SMTPServerDisconnected, OSError):
            code = 0
        if code != 250:
            self.usable = False

    def close(self, *, polite: bool = False) -> None:
        """Close the socket, after QUIT when ``polite``; never raises."""
        try:
            if polite:
                self.smtp.quit()
        except (smtplib.SMTPException, OSError):
            pass
        finally:
            self.smtp.close()
