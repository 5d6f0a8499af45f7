"""A subscriber's earlier editions (what their feed shows besides today's picks) read from the
ledger: the same answer on SQLite and on PostgreSQL, whose query finds each subscriber's last
editions first."""

from __future__ import annotations

import datetime as dt

from digest.ledger import Claim, Ledger
from digest.models import Reason, Subscriber
from digest.store import Store
from digest.testing import make_paper

KEYWORD = Reason(kind="keywords", text="mentions your keyword", weight=0.5)


def _setup(url: str) -> tuple[Store, Ledger, list[int], list[int]]:
    store = Store.open(url)
    now = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
    store.upsert_papers(
        [make_paper(f"2412.{i:05d}", title=f"Paper number {i}") for i in range(1, 141)],
        source="test",
        now=now,
    )
    seqs, _ = store.papers_since(after_seq=0, first_seen_after=now - dt.timedelta(days=1))
    store.save_subscribers(
        [Subscriber(name=n, email=f"{n}@example.org") for n in ("ada", "grace", "alan")],
        origin="import",
        now=now,
    )
    ids = sorted(s.id for s in store.subscribers())
    return store, Ledger(store), ids, list(seqs)


def test_history_is_each_subscribers_last_editions_newest_first(database_url: str) -> None:
    store, ledger, (ada, grace, alan), seqs = _setup(database_url)
    start = dt.datetime(2026, 12, 1, 7, tzinfo=dt.UTC)
    editions = []
    for day in range(14):
        # Two editions in the same second on day 5: creation time, then id, orders them.
        when = start + dt.timedelta(days=day if day != 6 else 5, microseconds=day)
        edition = ledger.open_edition(when)
        editions.append(edition)
        claims = [
            Claim(
                subscriber_id=sid,
                watermark=day + 1,
                items=[
                    (
                        seqs[day * 10 + rank],
                        1.0 - rank / 10,
                        [KEYWORD],
                    )
                    for rank in range(3)
                ],
                channels=[("feed", f"<{edition.id}.{sid}@x>")],
            )
            for sid in ((ada, grace) if day % 2 == 0 else (ada,))
        ]
        ledger.claim(edition, claims, now=when)

    last = editions[-1]
    got = ledger.history([ada, grace, alan], before=last.id, editions_back=10)
    expected_ada = sorted(editions[:-1], key=lambda e: (e.created, e.id), reverse=True)[:10]
    assert [e.id for e, _ in got[ada]] == [e.id for e in expected_ada]
    # grace was in the even days' editions only
    expected_grace = [e for i, e in enumerate(editions[:-1]) if i % 2 == 0]
    expected_grace = sorted(expected_grace, key=lambda e: (e.created, e.id), reverse=True)[:10]
    assert [e.id for e, _ in got[grace]] == [e.id for e in expected_grace]
    assert alan not in got
    # each edition's picks in rank order, with what was stored
    edition, items = got[ada][0]
    day = editions.index(next(e for e in editions if e.id == edition.id))
    assert [i.paper_seq for i in items] == seqs[day * 10 : day * 10 + 3]
    assert items[0].reasons == (KEYWORD,)
    assert edition.created == editions[day].created

    everything = ledger.history([ada], before=None, editions_back=3)
    newest = sorted(editions, key=lambda e: (e.created, e.id), reverse=True)[:3]
    assert [e.id for e, _ in everything[ada]] == [e.id for e in newest]
    assert ledger.history([ada], before=None, editions_back=0) == {}
    store.close()
