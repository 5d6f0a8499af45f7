"""Bounce intake end to end: real digests into the aiosmtpd sink, then their bounces —
hand-written DSN/ARF messages (tests/fixtures/bounces) addressed to the real VERP return
paths — read from mbox files, Maildir folders, .eml files, standard input, and a real Dovecot
over IMAP and POP3; and a crash test (SIGKILL during ingest loses no bounce, counts none
twice).
"""

from __future__ import annotations

import datetime as dt
import json
import mailbox
import os
import random
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa
from dovecot import PASSWORD, USER, Dovecot, needs_dovecot

from conftest import CliResult
from digest.application import Application
from digest.pipeline.run import RunOptions
from digest.store.schema import bounce_events
from httpserver import fixture_bytes
from smtpsink import SmtpSink

NOW = dt.datetime(2026, 12, 7, 8, tzinfo=dt.UTC)
#: the return paths the fixtures were written to (subscribers 42-59 of an invented edition)
FIXTURE_VERP = re.compile(r"bounces\+[0-9a-z-]+\.\d+\.[0-9a-f]{16}@bounces\.example\.org", re.I)

CONFIG = """
[digest]
state_dir = "state"
sender = "Digest <digest@example.org>"
base_url = "https://digest.example.org"
secret_key = "intake-test"

[bounces]
domain = "bounces.example.org"
soft_limit = {soft_limit}
{mailbox}

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
"""


def deliver(
    tmp_path: Path,
    cli: Callable[..., CliResult],
    people: int = 3,
    *,
    soft_limit: int = 3,
    mailbox_toml: str = "",
) -> tuple[Path, dict[str, str]]:
    """A config, ``people`` subscribers and one edition delivered: rcpt → return path."""
    with SmtpSink() as sink:
        config = tmp_path / "config.toml"
        config.write_text(
            CONFIG.format(port=sink.port, soft_limit=soft_limit, mailbox=mailbox_toml)
        )
        file = tmp_path / "people.jsonl"
        file.write_text(
            "".join(
                json.dumps({"name": f"p{n}", "email": f"p{n}@example.net", "channels": ["email"]})
                + "\n"
                for n in range(people)
            )
        )
        assert cli("subscribers", "import", str(file), "--config", str(config)).exit_code == 0
        with Application.from_path(config) as app:
            assert app.pipeline.run(RunOptions(now=NOW)).delivered == people
        return config, {r.rcpt_tos[0]: r.mail_from for r in sink.received}


def bounce(fixture: str, *, verp: str, rcpt: str, key: str) -> bytes:
    """A hand-written bounce, sent back to a real return path about a real recipient."""
    text = fixture_bytes(f"bounces/{fixture}").decode("utf-8", "replace")
    text = FIXTURE_VERP.sub(verp, text)
    for someone in re.findall(r"[\w.+-]+@example\.net", text):
        if not someone.startswith(("mailer-daemon", "postmaster")):
            text = text.replace(someone, rcpt)
    # Its own Message-ID: a fresh one per copy (as every real bounce has).
    lines = text.splitlines(keepends=True)
    for i, line in enumerate(lines):
        if line.lower().startswith("message-id:"):
            lines[i] = f"Message-ID: <{key}@mx.example.net>\n"
            break
    return "".join(lines).encode()


def events(config: Path) -> list[tuple[str, str, str]]:
    with Application.from_path(config) as app, app.store.engine.connect() as conn:
        rows = conn.execute(
            sa.select(bounce_events.c.key, bounce_events.c.kind, bounce_events.c.outcome)
        ).all()
    return sorted((r.key, r.kind, r.outcome) for r in rows)


def status(config: Path) -> dict[str, str]:
    with Application.from_path(config) as app:
        return {
            s.subscriber.name: "bounced" if s.bounced else s.status for s in app.store.subscribers()
        }


def test_ingest_reads_mbox_maildir_eml_and_stdin(
    tmp_path: Path, cli: Callable[..., CliResult]
) -> None:
    config, paths = deliver(tmp_path, cli, 4)
    mbox_path = tmp_path / "bounces.mbox"
    box = mailbox.mbox(mbox_path)
    box.add(
        bounce(
            "postfix_dsn_5.1.1_user_unknown.eml",
            verp=paths["p0@example.net"],
            rcpt="p0@example.net",
            key="a1",
        )
    )
    box.add(fixture_bytes("bounces/autoreply_out_of_office_rfc3834.eml"))
    box.flush()
    box.close()
    maildir = mailbox.Maildir(tmp_path / "Maildir", create=True)
    maildir.add(
        bounce(
            "gmail_dsn_5.2.2_over_quota.eml",
            verp=paths["p1@example.net"],
            rcpt="p1@example.net",
            key="b1",
        )
    )
    eml = tmp_path / "one.eml"
    eml.write_bytes(
        bounce(
            "exim_failed_5.1.1.eml", verp=paths["p2@example.net"], rcpt="p2@example.net", key="c1"
        )
    )
    result = cli(
        "bounces",
        "ingest",
        str(mbox_path),
        str(tmp_path / "Maildir"),
        str(eml),
        "--config",
        str(config),
    )
    assert result.exit_code == 0, result.err
    assert result.out.startswith("Read 4 messages from 3 sources: 4 recorded (")
    assert "2 bounced" in result.out and "1 counted" in result.out
    assert "1 ignored: an auto-reply" in result.out
    assert status(config) == {"p0": "bounced", "p1": "active", "p2": "bounced", "p3": "active"}

    # An MTA piping a complaint into standard input.
    arf = fixture_bytes("bounces/arf_abuse_yahoo_like.eml").decode()
    arf = FIXTURE_VERP.sub(paths["p3@example.net"], arf)
    piped = subprocess.run(
        [sys.executable, "-m", "digest", "bounces", "ingest", "-", "--config", str(config)],
        input=arf.encode(),
        capture_output=True,
        cwd=tmp_path,
        check=False,
    )
    assert piped.returncode == 0, piped.stderr
    assert b"1 unsubscribed" in piped.stdout
    assert status(config)["p3"] == "unsubscribed"
    # Reading everything again records nothing twice.
    again = cli("bounces", "ingest", str(mbox_path), str(eml), "--config", str(config))
    assert "0 recorded, 3 read before" in again.out


def test_ingest_names_a_bad_path(tmp_path: Path, cli: Callable[..., CliResult]) -> None:
    config, _ = deliver(tmp_path, cli, 1)
    (tmp_path / "folder").mkdir()
    missing = cli("bounces", "ingest", str(tmp_path / "nope.mbox"), "--config", str(config))
    assert missing.exit_code == 1 and "nope.mbox: cannot read it" in missing.err
    assert "Traceback" not in missing.err
    folder = cli("bounces", "ingest", str(tmp_path / "folder"), "--config", str(config))
    assert folder.exit_code == 1 and "not a Maildir" in folder.err


@needs_dovecot
@pytest.mark.parametrize(
    ("protocol", "after"), [("imap", "delete"), ("imap", "flag"), ("pop3", "delete")]
)
def test_the_bounce_mailbox_is_polled_and_emptied_only_after_recording(
    protocol: str,
    after: str,
    tmp_path: Path,
    cli: Callable[..., CliResult],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BOUNCE_PASSWORD", PASSWORD)
    with Dovecot(tmp_path) as server:
        port = server.imap_port if protocol == "imap" else server.pop3_port
        toml = (
            f'[bounces.mailbox]\nprotocol = "{protocol}"\nhost = "127.0.0.1"\nport = {port}\n'
            f'security = "none"\nusername = "{USER}"\npassword_env = "BOUNCE_PASSWORD"\n'
            f'after = "{after}"\n'
        )
        config, paths = deliver(tmp_path, cli, 2, mailbox_toml=toml)
        server.deliver(
            bounce(
                "office365_ndr_5.1.10_recipient_not_found.eml",
                verp=paths["p0@example.net"],
                rcpt="p0@example.net",
                key="o1",
            )
        )
        server.deliver(fixture_bytes("bounces/autoreply_vacation_x_autoreply.eml"))
        first = cli("bounces", "poll", "--config", str(config))
        assert first.exit_code == 0, first.err
        assert f"Read 2 messages from {protocol}://127.0.0.1" in first.out
        assert "1 bounced" in first.out
        assert status(config)["p0"] == "bounced"
        if after == "delete":
            assert server.messages() == 0
        else:
            assert server.messages() == 2 and server.seen() == 2
        second = cli("bounces", "poll", "--config", str(config))
        assert "Read 0 messages" in second.out
    assert len(events(config)) == 2


@needs_dovecot
@pytest.mark.parametrize(
    ("protocol", "security"),
    [("imap", "tls"), ("imap", "starttls"), ("pop3", "tls"), ("pop3", "starttls")],
)
def test_the_mailbox_is_read_over_tls(
    protocol: str,
    security: str,
    tmp_path: Path,
    cli: Callable[..., CliResult],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BOUNCE_PASSWORD", PASSWORD)
    with Dovecot(tmp_path) as server:
        ports = {
            ("imap", "tls"): server.imaps_port,
            ("imap", "starttls"): server.imap_port,
            ("pop3", "tls"): server.pop3s_port,
            ("pop3", "starttls"): server.pop3_port,
        }
        toml = (
            f'[bounces.mailbox]\nprotocol = "{protocol}"\nhost = "127.0.0.1"\n'
            f'port = {ports[protocol, security]}\nsecurity = "{security}"\nusername = "{USER}"\n'
            'password_env = "BOUNCE_PASSWORD"\nverify_tls = false\n'
        )
        config, paths = deliver(tmp_path, cli, 1, mailbox_toml=toml)
        server.deliver(
            bounce(
                "qmail_no_mailbox.eml",
                verp=paths["p0@example.net"],
                rcpt="p0@example.net",
                key="q1",
            )
        )
        result = cli("bounces", "poll", "--config", str(config))
        assert result.exit_code == 0, result.err
        assert "Read 1 message" in result.out and "1 bounced" in result.out
        assert server.messages() == 0
        # Verifying the (self-signed) certificate, as the default does, refuses it: one line.
        config.write_text(config.read_text().replace("verify_tls = false", "verify_tls = true"))
        refused = cli("bounces", "poll", "--config", str(config))
        assert refused.exit_code == 1 and "CERTIFICATE_VERIFY_FAILED" in refused.err
        assert len(refused.err.strip().splitlines()) == 1


@needs_dovecot
def test_a_wrong_mailbox_password_is_one_line(
    tmp_path: Path, cli: Callable[..., CliResult], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BOUNCE_PASSWORD", "wrong")
    with Dovecot(tmp_path) as server:
        toml = (
            f'[bounces.mailbox]\nprotocol = "imap"\nhost = "127.0.0.1"\nport = {server.imap_port}'
            f'\nsecurity = "none"\nusername = "{USER}"\npassword_env = "BOUNCE_PASSWORD"\n'
        )
        config, _ = deliver(tmp_path, cli, 1, mailbox_toml=toml)
        result = cli("bounces", "poll", "--config", str(config))
    assert result.exit_code == 1
    assert result.err.startswith(f"Error: bounce mailbox imap://127.0.0.1:{server.imap_port}: ")
    assert len(result.err.strip().splitlines()) == 1


def test_sigkill_during_ingest_loses_no_bounce_and_counts_none_twice(
    tmp_path: Path, cli: Callable[..., CliResult]
) -> None:
    people = 12
    per_person = 25  # soft bounces each, under the limit: every one is "counted"
    config, paths = deliver(tmp_path, cli, people, soft_limit=100)
    mbox_path = tmp_path / "many.mbox"
    box = mailbox.mbox(mbox_path)
    for n in range(per_person):
        for p in range(people):
            rcpt = f"p{p}@example.net"
            box.add(
                bounce(
                    "postfix_dsn_4.4.1_delayed.eml",
                    verp=paths[rcpt].upper(),
                    rcpt=rcpt,
                    key=f"soft-{p}-{n}",
                )
            )
    box.flush()
    box.close()
    rng = random.Random(20261207)
    total = people * per_person
    command = [sys.executable, "-m", "digest", "bounces", "ingest", str(mbox_path)]
    command += ["--config", str(config)]
    database = sa.create_engine(f"sqlite:///{tmp_path / 'state' / 'digest.sqlite3'}")

    def recorded_so_far() -> int:
        with database.connect() as conn:
            query = sa.select(sa.func.count()).select_from(bounce_events)
            return int(conn.execute(query).scalar_one())

    kills = 0
    for _attempt in range(3):
        # Killed once a random part of the mailbox is recorded: mid-ingest, every time.
        target = rng.randint(recorded_so_far() + 5, recorded_so_far() + 60)
        process = subprocess.Popen(
            command, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        while process.poll() is None and recorded_so_far() < target:
            time.sleep(0.005)
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
            kills += 1
        process.communicate()
    assert kills == 3 and recorded_so_far() < total
    finish = subprocess.run(command, cwd=tmp_path, capture_output=True, check=False)
    assert finish.returncode == 0, finish.stderr
    recorded = events(config)
    assert len(recorded) == people * per_person  # none lost
    assert len({key for key, _, _ in recorded}) == len(recorded)  # none twice
    assert {outcome for _, _, outcome in recorded} == {"counted"}
    final = cli("bounces", "ingest", str(mbox_path), "--config", str(config))
    assert f"0 recorded, {people * per_person} read before" in final.out
