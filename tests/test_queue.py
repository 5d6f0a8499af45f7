"""The distributed fan-out (``[queue] backend = "procrastinate"``) with real processes: three
``digest worker`` processes against the local PostgreSQL and an aiosmtpd sink, one of them
SIGKILLed mid-chunk; concurrent ``digest run``s; an unsubscribe while a chunk waits; pause."""

from __future__ import annotations

import email
import email.policy
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from conftest import POSTGRES_URL, _postgres_schema_url
from digest.store import utcnow
from smtpsink import SmtpSink

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

CONFIG = """
[digest]
state_dir = "state"
database = "{database}"
sender = "Digest <digest@example.org>"
base_url = "https://digest.example.org"
secret_key = "queue-test"

[queue]
backend = "procrastinate"
chunk_size = {chunk_size}
heartbeat_seconds = 0.5
stalled_after_seconds = 3
retry_wait_seconds = 0

[selection]
rankers = {{ recency = 1.0 }}

[sources.sample]
component = "sample"

[rankers.recency]
component = "recency"

[renderers.email]
component = "email"

[deliverers.smtp]
component = "smtp"
host = "127.0.0.1"
port = {port}
security = "none"
{rate}
"""


@pytest.fixture
def database() -> Iterator[str]:
    if not POSTGRES_URL:
        pytest.skip("the queue needs PostgreSQL: set DIGEST_TEST_POSTGRES_URL")
    yield from _postgres_schema_url(POSTGRES_URL)


def _digest(config: Path, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "digest", *args, "--config", str(config)],
        cwd=config.parent,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def _setup(
    tmp_path: Path, database: str, port: int, *, people: int, chunk_size: int, rate: float
) -> Path:
    config = tmp_path / "config.toml"
    config.write_text(
        CONFIG.format(
            database=database,
            port=port,
            chunk_size=chunk_size,
            rate=f"rate = {rate}" if rate else "",  # messages/s across every worker
        )
    )
    roster = tmp_path / "people.jsonl"
    roster.write_text(
        "".join(
            json.dumps(
                {"name": f"p{i:03d}", "email": f"p{i:03d}@example.org", "channels": ["email"]}
            )
            + "\n"
            for i in range(people)
        )
    )
    imported = _digest(config, "subscribers", "import", str(roster))
    assert imported.wait(60) == 0, imported.communicate()[1].decode()
    migrated = _digest(config, "queue", "migrate")
    out, err = migrated.communicate(timeout=60)
    assert migrated.returncode == 0, err.decode()
    assert b"Queue schema created." in out
    return config


def _messages(sink: SmtpSink) -> dict[str, list[str]]:
    by_rcpt: dict[str, list[str]] = defaultdict(list)
    for message in sink.received:
        parsed = email.message_from_bytes(message.data, policy=email.policy.default)
        (rcpt,) = message.rcpt_tos
        by_rcpt[rcpt].append(str(parsed["Message-ID"]))
    return by_rcpt


def _ledger(database: str) -> tuple[dict[str, int], list[str]]:
    engine = sa.create_engine(database)
    with engine.connect() as conn:
        statuses = dict(
            conn.execute(sa.text("SELECT status, count(*) FROM deliveries GROUP BY status")).all()
        )
        editions = conn.execute(sa.text("SELECT status FROM editions")).scalars().all()
    engine.dispose()
    return statuses, list(editions)


def _stop(*workers: subprocess.Popen[bytes]) -> None:
    for w in workers:
        if w.poll() is None:
            w.send_signal(signal.SIGTERM)
    for w in workers:
        w.wait(60)


def test_three_workers_one_killed_mid_chunk_every_subscriber_gets_one_digest(
    tmp_path: Path, database: str
) -> None:
    people = 120
    with SmtpSink() as sink:
        config = _setup(tmp_path, database, sink.port, people=people, chunk_size=10, rate=40)
        workers = [_digest(config, "worker") for _ in range(3)]
        try:
            run = _digest(config, "run")
            # Kill one worker while it is in the middle of a chunk it has started sending.
            engine = sa.create_engine(database)
            victim_pid = None
            deadline = time.monotonic() + 60
            while victim_pid is None and time.monotonic() < deadline:
                with engine.connect() as conn:
                    running = (
                        conn.execute(
                            sa.text(
                                "SELECT c.worker FROM edition_chunks c WHERE c.status = 'running' "
                                "AND EXISTS (SELECT 1 FROM deliveries d WHERE d.edition_id = "
                                "c.edition_id AND d.subscriber_id BETWEEN c.first_id AND c.last_id "
                                "AND d.status = 'sent') AND EXISTS (SELECT 1 FROM deliveries d "
                                "WHERE d.edition_id = c.edition_id AND d.subscriber_id BETWEEN "
                                "c.first_id AND c.last_id AND d.status = 'claimed')"
                            )
                        )
                        .scalars()
                        .all()
                    )
                pids = {int(w.rsplit(":", 1)[1]) for w in running}
                victim_pid = next((w.pid for w in workers if w.pid in pids), None)
                time.sleep(0.02)
            engine.dispose()
            assert victim_pid is not None, "no worker was caught mid-chunk"
            os.kill(victim_pid, signal.SIGKILL)
            victim = next(w for w in workers if w.pid == victim_pid)
            victim.wait(10)
            workers.remove(victim)
            workers.append(_digest(config, "worker"))  # restarted
            out, err = run.communicate(timeout=180)
            assert run.returncode == 0, err.decode()
        finally:
            _stop(*workers)
        by_rcpt = _messages(sink)

    assert len(by_rcpt) == people  # everyone got their digest
    # Every copy of a digest carries the same Message-ID: a resend, never a different digest.
    assert all(len(set(ids)) == 1 for ids in by_rcpt.values())
    resent = sum(len(ids) - 1 for ids in by_rcpt.values())
    assert resent <= 2, resent  # only what was in flight when the worker died
    statuses, editions = _ledger(database)
    assert statuses == {"sent": people}  # every row terminal, one per subscriber (I1)
    assert editions == ["complete"]  # the edition completed (I2)
    summary = out.decode()
    assert f"Delivered {people} digests in edition" in summary
    assert "Done in" in summary


def test_two_runs_at_the_same_moment_make_one_edition(tmp_path: Path, database: str) -> None:
    people = 60
    with SmtpSink() as sink:
        config = _setup(tmp_path, database, sink.port, people=people, chunk_size=16, rate=0)
        workers = [_digest(config, "worker") for _ in range(2)]
        try:
            runs = [_digest(config, "run") for _ in range(2)]
            outputs = [r.communicate(timeout=180) for r in runs]
        finally:
            _stop(*workers)
        by_rcpt = _messages(sink)
    assert all(r.returncode == 0 for r in runs), [e.decode() for _, e in outputs]
    assert len(by_rcpt) == people
    assert all(len(ids) == 1 for ids in by_rcpt.values())  # nobody selected twice
    statuses, editions = _ledger(database)
    assert statuses == {"sent": people}
    assert editions == ["complete"]  # one edition
    texts = sorted(o.decode() for o, _ in outputs)
    assert "Delivered 0 digests" in texts[0] and f"Delivered {people} digests" in texts[1]


def test_serve_firing_while_a_cron_run_runs_selects_nobody_twice(
    tmp_path: Path, database: str
) -> None:
    """``digest serve``'s scheduler fires its slot job (here in this process, as serve runs
    it) while a cron ``digest run`` (a subprocess) is delivering the same people."""
    from digest import scheduler

    people = 60
    slots: list[scheduler.SlotRun] = []
    with SmtpSink() as sink:
        config = _setup(tmp_path, database, sink.port, people=people, chunk_size=8, rate=60)
        workers = [_digest(config, "worker") for _ in range(2)]
        scheduler.RUN_LISTENERS.append(slots.append)
        try:
            cron = _digest(config, "run")
            while sink.count == 0 and cron.poll() is None:
                time.sleep(0.01)
            fired = threading.Thread(
                target=scheduler.run_slot, args=(str(config), "0 7 * * *", "UTC")
            )
            fired.start()
            fired.join(180)
            _, err = cron.communicate(timeout=180)
        finally:
            scheduler.RUN_LISTENERS.remove(slots.append)
            _stop(*workers)
        by_rcpt = _messages(sink)
    assert cron.returncode == 0, err.decode()
    assert len(by_rcpt) == people and all(len(ids) == 1 for ids in by_rcpt.values())
    (slot,) = slots
    assert slot.error is None and slot.report is not None
    assert slot.report.delivered == 0 and slot.report.edition is None
    _, editions = _ledger(database)
    assert editions == ["complete"]


def test_an_unsubscribe_while_the_chunk_is_queued_is_never_mailed(
    tmp_path: Path, database: str
) -> None:
    people = 40
    with SmtpSink() as sink:
        config = _setup(tmp_path, database, sink.port, people=people, chunk_size=10, rate=0)
        run = _digest(config, "run", "--no-wait")
        out, err = run.communicate(timeout=120)
        assert run.returncode == 0, err.decode()
        assert b"Queued 40 subscribers of edition" in out
        # Queued, nobody works on it yet: p007 unsubscribes (the web app's one click).
        from digest.application import Application

        with Application.from_path(config) as app:
            (p007,) = [s for s in app.store.subscribers() if s.subscriber.name == "p007"]
            assert app.store.unsubscribe(p007.id, now=utcnow())
        status = _digest(config, "queue", "status")
        listed, _ = status.communicate(timeout=60)
        assert b"4 chunks \xe2\x80\x94 4 queued, 0 running, 0 stalled, 0 done, 0 failed" in listed
        worker = _digest(config, "worker")
        try:
            sink.wait_for(people - 1, timeout=60)
            time.sleep(0.5)
        finally:
            _stop(worker)
        by_rcpt = _messages(sink)
    assert "p007@example.org" not in by_rcpt
    assert len(by_rcpt) == people - 1
    statuses, editions = _ledger(database)
    assert statuses == {"sent": people - 1}
    assert editions == ["complete"]  # closed by the last chunk, nobody waiting on it


def test_pause_stops_every_worker_and_resume_finishes_the_edition(
    tmp_path: Path, database: str
) -> None:
    people = 60
    with SmtpSink() as sink:
        config = _setup(tmp_path, database, sink.port, people=people, chunk_size=5, rate=20)
        run = _digest(config, "run", "--no-wait")
        out, _ = run.communicate(timeout=120)
        edition = out.decode().split("of edition ")[1].split()[0]
        workers = [_digest(config, "worker") for _ in range(2)]
        try:
            sink.wait_for(5, timeout=60)
            paused = _digest(config, "queue", "pause", edition)
            assert paused.wait(60) == 0
            time.sleep(3)  # workers see the pause within 2 s
            stopped_at = sink.count
            time.sleep(1.5)
            assert sink.count == stopped_at < people
            resumed = _digest(config, "queue", "resume", edition)
            said, err = resumed.communicate(timeout=60)
            assert resumed.returncode == 0, err.decode()
            assert b"resumed: 12 chunks queued again" in said
            sink.wait_for(people, timeout=60)
            time.sleep(1)
        finally:
            _stop(*workers)
        by_rcpt = _messages(sink)
    assert len(by_rcpt) == people and all(len(set(ids)) == 1 for ids in by_rcpt.values())
    statuses, editions = _ledger(database)
    assert statuses == {"sent": people}
    assert editions == ["complete"]


def test_a_failing_chunk_is_retried_with_backoff_then_listed_with_its_error(
    tmp_path: Path, database: str
) -> None:
    with SmtpSink() as sink:
        config = _setup(tmp_path, database, sink.port, people=20, chunk_size=10, rate=0)
        config.write_text(config.read_text().replace("retry_wait_seconds = 0", "retries = 1"))
        run = _digest(config, "run", "--no-wait")
        out, err = run.communicate(timeout=120)
        assert run.returncode == 0, err.decode()
        edition = out.decode().split("of edition ")[1].split()[0]
        engine = sa.create_engine(database)
        with engine.begin() as conn:  # damaged: say, written by another version
            conn.execute(sa.text("UPDATE edition_work SET payload = :p"), {"p": b"not a pickle"})
        worker = _digest(config, "worker")
        try:
            deadline = time.monotonic() + 60
            failed = 0
            while failed < 2 and time.monotonic() < deadline:
                with engine.connect() as conn:
                    failed = conn.execute(
                        sa.text("SELECT count(*) FROM edition_chunks WHERE status = 'failed'")
                    ).scalar_one()
                time.sleep(0.2)
        finally:
            _stop(worker)
            engine.dispose()
        status = _digest(config, "queue", "status")
        listed, _ = status.communicate(timeout=60)
        assert sink.count == 0
    text = listed.decode()
    assert (
        f"Edition {edition} (open): 2 chunks — 0 queued, 0 running, 0 stalled, 0 done, 2 failed"
        in text
    )
    assert (
        "  Failed subscribers 1–10 after 2 attempts: edition "
        f"{edition}: its stored work cannot be read" in text
    )


def test_the_queue_needs_postgresql_and_says_so(tmp_path: Path, cli: Any) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[digest]\nstate_dir = "state"\n\n[queue]\nbackend = "procrastinate"\n')
    result = cli("run", "--config", str(config))
    assert result.exit_code == 1
    assert "needs a PostgreSQL store" in result.err
    assert "Traceback" not in result.err
    local = tmp_path / "local.toml"
    local.write_text('[digest]\nstate_dir = "state"\n')
    result = cli("worker", "--config", str(local))
    assert result.exit_code == 1
    assert '[queue] backend is "local"' in result.err
