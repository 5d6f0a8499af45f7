"""Shared fixtures: configs on disk, the CLI in-process, stores on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import secrets
import textwrap
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from configs import config_text

from digest.cli import main

POSTGRES_URL = os.environ.get("DIGEST_TEST_POSTGRES_URL")
#: the sibling checkout with recorded captures and corpora: an extra layer of tests
SHARED = Path(__file__).resolve().parents[2] / "shared"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Without ../shared, the tests marked ``shared`` are not collected (the project's own
    fixtures cover the same parsers) and the summary says how many were left out."""
    if SHARED.is_dir():
        return
    left_out = [item for item in items if item.get_closest_marker("shared")]
    if left_out:
        items[:] = [item for item in items if not item.get_closest_marker("shared")]
        config.hook.pytest_deselected(items=left_out)
        config.stash[_LEFT_OUT] = len(left_out)


_LEFT_OUT = pytest.StashKey[int]()


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    if left_out := config.stash.get(_LEFT_OUT, 0):
        terminalreporter.write_line(
            f"{left_out} tests of recorded captures and corpora not collected: {SHARED} is "
            "absent (the project's own fixtures in tests/fixtures cover every parser)"
        )


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


@pytest.fixture
def write_config(tmp_path: Path) -> Callable[..., Path]:
    """Write the tests' configuration (tests/configs.py) under tmp_path: keyword arguments
    change its tables, ``extra`` TOML is appended, ``sample_options`` go to [sources.sample]."""

    def write(
        extra: str = "", *, sample_options: str = "", name: str = "config.toml", **changes: Any
    ) -> Path:
        if sample_options:
            changes.setdefault("sources", {}).setdefault("sample", {}).update(
                tomllib.loads(sample_options)
            )
        if POSTGRES_URL and os.environ.get("DIGEST_TEST_ALL_ON_POSTGRES"):
            changes.setdefault("digest", {}).setdefault("database", POSTGRES_URL)
        path = tmp_path / name
        path.write_text(config_text(textwrap.dedent(extra), **changes), "utf-8")
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
