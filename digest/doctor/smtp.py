"""The SMTP check (:func:`check_smtp`): connect, EHLO, STARTTLS and AUTH as an ``smtp``
deliverer is configured, each failure translated into what to fix (:class:`SmtpProblem`);
:func:`connect` and :func:`disconnect` are shared with the test message."""

from __future__ import annotations

import base64
import os
import smtplib
import socket
import ssl
from pathlib import Path
from typing import TYPE_CHECKING

from digest.doctor.model import Check, Findings, is_loopback
from digest.doctor.setup import SmtpInstance

if TYPE_CHECKING:
    from digest_smtp.deliverer import SmtpConfig


class SmtpProblem(Exception):
    def __init__(self, message: str, fix: str) -> None:
        super().__init__(message)
        self.fix = fix


def reply_text(reply: bytes | str) -> str:
    if isinstance(reply, bytes):
        reply = reply.decode("utf-8", "replace")
    return " ".join(reply.split())


def _b64(value: str) -> str:
    return base64.b64encode(value.encode("utf-8")).decode("ascii")


def _tls_context(config: SmtpConfig, base_dir: Path) -> ssl.SSLContext:
    ca_file = None
    if config.ca_file is not None:
        ca_file = config.ca_file if config.ca_file.is_absolute() else base_dir / config.ca_file
    try:
        context = ssl.create_default_context(cafile=ca_file)
    except (OSError, ssl.SSLError) as error:
        raise SmtpProblem(
            f"cannot load ca_file {ca_file}: {error}", "point ca_file at a PEM CA certificate"
        ) from None
    if not config.verify_tls:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def connect(smtp: SmtpInstance, base_dir: Path, notes: list[str]) -> smtplib.SMTP:
    """A connection through greeting, EHLO, STARTTLS and AUTH as configured; raises
    :class:`SmtpProblem` with the fix."""
    c = smtp.config
    password = None
    if c.username is not None and c.password_env is not None:
        password = os.environ.get(c.password_env)
        if password is None:
            raise SmtpProblem(
                f"the password variable {c.password_env} is not set",
                f"export {c.password_env}=… where digest runs",
            )
    context = _tls_context(c, base_dir) if c.security != "none" else None
    server: smtplib.SMTP
    try:  # connecting in the constructor: smtplib then knows the host name TLS verifies
        if c.security == "tls":
            server = smtplib.SMTP_SSL(
                c.host, c.port, c.local_hostname, timeout=c.timeout, context=context
            )
        else:
            server = smtplib.SMTP(c.host, c.port, c.local_hostname, timeout=c.timeout)
    except Exception as error:
        raise _translate(error, smtp) from None
    try:
        _session(server, smtp, password, context, notes)
    except SmtpProblem:
        server.close()
        raise
    except Exception as error:
        server.close()
        raise _translate(error, smtp) from None
    return server


def _session(
    server: smtplib.SMTP,
    smtp: SmtpInstance,
    password: str | None,
    context: ssl.SSLContext | None,
    notes: list[str],
) -> None:
    c = smtp.config
    code, reply = server.ehlo()
    if code != 250:
        raise SmtpProblem(f"EHLO refused: {code} {reply_text(reply)}", "check local_hostname")
    name = reply_text(reply.splitlines()[0] if reply else b"")[:60]
    notes.append(f"{c.host}:{c.port} answers EHLO as {name or '?'}")
    if c.security == "starttls":
        if not server.has_extn("starttls"):
            raise SmtpProblem(
                f"{c.host}:{c.port} does not offer STARTTLS",
                'use security = "tls" with its implicit-TLS port (usually 465); "none" only '
                "for a relay on this machine",
            )
        server.starttls(context=context)
        server.ehlo()
    sock = server.sock
    if isinstance(sock, ssl.SSLSocket):
        how = "STARTTLS" if c.security == "starttls" else "TLS"
        notes.append(f"{how} {sock.version()}")
    if c.username is not None:
        _login(server, c.username, password or "", smtp)
        notes.append(f"logged in as {c.username}")


def _login(server: smtplib.SMTP, user: str, password: str, smtp: SmtpInstance) -> None:
    fix = f"check username and the password in ${smtp.config.password_env}"
    if not server.has_extn("auth"):
        after = " after STARTTLS" if smtp.config.security == "starttls" else ""
        raise SmtpProblem(
            f"the server offers no AUTH{after}",
            "remove username and password_env, or check security",
        )
    methods = server.esmtp_features["auth"].upper().split()
    reply: bytes | str
    if "PLAIN" in methods:  # by hand: smtplib encodes credentials as ASCII
        token = _b64(f"\0{user}\0{password}")
        code, reply = server.docmd("AUTH", f"PLAIN {token}")
        if code == 334:
            code, reply = server.docmd(token)
    elif "LOGIN" in methods:
        code, reply = server.docmd("AUTH", f"LOGIN {_b64(user)}")
        if code == 334:
            code, reply = server.docmd(_b64(password))
    else:
        try:
            code, reply = server.login(user, password)
        except smtplib.SMTPAuthenticationError as error:
            code, reply = error.smtp_code, error.smtp_error
        except smtplib.SMTPException as error:
            raise SmtpProblem(f"login as {user!r} failed: {error}", fix) from None
    if code != 235:
        raise SmtpProblem(f"login as {user!r} refused: {code} {reply_text(reply)}", fix)


def _translate(error: Exception, smtp: SmtpInstance) -> SmtpProblem:
    c = smtp.config
    where = f"{c.host}:{c.port}"
    reach = "check host and port, and that the server accepts connections from here"
    if isinstance(error, ssl.SSLCertVerificationError):
        return SmtpProblem(
            f"{where}: TLS certificate not trusted ({error.verify_message})",
            "set ca_file to the server's CA certificate (or fix the server's certificate)",
        )
    if isinstance(error, ssl.SSLError):
        hint = (
            'is it a plain or STARTTLS port? then use security = "starttls"'
            if (c.security == "tls")
            else "check security and port"
        )
        return SmtpProblem(f"{where}: TLS handshake failed: {error.reason or error}", hint)
    if isinstance(error, smtplib.SMTPServerDisconnected):
        return SmtpProblem(f"{where} closed the connection: {error}", reach)
    if isinstance(error, smtplib.SMTPResponseException):
        return SmtpProblem(
            f"{where} refused the session: {error.smtp_code} {reply_text(error.smtp_error)}", reach
        )
    if isinstance(error, TimeoutError | socket.timeout):
        return SmtpProblem(f"cannot connect to {where}: timed out after {c.timeout:g} s", reach)
    if isinstance(error, OSError):
        return SmtpProblem(f"cannot connect to {where}: {error.strerror or error}", reach)
    if isinstance(error, smtplib.SMTPException):
        return SmtpProblem(f"{where}: {error}", reach)
    return SmtpProblem(f"{where}: {type(error).__name__}: {error}", reach)


def disconnect(server: smtplib.SMTP) -> None:
    try:
        server.quit()
    except (smtplib.SMTPException, OSError):
        server.close()


def check_smtp(smtp: SmtpInstance, base_dir: Path, *, name: str = "SMTP") -> Check:
    """Connect, EHLO, STARTTLS (when ``security = "starttls"``) and AUTH (when configured)."""
    notes: list[str] = []
    try:
        server = connect(smtp, base_dir, notes)
    except SmtpProblem as problem:
        return Check(name, "failure", f"[deliverers.{smtp.name}] {problem}", problem.fix)
    disconnect(server)
    found = Findings(name)
    for note in notes[1:]:
        found.add("ok", note)
    c = smtp.config
    if c.security == "none" and not is_loopback(c.host):
        found.add(
            "warning",
            f'security = "none" to {c.host}: mail and password cross the network in plain text',
            'use security = "starttls" or "tls"',
        )
    if not c.verify_tls and c.security != "none":
        found.add("warning", "verify_tls = false", "set ca_file instead and keep verify_tls on")
    return found.check(notes[0])
