"""One send rate across processes (and, on PostgreSQL, machines): slots come from the store.

Checked on the slots handed out, not on elapsed time (timed tests flake on shared machines):
three separate processes taking slots from one limiter never get two closer than the
interval, and together they get exactly the sequence one process alone would.
"""

from __future__ import annotations

import itertools
import multiprocessing
from pathlib import Path

import pytest

from digest.store import Store
from digest.store.rates import SharedRate

RATE = 50.0  # per second: 20 ms apart


def _take(url: str, count: int, queue: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    try:
        store = Store.open(url)
        limiter = store.rate_limiter("smtp.mail", RATE)
        queue.put([limiter.take() for _ in range(count)])
        store.close()
    except BaseException as error:  # reported to the test instead of a silent hang
        queue.put(f"{type(error).__name__}: {error}")


def test_three_processes_share_one_rate(database_url: str) -> None:
    Store.open(database_url).close()  # migrated once, before the workers start
    context = multiprocessing.get_context("spawn")
    queue: multiprocessing.Queue = context.Queue()  # type: ignore[type-arg]
    workers = [context.Process(target=_take, args=(database_url, 40, queue)) for _ in range(3)]
    for w in workers:
        w.start()
    answers = [queue.get(timeout=60) for _ in workers]
    assert all(isinstance(a, list) for a in answers), answers
    slots = sorted(s for answer in answers for s in answer)
    for w in workers:
        w.join(30)
        assert w.exitcode == 0
    assert len(slots) == 120
    gaps = [b - a for a, b in itertools.pairwise(slots)]
    assert min(gaps) >= 1 / RATE - 1e-6  # never two messages in one slot, anywhere
    # Each process reserves a few slots per round trip; together they fill one sequence.
    assert slots[-1] - slots[0] >= (len(slots) - 1) / RATE - 1e-6


def test_wait_sleeps_until_the_slot_and_unused_slots_go_stale(tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 's.db'}")
    now = [1000.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    limiter = SharedRate(store.engine, "smtp.mail", 10.0, clock=lambda: now[0], sleep=sleep)
    assert limiter.batch == 2
    for _ in range(4):
        limiter.wait()
    assert slept == [pytest.approx(0.1)] * 3  # the first at once, then 10 a second
    # A long pause: the reserved slot is stale (no burst of old slots), a fresh one from now.
    now[0] += 60
    assert limiter.take() >= now[0] - limiter.interval


def test_the_smtp_deliverer_takes_the_stores_limit(tmp_path: Path) -> None:
    from digest.testing import make_runtime
    from digest_smtp.deliverer import SmtpDeliverer

    store = Store.open(f"sqlite:///{tmp_path / 's.db'}")
    runtime = make_runtime(tmp_path)
    from dataclasses import replace

    shared = replace(runtime, rates=store)
    config = SmtpDeliverer.Config(host="127.0.0.1", port=25, security="none", rate=5)
    limiter = SmtpDeliverer(config, instance="mail", runtime=shared)._limiter()
    assert isinstance(limiter, SharedRate) and limiter.name == "smtp.mail"
    alone = SmtpDeliverer(config, instance="mail", runtime=runtime)._limiter()
    assert alone is not None and not isinstance(alone, SharedRate)
