"""SIGKILL a real `digest run` while it delivers by SMTP; every subscriber still gets exactly
one digest, and only messages in flight at a kill are sent again — with the same Message-ID."""

from __future__ import annotations

import email
import email.policy
import json
import random
import signal
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import pytest
import sqlalchemy as sa

from smtpsink import SmtpSink

pytestmark = pytest.mark.slow

SUBSCRIBERS = 200
CONFIG = """
[digest]
state_dir = "state"
sender = "Digest <digest@example.org>"
base_url = "https://digest.example.org"
secret_key = "crash-test"
workers = {workers}

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
rate = 60
"""


def _digest(config: Path, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "digest", *args, "--config", str(config)],
        cwd=config.parent,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


@pytest.mark.parametrize("workers", [1, 2])
def test_sigkill_at_random_points_delivers_each_digest_exactly_once(
    tmp_path: Path, workers: int
) -> None:
    rng = random.Random(20261122 + workers)
    with SmtpSink() as sink:
        config = tmp_path / "config.toml"
        config.write_text(CONFIG.format(port=sink.port, workers=workers))
        people = tmp_path / "people.jsonl"
        people.write_text(
            "".join(
                json.dumps(
                    {
                        "name": f"p{i:03d}",
                        "email": f"p{i:03d}@example.org",
                        "channels": ["email"],
                        "max_items": 5,
                    }
                )
                + "\n"
                for i in range(SUBSCRIBERS)
            )
        )
        assert _digest(config, "subscribers", "import", str(people)).wait(60) == 0

        kills = 0
        for _ in range(5):
            before = sink.count
            run = _digest(config, "run")
            # Kill while it delivers: after the first messages arrive, at a random moment.
            deadline = time.monotonic() + 30
            while sink.count == before and run.poll() is None and time.monotonic() < deadline:
                time.sleep(0.01)
            time.sleep(rng.uniform(0.05, 0.5))
            if run.poll() is None:
                run.send_signal(signal.SIGKILL)
                kills += 1
            run.wait(30)
        final = _digest(config, "run")
        out, err = final.communicate(timeout=120)
        assert final.returncode == 0, err.decode()
        assert kills >= 3, "the kills should land while delivering"

        by_rcpt: dict[str, list[str]] = defaultdict(list)
        for message in sink.received:
            parsed = email.message_from_bytes(message.data, policy=email.policy.default)
            (rcpt,) = message.rcpt_tos
            by_rcpt[rcpt].append(str(parsed["Message-ID"]))

    # Every subscriber got a digest; every copy of it carries one Message-ID (I1).
    assert len(by_rcpt) == SUBSCRIBERS
    assert all(len(set(ids)) == 1 for ids in by_rcpt.values()), {
        r: ids for r, ids in by_rcpt.items() if len(set(ids)) > 1
    }
    # Only messages in flight at a kill were sent twice.
    resent = sum(len(ids) - 1 for ids in by_rcpt.values())
    print(f"workers={workers} kills={kills} resent={resent}")
    assert resent <= kills * workers * 2, (resent, kills)

    engine = sa.create_engine(f"sqlite:///{tmp_path / 'state' / 'digest.sqlite3'}")
    with engine.connect() as conn:
        statuses = conn.execute(sa.text("SELECT status, count(*) FROM deliveries GROUP BY status"))
        assert dict(statuses.all()) == {"sent": SUBSCRIBERS}  # one terminal row each (I1)
        editions = conn.execute(sa.text("SELECT DISTINCT status FROM editions")).scalars().all()
        assert editions == ["complete"]  # I2
    engine.dispose()
    assert b"Done in" in out  # the last run finished with its summary
