"""``digest.bounces.classify``: what each hand-written bounce, complaint and auto-reply in
``tests/fixtures/bounces/`` gives, the hard/soft rules, and that nothing makes it raise."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import NamedTuple

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from digest.bounces.classify import classify
from digest.bounces.notice import BounceNotice

BOUNCES = Path(__file__).parent / "fixtures" / "bounces"
VERP_DOMAIN = "bounces.example.org"


def verp(subscriber: int, mac: str) -> str:
    return f"bounces+20261207t070000z-ab12cd.{subscriber}.{mac}@{VERP_DOMAIN}"


def ours(subscriber: int, tail: str) -> str:
    return f"<20261207T070000Z-ab12cd.{subscriber}.{tail}@digest.example.org>"


class Expected(NamedTuple):
    kind: str
    recipient: str | None
    status: str | None
    return_path: str | None
    message_id: str | None


#: fixture → the notices it gives (kind, recipient, status, return path, our Message-ID)
EXPECTED: dict[str, list[Expected]] = {
    "postfix_dsn_5.1.1_user_unknown.eml": [
        Expected(
            "hard",
            "alice@example.net",
            "5.1.1",
            verp(42, "94aaf609863914bf"),
            ours(42, "0123456789ab"),
        )
    ],
    "postfix_dsn_4.4.1_delayed.eml": [
        Expected(
            "soft",
            "bob@example.net",
            "4.4.1",
            verp(43, "df8ea611b2bc07a6"),
            ours(43, "1a2b3c4d5e6f"),
        )
    ],
    "exim_failed_5.1.1.eml": [
        Expected(
            "hard",
            "carol@example.net",
            "5.1.1",
            verp(44, "4f7b79882a952a64"),
            ours(44, "2b3c4d5e6f70"),
        )
    ],
    "exim_mailbox_full_no_code.eml": [
        Expected(
            "soft", "dora@example.org", None, verp(45, "dd159c94e8a82182"), ours(45, "3c4d5e6f7081")
        )
    ],
    "qmail_no_mailbox.eml": [
        Expected(
            "hard",
            "dave@example.net",
            "5.1.1",
            verp(46, "6f9a8c41fe2d5942"),
            ours(46, "4d5e6f708192"),
        )
    ],
    "postfix_legacy_plaintext_user_unknown.eml": [
        Expected(
            "hard", "erin@example.net", None, verp(47, "983419da5f8fe75f"), ours(47, "5e6f708192a3")
        )
    ],
    "office365_ndr_5.1.10_recipient_not_found.eml": [
        Expected(
            "hard",
            "frank@contoso.example.net",
            "5.1.10",
            verp(48, "8a6b5d01059e888c"),
            ours(48, "6f708192a3b4"),
        )
    ],
    "exchange2007_ndr_plaintext.eml": [
        Expected(
            "hard",
            "gina@exch.example.net",
            "5.1.1",
            verp(49, "423920bc89dde24b"),
            ours(49, "708192a3b4c5"),
        )
    ],
    "gmail_dsn_5.2.2_over_quota.eml": [
        Expected(
            "soft",
            "henry@example.net",
            "5.2.2",
            verp(50, "cb1cd7629d489a9b"),
            ours(50, "8192a3b4c5d6"),
        )
    ],
    "postfix_dsn_gmail_5.7.1_blocked.eml": [
        Expected(
            "soft",
            "ida@example.net",
            "5.7.1",
            verp(51, "125e2a92232ab1c3"),
            ours(51, "92a3b4c5d6e7"),
        )
    ],
    "sendmail_dsn_two_recipients_one_delivered.eml": [
        Expected(
            "hard",
            "jack.old@example.net",
            "5.1.1",
            verp(52, "1e9c078aaefe3843"),
            ours(52, "a3b4c5d6e7f8"),
        )
    ],
    "postfix_dsn_three_recipients_non_verp.eml": [
        Expected(
            "hard",
            "kim@example.net",
            "5.1.1",
            None,
            "<20261208T091000Z-preview.0.b4c5d6e7f809@digest.example.org>",
        ),
        Expected(
            "hard",
            "lee@nowhere.example.net",
            "5.4.4",
            None,
            "<20261208T091000Z-preview.0.b4c5d6e7f809@digest.example.org>",
        ),
        Expected(
            "soft",
            "max@example.org",
            "4.2.2",
            None,
            "<20261208T091000Z-preview.0.b4c5d6e7f809@digest.example.org>",
        ),
    ],
    "arf_abuse_yahoo_like.eml": [
        Expected(
            "complaint",
            "jane@example.net",
            None,
            verp(53, "ff2bc4b21c7f162e"),
            ours(53, "c5d6e7f8091a"),
        )
    ],
    "arf_abuse_microsoft_jmrp_like.eml": [
        Expected(
            "complaint",
            "kate@outlook.example.net",
            None,
            verp(54, "d933b16360d233b9"),
            ours(54, "d6e7f8091a2b"),
        )
    ],
    "autoreply_out_of_office_rfc3834.eml": [
        Expected("auto-reply", None, None, verp(55, "274cce10c14f97f0"), ours(55, "e7f8091a2b3c"))
    ],
    "autoreply_vacation_x_autoreply.eml": [
        Expected("auto-reply", None, None, verp(56, "e263c8d81da81473"), ours(56, "f8091a2b3c4d"))
    ],
    "autoreply_exchange_abwesenheitsnotiz.eml": [
        Expected("auto-reply", None, None, verp(57, "1254b98280a26394"), ours(57, "091a2b3c4d5e"))
    ],
    "broken_mime_no_boundary.eml": [
        Expected("hard", None, "5.1.1", verp(58, "e74a742671346528"), None)
    ],
    "broken_mime_truncated_dsn.eml": [
        Expected("hard", "quinn@example.net", "5.1.1", verp(59, "24a5689352776e33"), None)
    ],
    "garbage_bytes.eml": [Expected("unknown", None, None, None, None)],
}

#: fixtures whose bounce has no Message-ID of its own: keyed by the hash of the bytes
HASH_KEYED = {"qmail_no_mailbox.eml", "arf_abuse_microsoft_jmrp_like.eml", "garbage_bytes.eml"}


def run(
    name: str, *, verp_domain: str | None = VERP_DOMAIN, verp_local: str = "bounces"
) -> list[BounceNotice]:
    raw = (BOUNCES / name).read_bytes()
    return classify(raw, origin="eml", verp_domain=verp_domain, verp_local=verp_local)


def fixtures() -> list[Path]:
    return sorted(BOUNCES.glob("*.eml"))


def test_every_fixture_has_expectations() -> None:
    assert sorted(EXPECTED) == [p.name for p in fixtures()]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_gives_exactly_these_notices(name: str) -> None:
    notices = run(name)
    got = [Expected(n.kind, n.recipient, n.status, n.return_path, n.message_id) for n in notices]
    assert got == EXPECTED[name]
    assert all(n.origin == "eml" for n in notices)
    assert len({n.key for n in notices}) == len(notices)
    for notice in notices:
        assert notice.key.endswith(f"#{notice.recipient or ''}")
        assert len(notice.detail) <= 300 and "\n" not in notice.detail


@pytest.mark.parametrize("name", sorted(HASH_KEYED))
def test_a_bounce_without_message_id_is_keyed_by_the_hash_of_its_bytes(name: str) -> None:
    digest = hashlib.sha256((BOUNCES / name).read_bytes()).hexdigest()
    assert all(n.key.startswith(f"{digest}#") for n in run(name))


def test_keys_are_the_bounce_message_id_and_the_recipient() -> None:
    keys = [n.key for n in run("postfix_dsn_three_recipients_non_verp.eml")]
    assert keys == [
        "<20261208091540.C1D2E3F4A5@digest.example.org>#kim@example.net",
        "<20261208091540.C1D2E3F4A5@digest.example.org>#lee@nowhere.example.net",
        "<20261208091540.C1D2E3F4A5@digest.example.org>#max@example.org",
    ]
    assert run("postfix_dsn_three_recipients_non_verp.eml") == run(
        "postfix_dsn_three_recipients_non_verp.eml"
    )


def test_details_for_the_operator() -> None:
    (alice,) = run("postfix_dsn_5.1.1_user_unknown.eml")
    assert alice.detail == (
        "smtp; 550 5.1.1 <alice@example.net>: Recipient address rejected: User unknown in "
        "virtual mailbox table"
    )
    (ida,) = run("postfix_dsn_gmail_5.7.1_blocked.eml")
    assert len(ida.detail) == 300 and ida.detail.endswith("…")
    (carol,) = run("exim_failed_5.1.1.eml")
    assert carol.detail == "550 5.1.1 <carol@example.net>: Recipient address rejected: User unknown"
    (erin,) = run("postfix_legacy_plaintext_user_unknown.eml")
    assert erin.detail.endswith(
        "said: 550 <erin@example.net>: User unknown in local recipient "
        "table (in reply to RCPT TO command)"
    )
    (jane,) = run("arf_abuse_yahoo_like.eml")
    assert jane.detail.startswith("Feedback-Type: abuse; User-Agent: ")


def test_without_verp_domain_there_is_no_return_path() -> None:
    for path in fixtures():
        notices = classify(path.read_bytes(), origin="eml")
        assert all(n.return_path is None for n in notices)
        assert [n.kind for n in notices] == [e.kind for e in EXPECTED[path.name]]


def test_return_path_must_match_domain_and_local_part() -> None:
    (other_domain,) = run("postfix_dsn_5.1.1_user_unknown.eml", verp_domain="example.net")
    assert other_domain.return_path is None
    (other_local,) = run("postfix_dsn_5.1.1_user_unknown.eml", verp_local="returns")
    assert other_local.return_path is None
    (upper,) = run("postfix_dsn_5.1.1_user_unknown.eml", verp_domain="BOUNCES.Example.org")
    assert upper.return_path == verp(42, "94aaf609863914bf")


def test_return_path_from_the_returned_message() -> None:
    raw = (BOUNCES / "qmail_no_mailbox.eml").read_bytes()
    without_to = b"".join(
        line for line in raw.splitlines(keepends=True) if not line.startswith(b"To: bounces+")
    )
    (dave,) = classify(without_to, origin="stdin", verp_domain=VERP_DOMAIN)
    assert dave.return_path == verp(46, "6f9a8c41fe2d5942")
    assert (dave.kind, dave.recipient, dave.origin) == ("hard", "dave@example.net", "stdin")


# -- the hard/soft rules, on minimal DSNs ------------------------------------------------------


def dsn(action: str, status: str, diagnostic: str) -> bytes:
    lines = [
        "From: MAILER-DAEMON@mail.example.net",
        "To: bounces+x.1.0000000000000000@bounces.example.org",
        "Subject: Undelivered Mail Returned to Sender",
        "Message-ID: <rule@mail.example.net>",
        "MIME-Version: 1.0",
        'Content-Type: multipart/report; report-type=delivery-status; boundary="b"',
        "",
        "--b",
        "Content-Type: message/delivery-status",
        "",
        "Reporting-MTA: dns; mail.example.net",
        "",
        "Final-Recipient: rfc822; rule@example.net",
        f"Action: {action}",
        f"Status: {status}",
        f"Diagnostic-Code: smtp; {diagnostic}",
        "",
        "--b--",
        "",
    ]
    return "\r\n".join(lines).encode()


@pytest.mark.parametrize(
    ("action", "status", "diagnostic", "kind"),
    [
        ("failed", "5.1.1", "550 5.1.1 mailbox unavailable", "hard"),
        ("failed", "5.1.2", "550 5.1.2 bad destination system", "hard"),
        ("failed", "5.1.10", "550 5.1.10 RESOLVER.ADR.RecipientNotFound", "hard"),
        (
            "failed",
            "5.2.1",
            "550 5.2.1 The email account that you tried to reach is disabled",
            "hard",
        ),
        ("failed", "5.4.4", "Host or domain name not found", "hard"),
        ("failed", "5.0.0", "550 5.0.0 <rule@example.net>... User unknown", "hard"),
        ("failed", "5.0.0", "550 5.1.1 mailbox unknown", "hard"),  # x.0.0: the diagnostic's code
        ("failed", "5.0.0", "550 5.0.0 rejected", "soft"),
        ("failed", "5.2.2", "552 5.2.2 Mailbox full", "soft"),
        ("failed", "5.1.1", "552 5.1.1 over quota", "soft"),
        ("failed", "5.7.1", "550 5.7.1 Message rejected as spam", "soft"),
        ("failed", "5.7.1", "550 5.7.1 No such user here", "hard"),
        ("failed", "5.1.8", "553 5.1.8 Sender address domain does not resolve", "soft"),
        ("failed", "5.3.4", "552 5.3.4 Message too big", "soft"),
        ("failed", "4.4.7", "421 4.4.7 Message expired", "soft"),
        ("failed", "4.1.1", "450 4.1.1 user unknown (try again later)", "soft"),
        ("error", "5.1.1", "550 5.1.1 invalid recipient", "hard"),  # OpenSMTPD's word
        ("delayed", "5.1.1", "550 5.1.1 user unknown", "soft"),
        ("failed (permanent)", "5.1.3", "501 5.1.3 bad address syntax", "hard"),
    ],
)
def test_hard_and_soft(action: str, status: str, diagnostic: str, kind: str) -> None:
    (notice,) = classify(dsn(action, status, diagnostic), origin="eml")
    assert (notice.kind, notice.recipient) == (kind, "rule@example.net")


@pytest.mark.parametrize("action", ["delivered", "relayed", "expanded"])
def test_successful_deliveries_are_not_bounces(action: str) -> None:
    (notice,) = classify(dsn(action, "2.0.0", "250 2.0.0 OK"), origin="eml")
    assert (notice.kind, notice.recipient) == ("unknown", None)


# -- complaints, auto-replies and everything else ----------------------------------------------


def message(*headers: str, body: str = "Hello.") -> bytes:
    return ("\r\n".join([*headers, "", body, ""])).encode()


def kinds(raw: bytes) -> list[str]:
    return [n.kind for n in classify(raw, origin="eml", verp_domain=VERP_DOMAIN)]


def test_a_not_spam_feedback_report_is_not_a_complaint() -> None:
    raw = (BOUNCES / "arf_abuse_yahoo_like.eml").read_bytes()
    assert kinds(raw.replace(b"Feedback-Type: abuse", b"Feedback-Type: not-spam")) == ["unknown"]
    assert kinds(raw.replace(b"Feedback-Type: abuse", b"Feedback-Type: fraud")) == ["complaint"]


def test_x_auto_response_suppress_alone_is_not_an_auto_reply() -> None:
    raw = message(
        "From: Person <person@example.net>",
        "Subject: Re: Your research digest",
        "X-Auto-Response-Suppress: All",
        "Auto-Submitted: auto-generated",
        body="Thanks, could you add the cs.CL listing too?",
    )
    assert kinds(raw) == ["unknown"]


@pytest.mark.parametrize(
    "header",
    [
        "Auto-Submitted: auto-replied",
        "X-Autorespond: on",
        "X-Autoresponder: vacation",
        "Precedence: auto_reply",
        "Subject: Automatic reply: Your research digest",
        "Subject: Abwesenheitsnotiz: Your research digest",
        "Subject: Réponse automatique : Your research digest",
    ],
)
def test_auto_reply_signs(header: str) -> None:
    raw = message("From: Person <person@example.net>", header, body="I am away. 550 5.1.1")
    assert kinds(raw) == ["auto-reply"]


def test_a_bounce_marked_auto_replied_stays_a_bounce() -> None:
    # Exim, Postfix and Office 365 mark their bounces Auto-Submitted: auto-replied.
    assert kinds((BOUNCES / "exim_failed_5.1.1.eml").read_bytes()) == ["hard"]


def test_a_person_quoting_an_error_is_not_a_bounce() -> None:
    raw = message(
        "From: Person <person@example.net>",
        "Subject: Re: Your research digest",
        body="My colleague got 550 5.1.1 user unknown from your server, see below.",
    )
    assert kinds(raw) == ["unknown"]


@pytest.mark.parametrize("raw", [b"", b"\r\n", b"\x00", b"From:\r\n\r\n", b"Content-Type: ;;;\n\n"])
def test_degenerate_input_is_one_unknown(raw: bytes) -> None:
    (notice,) = classify(raw, origin="stdin")
    assert notice.kind == "unknown"
    assert notice.key == f"{hashlib.sha256(raw).hexdigest()}#"


# -- never raises ------------------------------------------------------------------------------

FIXTURE_BYTES = [p.read_bytes() for p in fixtures()]
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def check(raw: bytes) -> None:
    notices = classify(raw, origin="eml", verp_domain=VERP_DOMAIN)
    assert notices and all(isinstance(n, BounceNotice) for n in notices)
    assert len({n.key for n in notices}) == len(notices)


@FUZZ
@given(st.binary(max_size=4096))
def test_never_raises_on_random_bytes(raw: bytes) -> None:
    check(raw)


@FUZZ
@given(st.sampled_from(FIXTURE_BYTES), st.floats(min_value=0, max_value=1))
def test_never_raises_on_truncated_fixtures(raw: bytes, fraction: float) -> None:
    check(raw[: int(len(raw) * fraction)])


@FUZZ
@given(
    st.sampled_from(FIXTURE_BYTES),
    st.lists(st.tuples(st.floats(0, 1), st.binary(min_size=1, max_size=8)), max_size=6),
)
def test_never_raises_on_corrupted_fixtures(raw: bytes, edits: list[tuple[float, bytes]]) -> None:
    data = bytearray(raw)
    for where, junk in edits:
        at = int(len(data) * where)
        data[at : at + len(junk)] = junk
    check(bytes(data))
