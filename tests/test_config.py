"""Configuration errors name the file, the table and the key; `digest check` lists them all."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from conftest import CliResult
from digest.config import load_settings
from digest.errors import ConfigError


def test_the_embedded_default_is_valid(cli: Callable[..., CliResult]) -> None:
    result = cli("check")
    assert result.exit_code == 0, result.err
    assert "OK" in result.out and "3 subscribers" in result.out


def test_every_problem_is_reported_at_once_with_its_location(
    cli: Callable[..., CliResult], write_config: Callable[..., Path]
) -> None:
    path = write_config(
        """
        [subscribers.bob]
        email = "bob@example.org"
        max_items = "many"
        colour = "blue"

        [rankers.fancy]
        component = "no-such-ranker"
        """,
        sample_options="days = -1\nbogus = 1",
    )
    result = cli("check", "--config", str(path))
    assert result.exit_code == 1
    lines = result.err.splitlines()
    assert f"{path}: [subscribers.bob] max_items: Input should be a valid integer" in "".join(
        line for line in lines if "max_items" in line
    )
    assert any(f"{path}: [subscribers.bob] colour: unknown key" in line for line in lines)
    # Component tables are checked too, in the same run, although the schema had errors.
    assert f"{path}: [rankers.fancy] component: unknown ranker 'no-such-ranker'" in result.err
    assert f"{path}: [sources.sample] bogus: unknown key" in result.err
    assert f"{path}: [sources.sample] days:" in result.err
    assert "Traceback" not in result.err


def test_component_options_are_validated_by_the_component(
    cli: Callable[..., CliResult], write_config: Callable[..., Path]
) -> None:
    path = write_config(
        """
        [rankers.fancy]
        component = "no-such-ranker"
        """,
        sample_options="bogus = 1",
    )
    result = cli("check", "--config", str(path))
    assert result.exit_code == 1
    assert f"{path}: [sources.sample] bogus: unknown key" in result.err
    assert f"{path}: [rankers.fancy] component: unknown ranker 'no-such-ranker'" in result.err
    assert "known: " in result.err


def test_invalid_toml_names_the_line(cli: Callable[..., CliResult], tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('[digest]\ntitle = "unterminated\n', "utf-8")
    result = cli("run", "--config", str(path))
    assert result.exit_code == 1
    assert result.err.count("\n") == 1 and "line 2" in result.err and str(path) in result.err


def test_a_missing_config_file_is_one_line(cli: Callable[..., CliResult], tmp_path: Path) -> None:
    result = cli("run", "--config", str(tmp_path / "nope.toml"))
    assert result.exit_code == 1
    assert result.err.startswith("Error: ") and "nope.toml: cannot read" in result.err


def test_secrets_come_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[digest]\nsecret_key = { env = "DIGEST_TEST_SECRET" }\n', "utf-8")
    monkeypatch.setenv("DIGEST_TEST_SECRET", "s3cret")
    assert load_settings(path).settings.digest.secret_key == "s3cret"
    monkeypatch.delenv("DIGEST_TEST_SECRET")
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    assert str(caught.value) == (
        f"{path}: [digest] secret_key: environment variable DIGEST_TEST_SECRET is not set"
    )


def test_bad_timezone_schedule_and_channel_are_caught(
    cli: Callable[..., CliResult], write_config: Callable[..., Path]
) -> None:
    path = write_config(
        """
        [subscribers.tz]
        email = "tz@example.org"
        timezone = "Mars/Olympus"
        schedule = "every day"
        channels = ["email", "pigeon"]
        """
    )
    result = cli("check", "--config", str(path))
    assert "[subscribers.tz] timezone: unknown timezone 'Mars/Olympus'" in result.err
    assert "[subscribers.tz] schedule: invalid cron schedule 'every day'" in result.err


def test_channels_without_a_deliverer_are_reported(
    cli: Callable[..., CliResult], write_config: Callable[..., Path]
) -> None:
    path = write_config(
        """
        [subscribers.pigeon]
        email = "p@example.org"
        channels = ["email", "pigeon"]
        """
    )
    result = cli("check", "--config", str(path))
    assert result.exit_code == 1
    assert "[subscribers.pigeon] channels: no deliverer serves channel 'pigeon'" in result.err


def test_relative_paths_are_relative_to_the_config_file(write_config: Callable[..., Path]) -> None:
    path = write_config()
    loaded = load_settings(path)
    assert loaded.state_dir == path.parent / "state"
    assert loaded.database_url == f"sqlite:///{path.parent / 'state' / 'digest.sqlite3'}"
