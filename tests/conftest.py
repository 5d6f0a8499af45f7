"""Shared fixtures: configs on disk, the CLI in-process, stores on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import secrets
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa

from digest.cli import main

POSTGRES_URL = os.environ.get("DIGEST_TEST_POSTGRES_URL")


@dataclass
class CliResult:
    exit_code: int
    out: str
    err: str


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., CliResult]:
    """Run ``digest ARGS`` in-process through the real entry point."""

    def invoke(*args: str) -> CliResult:
        capsys.readouterr()
        code = 0
        try:
            main(list(args))
        except SystemExit as exit_:
            code = int(exit_.code or 0) if not isinstance(exit_.code, str) else 1
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return invoke


BASE_CONFIG = """
[digest]
state_dir = "state"
output_dir = "out"
title = "Test digest"
base_url = "https://digest.example.org"
sender = "Test Digest <digest@example.org>"
secret_key = "test-secret"

[selection]
filters = ["keywords"]
rankers = {{ keywords = 1.0, recency = 0.2 }}

[sources.sample]
component = "sample"
{sample_options}

[filters.keywords]
component = "keywords"

[rankers.keywords]
component = "keywords"

[rankers.recency]
component = "recency"

[renderers.email]
component = "email"

[renderers.feed]
component = "feed"

[deliverers.files]
component = "files"

[subscribers.ada]
email = "ada@example.org"
keywords = ["robot", "manipulation"]
categories = ["cs.RO"]
max_items = 5

[subscribers.grace]
email = "grace@example.org"
keywords = ["language model", "reasoning"]
categories = ["cs.CL"]
"""


@pytest.fixture
def write_config(tmp_path: Path) -> Callable[..., Path]:
    """Write a config file under tmp_path; ``extra`` is appended, ``database`` overrides."""

    def write(extra: str = "", *, sample_options: str = "", name: str = "config.toml") -> Path:
        text = BASE_CONFIG.format(sample_options=sample_options) + textwrap.dedent(extra)
        if POSTGRES_URL and os.environ.get("DIGEST_TEST_ALL_ON_POSTGRES"):
            text = text.replace(
                'secret_key = "test-secret"',
                f'secret_key = "test-secret"\ndatabase = "{POSTGRES_URL}"',
            )
        path = tmp_path / name
        path.write_text(text, "utf-8")
        return path

    return write


def _postgres_schema_url(base: str) -> Iterator[str]:
    schema = f"t_{secrets.token_hex(6)}"
    engine = sa.create_engine(base)
    with engine.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in base else "?"
    try:
        yield f"{base}{sep}options=-csearch_path%3D{schema}"
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database: a SQLite file, and PostgreSQL when configured."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.sqlite3'}"
        return
    if not POSTGRES_URL:
        pytest.skip(
            "PostgreSQL tests need DIGEST_TEST_POSTGRES_URL (e.g. "
            "postgresql+psycopg://postgres@127.0.0.1:5432/test)"
        )
    yield from _postgres_schema_url(POSTGRES_URL)


@pytest.fixture
def fixture_server() -> Iterator[object]:
    """A real HTTP server on 127.0.0.1 serving the project's own fixtures (tests/fixtures) and,
    where ../shared is checked out, the recorded captures behind them (tests/httpserver.py)."""
    from httpserver import FixtureServer

    with FixtureServer() as server:
        yield server
