"""The RFC 5322 messages the core builds, parsed back with Python's email package."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
from email.message import EmailMessage

import pytest

from digest.components import Site
from digest.mail import MessageBuilder, message_id

SITE = Site(
    title="Papers digest",
    base_url="https://d.example.org",
    sender="Papers Dïgest <digest@example.org>",
    reply_to="Admin <admin@example.org>",
)
NOW = dt.datetime(2026, 11, 22, 7, 0, tzinfo=dt.UTC)


def build(**overrides: object) -> tuple[bytes, EmailMessage]:
    values: dict[str, object] = {
        "to": "ada@example.org",
        "to_name": "Ada Lövelace",
        "subject": "Papers digest: 3 new",
        "text": "Hello\nworld",
        "html": "<p>Hello</p>",
        "message_id": "<e.1.abc@example.org>",
        "date": NOW,
        "unsubscribe_url": "https://d.example.org/unsubscribe/tok",
        "unsubscribe_mailto": "mailto:unsubscribe@example.org?subject=unsubscribe%20tok",
    }
    values.update(overrides)
    raw = MessageBuilder(SITE).build(**values)  # type: ignore[arg-type]
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return raw, parsed


def test_headers_are_complete_and_single() -> None:
    _, m = build()
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
        "Reply-To",
    ):
        assert len(m.get_all(name) or []) == 1, name
    assert str(m["From"]) == "Papers Dïgest <digest@example.org>"
    assert str(m["To"]) == "Ada Lövelace <ada@example.org>"
    assert m["Date"].datetime == NOW
    assert m["List-Unsubscribe"] == (
        "<https://d.example.org/unsubscribe/tok>, "
        "<mailto:unsubscribe@example.org?subject=unsubscribe%20tok>"
    )
    assert m["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert m["List-Id"] == "Papers digest <papers-digest.localhost>"
    assert not m.defects


def test_text_part_first_then_html() -> None:
    _, m = build(text="Grüße\n", html="<p>Grüße &amp; more</p>")
    assert m.get_content_type() == "multipart/alternative"
    plain, html = list(m.iter_parts())
    assert plain.get_content_type() == "text/plain" and html.get_content_type() == "text/html"
    assert plain.get_content() == "Grüße\n" and html.get_content() == "<p>Grüße &amp; more</p>"


@pytest.mark.parametrize(
    "subject",
    [
        "ASCII only",
        "Papers digest: 10 new papers — Ωmega " * 4,
        "日本語のタイトル" * 12,
        "😀" * 40,
        "x" * 1200,
        "Injected\r\nBcc: victim@example.org",
    ],
)
def test_subjects_round_trip_on_one_logical_line(subject: str) -> None:
    raw, m = build(subject=subject)
    assert str(m["Subject"]) == " ".join(subject.split())
    assert m["Bcc"] is None
    assert all(len(line) <= 78 for line in raw.split(b"\r\n\r\n")[0].split(b"\r\n"))


def test_lines_are_crlf_and_short_whatever_the_body() -> None:
    raw, m = build(text="a" * 5000 + "\nb\r\nc\rd", html="<p>" + "é" * 50_000 + "</p>")
    assert b"\n" not in raw.replace(b"\r\n", b"")
    assert max(len(line) for line in raw.split(b"\r\n")) <= 998
    assert m.get_body(("plain",)).get_content().split("\n")[1:] == ["b", "c", "d"]


def test_ascii_text_stays_readable_7bit() -> None:
    raw, _ = build(text="Plain text\nonly")
    assert b"Content-Transfer-Encoding: 7bit\r\n\r\nPlain text\r\nonly" in raw


def test_message_ids_are_stable_per_copy_and_unique_across_copies() -> None:
    a = message_id(edition_id="e1", subscriber_id=1, secret="s", domain="example.org")
    assert a == message_id(edition_id="e1", subscriber_id=1, secret="s", domain="example.org")
    others = {
        message_id(edition_id="e1", subscriber_id=2, secret="s", domain="example.org"),
        message_id(edition_id="e2", subscriber_id=1, secret="s", domain="example.org"),
    }
    assert a not in others and len(others) == 2
    assert a.startswith("<e1.1.") and a.endswith("@example.org>")


def test_an_internationalised_address_is_never_encoded() -> None:
    raw, _ = build(to="josé@exämple.org", to_name="José")
    assert "To: =?utf-8?b?Sm9zw6k=?= <josé@exämple.org>\r\n".encode() in raw
    parsed = email.message_from_string(raw.decode("utf-8"), policy=email.policy.SMTPUTF8)
    assert parsed["To"].addresses[0].addr_spec == "josé@exämple.org"


def test_a_confirmation_is_transactional_not_list_mail() -> None:
    raw = MessageBuilder(SITE).transactional(
        to="neu@example.org",
        subject="Confirm your subscription",
        text="Confirm: https://digest.example.org/confirm/abc",
        html="<p>Confirm</p>",
        message_id="<confirm-1@example.org>",
        date=dt.datetime(2026, 12, 6, tzinfo=dt.UTC),
    )
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert parsed["To"] == "neu@example.org" and parsed["Auto-Submitted"] == "auto-generated"
    for header in ("List-Id", "List-Unsubscribe", "List-Unsubscribe-Post", "Precedence"):
        assert parsed[header] is None, header
    assert [p.get_content_type() for p in parsed.iter_parts()] == ["text/plain", "text/html"]
