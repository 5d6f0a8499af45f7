"""Bounce intake and the shared send rate, measured.

1. Bounce intake: S subscribers get one edition each (the ``files``-free smtp path is not
   needed: deliveries are recorded directly in the ledger), then an mbox of S hand-written
   DSNs (tests/fixtures/bounces, re-addressed to their real VERP return paths) is read with
   ``digest bounces ingest`` — classify + resolve + record, one transaction per notice::

       python benchmarks/bench_bounces.py --subscribers 2000

2. The shared rate limit: slots reserved per second by one process from the store (the cost
   ``rate`` adds per message), on SQLite and, with ``--postgres URL``, on PostgreSQL.
"""

from __future__ import annotations

import argparse
import datetime as dt
import mailbox
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

from digest.bounces.verp import return_path  # noqa: E402
from digest.models import DeliveryStatus, Edition  # noqa: E402
from digest.store import Store, utcnow  # noqa: E402
from digest.store.rates import SharedRate  # noqa: E402
from digest.store.schema import deliveries, editions, subscribers  # noqa: E402

CONFIG = """
[digest]
state_dir = "state"
secret_key = "bench"
[bounces]
domain = "bounces.example.org"
[sources.sample]
component = "sample"
"""
FIXTURE = ROOT / "tests" / "fixtures" / "bounces" / "postfix_dsn_5.1.1_user_unknown.eml"
VERP = re.compile(rb"bounces\+[0-9a-z-]+\.\d+\.[0-9a-f]{16}@bounces\.example\.org", re.I)


def intake(count: int) -> None:
    work = Path(tempfile.mkdtemp(prefix="bench-bounces-"))
    (work / "config.toml").write_text(CONFIG)
    store = Store.open(f"sqlite:///{work / 'state' / 'digest.sqlite3'}")
    edition = Edition(id="20261207T070000Z-bench1", created=utcnow())
    now = utcnow()
    with store.engine.begin() as conn:
        conn.execute(
            subscribers.insert(),
            [
                {"name": f"s{i}", "data": "{}", "origin": "import", "created_at": now,
                 "email_key": f"s{i}@example.net"}
                for i in range(count)
            ],
        )  # fmt: skip
        ids = [r.id for r in conn.execute(subscribers.select().order_by(subscribers.c.id))]
        conn.execute(editions.insert().values(id=edition.id, created_at=now, status="complete"))
        conn.execute(
            deliveries.insert(),
            [
                {"edition_id": edition.id, "subscriber_id": sid, "channel": "email",
                 "status": DeliveryStatus.SENT.value, "message_id": f"<m{sid}@x>",
                 "updated_at": now}
                for sid in ids
            ],
        )  # fmt: skip
    template = FIXTURE.read_bytes()
    box = mailbox.mbox(work / "bounces.mbox")
    for sid in ids:
        verp = return_path(edition_id=edition.id, subscriber_id=sid, secret="bench",
                           local_part="bounces", domain="bounces.example.org")  # fmt: skip
        body = VERP.sub(verp.encode(), template)
        body = re.sub(rb"(?im)^(message-id:\s*<)", f"\\1b{sid}.".encode(), body, count=1)
        box.add(body)
    box.flush()
    box.close()
    started = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-m", "digest", "bounces", "ingest", str(work / "bounces.mbox"),
         "--config", str(work / "config.toml")],
        capture_output=True, text=True, check=True, cwd=work,
    )  # fmt: skip
    seconds = time.perf_counter() - started
    print(out.stdout.strip())
    print(f"intake: {count} bounces in {seconds:.2f} s = {count / seconds:,.0f} bounces/s "
          "(process start included)")  # fmt: skip


def rate(url: str, label: str, takes: int = 5000) -> None:
    store = Store.open(url)
    limiter = SharedRate(store.engine, f"bench.{time.time()}", 1_000_000.0)  # never waits
    started = time.perf_counter()
    for _ in range(takes):
        limiter.take()
    seconds = time.perf_counter() - started
    trips = takes / limiter.batch
    print(f"shared rate on {label}: {takes / seconds:,.0f} slots/s, "
          f"{seconds / trips * 1000:.2f} ms per reservation of {limiter.batch} slots")  # fmt: skip
    one = SharedRate(store.engine, f"bench1.{time.time()}", 1.0)
    one._clock = lambda: 0.0  # type: ignore[method-assign]
    started = time.perf_counter()
    for _ in range(200):
        one._reserve(0.0)
    per = (time.perf_counter() - started) / 200
    print(f"shared rate on {label}: {per * 1000:.2f} ms per database round trip")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=2000)
    parser.add_argument("--postgres", default=None, help="also measure the rate on this URL")
    args = parser.parse_args()
    intake(args.subscribers)
    with tempfile.TemporaryDirectory() as tmp:
        rate(f"sqlite:///{tmp}/rate.sqlite3", "SQLite")
    if args.postgres:
        rate(args.postgres, "PostgreSQL")
    _ = dt


if __name__ == "__main__":
    main()
