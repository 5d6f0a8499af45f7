"""`digest serve` as an operator runs it: a real process, stopped with SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from configs import BASE

from webserver import reserve_port

pytestmark = pytest.mark.slow


def test_serve_schedules_serves_and_shuts_down_gracefully(
    tmp_path: Path, write_config, cli
) -> None:
    sock = reserve_port()
    port = sock.getsockname()[1]
    sock.close()  # the server binds it itself
    ada = {**BASE["subscribers"]["ada"], "schedule": "0 7 * * 1-5", "timezone": "Europe/Berlin"}
    config = write_config(serve={"port": port}, subscribers={**BASE["subscribers"], "ada": ada})
    assert cli("run", "--config", str(config)).exit_code == 0

    def start() -> subprocess.Popen[str]:
        process = subprocess.Popen(
            [sys.executable, "-m", "digest", "serve", "--config", str(config)],
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
                if health.status_code == 200:
                    return process
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise AssertionError(f"digest serve did not start:\n{process.communicate()[0]}")
            time.sleep(0.2)

    process = start()
    try:
        body = httpx.get(f"http://127.0.0.1:{port}/healthz").json()
        # ada's weekday 07:00 Berlin and grace's default schedule: two cron jobs
        assert body["scheduler"]["running"] is True and body["scheduler"]["schedules"] == 2
        assert body["sources"][0]["source"] == "sample" and body["sources"][0]["ok"]
        assert httpx.get(f"http://127.0.0.1:{port}/").status_code == 200
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=60)
    # uvicorn finishes shutting down, then re-raises SIGTERM as a process manager expects
    assert process.returncode in (0, -signal.SIGTERM), output
    assert "Traceback" not in output and "shutdown complete" in output.lower(), output
    assert "jobs synced: 2 added, 0 removed, 0 kept" in output, output

    # The jobs are in the project's database, and a restart keeps them as they were.
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'state' / 'digest.sqlite3'}")
    with engine.connect() as conn:
        jobs = sorted(conn.execute(sa.text("SELECT id FROM apscheduler_jobs")).scalars())
    engine.dispose()
    assert jobs == ["edition|Europe/Berlin|0 7 * * 1-5", "edition|UTC|0 7 * * *"]
    process = start()
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=60)
    assert process.returncode in (0, -signal.SIGTERM), output
    assert "jobs synced" not in output and "scheduler started" in output, output  # kept
    assert "shutdown complete" in output.lower(), output
