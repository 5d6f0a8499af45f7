"""Keeping the list healthy, end to end: VERP return paths on every digest, bounces and
complaints recorded once with their effect, the suppression list across re-imports and
re-sign-ups, and feeds that keep working for a bounced address.

A real run delivers into the aiosmtpd sink (``tests/smtpsink.py``); bounces are recorded the
way every intake records them (:class:`digest.bounces.book.BounceBook`).
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import json
import re
from collections.abc import Callable
from pathlib import Path

from conftest import CliResult
from digest.application import Application
from digest.bounces.intake import book_for
from digest.bounces.notice import BounceNotice
from digest.bounces.verp import read_return_path, return_path
from digest.pipeline.run import RunOptions
from digest.store import Store
from smtpsink import Received, SmtpSink

DAY1 = dt.datetime(2026, 12, 7, 8, tzinfo=dt.UTC)
SECRET = "list-health-test"

CONFIG = """
[digest]
state_dir = "state"
output_dir = "out"
sender = "Digest <digest@example.org>"
base_url = "https://digest.example.org"
secret_key = "{secret}"

[bounces]
domain = "bounces.example.org"
soft_limit = 2
soft_days = 10

[selection]
rankers = {{ recency = 1.0 }}

[sources.sample]
component = "sample"
days = {days}

[rankers.recency]
component = "recency"

[renderers.email]
component = "email"

[renderers.feed]
component = "feed"

[deliverers.smtp]
component = "smtp"
host = "127.0.0.1"
port = {port}
security = "none"

[deliverers.files]
component = "files"
channels = ["feed"]
"""

PEOPLE = [
    {"name": "ada", "email": "ada@example.org", "channels": ["email", "feed"]},
    {"name": "bob", "email": "bob@example.net", "channels": ["email"]},
    {"name": "cy", "email": "cy@example.net", "channels": ["email"]},
]


def setup(tmp_path: Path, sink: SmtpSink, cli: Callable[..., CliResult]) -> Path:
    config = tmp_path / "config.toml"
    config.write_text(CONFIG.format(port=sink.port, secret=SECRET, days=1))
    people = tmp_path / "people.jsonl"
    people.write_text("".join(json.dumps(p) + "\n" for p in PEOPLE))
    result = cli("subscribers", "import", str(people), "--config", str(config))
    assert result.exit_code == 0, result.err
    return config


def run(config: Path, when: dt.datetime) -> object:
    """A run on ``when``: the sample source announces one more day of papers each day."""
    days = (when.date() - DAY1.date()).days + 1
    text = config.read_text()
    config.write_text(
        text.replace(text[text.index("days = ") :].split("\n", 1)[0], f"days = {days}")
    )
    with Application.from_path(config) as app:
        return app.pipeline.run(RunOptions(now=when))


def by_rcpt(received: list[Received]) -> dict[str, Received]:
    return {r.rcpt_tos[0]: r for r in received}


def message_id(got: Received) -> str:
    message = email.message_from_bytes(got.data, policy=email.policy.default)
    return str(message["Message-ID"])


def record(config: Path, *notices: BounceNotice, when: dt.datetime) -> dict[str, int]:
    with Application.from_path(config) as app:
        tally = book_for(app.store, app.settings).record(notices, now=when)
    return dict(tally.outcomes) | ({"read before": tally.duplicates} if tally.duplicates else {})


def stored(config: Path) -> dict[str, object]:
    with Application.from_path(config) as app:
        return {s.subscriber.name: s for s in app.store.subscribers()}


def test_the_return_path_names_edition_and_subscriber_and_cannot_be_forged() -> None:
    address = return_path(
        edition_id="20261207T080000Z-ab12cd",
        subscriber_id=7,
        secret=SECRET,
        local_part="bounces",
        domain="Bounces.Example.org",
    )
    local = address.partition("@")[0]
    assert address.endswith("@bounces.example.org") and len(local) <= 64
    assert local == local.lower()  # servers that fold case cannot break it
    options = {"local_part": "bounces", "domain": "bounces.example.org"}
    found = read_return_path(address.upper(), secrets=["old", SECRET], **options)
    assert found is not None
    assert (found.edition, found.subscriber_id) == ("20261207t080000z-ab12cd", 7)
    forged = address.replace(".7.", ".8.")
    assert read_return_path(forged, secrets=[SECRET], **options) is None
    assert read_return_path(address, secrets=["another secret"], **options) is None
    assert read_return_path("bounces@bounces.example.org", secrets=[SECRET], **options) is None
    assert (
        read_return_path(
            address.replace("bounces.example.org", "x.org"), secrets=[SECRET], **options
        )
        is None
    )


def test_bounces_and_complaints_change_who_is_mailed(
    tmp_path: Path, cli: Callable[..., CliResult]
) -> None:
    with SmtpSink() as sink:
        config = setup(tmp_path, sink, cli)
        assert run(config, DAY1).delivered == 3  # type: ignore[attr-defined]
        first = by_rcpt(sink.received)
        # Every digest's envelope sender is its own VERP address.
        with Application.from_path(config) as app:
            ids = {s.subscriber.email: s.id for s in app.store.subscribers()}
        for rcpt, got in first.items():
            path = read_return_path(
                got.mail_from, secrets=[SECRET], local_part="bounces", domain="bounces.example.org"
            )
            assert path is not None and path.subscriber_id == ids[rcpt]
        assert len({got.mail_from for got in first.values()}) == 3

        notices = [
            # Postfix returns ada's digest: user unknown, found by the return path.
            BounceNotice(
                kind="hard",
                key="<dsn-1@mx.example.org>#ada@example.org",
                origin="mbox",
                return_path=first["ada@example.org"].mail_from,
                recipient="ada@example.org",
                status="5.1.1",
                detail="550 5.1.1 <ada@example.org>: Recipient address rejected",
            ),
            # bob marks it as spam: an ARF report quoting our Message-ID.
            BounceNotice(
                kind="complaint",
                key="<arf-1@fbl.example.net>#bob@example.net",
                origin="mbox",
                message_id=message_id(first["bob@example.net"]),
                recipient="bob@example.net",
                detail="abuse",
            ),
            # cy's mailbox is full: counted, not yet bounced (the limit is 2 in 10 days).
            BounceNotice(
                kind="soft",
                key="<dsn-2@mx.example.net>#cy@example.net",
                origin="imap",
                return_path=first["cy@example.net"].mail_from,
                recipient="cy@example.net",
                status="4.2.2",
            ),
            # Forged or unknown: ignored and counted, never trusted.
            BounceNotice(
                kind="hard",
                key="forged#cy",
                origin="mbox",
                return_path=first["cy@example.net"].mail_from.replace(".", "x", 1),
                recipient="cy@example.net",
            ),
            BounceNotice(
                kind="hard",
                key="unknown#x",
                origin="ses",
                message_id="<20261101T000000Z-000000.3.0123456789ab@digest.example.org>",
                recipient="cy@example.net",
            ),
            BounceNotice(kind="auto-reply", key="ooo#1", origin="mbox", recipient="cy@example.net"),
        ]
        outcomes = record(config, *notices, when=DAY1 + dt.timedelta(hours=2))
        assert outcomes == {
            "bounced": 1,
            "unsubscribed": 1,
            "counted": 1,
            "ignored: a bad return path token": 1,
            "ignored: a forged Message-ID": 1,
            "ignored: an auto-reply": 1,
        }
        # Read again (a webhook redelivered, a mailbox read twice): recorded once.
        assert record(config, *notices, when=DAY1 + dt.timedelta(hours=3)) == {"read before": 6}
        people = stored(config)
        assert people["ada"].bounced and people["ada"].status == "active"  # type: ignore[attr-defined]
        assert people["bob"].unsubscribed  # type: ignore[attr-defined]

        sink.received.clear()
        second = run(config, DAY1 + dt.timedelta(days=1))
        # ada still gets her feed, not email; bob nothing; cy email.
        assert [r.rcpt_tos for r in sink.received] == [("cy@example.net",)], second.skipped  # type: ignore[attr-defined]
        assert "bob" not in second.skipped  # type: ignore[attr-defined]  # unsubscribed: not even considered
        assert (tmp_path / "out" / "ada" / "rss.xml").exists()

        # A second soft bounce within soft_days makes cy bounced.
        cy_again = BounceNotice(
            kind="soft",
            key="<dsn-3@mx.example.net>#cy@example.net",
            origin="imap",
            return_path=sink.received[0].mail_from,
            recipient="cy@example.net",
            status="4.2.2",
        )
        assert record(config, cy_again, when=DAY1 + dt.timedelta(days=1, hours=1)) == {
            "bounced (soft bounces in 2 editions)": 1
        }
        sink.received.clear()
        third = run(config, DAY1 + dt.timedelta(days=2))
        assert sink.received == []
        assert third.skipped["cy"] == "address bounced (no email until confirmed)"  # type: ignore[attr-defined]
        health = [re.sub(r"edition \S+:", "edition E:", line) for line in third.list_health]  # type: ignore[attr-defined]
        assert health == [
            "Bounces in the last 7 days, edition E: 0 hard, 1 soft, 0 complaints",
            "Bounces in the last 7 days, edition E: 1 hard, 1 soft, 1 complaints",
            "Bounces in the last 7 days at example.net: 0 hard, 2 soft, 1 complaints",
            "Bounces in the last 7 days at example.org: 1 hard, 0 soft, 0 complaints",
            "Bounces in the last 7 days: 3 ignored (auto-replies, unreadable, or not about a "
            "message we sent; see digest bounces)",
        ]

        # The counts, for the operator.
        shown = cli("bounces", "--config", str(config))
        assert shown.exit_code == 0, shown.err
        assert "Per recipient domain" in shown.out and "example.net" in shown.out
        assert "ignored: a forged Message-ID" in shown.out


def test_suppressed_addresses_are_not_revived_by_an_import_and_confirming_lifts_it(
    tmp_path: Path, cli: Callable[..., CliResult]
) -> None:
    with SmtpSink() as sink:
        config = setup(tmp_path, sink, cli)
        run(config, DAY1)
        ada = by_rcpt(sink.received)["ada@example.org"]
        record(
            config,
            BounceNotice(kind="hard", key="k1", origin="mbox", return_path=ada.mail_from),
            when=DAY1,
        )
        with Application.from_path(config) as app:
            bob_id = {s.subscriber.name: s.id for s in app.store.subscribers()}["bob"]
            app.store.unsubscribe(bob_id, now=DAY1)
        again = tmp_path / "again.jsonl"
        again.write_text(
            json.dumps({"name": "ada2", "email": "ADA@example.org"})
            + "\n"
            + json.dumps({"name": "bob2", "email": "bob@example.net"})
            + "\n"
            + json.dumps({"name": "dee", "email": "dee@example.org"})
            + "\n"
        )
        result = cli("subscribers", "import", str(again), "--config", str(config))
        assert result.exit_code == 0, result.err
        assert "Imported 1 subscriber" in result.out
        assert f"{again}:1: ada2: address suppressed (bounced)" in result.out
        assert f"{again}:2: bob2: address suppressed (unsubscribed)" in result.out
        listed = cli("subscribers", "list", "--config", str(config))
        assert "bounced" in listed.out
        # ada confirms again (the sign-up confirmation link): mailed again, no longer listed.
        with Application.from_path(config) as app:
            sid = {s.subscriber.name: s.id for s in app.store.subscribers()}["ada"]
            assert app.store.activate(sid, now=DAY1 + dt.timedelta(days=1))
            assert app.store.suppressed(["ada@example.org"]) == {}
        sink.received.clear()
        run(config, DAY1 + dt.timedelta(days=1))
        assert ("ada@example.org",) in [r.rcpt_tos for r in sink.received]


def test_a_store_without_bounces_reports_nothing(tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 's.db'}")
    assert store.bounce_counts(by="edition") == [] and store.bounce_events() == []


def test_only_an_authenticated_event_may_name_the_subscriber_by_address(
    tmp_path: Path, cli: Callable[..., CliResult]
) -> None:
    with SmtpSink() as sink:
        config = setup(tmp_path, sink, cli)
        run(config, DAY1)

        def notice(key: str, rcpt: str, trusted: bool) -> BounceNotice:
            return BounceNotice(
                kind="hard", key=key, origin="postmark", recipient=rcpt, trusted_recipient=trusted
            )

        outcomes = record(
            config,
            notice("body-says", "ada@example.org", trusted=False),  # a bounce body: not trusted
            notice("esp-1", "bob@example.net", trusted=True),  # a signed ESP event
            notice("esp-2", "stranger@example.org", trusted=True),  # never mailed
            when=DAY1,
        )
        assert outcomes == {"bounced": 1, "ignored: names no message of ours": 2}
        people = stored(config)
        assert people["bob"].bounced and not people["ada"].bounced  # type: ignore[attr-defined]


def test_checking_a_large_import_against_the_suppression_list(database_url: str) -> None:
    # 70,000 addresses: more than PostgreSQL's 65,535 bound parameters in one query.
    store = Store.open(database_url)
    store.suppress("someone@example.org", "bounced", now=DAY1)
    keys = [f"p{n}@example.net" for n in range(70_000)] + ["someone@example.org"]
    assert set(store.suppressed(keys)) == {"someone@example.org"}
