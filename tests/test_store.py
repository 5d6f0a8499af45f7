"""The store on SQLite and PostgreSQL: migrations, merging sightings, subscribers, state."""

from __future__ import annotations

import ast
import dataclasses
import datetime as dt
from dataclasses import replace
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

import digest.store
from digest.config import SubscriberSettings
from digest.errors import StoreError
from digest.models import Profile, Subscriber
from digest.store import FROM_FEEDBACK, SUBSCRIBER_FIELDS, Store, metadata, utcnow
from digest.testing import make_paper

NOW = dt.datetime(2026, 11, 22, 12, tzinfo=dt.UTC)


@pytest.fixture
def store(database_url: str) -> Store:
    return Store.open(database_url)


def test_migrations_build_exactly_the_schema_the_code_uses(store: Store) -> None:
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []
    store.migrate()  # idempotent


def test_sightings_of_one_work_merge_into_one_paper(store: Store) -> None:
    first = store.upsert_papers(
        [make_paper("2406.01234v1", title="Old title", sources=("arxiv",))],
        source="arxiv",
        now=NOW,
    )
    assert (first.new, first.updated) == (1, 0)
    again = store.upsert_papers(
        [make_paper("2406.01234v1", title="Old title", sources=("arxiv",))],
        source="arxiv",
        now=NOW,
    )
    assert (again.new, again.updated, again.unchanged) == (0, 0, 1)
    merged = store.upsert_papers(
        [
            make_paper(
                "https://arxiv.org/abs/2406.01234v2",
                title="New title",
                sources=("hf",),
                signals={"hf.upvotes": 40},
            )
        ],
        source="hf",
        now=NOW,
    )
    assert (merged.new, merged.updated) == (0, 1)
    assert store.paper_count() == 1
    (paper,) = store.papers_by_seq([1]).values()
    assert paper.title == "New title" and paper.version == 2
    assert paper.sources == ("arxiv", "hf") and paper.signals == {"hf.upvotes": 40}


def test_papers_since_follows_first_seen_order(store: Store) -> None:
    store.upsert_papers([make_paper(f"2406.0000{i}") for i in range(1, 4)], source="s", now=NOW)
    later = NOW + dt.timedelta(hours=1)
    store.upsert_papers([make_paper("2406.00009")], source="s", now=later)
    seqs, papers = store.papers_since(after_seq=0, first_seen_after=NOW - dt.timedelta(days=1))
    assert [str(p.id) for p in papers][-1] == "arxiv:2406.00009" and seqs == sorted(seqs)
    seqs, papers = store.papers_since(after_seq=seqs[2], first_seen_after=NOW - dt.timedelta(1))
    assert [str(p.id) for p in papers] == ["arxiv:2406.00009"]


def test_library_papers_are_references_until_a_source_collects_them(store: Store) -> None:
    """Papers from a subscriber's library are stored for the rankers but are not news."""
    from digest.store import LIBRARY_SOURCE

    store.upsert_papers(
        [make_paper("2301.00001"), make_paper("2406.00001")], source=LIBRARY_SOURCE, now=NOW
    )
    store.upsert_papers([make_paper("2406.00002")], source="arxiv", now=NOW)
    since = NOW - dt.timedelta(days=1)
    _, papers = store.papers_since(after_seq=0, first_seen_after=since)
    assert [str(p.id) for p in papers] == ["arxiv:2406.00002"]
    assert set(store.papers_by_id(["arxiv:2301.00001"])) == {"arxiv:2301.00001"}
    # announced after all: now it is a candidate like any other
    store.upsert_papers([make_paper("2406.00001")], source="arxiv", now=NOW)
    _, papers = store.papers_since(after_seq=0, first_seen_after=since)
    assert [str(p.id) for p in papers] == ["arxiv:2406.00001", "arxiv:2406.00002"]


def test_subscribers_round_trip_and_unsubscribe_sticks(store: Store) -> None:
    sub = Subscriber(
        name="ada",
        email="ada@example.org",
        profile=Profile(keywords=("robot",), liked=("2406.01234",)),
        timezone="Europe/London",
        max_items=4,
    )
    store.save_subscribers([sub], origin="config", now=NOW)
    (stored,) = store.subscribers()
    assert stored.subscriber == sub and not stored.unsubscribed
    assert store.unsubscribe(stored.id, now=NOW) is True
    assert store.unsubscribe(stored.id, now=NOW) is False  # idempotent
    store.save_subscribers([sub], origin="config", now=NOW)  # a config re-sync keeps it
    assert store.subscribers()[0].unsubscribed
    assert store.unsubscribed_ids([stored.id]) == {stored.id}


def test_the_subscriber_records_are_the_one_list_of_subscriber_fields() -> None:
    """A field of Subscriber or Profile is a setting (config key, JSON Lines key, stored) with
    the record's default, or comes from feedback: adding one without the other fails here."""
    record = [f.name for f in dataclasses.fields(Subscriber) if f.name not in ("name", "profile")]
    record += [f.name for f in dataclasses.fields(Profile)]
    assert set(SubscriberSettings.model_fields) == set(record) - FROM_FEEDBACK
    assert set(SUBSCRIBER_FIELDS) == set(SubscriberSettings.model_fields)
    assert SubscriberSettings().to_subscriber("ada") == Subscriber(name="ada")


#: a value other than the default for every setting
EVERY_SETTING = {
    "email": "ada@example.org",
    "interests": "analytical engines",
    "keywords": ["engine"],
    "exclude": ["steam"],
    "categories": ["cs.AR"],
    "authors": ["Charles Babbage"],
    "liked": ["arxiv:2406.01234"],
    "disliked": ["arxiv:2406.04321"],
    "schedule": "30 6 * * 1-5",
    "timezone": "Europe/London",
    "max_items": 3,
    "channels": ["feed"],
    "active": False,
}


def test_every_setting_survives_the_store(store: Store) -> None:
    assert set(EVERY_SETTING) == set(SUBSCRIBER_FIELDS), "give the new setting a value here"
    settings = SubscriberSettings.model_validate(EVERY_SETTING)
    defaults = SubscriberSettings()
    assert all(getattr(settings, key) != getattr(defaults, key) for key in EVERY_SETTING)
    sub = settings.to_subscriber("ada")
    store.save_subscribers([sub], origin="import", now=NOW)
    (stored,) = store.subscribers()
    assert stored.subscriber == sub
    muted = replace(sub, profile=replace(sub.profile, muted_authors=("Someone",)))
    store.save_subscribers([muted], origin="import", now=NOW)  # feedback is not a setting
    assert store.subscribers()[0].subscriber == sub


def test_the_package_exports_tables_and_public_helpers_only() -> None:
    """``papers`` and ``subscribers`` are tables, though modules of the package share the names;
    no module outside the store imports a private name from it."""
    assert isinstance(digest.store.papers, sa.Table)
    assert isinstance(digest.store.subscribers, sa.Table)
    root = Path(digest.store.__file__).parent.parent
    for path in root.rglob("*.py"):
        if path.parent.name == "store":
            continue
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("digest.store"):
                private = [a.name for a in node.names if a.name.startswith("_")]
                assert not private, f"{path} imports {private} from {node.module}"


def test_source_state_is_saved_only_with_a_successful_run(store: Store) -> None:
    store.record_source_run(
        "arxiv", now=NOW, collected=10, new=10, error=None, state={"etag": '"abc"'}
    )
    store.record_source_run("arxiv", now=utcnow(), collected=0, new=0, error="HTTP 503")
    assert store.source_state("arxiv") == {"etag": '"abc"'}
    (health,) = store.source_health()
    assert health.last_error == "HTTP 503" and health.last_collected == 10
    assert health.failing and health.recent == (10,)


def test_a_bad_database_url_is_one_line() -> None:
    with pytest.raises(StoreError, match="database"):
        Store.open("postgresql+psycopg://nobody@127.0.0.1:1/none")


def test_tables_exist_after_open(store: Store) -> None:
    names = set(sa.inspect(store.engine).get_table_names())
    assert {"papers", "subscribers", "editions", "deliveries", "selections"} <= names


def test_paper_features_round_trip_and_replace(store: Store) -> None:
    store.save_features("semantic.v1", {"arxiv:2406.00001": b"\x00\x01", "arxiv:2406.00002": b"ab"})
    store.save_features("semantic.v1", {"arxiv:2406.00001": b"new"})
    assert store.features("semantic.v1", ["arxiv:2406.00001", "arxiv:2406.00002", "x"]) == {
        "arxiv:2406.00001": b"new",
        "arxiv:2406.00002": b"ab",
    }
    assert store.features("other", ["arxiv:2406.00001"]) == {}


def test_feedback_is_recorded_once_and_more_and_less_replace_each_other(store: Store) -> None:
    from digest.pipeline import with_feedback

    store.save_subscribers(
        [Subscriber(name="ada", profile=Profile(liked=("2406.00001",)))], origin="config", now=NOW
    )
    (ada,) = store.subscribers()
    assert store.add_feedback(ada.id, "arxiv:2406.01234", "more", now=NOW) is True
    assert store.add_feedback(ada.id, "arxiv:2406.01234", "more", now=NOW) is False  # again
    assert store.add_feedback(ada.id, "arxiv:2406.01234", "less", now=NOW) is True  # changed mind
    assert store.add_feedback(ada.id, "arxiv:2406.05555", "mute", detail="Eve", now=NOW)
    assert not store.add_feedback(ada.id, "arxiv:2406.06666", "mute", detail="Eve", now=NOW)
    with pytest.raises(ValueError, match="unknown feedback kind"):
        store.add_feedback(ada.id, "arxiv:2406.01234", "love", now=NOW)
    items = store.feedback([ada.id])[ada.id]
    assert [(i.kind, i.paper_id, i.detail) for i in items] == [
        ("less", "arxiv:2406.01234", ""),
        ("mute", "arxiv:2406.05555", "Eve"),
    ]
    (folded,) = with_feedback(store, store.subscribers())
    profile = folded.subscriber.profile
    assert profile.liked == ("2406.00001",)
    assert profile.disliked == ("arxiv:2406.01234",) and profile.muted_authors == ("Eve",)
    # someone else's feedback id cannot be removed through ada
    assert store.remove_feedback(ada.id + 1, items[0].id) is False
    assert store.remove_feedback(ada.id, items[0].id) is True
    assert [i.kind for i in store.feedback([ada.id])[ada.id]] == ["mute"]


def test_tokens_are_per_purpose_and_survive_one_rotation() -> None:
    from digest.tokens import Tokens

    old, new = Tokens("k1"), Tokens("k2", old_secrets=["k1"])
    token = old.make("unsubscribe", 7)
    assert new.read("unsubscribe", token) == 7  # signed with the old key, still accepted
    assert new.make("unsubscribe", 7) != token  # new links use the new key
    assert Tokens("k2").read("unsubscribe", token) is None  # old key dropped: rejected
    assert old.read("read", token) is None  # another purpose
    assert old.read("unsubscribe", token[:-1] + ("A" if token[-1] != "A" else "B")) is None
    assert old.read("unsubscribe", "\udcff%00../..") is None
