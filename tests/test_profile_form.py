"""The profile form (sign-up and preferences) and the sign-up records in the store."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from digest.application import Application
from digest.models import Profile, Subscriber
from digest.store import Store, utcnow
from digest.web.profile_form import (
    ProfileForm,
    check,
    schedule_cron,
    schedule_parts,
    schedule_words,
)

GOOD = {
    "email": "ada@example.org",
    "keywords": "robot, grasping",
    "categories": ["cs.RO"],
    "frequency": "weekly",
    "day": "tue",
    "hour": "8",
    "timezone": "Europe/Berlin",
    "max_items": "5",
    "channels": ["email", "feed"],
}


def test_a_good_form_is_a_subscriber_with_a_schedule_in_words() -> None:
    checked = check(GOOD, name="ada-1")
    assert checked.errors == {}
    sub = checked.subscriber
    assert sub is not None
    assert sub.profile.keywords == ("robot", "grasping") and sub.profile.categories == ("cs.RO",)
    assert sub.schedule == "0 8 * * 2" and sub.timezone == "Europe/Berlin"
    assert schedule_words(sub.schedule, sub.timezone) == "At 08:00, only on Tuesday (Europe/Berlin)"
    # and the form shows it again as it was typed
    again = ProfileForm.of(sub)
    assert (again.frequency, again.day, again.hour) == ("weekly", "tue", 8)


@pytest.mark.parametrize(
    ("frequency", "day", "cron"),
    [
        ("daily", "mon", "0 6 * * *"),
        ("weekdays", "mon", "0 6 * * 1-5"),
        ("weekly", "sun", "0 6 * * 0"),
    ],
)
def test_schedules_round_trip(frequency: str, day: str, cron: str) -> None:
    assert schedule_cron(frequency, day, 6) == cron
    assert schedule_parts(cron) == (frequency, day, 6)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("email", "ada@example.org\r\nBcc: all@example.org", "must be one line"),
        ("email", "not-an-address", "email address"),
        ("keywords", "x" * 10_000, "at most 1000 characters"),
        ("interests", "y" * 10_000, "at most 2000 characters"),
        ("timezone", "Mars/Olympus", "unknown timezone"),
        ("hour", "25", "an hour from 0 to 23"),
        ("max_items", "1000", "one of"),
        ("liked", "2406.01234\nfavourite paper", "line 2"),
        ("categories", ["cs.RO", "<script>"], "unknown arXiv category"),
    ],
)
def test_bad_fields_are_named_and_nothing_is_made(
    field: str, value: str | list[str], message: str
) -> None:
    checked = check({**GOOD, field: value}, name="ada-1")
    assert checked.subscriber is None
    assert message in checked.errors[field if field != "interests" else "interests"]


def test_an_idn_address_is_accepted() -> None:
    checked = check({**GOOD, "email": "forskare@exempel.bücher.de"}, name="f-1")
    assert checked.subscriber is not None and checked.subscriber.email is not None
    assert checked.subscriber.email.endswith("@exempel.bücher.de")


def test_a_profile_that_says_nothing_is_refused() -> None:
    checked = check({"email": "ada@example.org", "channels": ["email"]}, name="ada-1")
    assert "interests" in checked.errors


def test_known_categories_are_checked_against_the_taxonomy() -> None:
    checked = check(
        {**GOOD, "categories": ["cs.XX"]}, name="a", known_categories=frozenset({"cs.RO"})
    )
    assert "cs.XX" in checked.errors["categories"]


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store.open(f"sqlite:///{tmp_path / 'store.sqlite3'}")


def test_pending_sign_ups_get_nothing_and_expire(store: Store) -> None:
    now = utcnow()
    sid = store.add_pending(
        Subscriber(name="neu-1", email="Neu@Example.org", profile=Profile(keywords=("robot",))),
        now=now - dt.timedelta(days=8),
    )
    assert store.subscriber_id_by_email("neu@example.ORG") == sid  # one mailbox, any case
    assert [s.subscriber.name for s in store.subscribers(include_unsubscribed=False)] == []
    assert store.unsubscribed_ids([sid]) == {sid}  # never delivered to (I4 reads this)
    assert store.purge_pending(before=now - dt.timedelta(days=7)) == 1
    gone = store.subscriber(sid)  # a tombstone: the id is never handed to another sign-up
    assert gone is not None and gone.status == "deleted" and gone.subscriber.email is None
    assert store.subscriber_id_by_email("neu@example.org") is None
    again = store.add_pending(Subscriber(name="neu-1", email="neu@example.org"), now=now)
    assert again != sid


def test_confirming_activates_and_counts(store: Store) -> None:
    sid = store.add_pending(Subscriber(name="neu-1", email="neu@example.org"), now=utcnow())
    assert store.status_counts()["pending"] == 1
    assert store.activate(sid, now=utcnow()) is True
    assert store.activate(sid, now=utcnow()) is False  # once
    assert [s.id for s in store.subscribers(include_unsubscribed=False)] == [sid]
    store.unsubscribe(sid, now=utcnow())
    assert store.status_counts() == {"pending": 0, "active": 0, "unsubscribed": 1, "deleted": 0}
    assert store.activate(sid, now=utcnow()) is True  # re-subscribing after a fresh confirmation


def test_the_sign_up_log_keeps_domains_not_addresses(store: Store) -> None:
    store.log_signup("requested", now=utcnow(), subscriber="neu-1", address="neu@Example.org")
    (event,) = store.signup_events()
    assert (event.event, event.domain) == ("requested", "example.org")
    assert "neu@" not in repr(event)


def test_deleting_a_subscriber_keeps_only_anonymous_delivery_counts(
    tmp_path: Path, write_config: object
) -> None:
    assert callable(write_config)
    config = write_config()
    with Application.from_path(config) as app:
        report = app.pipeline.run()
        assert report.delivered == 2
        ada = next(s for s in app.store.subscribers() if s.subscriber.name == "ada")
        app.store.add_feedback(ada.id, "arxiv:2401.00001", "more", now=utcnow())
        before = app.pipeline.ledger.recent_editions(limit=1)
        app.store.forget_subscriber(ada.id)
        gone = app.store.subscriber(ada.id)
        assert gone is not None and gone.status == "deleted"
        assert gone.subscriber.name == f"deleted-{ada.id}" and gone.subscriber.email is None
        assert app.store.feedback([ada.id]).get(ada.id, []) == []
        assert app.pipeline.ledger.selected(before[0][0].id, [ada.id]).get(ada.id, []) == []
        # the delivery rows stay, anonymous: the edition's counts are unchanged
        assert app.pipeline.ledger.recent_editions(limit=1)[0][2] == before[0][2]
