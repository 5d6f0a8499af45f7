"""The test message (:func:`send_test_message`, ``digest doctor --send-test``): one short
message, DKIM-signed when the deliverer signs, sent through an ``smtp`` deliverer."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import formatdate, make_msgid, parseaddr
from pathlib import Path

from digest.doctor.model import Check, domain_of
from digest.doctor.setup import SmtpInstance
from digest.doctor.smtp import SmtpProblem, connect, disconnect, reply_text


def _signed(message: bytes, smtp: SmtpInstance, base_dir: Path) -> tuple[bytes, str]:
    c = smtp.config
    if not (c.dkim_selector and c.dkim_domain and c.dkim_key_file):
        return message, "unsigned"
    path = c.dkim_key_file if c.dkim_key_file.is_absolute() else base_dir / c.dkim_key_file
    try:
        from digest_smtp.deliverer import DkimSigner

        signer = DkimSigner(selector=c.dkim_selector, domain=c.dkim_domain, key=path.read_bytes())
        return signer.signature(message) + message, f"DKIM-signed as d={c.dkim_domain}"
    except Exception as error:  # an unusable key is the DKIM check's to report
        return message, f"unsigned (cannot sign: {error})"


def send_test_message(
    smtp: SmtpInstance, base_dir: Path, sender: str, to: str, *, name: str = "Test message"
) -> Check:
    """Send one short plain message to ``to`` and report the server's reply."""
    address = parseaddr(to)[1]
    if "@" not in address or any(ch in address for ch in " <>\r\n"):
        return Check(
            name,
            "failure",
            f"{to!r} is not an email address",
            "give --send-test an address you can read",
        )
    envelope = smtp.config.envelope_from or parseaddr(sender)[1]
    message = EmailMessage()
    message["From"] = sender
    message["To"] = address
    message["Subject"] = "papers-digest: test message from digest doctor"
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = make_msgid("doctor", domain=domain_of(sender) or "localhost")
    message.set_content(
        "This is a test message from `digest doctor --send-test`.\n\n"
        "If it arrived, look at its Authentication-Results header: spf=pass, dkim=pass and\n"
        "dmarc=pass mean the digests will be trusted as well.\n"
    )
    data, signed = _signed(message.as_bytes(policy=SMTP_POLICY), smtp, base_dir)
    notes: list[str] = []
    try:
        server = connect(smtp, base_dir, notes)
    except SmtpProblem as problem:
        return Check(name, "failure", f"[deliverers.{smtp.name}] {problem}", problem.fix)
    fix = "see the server's reply; check the envelope sender and the recipient"
    try:
        code, reply = server.mail(envelope)
        if code != 250:
            return Check(
                name,
                "failure",
                f"MAIL FROM:<{envelope}> refused: {code} {reply_text(reply)}",
                "set envelope_from to an address the server accepts",
            )
        code, reply = server.rcpt(address)
        if code not in (250, 251):
            return Check(
                name, "failure", f"RCPT TO:<{address}> refused: {code} {reply_text(reply)}", fix
            )
        code, reply = server.data(data)
        if code != 250:
            return Check(
                name, "failure", f"the message was refused: {code} {reply_text(reply)}", fix
            )
    except smtplib.SMTPResponseException as error:
        return Check(
            name, "failure", f"refused: {error.smtp_code} {reply_text(error.smtp_error)}", fix
        )
    except (smtplib.SMTPException, OSError) as error:
        return Check(name, "failure", f"sending failed: {error}", fix)
    finally:
        disconnect(server)
    return Check(
        name,
        "ok",
        f"sent to {address} from {envelope} ({signed}) via {smtp.config.host}:"
        f"{smtp.config.port}: {code} {reply_text(reply)}; check that it arrived, and its "
        "Authentication-Results",
    )
