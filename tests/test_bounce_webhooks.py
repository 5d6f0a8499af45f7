"""ESP bounce and complaint webhooks (SES through SNS, SendGrid, Postmark, Mailgun), driven
over HTTP against a real uvicorn server, with payloads in the providers' documented shapes
(tests/fixtures/webhooks) signed here with keys and an SNS certificate made for the test.

The SNS signing certificate and the SubscribeURL are served by a local HTTP server: the
endpoints' fetch is replaced by one that sends ``https://sns.<region>.amazonaws.com/…`` there,
so the https and host rules stay those of production.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import re
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from configs import config_text
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID

from digest.bounces.webhooks import (
    MailgunTokens,
    SnsVerifier,
    WebhookMalformed,
    WebhookRejected,
    ses_notices,
)
from digest.config import WebhookSettings
from digest.pipeline import Pipeline
from digest.web.routes.bounces import Webhooks
from digest.web.serve import build_app
from helpers import write_papers
from httpserver import FixtureServer, Reply
from test_web import PAPERS, WEB, served_application
from webserver import ServerThread, reserve_port

FIXTURES = Path(__file__).parent / "fixtures" / "webhooks"
TOPIC = "arn:aws:sns:us-east-1:123456789012:digest-ses-feedback"
CERT_PATH = "/SimpleNotificationService-0000000000000000000000000000test.pem"
HOOKS = {
    "ses_topic_arns": [TOPIC],
    "sendgrid_public_key_env": "SENDGRID_WEBHOOK_KEY",
    "postmark_username": "postmark",
    "postmark_password_env": "POSTMARK_WEBHOOK_PASSWORD",
    "mailgun_signing_key_env": "MAILGUN_WEBHOOK_KEY",
}
POSTMARK_PASSWORD = "pm-" + "p4ss" * 4
MAILGUN_KEY = "mg-signing-" + "k3y" * 6


# -- keys, certificate and the local SNS stand-in -------------------------------------------


def self_signed(key: rsa.RSAPrivateKey, *, days: int = 30) -> bytes:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.amazonaws.com")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=10))
        .not_valid_after(now + dt.timedelta(days=days))
        .sign(key, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.PEM)


@pytest.fixture(scope="module")
def sns_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def sendgrid_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def sendgrid_public(key: ec.EllipticCurvePrivateKey) -> str:
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(der).decode()


@dataclass
class LocalSns:
    """Fetches ``https://sns.*.amazonaws.com/<path>`` from the local server instead."""

    server: FixtureServer
    fetched: list[str] = field(default_factory=list)

    def __call__(self, url: str) -> bytes:
        self.fetched.append(url)
        parts = urlsplit(url)
        assert parts.scheme == "https" and parts.hostname == "sns.us-east-1.amazonaws.com"
        local = self.server.url(parts.path + (f"?{parts.query}" if parts.query else ""))
        response = httpx.get(local, timeout=10)
        response.raise_for_status()
        return response.content


# -- the served site --------------------------------------------------------------------------


@dataclass
class Site:
    url: str
    pipeline: Pipeline
    http: httpx.Client
    app: Any
    sns: LocalSns
    stub: FixtureServer
    ids: dict[str, str]  # subscriber name → the Message-ID of their delivered digest

    def events(self) -> list[dict[str, Any]]:
        return self.pipeline.store.bounce_events()

    def subscriber(self, name: str) -> Any:
        return next(s for s in self.pipeline.store.subscribers() if s.subscriber.name == name)


def fixture(name: str, site: Site, *, bare: bool = False) -> str:
    """A fixture's text with our Message-IDs of ada and grace in place (``bare``: without
    angle brackets, as Mailgun gives them)."""
    text = (FIXTURES / name).read_text("utf-8")
    for person in ("ada", "grace"):
        mid = site.ids[person]
        text = text.replace(f"@@{person.upper()}@@", mid.strip("<>") if bare else mid)
    return text


def serve(
    tmp_path: Path,
    sns_key: rsa.RSAPrivateKey,
    sendgrid: str,
    *,
    hooks: dict[str, Any] | None,
    install: bool = True,
) -> Iterator[Site]:
    """A served site with ``hooks`` as ``[bounces.webhooks]``; with ``install``, its
    :class:`Webhooks` fetch from the local SNS stand-in and read secrets from a test mapping."""
    sock = reserve_port()
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    config = tmp_path / "config.toml"
    tables: dict[str, Any] = {
        **WEB,
        "digest": {"base_url": url, "secret_key": "k2", "title": "Lab digest"},
        "bounces": {"webhooks": hooks} if hooks else {},
    }
    config.write_text(config_text(**tables), "utf-8")
    write_papers(tmp_path / "papers.jsonl", PAPERS)
    application = served_application(config)
    pipeline = application.pipeline
    report = pipeline.run()
    assert report.delivered == 2 and not report.problems, report
    ids = {}
    for name in ("ada", "grace"):
        eml = next((tmp_path / "out" / name).glob("*/digest.eml")).read_text("utf-8")
        found = re.search(r"^Message-ID: (<[^>]+>)", eml, re.M | re.I)
        assert found is not None
        ids[name] = found.group(1)
    app = build_app(application, scheduler=False)
    with FixtureServer(roots=tmp_path / "nothing") as stub:
        stub.route(CERT_PATH, Reply(body=self_signed(sns_key)))
        stub.route(
            "/",
            Reply(body=b"<ConfirmSubscriptionResponse/>"),
            query={"Action": "ConfirmSubscription"},
        )
        sns = LocalSns(stub)
        if hooks and install:
            app.state.bounce_webhooks = Webhooks(
                pipeline.settings.bounces.webhooks,
                fetch=sns,
                environ={
                    "SENDGRID_WEBHOOK_KEY": sendgrid,
                    "POSTMARK_WEBHOOK_PASSWORD": POSTMARK_PASSWORD,
                    "MAILGUN_WEBHOOK_KEY": MAILGUN_KEY,
                },
            )
        with ServerThread(app, sock), httpx.Client(base_url=url, timeout=30) as http:
            yield Site(url=url, pipeline=pipeline, http=http, app=app, sns=sns, stub=stub, ids=ids)


@pytest.fixture
def site(
    tmp_path: Path, sns_key: rsa.RSAPrivateKey, sendgrid_key: ec.EllipticCurvePrivateKey
) -> Iterator[Site]:
    yield from serve(tmp_path, sns_key, sendgrid_public(sendgrid_key), hooks=HOOKS)


# -- Amazon SES through SNS ---------------------------------------------------------------------

SIGNED = {
    "Notification": ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    "SubscriptionConfirmation": (
        "Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type",
    ),
}  # fmt: skip


def sns_sign(message: dict[str, Any], key: rsa.RSAPrivateKey) -> dict[str, Any]:
    """``message`` with its Signature, made as the SNS documentation describes."""
    text = "".join(
        f"{name}\n{message[name]}\n" for name in SIGNED[message["Type"]] if name in message
    )
    algorithm = hashes.SHA1() if message["SignatureVersion"] == "1" else hashes.SHA256()
    signature = key.sign(text.encode(), padding.PKCS1v15(), algorithm)
    return {**message, "Signature": base64.b64encode(signature).decode()}


def notification(
    site: Site, event: str, key: rsa.RSAPrivateKey, *, version: str = "2", **changes: Any
) -> dict[str, Any]:
    message = json.loads((FIXTURES / "sns_notification.json").read_text("utf-8"))
    message.update(Message=fixture(event, site), SignatureVersion=version, **changes)
    return sns_sign(message, key)


def post_sns(site: Site, message: dict[str, Any] | bytes) -> httpx.Response:
    body = message if isinstance(message, bytes) else json.dumps(message).encode()
    kind = "Notification" if isinstance(message, bytes) else message["Type"]
    return site.http.post(
        "/webhooks/ses",
        content=body,
        headers={"Content-Type": "text/plain; charset=UTF-8", "x-amz-sns-message-type": kind},
    )


@pytest.mark.parametrize("version", ["1", "2"])
def test_ses_bounces_and_complaints_are_recorded_once(
    site: Site, sns_key: rsa.RSAPrivateKey, version: str
) -> None:
    bounce = notification(site, "ses_bounce_permanent.json", sns_key, version=version)
    answer = post_sns(site, bounce)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"recorded": 1}
    assert site.subscriber("ada").bounced
    [event] = site.events()
    fields = ("origin", "kind", "domain", "status", "outcome", "subscriber")
    assert {f: event[f] for f in fields} == {
        "origin": "ses",
        "kind": "hard",
        "domain": "example.org",
        "status": "5.1.1",
        "outcome": "bounced",
        "subscriber": "ada",
    }
    assert event["edition_id"] and "User unknown" in event["detail"]
    # SNS redelivers the same message (same MessageId): recorded once.
    assert post_sns(site, bounce).status_code == 200
    assert len(site.events()) == 1

    transient = notification(
        site, "ses_bounce_transient.json", sns_key, MessageId="6e1d8b2f-04c5-4a3b-9d72-1f5c8e0a2b41"
    )
    assert post_sns(site, transient).json() == {"recorded": 1}
    complaint = notification(
        site, "ses_complaint.json", sns_key, MessageId="7f2e9c30-15d6-4b4c-8e83-2a6d9f1b3c52"
    )
    assert post_sns(site, complaint).json() == {"recorded": 1}
    delivery = notification(
        site, "ses_delivery.json", sns_key, MessageId="80a3fd41-26e7-4c5d-9f94-3b7eaf2c4d63"
    )
    assert post_sns(site, delivery).json() == {"recorded": 0}
    outcomes = [(e["kind"], e["status"], e["outcome"], e["subscriber"]) for e in site.events()]
    assert outcomes == [
        ("complaint", None, "unsubscribed", "grace"),
        ("soft", "4.2.2", "counted", "grace"),
        ("hard", "5.1.1", "bounced", "ada"),
    ]
    assert site.subscriber("grace").status == "unsubscribed"
    # The certificate was fetched once, from the SigningCertURL, and then kept.
    assert site.sns.fetched == [f"https://sns.us-east-1.amazonaws.com{CERT_PATH}"]


def test_ses_rejects_what_sns_did_not_sign(site: Site, sns_key: rsa.RSAPrivateKey) -> None:
    good = notification(site, "ses_bounce_permanent.json", sns_key)
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    tampered_message = good["Message"].replace("ada@example.org", "grace@example.org")
    cases = {
        "tampered Message": {**good, "Message": tampered_message},
        "tampered Subject": {**good, "Subject": "Hello"},
        "another key": notification(site, "ses_bounce_permanent.json", other_key),
        "unknown topic": notification(
            site, "ses_bounce_permanent.json", sns_key,
            TopicArn="arn:aws:sns:us-east-1:999999999999:someone-elses-topic",
        ),
        "certificate elsewhere": notification(
            site, "ses_bounce_permanent.json", sns_key,
            SigningCertURL=f"https://sns.example.net{CERT_PATH}",
        ),
        "certificate over http": notification(
            site, "ses_bounce_permanent.json", sns_key,
            SigningCertURL=f"http://sns.us-east-1.amazonaws.com{CERT_PATH}",
        ),
        "look-alike host": notification(
            site, "ses_bounce_permanent.json", sns_key,
            SigningCertURL=f"https://sns.us-east-1.amazonaws.com.example.net{CERT_PATH}",
        ),
        "unknown version": {**good, "SignatureVersion": "3"},
        "signature not base64": {**good, "Signature": "not base64!"},
    }  # fmt: skip
    for what, message in cases.items():
        answer = post_sns(site, message)
        assert answer.status_code == 403, (what, answer.text)
        assert set(answer.json()) == {"error"} and "\n" not in answer.json()["error"]
    assert site.events() == [] and not site.subscriber("ada").bounced
    # Only the one genuine certificate URL was ever fetched (for "tampered"/"another key").
    assert set(site.sns.fetched) == {f"https://sns.us-east-1.amazonaws.com{CERT_PATH}"}
    assert post_sns(site, b"{not json").status_code == 400
    assert post_sns(site, b"[1, 2]").status_code == 400


def test_sns_subscription_confirmation_is_confirmed(site: Site, sns_key: rsa.RSAPrivateKey) -> None:
    message = json.loads((FIXTURES / "sns_subscription_confirmation.json").read_text("utf-8"))
    answer = post_sns(site, sns_sign(message, sns_key))
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"confirmed": TOPIC}
    [confirm] = [r for r in site.stub.requests if r.query.get("Action") == "ConfirmSubscription"]
    assert confirm.query["TopicArn"] == TOPIC and confirm.query["Token"] == message["Token"]
    assert site.sns.fetched[-1] == message["SubscribeURL"]
    # A SubscribeURL off the SNS hosts is refused (and never fetched), however signed.
    elsewhere = {**message, "SubscribeURL": "https://evil.example/?Action=ConfirmSubscription"}
    fetched = len(site.sns.fetched)
    assert post_sns(site, sns_sign(elsewhere, sns_key)).status_code == 403
    assert len(site.sns.fetched) == fetched
    # So is a confirmation for a topic nobody configured.
    foreign = {**message, "TopicArn": "arn:aws:sns:us-east-1:999999999999:other"}
    assert post_sns(site, sns_sign(foreign, sns_key)).status_code == 403
    assert site.events() == []


def test_sns_certificates_are_checked_and_cached() -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    fetched: list[str] = []

    def fetch(url: str) -> bytes:
        fetched.append(url)
        return self_signed(key, days=-2)  # expired yesterday

    verifier = SnsVerifier([TOPIC], fetch=fetch)
    message = json.loads((FIXTURES / "sns_subscription_confirmation.json").read_text("utf-8"))
    signed = json.dumps(sns_sign(message, key)).encode()
    for _ in range(2):
        with pytest.raises(WebhookRejected, match="not valid now"):
            ses_notices(signed, verifier=verifier)
    assert len(fetched) == 1
    # The host rule is injectable (e.g. for a private SNS-compatible service).
    local = SnsVerifier([TOPIC], fetch=fetch, host=re.compile(r"sns\.internal\.example"))
    with pytest.raises(WebhookRejected, match="not an https URL on an SNS host"):
        ses_notices(signed, verifier=local)
    with pytest.raises(WebhookMalformed):
        ses_notices(b"\xff\xfe", verifier=verifier)


# -- SendGrid -----------------------------------------------------------------------------------


def sendgrid_post(
    site: Site, body: bytes, key: ec.EllipticCurvePrivateKey | None, *, timestamp: str = ""
) -> httpx.Response:
    timestamp = timestamp or str(int(time.time()))
    headers = {"Content-Type": "application/json"}
    if key is not None:
        signature = key.sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
        headers["X-Twilio-Email-Event-Webhook-Signature"] = base64.b64encode(signature).decode()
        headers["X-Twilio-Email-Event-Webhook-Timestamp"] = timestamp
    return site.http.post("/webhooks/sendgrid", content=body, headers=headers)


def test_sendgrid_signed_events_are_recorded_once(
    site: Site, sendgrid_key: ec.EllipticCurvePrivateKey
) -> None:
    body = fixture("sendgrid_events.json", site).encode()
    answer = sendgrid_post(site, body, sendgrid_key)
    assert answer.status_code == 200, answer.text
    # bounce, blocked, spamreport, dropped "Bounced Address"; not processed, deferred,
    # delivered, open, click or a drop for the message's content
    assert answer.json() == {"recorded": 4}
    outcomes = sorted(
        (e["kind"], e["status"], e["outcome"], e["subscriber"]) for e in site.events()
    )
    assert outcomes == [
        ("complaint", None, "unsubscribed", "grace"),
        ("hard", "5.0.0", "already bounced", "ada"),
        ("hard", "5.1.1", "bounced", "ada"),
        ("soft", "5.7.1", "counted", "grace"),
    ]
    assert sendgrid_post(site, body, sendgrid_key).json() == {"recorded": 4}
    assert len(site.events()) == 4  # the redelivered batch changed nothing


def test_sendgrid_rejects_unsigned_and_tampered_posts(
    site: Site, sendgrid_key: ec.EllipticCurvePrivateKey
) -> None:
    body = fixture("sendgrid_events.json", site).encode()
    assert sendgrid_post(site, body, None).status_code == 401
    other = ec.generate_private_key(ec.SECP256R1())
    assert sendgrid_post(site, body, other).status_code == 403
    timestamp = str(int(time.time()))
    signature = sendgrid_key.sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    headers = {
        "X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(signature).decode(),
        "X-Twilio-Email-Event-Webhook-Timestamp": timestamp,
    }
    tampered = body.replace(b'"spamreport"', b'"delivered"')
    assert (
        site.http.post("/webhooks/sendgrid", content=tampered, headers=headers).status_code == 403
    )
    later = {**headers, "X-Twilio-Email-Event-Webhook-Timestamp": str(int(timestamp) + 1)}
    assert site.http.post("/webhooks/sendgrid", content=body, headers=later).status_code == 403
    assert site.events() == []
    # Signed but not the documented JSON array: 400.
    assert sendgrid_post(site, b'{"event": "bounce"}', sendgrid_key).status_code == 400
    assert sendgrid_post(site, b"[{", sendgrid_key).status_code == 400


def test_sendgrid_without_its_key_in_the_environment_is_unavailable(
    site: Site, sendgrid_key: ec.EllipticCurvePrivateKey
) -> None:
    site.app.state.bounce_webhooks.environ = {}
    body = fixture("sendgrid_events.json", site).encode()
    answer = sendgrid_post(site, body, sendgrid_key)
    assert answer.status_code == 503 and "SENDGRID_WEBHOOK_KEY" in answer.json()["error"]


# -- Postmark -----------------------------------------------------------------------------------


def postmark_post(site: Site, name: str, auth: tuple[str, str] | None) -> httpx.Response:
    headers = {"Content-Type": "application/json"}
    if auth is not None:  # what Postmark sends for https://user:password@host/webhooks/postmark
        headers["Authorization"] = "Basic " + base64.b64encode(":".join(auth).encode()).decode()
    return site.http.post(
        "/webhooks/postmark", content=fixture(name, site).encode(), headers=headers
    )


def test_postmark_bounces_and_complaints_need_the_credentials(site: Site) -> None:
    auth = ("postmark", POSTMARK_PASSWORD)
    for name, wrong in [
        ("postmark_hard_bounce.json", None),
        ("postmark_hard_bounce.json", ("postmark", "guess")),
        ("postmark_hard_bounce.json", ("admin", POSTMARK_PASSWORD)),
    ]:
        answer = postmark_post(site, name, wrong)
        assert answer.status_code == 401, answer.text
        assert answer.headers["WWW-Authenticate"].startswith("Basic")
    assert site.events() == []
    assert postmark_post(site, "postmark_hard_bounce.json", auth).json() == {"recorded": 1}
    assert postmark_post(site, "postmark_hard_bounce.json", auth).json() == {"recorded": 1}
    assert postmark_post(site, "postmark_soft_bounce.json", auth).json() == {"recorded": 1}
    assert postmark_post(site, "postmark_spam_complaint.json", auth).json() == {"recorded": 1}
    assert postmark_post(site, "postmark_delivery.json", auth).json() == {"recorded": 0}
    outcomes = [(e["kind"], e["status"], e["outcome"], e["subscriber"]) for e in site.events()]
    assert outcomes == [
        # Postmark's own MessageID is not ours and this complaint carries no metadata: the
        # authenticated event's address names the subscriber we mailed (their latest email)
        ("complaint", None, "unsubscribed", "grace"),
        ("soft", "4.2.2", "counted", "grace"),
        ("hard", "5.1.1", "bounced", "ada"),
    ]
    bad = site.http.post("/webhooks/postmark", content=b"{", auth=auth)
    assert bad.status_code == 400


def test_postmark_reads_its_password_from_the_environment(
    tmp_path: Path, sns_key: rsa.RSAPrivateKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DIGEST_TEST_PM_PASSWORD", "from-the-environment")
    hooks = {"postmark_username": "pm", "postmark_password_env": "DIGEST_TEST_PM_PASSWORD"}
    # No Webhooks installed by the test: the app makes its own from the settings.
    for site in serve(tmp_path, sns_key, "", hooks=hooks, install=False):
        answer = postmark_post(site, "postmark_hard_bounce.json", ("pm", "from-the-environment"))
        assert answer.status_code == 200 and site.subscriber("ada").bounced
        assert postmark_post(site, "postmark_hard_bounce.json", ("pm", "x")).status_code == 401
        for path in ("/webhooks/ses", "/webhooks/sendgrid", "/webhooks/mailgun"):
            assert site.http.post(path, content=b"{}").status_code == 404


# -- Mailgun ------------------------------------------------------------------------------------


def mailgun_body(
    site: Site, name: str, *, age: float = 0, token: str | None = None, key: str = MAILGUN_KEY
) -> bytes:
    timestamp = str(int(time.time() - age))
    token = token or secrets.token_hex(25)
    signature = hmac.new(key.encode(), (timestamp + token).encode(), hashlib.sha256).hexdigest()
    text = fixture(name, site, bare=True)
    text = text.replace("@@TIMESTAMP@@", timestamp).replace("@@TOKEN@@", token)
    return text.replace("@@SIGNATURE@@", signature).encode()


def mailgun_post(site: Site, body: bytes) -> httpx.Response:
    return site.http.post(
        "/webhooks/mailgun", content=body, headers={"Content-Type": "application/json"}
    )


def test_mailgun_events_are_recorded_once(site: Site) -> None:
    failed = mailgun_body(site, "mailgun_failed_permanent.json")
    assert mailgun_post(site, failed).json() == {"recorded": 1}
    assert site.subscriber("ada").bounced
    # The same request again: its token was used, so it is refused (406: Mailgun stops).
    replay = mailgun_post(site, failed)
    assert replay.status_code == 406 and "used before" in replay.json()["error"]
    # The same event delivered again under a fresh signature: recorded once all the same.
    assert (
        mailgun_post(site, mailgun_body(site, "mailgun_failed_permanent.json")).status_code == 200
    )
    assert mailgun_post(site, mailgun_body(site, "mailgun_failed_temporary.json")).json() == {
        "recorded": 1
    }
    assert mailgun_post(site, mailgun_body(site, "mailgun_complained.json")).json() == {
        "recorded": 1
    }
    assert mailgun_post(site, mailgun_body(site, "mailgun_delivered.json")).json() == {
        "recorded": 0
    }
    outcomes = [(e["kind"], e["status"], e["outcome"], e["subscriber"]) for e in site.events()]
    assert outcomes == [
        ("complaint", None, "unsubscribed", "grace"),
        ("soft", "4.2.2", "counted", "grace"),
        ("hard", "5.1.1", "bounced", "ada"),
    ]


def test_mailgun_rejects_old_forged_and_unsigned_posts(site: Site) -> None:
    old = mailgun_post(site, mailgun_body(site, "mailgun_failed_permanent.json", age=301))
    assert old.status_code == 406 and "away from now" in old.json()["error"]
    future = mailgun_body(site, "mailgun_failed_permanent.json", age=-400)
    assert mailgun_post(site, future).status_code == 406
    forged = mailgun_body(site, "mailgun_failed_permanent.json", key="not-the-key")
    assert mailgun_post(site, forged).status_code == 406
    signed = mailgun_body(site, "mailgun_failed_permanent.json")
    tampered = re.sub(rb'"token": "([0-9a-f])', rb'"token": "x', signed)
    assert tampered != signed and mailgun_post(site, tampered).status_code == 406
    unsigned = json.loads(signed)
    del unsigned["signature"]
    assert mailgun_post(site, json.dumps(unsigned).encode()).status_code == 406
    assert mailgun_post(site, b"token=1&signature=2").status_code == 400
    assert site.events() == []


def test_a_failure_to_record_is_a_500_and_the_retry_is_recorded(site: Site) -> None:
    service = site.app.state.service
    record = service.record_bounces

    def fail(_notices: object) -> None:
        raise RuntimeError("database is locked")

    service.record_bounces = fail
    body = mailgun_body(site, "mailgun_failed_permanent.json")
    try:
        answer = mailgun_post(site, body)
        assert answer.status_code == 500 and set(answer.json()) == {"error"}
        unsigned = site.http.post("/webhooks/postmark", content=b"{}")
        assert unsigned.status_code == 401  # authentication comes before any recording
    finally:
        service.record_bounces = record
    assert site.events() == []
    # Mailgun retries with the same signature: the token was given back, so it is recorded.
    assert mailgun_post(site, body).json() == {"recorded": 1}
    assert site.subscriber("ada").bounced


# -- configuration ------------------------------------------------------------------------------


def test_endpoints_are_off_unless_configured(
    tmp_path: Path, sns_key: rsa.RSAPrivateKey, sendgrid_key: ec.EllipticCurvePrivateKey
) -> None:
    for site in serve(tmp_path, sns_key, sendgrid_public(sendgrid_key), hooks=None):
        for provider in ("ses", "sendgrid", "postmark", "mailgun"):
            assert site.http.post(f"/webhooks/{provider}", content=b"{}").status_code == 404
        assert not any(
            p.startswith("/webhooks") for p in site.http.get("/openapi.json").json()["paths"]
        )


def test_webhook_settings_are_checked() -> None:
    assert WebhookSettings().ses_topic_arns == ()
    with pytest.raises(ValueError, match="postmark_password_env"):
        WebhookSettings(postmark_username="pm")
    with pytest.raises(ValueError, match="not an SNS topic ARN"):
        WebhookSettings(ses_topic_arns=("arn:aws:sqs:us-east-1:123456789012:queue",))
    with pytest.raises(ValueError):
        WebhookSettings(mailgun_signing_key_env="not a name")


def test_mailgun_tokens_are_bounded() -> None:
    tokens = MailgunTokens(size=3)
    now = time.time()
    assert all(tokens.claim(t, now) for t in "abcd")
    assert not tokens.claim("d", now)
    assert tokens.claim("a", now)  # forgotten: the oldest went when the fourth came
    tokens.release("a")
    assert tokens.claim("a", now)
