"""The run: no paper twice, new papers only, failures isolated, crashes resumed (I1–I4)."""

from __future__ import annotations

import email
import email.policy
from pathlib import Path

import pytest
import sqlalchemy as sa

from digest import hookimpl
from digest.ledger import Ledger
from digest.models import DeliveryStatus, Edition
from digest.pipeline import RunOptions
from digest.store import deliveries, editions, utcnow
from digest.testing import make_paper
from helpers import FlakyDeliverer, build_pipeline, stored_papers_json, write_papers

CONFIG = """
[digest]
state_dir = "state"
output_dir = "out"
base_url = "https://digest.example.org"
sender = "Test Digest <digest@example.org>"
secret_key = "s"
{database}

[selection]
filters = ["keywords"]
rankers = {{ keywords = 1.0, recency = 0.2 {extra_rankers} }}

[sources.main]
component = "jsonl"
file = "papers.jsonl"

[sources.second]
component = "jsonl"
file = "second.jsonl"
fail = {second_fails}

[filters.keywords]
component = "keywords"

[rankers.keywords]
component = "keywords"

[rankers.recency]
component = "recency"

[rankers.exploding]
component = "exploding"

[renderers.email]
component = "email"

[renderers.feed]
component = "feed"

[deliverers.out]
component = "{deliverer}"
{deliverer_options}

[subscribers.ada]
email = "ada@example.org"
keywords = ["robot"]

[subscribers.grace]
email = "grace@example.org"
keywords = ["language model"]

[subscribers.alan]
email = "alan@example.org"
keywords = ["attack"]
channels = ["email"]
"""


def robots(start: int, count: int, word: str = "robot") -> list:
    return [
        make_paper(f"2411.{n:05d}", title=f"A {word} paper number {n}", categories=("cs.RO",))
        for n in range(start, start + count)
    ]


@pytest.fixture
def setup(tmp_path: Path, database_url: str):
    def make(**options: str):
        values = {
            "database": f'database = "{database_url}"',
            "extra_rankers": "",
            "second_fails": "false",
            "deliverer": "files",
            "deliverer_options": "",
        }
        values.update(options)
        (tmp_path / "config.toml").write_text(CONFIG.format(**values), "utf-8")
        return build_pipeline(tmp_path / "config.toml")

    write_papers(
        tmp_path / "papers.jsonl",
        [
            *robots(1, 3),
            make_paper("2411.10001", title="Large language model reasoning", categories=("cs.CL",)),
            make_paper("2411.10002", title="An attack on things", categories=("cs.CR",)),
        ],
    )
    write_papers(tmp_path / "second.jsonl", [])
    return make


def _txt(out: Path, name: str) -> list[str]:
    return sorted(p.read_text() for p in (out / name).glob("*/digest.txt"))


def test_a_second_run_delivers_nothing_and_new_papers_only_once(setup, tmp_path: Path) -> None:
    pipeline = setup()
    first = pipeline.run()
    assert first.delivered == 3 and not first.failed and not first.problems
    out = tmp_path / "out"
    assert "robot paper number 1" in _txt(out, "ada")[0]

    second = pipeline.run()
    assert second.delivered == 0 and second.edition is None
    assert second.skipped == {
        "ada": "no new papers",
        "grace": "no new papers",
        "alan": "no new papers",
    }

    write_papers(tmp_path / "papers.jsonl", robots(1, 5))  # two new robot papers appear
    third = pipeline.run()
    assert third.delivered == 1 and set(third.skipped) == {"grace", "alan"}
    newest = [t for t in _txt(out, "ada") if "number 4" in t]
    assert len(newest) == 1 and "number 1" not in newest[0] and "number 5" in newest[0]


def test_a_paper_the_subscriber_liked_or_disliked_is_never_a_pick(setup, tmp_path: Path) -> None:
    setup()
    config = tmp_path / "config.toml"
    config.write_text(
        config.read_text().replace(
            'keywords = ["robot"]',
            'keywords = ["robot"]\nliked = ["2411.00001v2"]\ndisliked = ["arXiv:2411.00003"]',
        )
    )
    report = build_pipeline(config).run()
    assert report.delivered == 3, report
    (ada,) = _txt(tmp_path / "out", "ada")
    assert "robot paper number 2" in ada
    assert "number 1" not in ada and "number 3" not in ada


def test_a_new_version_or_a_second_source_is_the_same_paper(setup, tmp_path: Path) -> None:
    pipeline = setup()
    pipeline.run()
    v2 = make_paper(
        "2411.00001v2",
        title="A robot paper number 1 (revised)",
        sources=("b",),
        signals={"hf.upvotes": 12},
        categories=("cs.RO",),
    )
    write_papers(tmp_path / "second.jsonl", [v2])
    report = pipeline.run()
    assert report.delivered == 0
    second = next(s for s in report.sources if s.name == "second")
    assert (second.new, second.updated) == (0, 1)
    stored = [p for p in stored_papers_json(pipeline.store) if p["id"] == "arxiv:2411.00001"]
    assert len(stored) == 1
    assert stored[0]["version"] == 2 and stored[0]["signals"] == {"hf.upvotes": 12}
    assert stored[0]["title"].endswith("(revised)")


def test_a_failing_source_loses_nothing_else(setup, tmp_path: Path) -> None:
    pipeline = setup(second_fails="true")
    report = pipeline.run()
    failed = next(s for s in report.sources if s.name == "second")
    assert failed.error == "second.jsonl: HTTP 503 Service Unavailable"
    assert report.delivered == 3
    assert any(p.where == "sources.second" for p in report.problems)
    # Its state did not advance (I3); the healthy source's did.
    assert pipeline.store.source_state("second") == {}
    assert pipeline.store.source_state("main") == {"seen": "5"}


def test_a_failing_ranker_is_reported_and_the_run_goes_on(setup) -> None:
    pipeline = setup(extra_rankers=", exploding = 1.0")
    report = pipeline.run()
    assert report.delivered == 3
    assert any(
        p.where == "rankers.exploding" and "model server unreachable" in p.message
        for p in report.problems
    )


def test_deliverers_are_opened_once_and_closed_after_the_run(setup) -> None:
    FlakyDeliverer.parcels, FlakyDeliverer.events = [], []
    setup(deliverer="flaky").run()
    assert FlakyDeliverer.events == ["open", "close"]
    assert len(FlakyDeliverer.parcels) == 5


def test_strict_mode_stops_on_a_plugin_bug_but_not_on_a_source_outage(setup) -> None:
    from digest.errors import PluginError

    pipeline = setup(extra_rankers=", exploding = 1.0", second_fails="true")
    pipeline.host.strict = True
    with pytest.raises(PluginError, match=r"rankers\.exploding: RuntimeError: model server"):
        pipeline.run()
    calm = setup(second_fails="true")
    calm.host.strict = True
    assert calm.run().delivered == 3  # the SourceError is reported, not fatal


def test_one_failing_recipient_does_not_stop_the_others(setup) -> None:
    FlakyDeliverer.parcels = []
    pipeline = setup(deliverer="flaky", deliverer_options='fail_for = ["grace"]')
    report = pipeline.run()
    assert report.delivered == 2
    assert set(report.failed) == {"grace (email)", "grace (feed)"}
    assert "mailbox grace@example.org unavailable" in report.failed["grace (email)"]
    statuses = _statuses(pipeline)
    assert statuses[("grace", "email")] == DeliveryStatus.FAILED_PERMANENT
    assert statuses[("ada", "email")] == DeliveryStatus.SENT


def test_unsubscribed_subscribers_are_never_sent_to(setup) -> None:
    FlakyDeliverer.parcels = []
    pipeline = setup(deliverer="flaky")
    pipeline.sync_config_subscribers(utcnow())
    ada = next(s for s in pipeline.store.subscribers() if s.subscriber.name == "ada")
    pipeline.store.unsubscribe(ada.id, now=utcnow())
    report = pipeline.run()
    assert "ada" not in {p.selection.subscriber.name for p in FlakyDeliverer.parcels}
    assert report.delivered == 2 and "ada" not in report.failed
    assert ("ada", "email") not in _statuses(pipeline)


def test_an_unsubscribe_recorded_before_their_chunk_runs_wins(setup, tmp_path: Path) -> None:
    FlakyDeliverer.parcels = []
    pipeline = setup(deliverer="flaky")

    class UnsubscribeAdaMidRun:
        @hookimpl
        def before_run(self, edition: Edition | None) -> None:
            if edition is not None:  # the edition exists, its chunks are queued
                ada = next(s for s in pipeline.store.subscribers() if s.subscriber.name == "ada")
                pipeline.store.unsubscribe(ada.id, now=utcnow())

    pipeline.host.register(UnsubscribeAdaMidRun(), name="unsubscriber")
    report = pipeline.run()
    assert "ada" not in {p.selection.subscriber.name for p in FlakyDeliverer.parcels}
    assert report.delivered == 2 and "ada" not in report.skipped
    assert not [key for key in _statuses(pipeline) if key[0] == "ada"]


def test_an_unsubscribe_recorded_after_selection_still_wins(
    setup, monkeypatch: pytest.MonkeyPatch
) -> None:
    from digest.pipeline.recorder import LedgerRecorder

    FlakyDeliverer.parcels = []
    pipeline = setup(deliverer="flaky")
    claim = LedgerRecorder.claim

    def claim_then_unsubscribe_ada(self, edition, claims, *, now):  # type: ignore[no-untyped-def]
        won = claim(self, edition, claims, now=now)
        ada = next(s for s in pipeline.store.subscribers() if s.subscriber.name == "ada")
        pipeline.store.unsubscribe(ada.id, now=utcnow())  # after selection, before sending
        return won

    monkeypatch.setattr(LedgerRecorder, "claim", claim_then_unsubscribe_ada)
    report = pipeline.run()
    assert "ada" not in {p.selection.subscriber.name for p in FlakyDeliverer.parcels}
    assert report.skipped["ada"] == "unsubscribed"
    statuses = _statuses(pipeline)
    assert statuses[("ada", "email")] == statuses[("ada", "feed")] == DeliveryStatus.SUPPRESSED


def test_a_crash_mid_delivery_is_resumed_exactly_once_with_the_same_message_id(setup) -> None:
    FlakyDeliverer.parcels = []
    crashing = setup(deliverer="flaky", deliverer_options="crash_after = 2")
    with pytest.raises(KeyboardInterrupt):
        crashing.run()
    before = list(FlakyDeliverer.parcels)
    assert len(before) == 2
    claimed = {k: v for k, v in _statuses(crashing).items() if v == DeliveryStatus.CLAIMED}
    assert claimed, "the crash left claimed rows"

    resumed = setup(deliverer="flaky").run()
    assert resumed.resumed >= 1
    after = FlakyDeliverer.parcels
    statuses = _statuses(crashing)
    # I1: one terminal state per (subscriber, channel); I2: the edition is complete.
    assert all(v in (DeliveryStatus.SENT,) for v in statuses.values()), statuses
    assert len(statuses) == 5  # ada and grace: email + feed; alan: email
    with crashing.store.engine.connect() as conn:
        assert {r.status for r in conn.execute(sa.select(editions.c.status))} == {"complete"}
    # Nothing delivered twice except in-flight parcels, which keep their Message-ID.
    keys = [(p.selection.subscriber.name, p.channel) for p in after]
    assert len(keys) == len(set(keys)) == 5
    ids = {(p.selection.subscriber.name, p.channel): p.message_id for p in after}
    for p in before:
        assert ids[(p.selection.subscriber.name, p.channel)] == p.message_id


def test_a_dry_run_records_and_writes_nothing(setup, tmp_path: Path) -> None:
    pipeline = setup()
    report = pipeline.run(RunOptions(dry_run=True))
    assert report.delivered == 3 and report.edition is None
    assert not (tmp_path / "out").exists()
    assert _statuses(pipeline) == {}
    assert pipeline.run().delivered == 3, "a dry run must not use papers up"


def test_the_email_file_is_a_complete_multipart_message(setup, tmp_path: Path) -> None:
    setup().run()
    raw = next((tmp_path / "out" / "ada").glob("*/digest.eml")).read_bytes()
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert message.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in message.iter_parts()] == ["text/plain", "text/html"]
    for header in ("From", "To", "Date", "Message-ID", "Subject", "List-Unsubscribe", "List-Id"):
        assert len(message.get_all(header) or []) == 1, header
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["List-Unsubscribe"].startswith("<https://digest.example.org/unsubscribe/")
    assert all(len(line) <= 998 for line in raw.split(b"\r\n"))
    assert b"\n" not in raw.replace(b"\r\n", b"")
    assert "robot paper number 1" in message.get_body(("plain",)).get_content()


def _statuses(pipeline) -> dict[tuple[str, str], DeliveryStatus]:
    names = {s.id: s.subscriber.name for s in pipeline.store.subscribers()}
    with pipeline.store.engine.connect() as conn:
        return {
            (names[r.subscriber_id], r.channel): DeliveryStatus(r.status)
            for r in conn.execute(sa.select(deliveries))
        }


def test_ledger_rows_are_never_changed_once_terminal(setup) -> None:
    pipeline = setup()
    report = pipeline.run()
    assert report.edition is not None
    ledger = Ledger(pipeline.store)
    ada = next(s for s in pipeline.store.subscribers() if s.subscriber.name == "ada")
    ledger.record(
        report.edition, [(ada.id, "email", DeliveryStatus.FAILED_PERMANENT, "late")], now=utcnow()
    )
    assert _statuses(pipeline)[("ada", "email")] == DeliveryStatus.SENT


def test_worker_processes_deliver_every_subscriber_exactly_once(setup, tmp_path: Path) -> None:
    from digest.models import Profile, Subscriber

    setup()
    config = (
        (tmp_path / "config.toml")
        .read_text()
        .replace('secret_key = "s"', 'secret_key = "s"\nworkers = 2')
    )
    (tmp_path / "config.toml").write_text(config)
    pipeline = build_pipeline(tmp_path / "config.toml")
    assert pipeline.workers == 2
    many = [
        Subscriber(
            name=f"s{i:04d}", email=f"s{i}@example.org", profile=Profile(keywords=("robot",))
        )
        for i in range(600)
    ]
    pipeline.store.save_subscribers(many, origin="import", now=utcnow())
    report = pipeline.run()
    assert report.delivered == 603 and not report.failed and not report.problems
    statuses = _statuses(pipeline)
    assert len(statuses) == 600 * 2 + 5
    assert set(statuses.values()) == {DeliveryStatus.SENT}
    assert len(list((tmp_path / "out").glob("s*/*/digest.eml"))) == 600
    assert pipeline.run().delivered == 0


def test_a_reset_watermark_still_never_repeats_a_paper(setup) -> None:
    pipeline = setup()
    assert pipeline.run().delivered == 3
    with pipeline.store.begin() as conn:
        conn.execute(sa.text("UPDATE subscribers SET watermark = 0"))
    again = pipeline.run()
    assert again.delivered == 0 and set(again.skipped) == {"ada", "grace", "alan"}


def test_failures_in_a_row_pause_the_edition_and_the_next_run_resumes_it(
    setup, tmp_path: Path
) -> None:
    FlakyDeliverer.parcels = []
    config = tmp_path / "config.toml"
    paused_run = setup(deliverer="flaky", deliverer_options="defer_all = true")
    config.write_text(
        config.read_text().replace('secret_key = "s"', 'secret_key = "s"\npause_after = 2')
    )
    paused_run = build_pipeline(config)
    report = paused_run.run()
    assert report.paused and report.delivered == 0
    assert report.deferred == {  # two failures in a row, then the pause
        "ada (email)": "421 4.7.0 Try again later",
        "grace (email)": "421 4.7.0 Try again later",
        "alan (email)": "edition paused",
        "ada (feed)": "edition paused",
        "grace (feed)": "edition paused",
    }
    assert any("paused after 2 failed deliveries in a row" in p.message for p in report.problems)
    statuses = _statuses(paused_run)
    assert set(statuses.values()) == {DeliveryStatus.CLAIMED}  # nothing lost, nothing terminal
    with paused_run.store.engine.connect() as conn:
        assert {r.status for r in conn.execute(sa.select(editions.c.status))} == {"paused"}

    config.write_text(config.read_text().replace("defer_all = true", ""))
    resumed = build_pipeline(config).run()
    assert resumed.resumed == 3 and resumed.delivered == 3 and not resumed.paused
    assert set(_statuses(paused_run).values()) == {DeliveryStatus.SENT}
    with paused_run.store.engine.connect() as conn:
        assert {r.status for r in conn.execute(sa.select(editions.c.status))} == {"complete"}
    ids = {(p.selection.subscriber.name, p.channel): p.message_id for p in FlakyDeliverer.parcels}
    assert len(ids) == 5


def test_liked_papers_outside_the_candidates_reach_rankers_as_references(
    setup, tmp_path: Path
) -> None:
    from digest import Ranker
    from digest.batch import Batch

    seen: dict[str, object] = {}

    class Peek(Ranker):
        """Remembers what a ranker sees of a profile's liked papers."""

        name = "peek"

        def score(self, profile, batch: Batch):
            seen.update({ref: batch.reference(ref) for ref in profile.liked})
            return batch.zeros()

    class PeekPlugin:
        @hookimpl
        def register_rankers(self):
            return [Peek]

    pipeline = setup()
    pipeline.run()  # stores the robot papers; they are no longer candidates afterwards
    config = tmp_path / "config.toml"
    config.write_text(
        config.read_text()
        .replace(
            'keywords = ["robot"]', 'keywords = ["robot"]\nliked = ["2411.00001v1", "9999.99999"]'
        )
        .replace("rankers = { keywords = 1.0", "rankers = { peek = 1.0, keywords = 1.0")
        + '\n[rankers.peek]\ncomponent = "peek"\n'
    )
    write_papers(tmp_path / "papers.jsonl", robots(1, 5))
    build_pipeline(config, PeekPlugin()).run()
    assert seen["2411.00001v1"].title == "A robot paper number 1"  # type: ignore[union-attr]
    assert seen["9999.99999"] is None


def test_due_only_follows_each_subscribers_schedule_in_their_timezone(
    setup, tmp_path: Path
) -> None:
    import datetime as dt

    from digest.pipeline import RunOptions

    config = tmp_path / "config.toml"
    setup()
    config.write_text(
        config.read_text()
        .replace(
            'keywords = ["robot"]',
            'keywords = ["robot"]\nschedule = "0 7 * * *"\ntimezone = "Europe/Berlin"',
        )
        .replace(
            'keywords = ["language model"]',
            'keywords = ["language model"]\nschedule = "0 7 * * 1"\ntimezone = "America/New_York"',
        )
    )
    pipeline = build_pipeline(config)
    monday = dt.datetime(2026, 11, 23, 5, 0, tzinfo=dt.UTC)  # 06:00 Berlin, 00:00 New York
    first = pipeline.run(RunOptions(now=monday, due_only=True))
    assert first.delivered == 3  # nobody has had a digest yet: everyone is due

    write_papers(tmp_path / "papers.jsonl", robots(1, 5) + robots(20, 2, "language model"))
    early = pipeline.run(RunOptions(now=monday + dt.timedelta(minutes=30), due_only=True))
    assert early.skipped["ada"] == "not due yet" and early.delivered == 0
    later = pipeline.run(RunOptions(now=monday + dt.timedelta(hours=2), due_only=True))
    assert later.delivered == 1 and "ada" not in later.skipped  # 07:00 Berlin has passed
    assert later.skipped["grace"] == "not due yet"  # her Monday 07:00 New York is at 12:00 UTC
    noon = pipeline.run(RunOptions(now=monday + dt.timedelta(hours=8), due_only=True))
    assert noon.delivered == 1, noon.skipped
    assert noon.skipped["ada"] == "not due yet"
