"""Read one message that arrived at the bounce address and say what it is, per recipient.

:func:`classify` turns the bytes of a bounce, a complaint or an auto-reply into one
:class:`~digest.bounces.notice.BounceNotice` per recipient it is about (at least one notice per
message: whatever it cannot read is one ``unknown`` notice). It is a pure function: no I/O, no
logging. The order of the checks:

1. **ARF complaints** (RFC 5965): a ``message/feedback-report`` part → one ``complaint`` per
   ``Original-Rcpt-To`` (else Microsoft's ``X-HmXmrOriginalRecipient``, else the ``To`` of the
   embedded message). ``Feedback-Type: not-spam`` and ``auth-failure`` (RFC 6591 reports) are
   not complaints: ``unknown``.
2. **RFC 3464 DSNs**: every ``message/delivery-status`` part, one notice per recipient block
   (recipient = ``Original-Recipient``, else ``Final-Recipient``): ``Action: failed`` → hard or
   soft by the rules below; ``delayed`` → ``soft``; ``delivered`` / ``relayed`` /
   ``expanded`` → nothing (a report with nothing else is one ``unknown``).
3. **Auto-replies** (RFC 3834 ``Auto-Submitted: auto-replied``, ``X-Autoreply``,
   ``X-Autorespond``, ``X-Autoresponder``, ``X-Mail-Autoreply``, ``Precedence: auto_reply``, or
   an out-of-office subject in several languages), unless the message comes from a mailer
   daemon or has a bounce's subject (Exim, Postfix and others mark their bounces
   ``Auto-Submitted: auto-replied`` too). ``X-Auto-Response-Suppress`` is *not* a sign: Exchange
   and mass mailers put it on ordinary messages.
4. **Non-standard bounces** (Exim, qmail, old Postfix, Exchange text …), only for a message
   that looks like a bounce (from ``MAILER-DAEMON`` / ``postmaster`` / "Mail Delivery …", a
   bounce subject, ``X-Failed-Recipients``, ``multipart/report``, or a null ``Return-Path``
   without an auto-reply sign): the failed addresses ``flufl.bounce`` finds, else the
   Exchange diagnostic shape (an address line followed by ``#550 5.1.1 …``), else — the VERP
   return path still says whose digest it was — one notice without a recipient when the text
   gives a status code or says the user is unknown.
5. Anything else is one ``unknown`` notice.

**Hard or soft**, from the enhanced status code (RFC 3463) when there is one, else the basic
SMTP reply code (RFC 5321), and the text of the diagnostic:

* ``4.x.x`` (and a 4xx reply): ``soft``, whatever the text says;
* ``5.x.x`` whose text says the mailbox is full / over quota: ``soft`` (the address exists);
* ``5.1.1`` bad mailbox, ``5.1.2`` bad domain, ``5.1.3`` bad address syntax, ``5.1.6`` mailbox
  moved, ``5.1.10`` null MX (Office 365's RecipientNotFound), ``5.2.1`` mailbox disabled,
  ``5.4.4`` unroutable domain: ``hard``;
* any other ``5.x.x`` (``5.0.0``, ``5.1.0``, ``5.2.2`` mailbox full, ``5.3.x``, ``5.5.x``,
  ``5.6.x``, ``5.7.x`` policy / spam blocks, ``5.1.7``/``5.1.8`` which are about *our* sender)
  and a 5xx reply without an enhanced code: ``hard`` only when the text says the user is
  unknown / does not exist, else ``soft`` — a blocked message proves the address exists;
* no code at all: ``hard`` when the text says the user is unknown / does not exist, else
  ``soft``: a hard bounce suppresses an address at once, soft ones only add up.

A failure ``flufl.bounce`` reports as temporary (its warning detectors) is always ``soft``.
"""

from __future__ import annotations

import email
import email.policy
import hashlib
import html
import re
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass
from email.header import decode_header, make_header
from email.message import Message
from email.parser import Parser
from email.utils import getaddresses, parseaddr
from typing import Literal

from flufl.bounce import all_failures

from digest.bounces.notice import BounceKind, BounceNotice

__all__ = ["classify"]

_DETAIL_MAX = 300
_MAX_DEPTH = 25
_TEXT_MAX = 64 * 1024
_SEGMENT = 600

Failure = Literal["hard", "soft"]

_ENHANCED = re.compile(r"(?<![\w.])([245])\.(\d{1,3})\.(\d{1,3})(?!\w|\.\d)")
_BASIC = re.compile(
    r"(?:^|said:|smtp;|returned '|[#('\"])[ \t]*([45][0-5]\d)(?=[ \t-]|$)",
    re.IGNORECASE | re.MULTILINE,
)
_HARD_CODES = frozenset({"5.1.1", "5.1.2", "5.1.3", "5.1.6", "5.1.10", "5.2.1", "5.4.4"})
_UNKNOWN_USER = re.compile(
    r"user unknown|unknown user|unknown (?:recipient|mailbox|address|local.?part)"
    r"|no such (?:user|mailbox|recipient|address|account|person)"
    r"|(?:user|mailbox|recipient|address|account)(?: name)? (?:does not|doesn'?t) exist"
    r"|(?:does not|doesn'?t) exist|no mailbox here|recipient ?not ?found|recipnotfound"
    r"|mailbox (?:not found|does not exist)|address not found|unrouteable address"
    r"|invalid (?:recipient|mailbox|user)|not a valid (?:recipient|mailbox|user|address)"
    r"|account (?:is |has been )?(?:disabled|deactivated|closed|terminated)",
    re.IGNORECASE,
)
_MAILBOX_FULL = re.compile(
    r"over ?quota|quota exceeded|exceeded (?:the |its |their )?(?:storage |mailbox )?quota"
    r"|mailbox (?:is )?full|insufficient (?:storage|disk space|space)|out of storage",
    re.IGNORECASE,
)
_RETURNED_MARKER = re.compile(
    r"^[ \t]*(?:[-=_*]{2,}[ \t]*)?(?:this is a copy of the message|below this line is a copy"
    r"|original message follows|a copy of the original message|original message headers"
    r"|original message|returned message|undelivered message|message headers follow"
    r"|start of returned message|the original message was received)[^\n]*$",
    re.IGNORECASE | re.MULTILINE,
)
_HEADER_LINE = re.compile(r"^[!-9;-~]+:")
_EXCHANGE_DIAGNOSTIC = re.compile(
    r"^[ \t]*<?(?P<addr>[^\s<>@]+@[^\s<>@]+?)>?[ \t]*\r?\n"
    r"[ \t]*#?(?P<diag>[45]\d\d[ -][45]\.\d{1,3}\.\d{1,3}[^\n]*)",
    re.MULTILINE,
)
_BOUNCE_SENDERS = frozenset(
    {"mailer-daemon", "mailerdaemon", "mail-daemon", "postmaster", "mdaemon", "mail.daemon"}
)
_BOUNCE_SUBJECT = re.compile(
    r"undeliver|undelivered|returned mail|mail delivery (?:failed|failure|system)"
    r"|delivery status notification|delivery (?:failure|failed|notification|has failed)"
    r"|failure notice|non.?delivery|nondeliverable|delayed mail|could not (?:be )?deliver"
    r"|message not delivered|mail system error|unzustellbar|non remis|no se puede entregar",
    re.IGNORECASE,
)
_AUTOREPLY_SUBJECT = re.compile(
    r"out of (?:the )?office|automatic reply|auto[- ]?reply|auto[- ]?response|autoresponder"
    r"|away from (?:the )?office|on vacation|vacation reply|abwesenheit|automatische antwort"
    r"|r[ée]ponse automatique|absence du bureau|respuesta autom[áa]tica|fuera de la oficina"
    r"|risposta automatica|fuori ufficio|automatisch antwoord|afwezig",
    re.IGNORECASE,
)
_AUTOREPLY_HEADERS = ("x-autoreply", "x-autorespond", "x-autoresponder", "x-mail-autoreply")
_DSN_TYPES = frozenset({"message/delivery-status", "message/global-delivery-status"})
_RETURNED_TYPES = frozenset({"message/rfc822", "message/global"})
_RETURNED_HEADER_TYPES = frozenset({"text/rfc822-headers", "message/global-headers"})
_NOT_COMPLAINTS = frozenset({"not-spam", "auth-failure"})


@dataclass(frozen=True, slots=True)
class _Finding:
    """One thing a message says about one recipient, before the common fields are added."""

    kind: BounceKind
    recipient: str | None = None
    status: str | None = None
    detail: str = ""


@dataclass(slots=True)
class _Context:
    """What every notice of one message shares, gathered while reading it."""

    origin: str
    key_base: str
    return_path: str | None = None
    message_id: str | None = None


def classify(
    message: bytes, *, origin: str, verp_domain: str | None = None, verp_local: str = "bounces"
) -> list[BounceNotice]:
    """The notices one message that arrived at the bounce address gives (at least one).

    ``origin`` is copied into each notice. ``verp_domain`` / ``verp_local`` name our VERP
    return paths (``<verp_local>+…@<verp_domain>``); without ``verp_domain`` there is no VERP
    and ``return_path`` is always ``None``. Never raises: an unreadable message is one
    ``unknown`` notice.
    """
    try:
        return _classify(bytes(message), origin, verp_domain, verp_local)
    except Exception:  # broken input of any kind is an unknown message, never an error
        digest = hashlib.sha256(bytes(message)).hexdigest()
        return [BounceNotice(kind="unknown", key=f"{digest}#", origin=origin, detail="unreadable")]


def _classify(
    raw: bytes, origin: str, verp_domain: str | None, verp_local: str
) -> list[BounceNotice]:
    """:func:`classify` without the safety net."""
    msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    own_id = _message_id(_header(msg, "message-id"))
    key_base = _header(msg, "message-id") if own_id else hashlib.sha256(raw).hexdigest()
    returned = _returned_headers(msg)
    context = _Context(origin=origin, key_base=key_base)
    context.message_id = _message_id(_header(returned, "message-id") if returned else "")
    context.message_id = context.message_id or _message_id(_header(msg, "in-reply-to"))
    candidates = _verp_candidates(msg, returned)
    findings, extra = _read(msg, raw, verp_local.lower())
    context.message_id = context.message_id or extra.message_id
    candidates.extend(extra.senders)
    context.return_path = _verp_address(candidates, verp_domain, verp_local)
    return _notices(findings, context)


@dataclass(slots=True)
class _Extra:
    """Identification a report part carries: its senders and our message's Message-ID."""

    senders: list[str]
    message_id: str | None = None


def _read(msg: Message, raw: bytes, verp_local: str) -> tuple[list[_Finding], _Extra]:
    """The findings about one parsed message, in the order of the module docstring."""
    extra = _Extra(senders=[])
    complaints = _complaints(msg, extra)
    if complaints is not None:
        return complaints, extra
    dsn = _dsn_findings(msg, extra)
    if dsn is not None:
        return dsn, extra
    bounce_like = _looks_like_bounce(msg)
    if _looks_like_autoreply(msg) and not bounce_like:
        return [_Finding("auto-reply", detail=_header(msg, "subject")[:_DETAIL_MAX])], extra
    if bounce_like:
        text = _bounce_text(msg)
        found = _text_findings(raw, text, verp_local)
        if found:
            return found, extra
    if _looks_like_autoreply(msg):
        return [_Finding("auto-reply", detail=_header(msg, "subject")[:_DETAIL_MAX])], extra
    return [_Finding("unknown", detail="not a bounce, complaint or auto-reply")], extra


def _notices(findings: list[_Finding], context: _Context) -> list[BounceNotice]:
    """One notice per finding, the shared fields added, a repeated recipient kept once."""
    notices: dict[str, BounceNotice] = {}
    for finding in findings:
        key = f"{context.key_base}#{finding.recipient or ''}"
        if key in notices:
            continue
        notices[key] = BounceNotice(
            kind=finding.kind,
            key=key,
            origin=context.origin,
            return_path=context.return_path,
            message_id=context.message_id,
            recipient=finding.recipient,
            status=finding.status,
            detail=_detail(finding.detail),
        )
    return list(notices.values())


# -- reading headers and parts -----------------------------------------------------------------


def _one_line(text: str) -> str:
    """``text`` unfolded, its runs of white space made one space."""
    return " ".join(text.split())


def _detail(text: str) -> str:
    """One line of at most 300 characters for the operator."""
    line = _one_line(text)
    return line if len(line) <= _DETAIL_MAX else line[: _DETAIL_MAX - 1] + "…"


def _header(msg: Message | None, name: str) -> str:
    """The first ``name`` header of ``msg`` as one line, or ``""``."""
    values = _headers(msg, name)
    return values[0] if values else ""


def _headers(msg: Message | None, name: str) -> list[str]:
    """Every ``name`` header of ``msg``, each decoded (raw UTF-8, RFC 2047) as one line."""
    if msg is None:
        return []
    wanted = name.lower()
    return [_decode(value) for key, value in msg.raw_items() if key.lower() == wanted]


def _decode(value: object) -> str:
    """A raw header value as text: raw 8-bit bytes read as UTF-8, encoded words decoded."""
    text = value if isinstance(value, str) else str(value)
    text = text.encode("utf-8", errors="surrogateescape").decode("utf-8", errors="replace")
    if "=?" in text:
        with suppress(Exception):  # a broken encoded word is kept as written
            text = str(make_header(decode_header(text)))
    return _one_line(text)


def _message_id(value: str) -> str | None:
    """The ``<…>`` Message-ID in a header value (bracketed if written bare), or ``None``."""
    match = re.search(r"<[^<>\s]+>", value)
    if match:
        return match.group(0)
    bare = value.strip()
    return f"<{bare}>" if bare and " " not in bare and "@" in bare else None


def _own_parts(msg: Message, depth: int = 0) -> Iterator[Message]:
    """``msg`` and its parts, not descending into ``message/*`` parts (returned messages)."""
    yield msg
    if depth >= _MAX_DEPTH or msg.get_content_maintype() != "multipart":
        return
    payload = msg.get_payload()
    if isinstance(payload, list):
        for part in payload:
            if isinstance(part, Message):
                yield from _own_parts(part, depth + 1)


def _decoded(part: Message) -> str:
    """The text of a leaf part, its transfer encoding undone, decoded leniently."""
    try:
        payload = part.get_payload(decode=True)
    except Exception:  # a broken transfer encoding: take the text as it is
        payload = None
    if not isinstance(payload, bytes):
        raw = part.get_payload()
        return raw if isinstance(raw, str) else ""
    charset = part.get_content_charset() or "utf-8"
    try:
        return payload.decode(charset, errors="replace")
    except LookupError:
        return payload.decode("utf-8", errors="replace")


def _parse_headers(text: str) -> Message:
    """A header block parsed leniently into a message without a body."""
    return Parser(policy=email.policy.compat32).parsestr(text.lstrip("\r\n"), headersonly=True)


def _returned_headers(msg: Message) -> Message | None:
    """The headers of our original message the bounce or report returns, if it does.

    A ``message/rfc822`` part, a ``text/rfc822-headers`` part, or in a plain-text bounce the
    header block after "This is a copy of the message" and similar lines.
    """
    for part in _own_parts(msg):
        content_type = part.get_content_type()
        if content_type in _RETURNED_TYPES:
            payload = part.get_payload()
            if isinstance(payload, list) and payload and isinstance(payload[0], Message):
                return payload[0]
        elif content_type in _RETURNED_HEADER_TYPES:
            return _parse_headers(_decoded(part))
    for part in _own_parts(msg):
        if part.get_content_maintype() == "text" and not part.is_multipart():
            text = _decoded(part)[:_TEXT_MAX]
            marker = _RETURNED_MARKER.search(text)
            if marker:
                rest = text[marker.end() :].lstrip("\r\n \t")
                if _HEADER_LINE.match(rest):
                    return _parse_headers(rest)
    return None


def _bounce_text(msg: Message) -> str:
    """The human-readable text of a bounce, without the returned message."""
    texts: list[str] = []
    for part in _own_parts(msg):
        content_type = part.get_content_type()
        if part.is_multipart() or content_type in _RETURNED_HEADER_TYPES:
            continue
        if content_type == "text/html":
            texts.append(html.unescape(re.sub(r"<[^>]*>", " ", _decoded(part))))
        elif part.get_content_maintype() in ("text", "multipart"):  # multipart: broken MIME
            texts.append(_decoded(part))
    text = "\n".join(texts)[:_TEXT_MAX]
    marker = _RETURNED_MARKER.search(text)
    return text[: marker.start()] if marker else text


# -- identification ----------------------------------------------------------------------------


def _addresses(values: list[str]) -> list[str]:
    """The addresses in address-list header values."""
    try:
        return [address for _name, address in getaddresses(values) if address]
    except Exception:  # a header getaddresses cannot split
        return []


def _verp_candidates(msg: Message, returned: Message | None) -> list[str]:
    """Where the VERP address may be written, most trustworthy first."""
    candidates: list[str] = []
    for name in ("delivered-to", "x-original-to", "envelope-to", "to"):
        candidates.extend(_addresses(_headers(msg, name)))
    candidates.extend(_addresses(_headers(returned, "return-path")))
    return candidates


def _verp_address(candidates: list[str], domain: str | None, local: str) -> str | None:
    """The first candidate that is one of our VERP addresses, lower-cased."""
    if domain is None:
        return None
    prefix = f"{local.lower()}+"
    for candidate in candidates:
        address = candidate.strip().strip("<>").lower()
        user, _, host = address.rpartition("@")
        if user.startswith(prefix) and len(user) > len(prefix) and host == domain.lower():
            return address
    return None


# -- ARF complaints ----------------------------------------------------------------------------


def _field_blocks(part: Message) -> list[Message]:
    """The header blocks of a report part (delivery-status, feedback-report)."""
    payload = part.get_payload()
    if isinstance(payload, list):
        return [block for block in payload if isinstance(block, Message)]
    text = _decoded(part).replace("\r\n", "\n")
    return [_parse_headers(block) for block in re.split(r"\n[ \t]*\n", text) if block.strip()]


def _complaints(msg: Message, extra: _Extra) -> list[_Finding] | None:
    """The complaints of an ARF report, or ``None`` when ``msg`` is not one."""
    report = next(
        (p for p in _own_parts(msg) if p.get_content_type() == "message/feedback-report"), None
    )
    if report is None:
        return None
    fields = Message()
    for block in _field_blocks(report):
        for name, value in block.items():
            fields[name] = value
    feedback_type = (_header(fields, "feedback-type").split() or ["abuse"])[0].lower()
    extra.senders.extend(_addresses(_headers(fields, "original-mail-from")))
    user_agent = _header(fields, "user-agent")
    detail = f"Feedback-Type: {feedback_type}" + (
        f"; User-Agent: {user_agent}" if user_agent else ""
    )
    if feedback_type in _NOT_COMPLAINTS:
        return [_Finding("unknown", detail=detail)]
    embedded = _returned_headers(msg)
    recipients = _addresses(_headers(fields, "original-rcpt-to"))
    recipients = recipients or _addresses(_headers(embedded, "x-hmxmroriginalrecipient"))
    recipients = recipients or _addresses(_headers(embedded, "to"))
    if not recipients:
        return [_Finding("complaint", detail=detail)]
    return [_Finding("complaint", recipient=r.strip("<>"), detail=detail) for r in recipients]


# -- RFC 3464 DSNs -----------------------------------------------------------------------------


def _dsn_address(value: str) -> str | None:
    """The address of a ``Final-Recipient`` / ``Original-Recipient`` value (type removed)."""
    _type, semicolon, address = value.partition(";")
    address = (address if semicolon else value).strip().strip("<>").strip()
    return address or None


def _enhanced(text: str) -> str | None:
    """The first RFC 3463 enhanced status code (class 4 or 5, subject 0-7) in ``text``."""
    for match in _ENHANCED.finditer(text):
        cls, subject, detail = match.groups()
        if cls in "45" and int(subject) <= 7:
            return f"{cls}.{int(subject)}.{int(detail)}"
    return None


def _dsn_status(fields: Message) -> str | None:
    """A recipient block's enhanced status, the diagnostic's when ``Status`` is x.0.0."""
    status = _enhanced(_header(fields, "status"))
    diagnostic = _enhanced(_header(fields, "diagnostic-code"))
    if status is None or (status.endswith(".0.0") and diagnostic and diagnostic[0] == status[0]):
        return diagnostic or status
    return status


def _dsn_findings(msg: Message, extra: _Extra) -> list[_Finding] | None:
    """The failures a DSN reports, or ``None`` when ``msg`` has no readable DSN part."""
    findings: list[_Finding] = []
    blocks_seen = False
    for part in _own_parts(msg):
        if part.get_content_type() not in _DSN_TYPES:
            continue
        for fields in _field_blocks(part):
            if not any(fields.get(n) for n in ("final-recipient", "original-recipient", "action")):
                extra.senders.extend(
                    _dsn_address(v) or "" for v in _headers(fields, "x-postfix-sender")
                )
                extra.message_id = extra.message_id or _message_id(
                    _header(fields, "x-original-message-id")
                )
                continue
            blocks_seen = True
            finding = _dsn_block(fields)
            if finding is not None:
                findings.append(finding)
    if not blocks_seen:
        return None
    return findings or [_Finding("unknown", detail="delivery status report without failures")]


def _dsn_block(fields: Message) -> _Finding | None:
    """The finding of one recipient block, or ``None`` for a successful delivery."""
    recipient = _dsn_address(_header(fields, "original-recipient")) or _dsn_address(
        _header(fields, "final-recipient")
    )
    action = (_header(fields, "action").split() or [""])[0].lower()
    status = _dsn_status(fields)
    diagnostic = _header(fields, "diagnostic-code")
    detail = diagnostic or f"Action: {action or '?'}; Status: {_header(fields, 'status') or '?'}"
    if action.startswith("delayed"):
        return _Finding("soft", recipient, status, detail)
    if action.startswith(("fail", "error")) or (not action and status and status[0] in "45"):
        kind = _failure_kind(status, _basic(diagnostic), diagnostic)
        return _Finding(kind, recipient, status, detail)
    return None


# -- hard or soft ------------------------------------------------------------------------------


def _basic(text: str) -> int | None:
    """The first SMTP reply code (4xx or 5xx) written where servers write one."""
    match = _BASIC.search(text)
    return int(match.group(1)) if match else None


def _failure_kind(status: str | None, basic: int | None, text: str) -> Failure:
    """Hard or soft, by the rules of the module docstring."""
    code_class = status[0] if status else (str(basic)[0] if basic else None)
    if code_class == "4":
        return "soft"
    if code_class == "5" and _MAILBOX_FULL.search(text):
        return "soft"
    if status in _HARD_CODES:
        return "hard"
    return "hard" if _UNKNOWN_USER.search(text) else "soft"


# -- non-standard bounces ----------------------------------------------------------------------


def _looks_like_bounce(msg: Message) -> bool:
    """Whether ``msg`` comes from a mail system rather than a person or an autoresponder."""
    _name, sender = parseaddr(_header(msg, "from"))
    display = _header(msg, "from").lower()
    if sender.rpartition("@")[0].lower() in _BOUNCE_SENDERS or "mail delivery" in display:
        return True
    if _BOUNCE_SUBJECT.search(_header(msg, "subject")) or msg.get("x-failed-recipients"):
        return True
    if msg.get_content_type() == "multipart/report":
        return True
    null_sender = _header(msg, "return-path").replace(" ", "") == "<>"
    return null_sender and not _looks_like_autoreply(msg)


def _looks_like_autoreply(msg: Message) -> bool:
    """Whether ``msg`` carries a sign of an RFC 3834 auto-reply or a vacation responder."""
    if _header(msg, "auto-submitted").lower().startswith("auto-replied"):
        return True
    for name in _AUTOREPLY_HEADERS:
        value = _header(msg, name).lower()
        if msg.get(name) is not None and value not in ("no", "false", "0"):
            return True
    if _header(msg, "precedence").lower() == "auto_reply":
        return True
    return bool(_AUTOREPLY_SUBJECT.search(_header(msg, "subject")))


def _flufl(raw: bytes) -> tuple[set[str], set[str]]:
    """The temporary and permanent failures ``flufl.bounce`` finds (none if it fails).

    It reads its own parse of the message, its 8-bit bytes decoded (so that no header is a
    ``Header`` object, whose missing ``str`` methods make some detectors raise) and with a
    ``From`` header (without one, another raises). A detector that raises anyway stops the
    scan: nothing found.
    """
    decoded = raw.decode("utf-8", errors="replace")
    msg = email.message_from_string(decoded, policy=email.policy.compat32)
    if not _addresses(_headers(msg, "from")):
        del msg["from"]
        msg["From"] = "<>"
    try:
        temporary, permanent = all_failures(msg)
    except Exception:  # a heuristic detector tripping over broken input
        return set(), set()

    def as_text(addresses: frozenset[bytes]) -> set[str]:
        return {a.decode("ascii", errors="replace").strip().strip("<>") for a in addresses}

    return as_text(temporary), as_text(permanent) - as_text(temporary)


def _ours_or_daemon(address: str, verp_local: str) -> bool:
    """Whether a found address is a mail system's or one of our return paths, not a recipient."""
    user = address.rpartition("@")[0].lower()
    return user in _BOUNCE_SENDERS or user.startswith(f"{verp_local}+")


def _text_findings(raw: bytes, text: str, verp_local: str) -> list[_Finding]:
    """The failures a bounce that is not a DSN reports (see the module docstring)."""
    temporary, permanent = _flufl(raw)
    addresses = sorted(a for a in temporary | permanent if a and not _ours_or_daemon(a, verp_local))
    if addresses:
        return [_address_finding(a, a in temporary, text, addresses) for a in addresses]
    exchange = [
        (m.group("addr"), m.group("diag"))
        for m in _EXCHANGE_DIAGNOSTIC.finditer(text)
        if not _ours_or_daemon(m.group("addr"), verp_local)
    ]
    if exchange:
        findings: list[_Finding] = []
        for address, diagnostic in exchange:
            status = _enhanced(diagnostic)
            kind = _failure_kind(status, _basic(diagnostic), diagnostic)
            findings.append(_Finding(kind, address, status, diagnostic))
        return findings
    status, basic = _enhanced(text), _basic(text)
    if status is None and basic is None and not _UNKNOWN_USER.search(text):
        return []
    return [_Finding(_failure_kind(status, basic, text), None, status, _code_line(text, status))]


def _address_finding(address: str, temporary: bool, text: str, others: list[str]) -> _Finding:
    """The finding about one address ``flufl.bounce`` found, its code read near it."""
    segment = _segment(text, address, others)
    status, basic = _enhanced(segment), _basic(segment)
    if status is None and basic is None and len(others) == 1:
        segment = text
        status, basic = _enhanced(text), _basic(text)
    kind: Failure = "soft" if temporary else _failure_kind(status, basic, segment)
    return _Finding(kind, address, status, _code_line(segment, status) or address)


def _segment(text: str, address: str, others: list[str]) -> str:
    """The text from the first mention of ``address`` up to the next other failed address."""
    lowered = text.lower()
    found_at = lowered.find(address.lower())
    if found_at < 0:
        return text
    start = text.rfind("\n", 0, found_at) + 1
    end = min(found_at + _SEGMENT, len(text))
    for other in others:
        found = lowered.find(other.lower(), found_at + len(address))
        if other.lower() != address.lower() and 0 <= found < end:
            end = found
    return text[start:end]


def _code_line(text: str, status: str | None) -> str:
    """The line of ``text`` giving the status code (with its indented continuation lines), or
    else the first line saying why delivery failed."""
    lines = text.splitlines()
    for index, line in enumerate(lines):
        if (status and _enhanced(line) == status) or (not status and _basic(line)):
            return " ".join([line, *_continuation(lines[index + 1 :], _indent(line))])
    for line in lines:
        if _UNKNOWN_USER.search(line) or _MAILBOX_FULL.search(line):
            return line
    return next((line for line in lines if line.strip()), "")


def _indent(line: str) -> int:
    """How far ``line`` is indented."""
    return len(line) - len(line.lstrip())


def _continuation(lines: list[str], indent: int) -> list[str]:
    """The lines at the start of ``lines`` indented deeper than ``indent`` (one wrapped reply)."""
    taken: list[str] = []
    for line in lines:
        if not line.strip() or _indent(line) <= indent:
            break
        taken.append(line)
    return taken
