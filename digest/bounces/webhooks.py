"""Bounce and complaint events of email service providers, checked and read as notices.

One function per provider, each first checking the request came from it, with its own scheme,
then turning its events into :class:`~digest.bounces.notice.BounceNotice` records:

* :func:`ses_notices` — Amazon SES notifications delivered by Amazon SNS: the SNS message
  signature (SignatureVersion 1 = SHA1withRSA, 2 = SHA256withRSA) checked with the signing
  certificate from ``SigningCertURL`` (https, on an ``sns.<region>.amazonaws.com`` host only),
  and the ``TopicArn`` one of those configured (:class:`SnsVerifier`);
* :func:`sendgrid_notices` — SendGrid's signed Event Webhook: an ECDSA P-256 signature over
  the timestamp header and the raw body, checked with the account's verification key;
* :func:`postmark_notices` — Postmark's bounce and spam-complaint webhooks: Postmark signs
  nothing, so the webhook URL carries HTTP Basic credentials, compared in constant time;
* :func:`mailgun_notices` — Mailgun webhooks: a hex HMAC-SHA256 of ``timestamp + token``
  with the webhook signing key, the timestamp at most five minutes away and each token used
  once (:class:`MailgunTokens`).

Every notice's ``key`` is ``"<origin>:<provider event id>:<recipient>"`` (the SNS MessageId for
SES), the same on every redelivery of the event, so it is recorded once. ``message_id`` is the
Message-ID *we* sent (``<edition.subscriber.tag@domain>``, see :func:`digest.mail.message_id`)
when the event carries it, never the provider's own message id.

A request that is not authentic raises :class:`WebhookRejected`; an authentic one that is not
the documented shape raises :class:`WebhookMalformed`; a check that cannot be made now (the
certificate cannot be fetched, a configured key is unusable) raises :class:`WebhookUnavailable`.
Events that say nothing about list health (deliveries, opens, clicks, delays) give no notice.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import json
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from digest.bounces.notice import BounceKind, BounceNotice
from digest.errors import DigestError
from digest.text import one_line

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

__all__ = [
    "MAILGUN_MAX_AGE",
    "SENDGRID_SIGNATURE",
    "SENDGRID_TIMESTAMP",
    "SNS_HOST",
    "MailgunDelivery",
    "MailgunTokens",
    "SnsConfirmation",
    "SnsVerifier",
    "WebhookMalformed",
    "WebhookRejected",
    "WebhookUnavailable",
    "https_get",
    "mailgun_notices",
    "postmark_notices",
    "sendgrid_notices",
    "ses_notices",
]


class WebhookRejected(DigestError):
    """The request is not authentically from the provider; ``status`` is the HTTP answer
    (401: no credentials, 403: wrong ones)."""

    def __init__(self, reason: str, *, status: int = 403) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


class WebhookMalformed(DigestError):
    """The body is not JSON of the provider's documented shape (HTTP 400)."""


class WebhookUnavailable(DigestError):
    """The request cannot be checked now (HTTP 503, so the provider retries): the signing
    certificate could not be fetched, or the configured key is unusable."""


#: the longest ``detail`` kept
DETAIL_LIMIT = 500
#: an enhanced status code (RFC 3463) quoted in a diagnostic
_STATUS = re.compile(r"(?<![\d.])([245]\.\d{1,3}\.\d{1,3})(?![\d.])")


def _json(body: bytes) -> Any:
    try:
        return json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise WebhookMalformed("the body is not JSON") from None


def _text(value: object) -> str | None:
    """``value`` as a non-empty one-line string, else ``None``."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        return None
    value = one_line(value)
    return value or None


def _message_id(value: object) -> str | None:
    """A Message-ID in angle brackets (added when missing); ``None`` unless it is one token."""
    text = _text(value)
    if text is None or " " in text or len(text) > 998:
        return None
    text = text if text.startswith("<") else f"<{text}"
    return text if text.endswith(">") else f"{text}>"


def _status(*texts: object) -> str | None:
    """The first enhanced status code ("5.1.1") among ``texts``."""
    for text in texts:
        found = _STATUS.search(_text(text) or "")
        if found:
            return found.group(1)
    return None


def _detail(*parts: object) -> str:
    """The non-empty ``parts`` as one line for the operator, at most DETAIL_LIMIT long."""
    text = ": ".join(t for t in (_text(p) for p in parts) if t)
    return text if len(text) <= DETAIL_LIMIT else text[: DETAIL_LIMIT - 1] + "…"


def _notice(
    origin: str,
    event_id: str,
    recipient: str,
    kind: BounceKind,
    *,
    message_id: str | None,
    return_path: str | None = None,
    status: str | None = None,
    detail: str = "",
) -> BounceNotice:
    return BounceNotice(
        kind=kind,
        key=f"{origin}:{event_id}:{recipient.lower()}",
        origin=origin,
        return_path=return_path,
        message_id=message_id,
        recipient=recipient,
        status=status,
        detail=detail,
        trusted_recipient=True,  # the provider signed (or authenticated) the event
    )


def _object(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _objects(value: object) -> list[Mapping[str, Any]]:
    return [v for v in value if isinstance(v, Mapping)] if isinstance(value, list) else []


# -- Amazon SES through Amazon SNS --------------------------------------------------------------

#: hosts SNS serves signing certificates and subscription confirmations from (the China
#: regions' hosts end in .amazonaws.com.cn)
SNS_HOST = re.compile(r"sns\.[a-z0-9-]+\.amazonaws\.com(?:\.cn)?")

#: the fields each SNS message type signs, in the order they are signed
_SIGNED: dict[str, tuple[str, ...]] = {
    "Notification": ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    "SubscriptionConfirmation": (
        "Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type",
    ),
    "UnsubscribeConfirmation": (
        "Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type",
    ),
}  # fmt: skip
#: fields a message may lack (then left out of the signed string)
_OPTIONAL = frozenset({"Subject"})

#: a certificate's RSA key and its validity (not before, not after)
_Certified = tuple["RSAPublicKey", dt.datetime, dt.datetime]

#: GET a URL, returning the body of a 200 answer (raise :class:`WebhookUnavailable` otherwise)
Fetch = Callable[[str], bytes]


def https_get(url: str, *, limit: int = 256 * 1024, timeout: float = 10.0) -> bytes:
    """The body of ``url`` (verified TLS, no redirects, at most ``limit`` bytes)."""
    import httpx

    try:
        with (
            httpx.Client(timeout=timeout, follow_redirects=False) as client,
            client.stream("GET", url) as response,
        ):
            if response.status_code != 200:
                raise WebhookUnavailable(f"{url} answered HTTP {response.status_code}")
            data = bytearray()
            for chunk in response.iter_bytes():
                data += chunk
                if len(data) > limit:
                    raise WebhookUnavailable(f"{url} sent more than {limit} bytes")
            return bytes(data)
    except httpx.HTTPError as error:
        raise WebhookUnavailable(f"cannot fetch {url}: {type(error).__name__}") from None


@dataclass(frozen=True, slots=True)
class SnsConfirmation:
    """An authentic SubscriptionConfirmation: confirm it with :meth:`SnsVerifier.confirm`."""

    topic_arn: str
    subscribe_url: str
    message_id: str


class SnsVerifier:
    """Checks SNS messages: the topic is one of ``topic_arns`` and the signature verifies with
    the certificate at ``SigningCertURL`` (fetched with ``fetch`` from an https URL on a host
    ``host`` matches in full, and kept: at most ``cache_size`` certificates). Thread-safe."""

    def __init__(
        self,
        topic_arns: Iterable[str],
        *,
        fetch: Fetch = https_get,
        host: re.Pattern[str] = SNS_HOST,
        cache_size: int = 16,
    ) -> None:
        self.topic_arns = frozenset(topic_arns)
        self.fetch = fetch
        self.host = host
        self.cache_size = cache_size
        self._keys: OrderedDict[str, _Certified] = OrderedDict()
        self._lock = threading.Lock()

    def checked_url(self, url: object, field: str) -> str:
        """``url`` if it is https on an SNS host (no credentials, no other port)."""
        if not isinstance(url, str):
            raise WebhookRejected(f"SNS message without {field}")
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError:
            raise WebhookRejected(f"{field} is not a URL") from None
        host = parts.hostname or ""
        if (
            parts.scheme != "https"
            or not self.host.fullmatch(host)
            or port not in (None, 443)
            or parts.username is not None
            or parts.password is not None
        ):
            raise WebhookRejected(f"{field} {url!r} is not an https URL on an SNS host")
        return url

    def verify(self, message: Mapping[str, Any]) -> str:
        """Check ``message`` (a parsed SNS message); its ``Type`` when it is authentic."""
        kind = message.get("Type")
        if not isinstance(kind, str) or kind not in _SIGNED:
            raise WebhookRejected(f"unknown SNS message type {kind!r}")
        topic = message.get("TopicArn")
        if topic not in self.topic_arns:
            raise WebhookRejected(f"TopicArn {topic!r} is not configured")
        version = message.get("SignatureVersion")
        if version not in ("1", "2"):
            raise WebhookRejected(f"unknown SNS SignatureVersion {version!r}")
        signature = message.get("Signature")
        if not isinstance(signature, str):
            raise WebhookRejected("SNS message without Signature")
        try:
            signed_bytes = base64.b64decode(signature, validate=True)
        except (binascii.Error, ValueError):
            raise WebhookRejected("SNS Signature is not base64") from None
        key = self._public_key(self.checked_url(message.get("SigningCertURL"), "SigningCertURL"))
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        algorithm: hashes.HashAlgorithm = hashes.SHA1() if version == "1" else hashes.SHA256()
        try:
            key.verify(signed_bytes, _sns_string(message, kind), padding.PKCS1v15(), algorithm)
        except InvalidSignature:
            raise WebhookRejected("SNS signature does not verify") from None
        return kind

    def confirm(self, confirmation: SnsConfirmation) -> None:
        """Confirm the subscription: GET its SubscribeURL (on an SNS host only)."""
        self.fetch(self.checked_url(confirmation.subscribe_url, "SubscribeURL"))

    def _public_key(self, url: str) -> RSAPublicKey:
        now = dt.datetime.now(dt.UTC)
        with self._lock:
            cached = self._keys.get(url)
            if cached is not None:
                self._keys.move_to_end(url)
        if cached is None:
            cached = _certificate_key(self.fetch(url), url)
            with self._lock:
                self._keys[url] = cached
                while len(self._keys) > self.cache_size:
                    self._keys.popitem(last=False)
        key, not_before, not_after = cached
        if not not_before <= now <= not_after:
            raise WebhookRejected(f"the SNS signing certificate at {url} is not valid now")
        return key


def _certificate_key(data: bytes, url: str) -> _Certified:
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

    try:
        if b"-----BEGIN" in data:
            certificate = x509.load_pem_x509_certificate(data)
        else:
            certificate = x509.load_der_x509_certificate(data)
    except ValueError:
        raise WebhookUnavailable(f"{url} is not an X.509 certificate") from None
    key = certificate.public_key()
    if not isinstance(key, RSAPublicKey):
        raise WebhookRejected(f"the certificate at {url} has no RSA key")
    return key, certificate.not_valid_before_utc, certificate.not_valid_after_utc


def _sns_string(message: Mapping[str, Any], kind: str) -> bytes:
    """The string SNS signs: ``name\\nvalue\\n`` for each signed field, in order."""
    lines: list[str] = []
    for name in _SIGNED[kind]:
        value = message.get(name)
        if value is None and name in _OPTIONAL:
            continue
        if not isinstance(value, str):
            raise WebhookRejected(f"SNS {kind} without {name}")
        lines += [name, value]
    return ("\n".join(lines) + "\n").encode("utf-8")


def ses_notices(body: bytes, *, verifier: SnsVerifier) -> list[BounceNotice] | SnsConfirmation:
    """SES's bounce and complaint notices in the SNS message ``body``; for an authentic
    SubscriptionConfirmation, the :class:`SnsConfirmation` to confirm instead."""
    message = _json(body)
    if not isinstance(message, Mapping):
        raise WebhookMalformed("an SNS message is a JSON object")
    kind = verifier.verify(message)
    if kind == "SubscriptionConfirmation":
        return SnsConfirmation(
            topic_arn=str(message["TopicArn"]),
            subscribe_url=verifier.checked_url(message.get("SubscribeURL"), "SubscribeURL"),
            message_id=str(message["MessageId"]),
        )
    if kind != "Notification":
        return []
    event = _json(str(message["Message"]).encode("utf-8"))
    if not isinstance(event, Mapping):
        raise WebhookMalformed("the SNS Message is not an SES notification")
    return _ses_event(event, str(message["MessageId"]))


def _ses_event(event: Mapping[str, Any], sns_id: str) -> list[BounceNotice]:
    """The notices of one SES notification (``notificationType``) or event (``eventType``)."""
    kind = event.get("notificationType", event.get("eventType"))
    mail = _object(event.get("mail"))
    message_id, return_path = _ses_message_id(mail), _text(mail.get("source"))
    notices: list[BounceNotice] = []
    if kind == "Bounce":
        bounce = _object(event.get("bounce"))
        bounce_type = _text(bounce.get("bounceType")) or "Undetermined"
        hard: BounceKind = "hard" if bounce_type == "Permanent" else "soft"
        summary = " ".join(filter(None, [bounce_type, _text(bounce.get("bounceSubType"))]))
        for recipient in _objects(bounce.get("bouncedRecipients")):
            address = _text(recipient.get("emailAddress"))
            if address is None:
                continue
            diagnostic = recipient.get("diagnosticCode")
            notices.append(
                _notice(
                    "ses", sns_id, address, hard,
                    message_id=message_id, return_path=return_path,
                    status=_status(recipient.get("status"), diagnostic),
                    detail=_detail(summary, diagnostic),
                )
            )  # fmt: skip
    elif kind == "Complaint":
        complaint = _object(event.get("complaint"))
        feedback = complaint.get("complaintFeedbackType") or complaint.get("complaintSubType")
        for recipient in _objects(complaint.get("complainedRecipients")):
            address = _text(recipient.get("emailAddress"))
            if address is not None:
                notices.append(
                    _notice(
                        "ses", sns_id, address, "complaint",
                        message_id=message_id, return_path=return_path,
                        detail=_detail("complaint", feedback),
                    )
                )  # fmt: skip
    return notices  # Delivery, Send, Open, Click, DeliveryDelay …: nothing about list health


def _ses_message_id(mail: Mapping[str, Any]) -> str | None:
    """Our Message-ID from the original headers (``mail.headers``, when SES was asked to
    include them, else ``mail.commonHeaders.messageId``); ``mail.messageId`` is SES's own."""
    for header in _objects(mail.get("headers")):
        if str(header.get("name", "")).lower() == "message-id":
            return _message_id(header.get("value"))
    return _message_id(_object(mail.get("commonHeaders")).get("messageId"))


# -- SendGrid ------------------------------------------------------------------------------------

SENDGRID_SIGNATURE = "X-Twilio-Email-Event-Webhook-Signature"
SENDGRID_TIMESTAMP = "X-Twilio-Email-Event-Webhook-Timestamp"

#: ``dropped`` reasons that say something about the address (others are about the message)
_SENDGRID_DROPPED: dict[str, BounceKind] = {
    "bounced address": "hard",
    "spam reporting address": "complaint",
    # SendGrid suppresses the address as unsubscribed: a complaint unsubscribes it here too
    "unsubscribed address": "complaint",
    "unsubscribed group": "complaint",
}


def sendgrid_notices(
    body: bytes, *, signature: str | None, timestamp: str | None, public_key: str
) -> list[BounceNotice]:
    """The notices in a SendGrid Event Webhook POST, its ECDSA signature (the two headers)
    checked with ``public_key`` (the verification key: base64 DER, or PEM)."""
    if not signature or not timestamp:
        raise WebhookRejected(f"no {SENDGRID_SIGNATURE} / {SENDGRID_TIMESTAMP}", status=401)
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    key = _sendgrid_key(public_key)
    try:
        der = base64.b64decode(signature.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise WebhookRejected("SendGrid signature is not base64") from None
    try:
        key.verify(der, timestamp.encode("utf-8") + body, ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError):
        raise WebhookRejected("SendGrid signature does not verify") from None
    events = _json(body)
    if not isinstance(events, list):
        raise WebhookMalformed("a SendGrid Event Webhook body is a JSON array")
    notices: list[BounceNotice] = []
    for event in _objects(events):
        notice = _sendgrid_event(event)
        if notice is not None:
            notices.append(notice)
    return notices


def _sendgrid_key(public_key: str) -> Any:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    text = public_key.strip()
    try:
        if text.startswith("-----BEGIN"):
            key = serialization.load_pem_public_key(text.encode("ascii"))
        else:
            key = serialization.load_der_public_key(base64.b64decode(text, validate=True))
    except (binascii.Error, ValueError, UnicodeEncodeError):
        raise WebhookUnavailable("the SendGrid verification key is not a public key") from None
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
        raise WebhookUnavailable("the SendGrid verification key is not an ECDSA P-256 key")
    return key


def _sendgrid_event(event: Mapping[str, Any]) -> BounceNotice | None:
    name = event.get("event")
    address = _text(event.get("email"))
    event_id = _text(event.get("sg_event_id"))
    if address is None or event_id is None:
        return None
    kind: BounceKind
    reason = event.get("reason")
    if name == "bounce":  # type "bounce": the address; "blocked": the message, this time
        bounce_type = _text(event.get("type")) or "bounce"
        kind = "soft" if bounce_type == "blocked" else "hard"
        detail = _detail(bounce_type, reason)
    elif name == "dropped":
        dropped = _SENDGRID_DROPPED.get((_text(reason) or "").lower())
        if dropped is None:
            return None
        kind, detail = dropped, _detail("dropped by SendGrid", reason)
    elif name == "spamreport":
        kind, detail = "complaint", "spam report"
    else:  # processed, delivered, deferred (SendGrid retries), open, click, unsubscribe …
        return None
    return _notice(
        "sendgrid", event_id, address, kind,
        message_id=_message_id(event.get("smtp-id")),
        status=_status(event.get("status"), reason),
        detail=detail,
    )  # fmt: skip


# -- Postmark ------------------------------------------------------------------------------------

#: Postmark bounce ``Type`` → kind (others, such as Subscribe or DMARCPolicy, give no notice)
_POSTMARK_TYPES: dict[str, BounceKind] = {
    "HardBounce": "hard",
    "BadEmailAddress": "hard",
    "SoftBounce": "soft",
    "Transient": "soft",
    "DnsError": "soft",
    "Blocked": "soft",
    "SpamNotification": "soft",
    "SpamComplaint": "complaint",
    "AutoResponder": "auto-reply",
    "Unknown": "unknown",
}


def postmark_notices(
    body: bytes, *, authorization: str | None, username: str, password: str
) -> list[BounceNotice]:
    """The notice in a Postmark bounce or spam-complaint webhook POST, its HTTP Basic
    ``authorization`` header compared in constant time with ``username`` / ``password``."""
    scheme, _, encoded = (authorization or "").strip().partition(" ")
    if scheme.lower() != "basic" or not encoded:
        raise WebhookRejected("no HTTP Basic credentials", status=401)
    try:
        given_user, colon, given_password = (
            base64.b64decode(encoded.strip(), validate=True).decode("utf-8").partition(":")
        )
    except (binascii.Error, ValueError):
        raise WebhookRejected("malformed HTTP Basic credentials", status=401) from None
    user_ok = hmac.compare_digest(given_user.encode(), username.encode())
    password_ok = hmac.compare_digest(given_password.encode(), password.encode())
    if not (colon and user_ok and password_ok):
        raise WebhookRejected("wrong HTTP Basic credentials", status=401)
    record = _json(body)
    if not isinstance(record, Mapping):
        raise WebhookMalformed("a Postmark webhook body is a JSON object")
    if record.get("RecordType") not in ("Bounce", "SpamComplaint"):
        return []  # Delivery, Open, Click, SubscriptionChange
    kind = _POSTMARK_TYPES.get(str(record.get("Type")))
    address = _text(record.get("Email"))
    event_id = _text(record.get("ID"))
    if kind is None or address is None or event_id is None:
        return []
    details = record.get("Details") or record.get("Description")
    return [
        _notice(
            "postmark", event_id, address, kind,
            message_id=_postmark_message_id(record),
            status=_status(details),
            detail=_detail(record.get("Type"), details),
        )
    ]  # fmt: skip


def _postmark_message_id(record: Mapping[str, Any]) -> str | None:
    """Our Message-ID, when the message carried it as metadata (``X-PM-Metadata-message-id``)
    or the record has the headers; Postmark's ``MessageID`` is its own."""
    for name, value in _object(record.get("Metadata")).items():
        if re.sub(r"[^a-z]", "", str(name).lower()) in ("messageid", "digestmessageid"):
            return _message_id(value)
    for header in _objects(record.get("Headers")):
        if str(header.get("Name", "")).lower() == "message-id":
            return _message_id(header.get("Value"))
    return None


# -- Mailgun -------------------------------------------------------------------------------------

#: how far (seconds) a Mailgun signature's timestamp may be from now
MAILGUN_MAX_AGE = 300


class MailgunTokens:
    """The signature tokens of the last ``size`` accepted Mailgun requests, so each is used
    once (tokens older than ``max_age`` are refused by their timestamp anyway). Thread-safe."""

    def __init__(self, *, size: int = 10_000, max_age: int = MAILGUN_MAX_AGE) -> None:
        self.size = size
        self.max_age = max_age
        self._tokens: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def claim(self, token: str, now: float) -> bool:
        """Take ``token``; ``False`` when it was taken already (a replay)."""
        with self._lock:
            while self._tokens and (
                len(self._tokens) >= self.size
                or next(iter(self._tokens.values())) < now - 2 * self.max_age
            ):
                self._tokens.popitem(last=False)
            if token in self._tokens:
                return False
            self._tokens[token] = now
            return True

    def release(self, token: str) -> None:
        """Give ``token`` back (its events could not be recorded: Mailgun will retry)."""
        with self._lock:
            self._tokens.pop(token, None)


@dataclass(frozen=True, slots=True)
class MailgunDelivery:
    """What an authentic Mailgun request says, and the token it took."""

    notices: list[BounceNotice]
    token: str


def mailgun_notices(
    body: bytes, *, signing_key: str, tokens: MailgunTokens, now: float | None = None
) -> MailgunDelivery:
    """The notice in a Mailgun webhook POST (JSON), its ``signature`` checked with
    ``signing_key``, its timestamp within :data:`MAILGUN_MAX_AGE` of ``now`` and its token not
    used before (the token is claimed; :meth:`MailgunTokens.release` it if recording fails).

    Mailgun signs only the timestamp and token, not ``event-data``: the single use of tokens
    and the time window are what keep a captured signature from carrying other events.
    """
    payload = _json(body)
    if not isinstance(payload, Mapping):
        raise WebhookMalformed("a Mailgun webhook body is a JSON object")
    signature = _object(payload.get("signature"))
    timestamp = _text(signature.get("timestamp"))
    token = _text(signature.get("token"))
    given = _text(signature.get("signature"))
    if timestamp is None or token is None or given is None:
        raise WebhookRejected("no Mailgun signature", status=401)
    expected = hmac.new(
        signing_key.encode("utf-8"), (timestamp + token).encode("utf-8"), hashlib.sha256
    ).hexdigest()
    if not hmac.compare_digest(expected, given.lower()):
        raise WebhookRejected("Mailgun signature does not verify")
    now = time.time() if now is None else now
    try:
        age = now - int(timestamp)
    except ValueError:
        raise WebhookRejected("Mailgun timestamp is not a number") from None
    if abs(age) > tokens.max_age:
        raise WebhookRejected(f"Mailgun timestamp is {int(age)} s away from now")
    if not tokens.claim(token, now):
        raise WebhookRejected("Mailgun token used before")
    return MailgunDelivery(notices=_mailgun_event(_object(payload.get("event-data"))), token=token)


#: ``failed`` reasons of addresses Mailgun suppresses (it sends nothing to them)
_MAILGUN_SUPPRESSED: dict[str, BounceKind] = {
    "suppress-bounce": "hard",
    "suppress-complaint": "complaint",
    "suppress-unsubscribe": "complaint",
}


def _mailgun_event(data: Mapping[str, Any]) -> list[BounceNotice]:
    name = data.get("event")
    address = _text(data.get("recipient"))
    event_id = _text(data.get("id"))
    if address is None or event_id is None:
        return []
    status = _object(data.get("delivery-status"))
    diagnostic = status.get("message") or status.get("description")
    reason = _text(data.get("reason"))
    kind: BounceKind
    if name == "failed":
        suppressed = _MAILGUN_SUPPRESSED.get(reason or "")
        if suppressed is not None:
            kind = suppressed
        elif data.get("severity") == "permanent":
            kind = "hard"
        elif data.get("severity") == "temporary":
            kind = "soft"
        else:
            return []
        detail = _detail(f"{data.get('severity')} failure", reason, diagnostic)
    elif name == "complained":
        kind, detail = "complaint", "complaint"
    else:  # accepted, delivered, opened, clicked, unsubscribed (via Mailgun's own link) …
        return []
    headers = _object(_object(data.get("message")).get("headers"))
    return [
        _notice(
            "mailgun", event_id, address, kind,
            message_id=_message_id(headers.get("message-id")),
            return_path=_text(_object(data.get("envelope")).get("sender")),
            status=_status(status.get("enhanced-code"), diagnostic, status.get("description")),
            detail=detail,
        )
    ]  # fmt: skip
