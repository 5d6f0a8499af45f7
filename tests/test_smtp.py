"""The ``smtp`` deliverer against a real SMTP server (aiosmtpd, in-process): the message as
received, DKIM, TLS and AUTH, every error class, the pool, the rate limit and a whole run."""

from __future__ import annotations

import base64
import email
import email.policy
import importlib.metadata
import os
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from configs import JSONL_SOURCE, config_text
from pydantic import ValidationError

import digest_smtp
from digest import Batch, PluginError
from digest.components import Runtime, Site
from digest.mail import MessageBuilder, message_id
from digest.models import DeliveryStatus, Outcome, Paper, Parcel, Subscriber
from digest.testing import (
    HOSTILE_TITLE,
    NOW,
    check_deliverer,
    make_batch,
    make_paper,
    make_runtime,
    make_selection,
)
from digest_email.renderer import EmailRenderer
from digest_smtp.deliverer import SmtpDeliverer, stuff
from helpers import build_pipeline, write_papers
from smtpsink import Received, SmtpSink

SITE = Site(
    title="Papers digest",
    base_url="https://digest.example.org",
    sender="Papers Digest <digest@example.org>",
    list_id="papers.digest.example.org",
    unsubscribe_mailto="unsubscribe@example.org",
)
PASSWORD_ENV = "DIGEST_TEST_SMTP_PASSWORD"


# -- building blocks ----------------------------------------------------------------------------


@pytest.fixture
def runtime(tmp_path: Path) -> Runtime:
    return replace(make_runtime(tmp_path), site=SITE, config_dir=tmp_path)


def make_parcels(
    runtime: Runtime, emails: Sequence[str], papers: Sequence[Paper] | None = None
) -> list[Parcel]:
    """Parcels as the core builds them: the real email renderer and the core's message."""
    if papers is None:  # the hostile title first, so that it is in the subject
        papers = sorted(make_batch().papers, key=lambda p: p.title != HOSTILE_TITLE)
    renderer = EmailRenderer(EmailRenderer.Config(), instance="email", runtime=runtime)
    renderer.prepare(Batch(list(papers), now=NOW))
    builder = MessageBuilder(runtime.site)
    parcels = []
    for number, address in enumerate(emails, start=1):
        selection = make_selection(
            papers, subscriber=Subscriber(name=address.partition("@")[0], email=address)
        )
        selection = replace(
            selection,
            links=replace(
                selection.links,
                unsubscribe=f"https://digest.example.org/unsubscribe/tok{number}.sig",
                unsubscribe_mailto=(
                    f"mailto:unsubscribe@example.org?subject=unsubscribe%20tok{number}.sig"
                ),
            ),
        )
        artifacts = tuple(renderer.render(selection))
        parts = {a.role: a.content for a in artifacts}
        mid = message_id(
            edition_id=selection.edition.id,
            subscriber_id=number,
            secret="test-secret",
            domain=builder.domain,
        )
        message = builder.build(
            to=address,
            to_name=selection.subscriber.name,
            subject=parts["subject"],
            text=parts["text"],
            html=parts["html"],
            message_id=mid,
            date=selection.edition.created,
            unsubscribe_url=selection.links.unsubscribe,
            unsubscribe_mailto=selection.links.unsubscribe_mailto,
        )
        parcels.append(
            Parcel(
                selection=selection,
                channel="email",
                artifacts=artifacts,
                message_id=mid,
                message=message,
            )
        )
    return parcels


@pytest.fixture
def parcel(runtime: Runtime) -> Parcel:
    return make_parcels(runtime, ["ada@example.org"])[0]


def deliverer(runtime: Runtime, sink: SmtpSink, **options: Any) -> SmtpDeliverer:
    options.setdefault("security", "none")
    options.setdefault("backoff", 0.01)
    options.setdefault("timeout", 5)
    config = SmtpDeliverer.Config(host=sink.host, port=sink.port, **options)
    return SmtpDeliverer(config, instance="smtp", runtime=runtime)


@pytest.fixture(params=[False, True], ids=["lockstep", "pipelining"])
def sink(request: pytest.FixtureRequest) -> Iterator[SmtpSink]:
    """A plain SMTP server, with and without PIPELINING (the client's two code paths)."""
    with SmtpSink(pipelining=request.param) as server:
        yield server


@pytest.fixture
def smtp(runtime: Runtime, sink: SmtpSink) -> Iterator[SmtpDeliverer]:
    d = deliverer(runtime, sink)
    d.open()
    yield d
    d.close()


def parse(received: Received) -> EmailMessage:
    message = email.message_from_bytes(received.data, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def sent(outcome: Outcome) -> bool:
    return outcome.status is DeliveryStatus.SENT and outcome.detail.startswith("250 ")


# -- the message as received --------------------------------------------------------------------


def test_the_received_message_is_the_core_message_and_standards_compliant(
    smtp: SmtpDeliverer, sink: SmtpSink, parcel: Parcel
) -> None:
    outcome = smtp.deliver(parcel)
    assert sent(outcome), outcome
    [got] = sink.received
    assert got.mail_from == "digest@example.org" and got.rcpt_tos == ("ada@example.org",)
    assert got.data == parcel.message  # sent byte for byte, never re-serialized
    m = parse(got)
    assert not m.defects
    for name in (
        "From",
        "To",
        "Date",
        "Message-ID",
        "Subject",
        "List-Id",
        "List-Unsubscribe",
        "List-Unsubscribe-Post",
        "MIME-Version",
    ):
        assert len(m.get_all(name) or []) == 1, name
    assert m["Message-ID"] == parcel.message_id
    assert m["List-Id"] == "Papers digest <papers.digest.example.org>"
    assert m["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert m["List-Unsubscribe"] == (
        "<https://digest.example.org/unsubscribe/tok1.sig>, "
        "<mailto:unsubscribe@example.org?subject=unsubscribe%20tok1.sig>"
    )
    # The top paper's title carries CR/LF and "Bcc:": the subject stays one harmless line.
    subject = str(m["Subject"])
    assert "alert(1)" in subject and "\r" not in subject and "\n" not in subject
    assert m.get_all("Bcc") is None and "victim@example.org" not in got.rcpt_tos
    assert m.get_content_type() == "multipart/alternative"
    plain, html = m.iter_parts()
    assert plain.get_content_type() == "text/plain" and html.get_content_type() == "text/html"
    assert all(len(line) <= 998 for line in got.data.split(b"\r\n"))
    assert b"\n" not in got.data.replace(b"\r\n", b"")


def test_a_long_digest_keeps_its_html_under_90_kb_as_sent(
    smtp: SmtpDeliverer, sink: SmtpSink, runtime: Runtime
) -> None:
    papers = [
        make_paper(
            f"2406.{n:05d}",
            title=f"Paper {n}: diffusion policies with $\\alpha$-divergences " + "ü" * 30,
            abstract="We study things at length and find results. " * 40,
        )
        for n in range(80)
    ]
    [parcel] = make_parcels(runtime, ["ada@example.org"], papers)
    assert sent(smtp.deliver(parcel))
    _, html = parse(sink.received[0]).iter_parts()
    encoded = html.get_payload()
    assert isinstance(encoded, str) and html["Content-Transfer-Encoding"] == "base64"
    assert len(encoded.replace("\n", "\r\n").replace("\r\r", "\r")) <= 90_000
    assert all(len(line) <= 998 for line in sink.received[0].data.split(b"\r\n"))


def test_lines_starting_with_a_dot_survive_the_trip(
    smtp: SmtpDeliverer, sink: SmtpSink, parcel: Parcel
) -> None:
    message = MessageBuilder(SITE).build(
        to="ada@example.org",
        to_name="Ada",
        subject="dots",
        text=".hidden\n..two\n.\nend",
        html="<p>x</p>",
        message_id="<dots.1@example.org>",
        date=NOW,
        unsubscribe_url="https://digest.example.org/unsubscribe/t",
    )
    assert sent(smtp.deliver(replace(parcel, message=message)))
    assert sink.received[0].data == message
    plain, _ = parse(sink.received[0]).iter_parts()
    assert plain.get_content().replace("\r\n", "\n") == ".hidden\n..two\n.\nend"


def test_dot_stuffing_and_the_terminator() -> None:
    assert stuff(b".a\r\nb\r\n.\r\n..c\r\n") == b"..a\r\nb\r\n..\r\n...c\r\n.\r\n"
    assert stuff(b"no newline") == b"no newline\r\n.\r\n"


def test_a_parcel_delivered_twice_keeps_its_message_id(
    smtp: SmtpDeliverer, sink: SmtpSink, runtime: Runtime
) -> None:
    ada, grace = make_parcels(runtime, ["ada@example.org", "grace@example.org"])
    for parcel in (ada, grace, ada):
        assert sent(smtp.deliver(parcel))
    ids = [parse(r)["Message-ID"] for r in sink.received]
    assert ids == [ada.message_id, grace.message_id, ada.message_id]
    assert ada.message_id != grace.message_id


def test_the_deliverer_contract(runtime: Runtime, sink: SmtpSink) -> None:
    outcomes = check_deliverer(
        deliverer(runtime, sink), make_parcels(runtime, ["a@example.org", "b@example.org"])
    )
    assert all(sent(o) for o in outcomes)
    assert "smtp" in {c.name for c in digest_smtp.register_deliverers()}


def test_parcels_it_cannot_send_fail_permanently(smtp: SmtpDeliverer, parcel: Parcel) -> None:
    feed = replace(parcel, channel="feed", message=None)
    assert smtp.deliver(feed).status is DeliveryStatus.FAILED_PERMANENT
    for address in (None, "not-an-address", "a@b>\r\nRCPT TO:<c@d"):
        nobody = replace(
            parcel,
            selection=replace(
                parcel.selection, subscriber=Subscriber(name="nobody", email=address)
            ),
        )
        outcome = smtp.deliver(nobody)
        assert outcome.status is DeliveryStatus.FAILED_PERMANENT
        assert "not a deliverable email address" in outcome.detail


# -- DKIM ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dkim_key() -> tuple[bytes, bytes]:
    """An RSA 2048 key: (private key PEM, the DNS TXT record publishing it)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return pem, b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)


def test_dkim_signature_verifies_and_covers_list_unsubscribe(
    runtime: Runtime, sink: SmtpSink, parcel: Parcel, dkim_key: tuple[bytes, bytes]
) -> None:
    import dkim

    pem, record = dkim_key
    (runtime.config_dir / "dkim.pem").write_bytes(pem)
    smtp = deliverer(
        runtime,
        sink,
        dkim_selector="digest",
        dkim_domain="example.org",
        dkim_key_file=Path("dkim.pem"),  # relative to the config folder
    )
    smtp.open()
    assert sent(smtp.deliver(parcel))
    smtp.close()
    raw = sink.received[0].data
    asked: list[bytes] = []

    def dns(name: bytes, timeout: int = 5) -> bytes | None:
        asked.append(name)
        return record if name == b"digest._domainkey.example.org." else None

    assert dkim.verify(raw, dnsfunc=dns)
    assert asked == [b"digest._domainkey.example.org."]
    m = parse(sink.received[0])
    assert len(m.get_all("DKIM-Signature") or []) == 1
    tags = dict(
        t.strip().split("=", 1) for t in "".join(m["DKIM-Signature"].split()).split(";") if t
    )
    assert tags["c"] == "relaxed/relaxed" and tags["d"] == "example.org" and tags["s"] == "digest"
    signed = tags["h"].split(":")
    assert {"from", "subject", "date", "message-id", "list-id"} <= set(signed)
    assert {"list-unsubscribe", "list-unsubscribe-post"} <= set(signed)
    # Tampering with the unsubscribe header breaks the signature.
    forged = raw.replace(b"unsubscribe/tok1.sig", b"unsubscribe/evil.sig", 1)
    assert forged != raw and not dkim.verify(forged, dnsfunc=dns)
    assert all(len(line) <= 998 for line in raw.split(b"\r\n"))


def test_an_unusable_dkim_key_is_a_configuration_error(
    runtime: Runtime, sink: SmtpSink, tmp_path: Path
) -> None:
    (tmp_path / "bad.pem").write_text("not a key")
    smtp = deliverer(
        runtime, sink, dkim_selector="s", dkim_domain="example.org", dkim_key_file=Path("bad.pem")
    )
    with pytest.raises(PluginError, match=r"dkim_key_file .*bad\.pem is not a usable"):
        smtp.open()
    missing = deliverer(
        runtime, sink, dkim_selector="s", dkim_domain="example.org", dkim_key_file=Path("no.pem")
    )
    with pytest.raises(PluginError, match=r"cannot read dkim_key_file .*no\.pem"):
        missing.open()


# -- TLS and AUTH -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("security", "exclude"),
    [("starttls", ()), ("tls", ()), ("starttls", ("PLAIN",))],
    ids=["starttls-plain", "tls-plain", "starttls-login"],
)
def test_tls_and_auth_with_the_password_from_the_environment(
    runtime: Runtime,
    parcel: Parcel,
    monkeypatch: pytest.MonkeyPatch,
    security: str,
    exclude: tuple[str, ...],
) -> None:
    with SmtpSink(security=security, auth=True, auth_exclude=exclude) as sink:  # type: ignore[arg-type]
        monkeypatch.setenv(PASSWORD_ENV, sink.password)  # not ASCII: UTF-8 on the wire
        smtp = deliverer(
            runtime,
            sink,
            security=security,
            username=sink.user,
            password_env=PASSWORD_ENV,
            ca_file=sink.ca_file,
        )
        smtp.open()
        assert sent(smtp.deliver(parcel))
        smtp.close()
        [got] = sink.received
        assert got.tls and got.user == "digest"
        assert sink.logins == [("digest", True)]


def test_a_wrong_password_stops_the_deliverer_not_the_recipients(
    runtime: Runtime, parcel: Parcel, monkeypatch: pytest.MonkeyPatch
) -> None:
    with SmtpSink(security="starttls", auth=True) as sink:
        monkeypatch.setenv(PASSWORD_ENV, "wrong")
        smtp = deliverer(
            runtime,
            sink,
            security="starttls",
            username="digest",
            password_env=PASSWORD_ENV,
            ca_file=sink.ca_file,
        )
        where = f"127.0.0.1:{sink.port}"
        with pytest.raises(PluginError) as raised:
            smtp.open()
        assert str(raised.value) == (
            f"smtp: authentication as 'digest' on {where} failed: "
            "535 5.7.8 Authentication credentials invalid"
        )
        # Every message stays claimed for a later run (the edition pauses); no recipient
        # is failed for the operator's mistake, and the server is not asked again.
        outcome = smtp.deliver(parcel)
        assert outcome == Outcome(status=DeliveryStatus.CLAIMED, detail=str(raised.value))
        assert sink.logins == [("digest", False)] and not sink.received
        smtp.close()


def test_a_missing_password_variable_is_a_configuration_error(
    runtime: Runtime, sink: SmtpSink, parcel: Parcel, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(PASSWORD_ENV, raising=False)
    smtp = deliverer(runtime, sink, username="digest", password_env=PASSWORD_ENV)
    with pytest.raises(PluginError, match=f"^smtp: password env var {PASSWORD_ENV} is not set$"):
        smtp.open()
    assert smtp.deliver(parcel).status is DeliveryStatus.CLAIMED
    assert not sink.received


def test_tls_problems_are_configuration_errors(runtime: Runtime, parcel: Parcel) -> None:
    with SmtpSink(security="starttls") as sink:
        untrusted = deliverer(runtime, sink, security="starttls")  # no ca_file
        with pytest.raises(PluginError, match="TLS certificate not trusted"):
            untrusted.open()
        unverified = deliverer(runtime, sink, security="starttls", verify_tls=False)
        unverified.open()
        assert sent(unverified.deliver(parcel))
        unverified.close()
    with SmtpSink() as plain:
        no_starttls = deliverer(runtime, plain, security="starttls")
        with pytest.raises(PluginError, match='does not offer STARTTLS; use security = "tls"'):
            no_starttls.open()
        not_tls = deliverer(runtime, plain, security="tls", timeout=2)
        with pytest.raises(PluginError, match="TLS handshake failed"):
            not_tls.open()


# -- errors: retried, permanent, claimed --------------------------------------------------------


@pytest.mark.parametrize(
    ("reply", "stage"),
    [
        ("421 4.7.0 Try again later", "mail"),
        ("451 4.3.0 Temporary local problem", "rcpt"),
        ("421 4.7.28 Rate limited", "data"),
        ("452 4.3.1 Insufficient system storage", "data"),
    ],
)
def test_a_transient_reply_once_is_retried_and_sent(
    smtp: SmtpDeliverer, sink: SmtpSink, parcel: Parcel, reply: str, stage: Any
) -> None:
    sink.reply(reply, stage=stage)
    assert sent(smtp.deliver(parcel))
    assert len(sink.received) == 1
    assert sink.rules[0].fired == 1


def test_a_persistent_transient_reply_leaves_the_message_claimed(
    runtime: Runtime, sink: SmtpSink, parcel: Parcel
) -> None:
    smtp = deliverer(runtime, sink, retries=2)
    smtp.open()
    sink.reply("451 4.3.0 Temporary local problem", stage="rcpt", times=None)
    outcome = smtp.deliver(parcel)
    assert outcome == Outcome(
        status=DeliveryStatus.CLAIMED,
        detail="451 4.3.0 Temporary local problem (gave up after 3 attempts)",
    )
    assert sink.rules[0].fired == 3 and not sink.received
    sink.rules.clear()
    assert sent(smtp.deliver(parcel))  # the connection is still good
    smtp.close()


def test_retries_back_off_exponentially(runtime: Runtime, sink: SmtpSink, parcel: Parcel) -> None:
    smtp = deliverer(runtime, sink, retries=2, backoff=0.1)
    smtp.open()
    sink.reply("450 4.2.0 Mailbox busy", stage="rcpt", times=None)
    started = time.monotonic()
    assert smtp.deliver(parcel).status is DeliveryStatus.CLAIMED
    assert time.monotonic() - started >= 0.1 + 0.2
    smtp.close()


@pytest.mark.parametrize(
    ("reply", "stage"),
    [("550 5.1.1 No such user", "rcpt"), ("554 5.7.1 Message rejected as spam", "data")],
)
def test_a_5xx_fails_that_delivery_permanently_with_the_reply(
    smtp: SmtpDeliverer, sink: SmtpSink, runtime: Runtime, reply: str, stage: Any
) -> None:
    bob, ada = make_parcels(runtime, ["bob@example.org", "ada@example.org"])
    sink.reply(reply, stage=stage, rcpt="bob@example.org", times=None)
    assert smtp.deliver(bob) == Outcome(status=DeliveryStatus.FAILED_PERMANENT, detail=reply)
    assert sink.rules[0].fired == 1  # not retried
    assert sent(smtp.deliver(ada))  # the next recipient goes through on the same connection
    assert [r.rcpt_tos for r in sink.received] == [("ada@example.org",)]


def test_a_refused_sender_is_left_for_a_later_run(
    smtp: SmtpDeliverer, sink: SmtpSink, parcel: Parcel
) -> None:
    sink.reply("553 5.7.1 Sender address rejected", stage="mail", times=None)
    outcome = smtp.deliver(parcel)
    assert outcome.status is DeliveryStatus.CLAIMED
    assert outcome.detail == (
        "the server refused the envelope sender digest@example.org: "
        "553 5.7.1 Sender address rejected"
    )
    assert sink.rules[0].fired == 1


@pytest.mark.parametrize("stage", ["mail", "rcpt", "data"])
def test_a_dropped_connection_is_reopened_and_the_message_sent(
    smtp: SmtpDeliverer, sink: SmtpSink, runtime: Runtime, stage: Any
) -> None:
    first, second = make_parcels(runtime, ["ada@example.org", "grace@example.org"])
    assert sent(smtp.deliver(first))
    sink.drop(stage=stage)
    assert sent(smtp.deliver(second))
    assert [r.rcpt_tos[0] for r in sink.received] == ["ada@example.org", "grace@example.org"]


def test_a_timeout_is_retried_then_left_claimed(
    runtime: Runtime, sink: SmtpSink, parcel: Parcel
) -> None:
    smtp = deliverer(runtime, sink, timeout=0.2, retries=1)
    smtp.open()
    sink.delay(1.0, stage="data", times=None)
    outcome = smtp.deliver(parcel)
    assert outcome.status is DeliveryStatus.CLAIMED
    assert outcome.detail == (
        "timed out after 0.2 s waiting for the server (end of DATA) (gave up after 2 attempts)"
    )
    assert sink.rules[0].fired == 2 and not sink.received
    sink.rules.clear()
    assert sent(smtp.deliver(parcel))
    smtp.close()


def test_an_unreachable_server_leaves_messages_claimed(runtime: Runtime, parcel: Parcel) -> None:
    with SmtpSink() as sink:
        pass  # stopped: nothing listens on its port any more
    smtp = deliverer(runtime, sink, retries=1)
    smtp.open()  # a transient outage is no configuration error
    outcome = smtp.deliver(parcel)
    assert outcome.status is DeliveryStatus.CLAIMED
    assert outcome.detail == (
        f"cannot connect to 127.0.0.1:{sink.port}: Connection refused (gave up after 2 attempts)"
    )


def test_an_idle_connection_closed_by_the_server_is_replaced_at_once(
    runtime: Runtime, parcel: Parcel
) -> None:
    with SmtpSink(idle_timeout=0.2) as sink:
        smtp = deliverer(runtime, sink, backoff=5.0)  # a retry would take 5 s
        smtp.open()
        assert sent(smtp.deliver(parcel))
        time.sleep(0.4)  # the server hangs up silently
        started = time.monotonic()
        assert sent(smtp.deliver(parcel))
        sink.reply("421 4.4.2 Error: timeout exceeded", stage="mail")  # Postfix's way
        assert sent(smtp.deliver(parcel))
        assert time.monotonic() - started < 2
        assert len(sink.received) == 3
        smtp.close()


# -- pool, rate, processes ----------------------------------------------------------------------


def test_one_caller_uses_one_connection(runtime: Runtime, sink: SmtpSink) -> None:
    smtp = deliverer(runtime, sink, connections=4)
    smtp.open()
    for parcel in make_parcels(runtime, [f"s{n}@example.org" for n in range(5)]):
        assert sent(smtp.deliver(parcel))
    smtp.close()
    assert sink.sessions == 1


def test_concurrent_callers_share_the_pool(runtime: Runtime, sink: SmtpSink) -> None:
    smtp = deliverer(runtime, sink, connections=3)
    smtp.open()
    parcels = make_parcels(runtime, [f"s{n}@example.org" for n in range(30)])
    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(smtp.deliver, parcels))
    smtp.close()
    assert all(sent(o) for o in outcomes)
    assert sorted(r.rcpt_tos[0] for r in sink.received) == sorted(
        p.selection.subscriber.email or "" for p in parcels
    )
    assert 1 <= sink.sessions <= 3


def test_the_rate_limit_spaces_messages(runtime: Runtime, sink: SmtpSink) -> None:
    smtp = deliverer(runtime, sink, rate=20)
    smtp.open()
    parcels = make_parcels(runtime, [f"s{n}@example.org" for n in range(10)])
    started = time.monotonic()
    for parcel in parcels:
        assert sent(smtp.deliver(parcel))
    assert time.monotonic() - started >= 0.45
    smtp.close()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork()")
def test_a_forked_worker_opens_its_own_connections(
    runtime: Runtime, sink: SmtpSink, parcel: Parcel
) -> None:
    smtp = deliverer(runtime, sink)
    smtp.open()
    assert sent(smtp.deliver(parcel))
    pid = os.fork()
    if pid == 0:  # the worker: open() in this process, deliver, close, exit
        ok = False
        try:
            smtp.open()
            ok = sent(smtp.deliver(parcel))
            smtp.close()
        finally:
            os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    # The parent's connection was neither used nor closed by the child.
    assert sent(smtp.deliver(parcel))
    smtp.close()
    assert sink.sessions == 2 and len(sink.received) == 3


# -- configuration ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"dkim_selector": "s"}, "dkim_selector, dkim_domain and dkim_key_file go together"),
        ({"username": "u"}, "username and password_env go together"),
        ({"security": "ssl"}, "'starttls', 'tls' or 'none'"),
        ({"port": 0}, "greater than or equal to 1"),
        ({"rate": 0}, "greater than 0"),
        ({"hostname": "x"}, "Extra inputs are not permitted"),
        ({"envelope_from": "bounces"}, "envelope_from 'bounces' is not an email address"),
        ({"dkim_domain": "example.org\r\nX: y"}, "String should match pattern"),
        ({"local_hostname": "a b"}, "String should match pattern"),
    ],
)
def test_config_mistakes_are_caught_before_connecting(
    options: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        SmtpDeliverer.Config(**options)


def test_every_option_is_described() -> None:
    for name, field in SmtpDeliverer.Config.model_fields.items():
        assert field.description or name == "channels", name
    defaults = SmtpDeliverer.Config()
    assert (defaults.host, defaults.port, defaults.security) == ("localhost", 587, "starttls")
    assert (defaults.timeout, defaults.connections, defaults.retries) == (30, 1, 3)


# -- a whole run --------------------------------------------------------------------------------


def run_config(port: int) -> str:
    """The tests' configuration (tests/configs.py) delivering email only, through SMTP on
    ``port``, to ada and grace, who both follow robots."""
    return config_text(
        digest={"unsubscribe_mailto": "unsubscribe@example.org"},
        selection={"rankers": {"keywords": 1.0, "recency": None}},
        sources={"sample": None, **JSONL_SOURCE},
        rankers={"recency": None},
        renderers={"feed": None},
        deliverers={
            "files": None,
            "smtp": {
                "component": "smtp",
                "host": "127.0.0.1",
                "port": port,
                "security": "none",
                "backoff": 0.01,
            },
        },
        subscribers={
            name: {"email": f"{name}@example.org", "keywords": ["robot"], "channels": ["email"]}
            for name in ("ada", "grace")
        },
    )


def _smtp_plugin() -> tuple[object, ...]:
    """``digest_smtp`` unless its entry point is installed already."""
    installed = importlib.metadata.entry_points(group="digest", name="smtp")
    return () if installed else (digest_smtp,)


def test_a_run_delivers_through_smtp_and_reports_refused_recipients(
    tmp_path: Path, sink: SmtpSink
) -> None:
    write_papers(
        tmp_path / "papers.jsonl",
        [make_paper(f"2411.{n:05d}", title=f"A robot paper {n}") for n in range(3)],
    )
    (tmp_path / "config.toml").write_text(run_config(sink.port), "utf-8")
    pipeline = build_pipeline(tmp_path / "config.toml", *_smtp_plugin())
    sink.reply("550 5.1.1 No such user", rcpt="grace@example.org")
    report = pipeline.run()
    assert report.delivered == 1 and not report.problems
    assert report.failed == {"grace (email)": "550 5.1.1 No such user"}
    [got] = sink.received
    m = parse(got)
    text = m.get_body(("plain",))
    assert got.rcpt_tos == ("ada@example.org",)
    assert text is not None and "robot paper" in text.get_content()
    assert str(m["List-Unsubscribe"]).startswith("<https://digest.example.org/unsubscribe/")
    assert "mailto:unsubscribe@example.org" in str(m["List-Unsubscribe"])
