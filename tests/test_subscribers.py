"""`digest subscribers import/list/remove`: JSON Lines, all or nothing, bad lines named."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from conftest import CliResult


def _lines(path: Path, *records: object) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records))
    return path


GOOD = {
    "name": "hopper",
    "email": "grace.hopper@example.org",
    "interests": "compilers and programming languages",
    "keywords": ["compiler", "type system"],
    "categories": ["cs.PL"],
    "authors": ["Barbara Liskov"],
    "liked": ["2406.01234"],
    "schedule": "30 6 * * 1-5",
    "timezone": "America/New_York",
    "max_items": 7,
    "channels": ["email", "feed"],
}


def test_import_then_list_then_remove(
    cli: Callable[..., CliResult], write_config: Callable[..., Path], tmp_path: Path
) -> None:
    config = str(write_config())
    file = _lines(tmp_path / "subs.jsonl", GOOD, {"name": "liskov", "channels": ["feed"]})
    result = cli("subscribers", "import", "--config", config, str(file))
    assert result.exit_code == 0, result.err
    assert "Imported 2 subscribers" in result.out
    listed = json.loads(cli("subscribers", "list", "--config", config, "--json").out)
    by_name = {row["name"]: row for row in listed}
    assert by_name["hopper"]["origin"] == "import" and by_name["ada"]["origin"] == "config"
    assert by_name["liskov"]["channels"] == ["feed"]
    assert cli("subscribers", "remove", "--config", config, "liskov").exit_code == 0
    listed = json.loads(cli("subscribers", "list", "--config", config, "--json").out)
    assert "liskov" not in {row["name"] for row in listed}


def test_a_bad_line_is_named_and_nothing_is_stored(
    cli: Callable[..., CliResult], write_config: Callable[..., Path], tmp_path: Path
) -> None:
    config = str(write_config())
    file = _lines(
        tmp_path / "subs.jsonl",
        GOOD,
        {"name": "typo", "email": "t@example.org", "keywrods": ["x"]},
        "{not json",
        {"name": "bad tz", "email": "b@example.org"},
        {"name": "tz", "email": "tz@example.org", "timezone": "Nowhere/Land"},
        {"name": "noemail"},
        [1, 2],
    )
    result = cli("subscribers", "import", "--config", config, str(file))
    assert result.exit_code == 1
    err = result.err
    assert f"{file}:2: keywrods: unknown key" in err
    assert f"{file}:3: invalid JSON" in err
    assert f"{file}:4: name:" in err
    assert f"{file}:5: timezone: unknown timezone 'Nowhere/Land'" in err
    assert f"{file}:6: email: required for the email channel" in err
    assert f"{file}:7: expected a JSON object" in err
    assert "Traceback" not in err
    listed = json.loads(cli("subscribers", "list", "--config", config, "--json").out)
    assert "hopper" not in {row["name"] for row in listed}, "nothing from a bad file is stored"


def test_duplicates_and_config_names_are_refused(
    cli: Callable[..., CliResult], write_config: Callable[..., Path], tmp_path: Path
) -> None:
    config = str(write_config())
    file = _lines(tmp_path / "s.jsonl", GOOD, GOOD, {**GOOD, "name": "ada"})
    err = cli("subscribers", "import", "--config", config, str(file)).err
    assert f"{file}:2: name: 'hopper' already on line 1" in err
    assert f"{file}:3: name: 'ada' is defined in the config file" in err


def test_removing_a_config_subscriber_points_at_the_file(
    cli: Callable[..., CliResult], write_config: Callable[..., Path]
) -> None:
    config = write_config()
    result = cli("subscribers", "remove", "--config", str(config), "ada")
    assert result.exit_code == 1
    assert result.err == f"Error: subscriber 'ada' is defined in {config}; remove it there\n"


def test_imported_subscribers_get_digests(
    cli: Callable[..., CliResult], write_config: Callable[..., Path], tmp_path: Path
) -> None:
    config = str(write_config())
    file = _lines(tmp_path / "s.jsonl", {**GOOD, "keywords": ["robot"], "categories": []})
    cli("subscribers", "import", "--config", config, str(file))
    result = cli("run", "--config", config, "--subscriber", "hopper")
    assert result.exit_code == 0, result.err
    assert "Delivered 1 digest" in result.out
    assert list((tmp_path / "out" / "hopper").glob("*/digest.eml"))
