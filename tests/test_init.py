"""``digest init``: the wizard through the real command line, with prompts and with flags; the
file it writes loads, passes ``digest check`` and delivers a first digest. No network."""

from __future__ import annotations

import stat
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import CliResult
from digest.cli import make_cli
from digest.cli.init import local_timezone
from digest.config import load_settings
from httpserver import FixtureServer, Reply

Cli = Callable[..., CliResult]

BIB = """\
@article{lovelace2024,
  title = {Learning Dexterous Robot Grasping and Manipulation Policies},
  author = {Lovelace, Ada},
  eprint = {2406.01234v2}, archivePrefix = {arXiv},
  abstract = {A robot arm with a dexterous hand learns grasping from demonstrations.}
}
@inproceedings{hopper2023,
  title = {Compilers for Robots}, author = {Hopper, Grace},
  doi = {https://doi.org/10.1145/3404835.3462891}
}
"""

FLAGS = [
    "--no-input",
    "--name",
    "ada",
    "--categories",
    "cs.LG,cs.RO",
    "--interests",
    "Robot learning and manipulation",
    "--keywords",
    "robot, grasping",
    "--timezone",
    "Europe/London",
]


def init(cli: Cli, config: Path, *args: str) -> CliResult:
    return cli("init", "--config", str(config), *args)


def one_error_line(result: CliResult) -> str:
    assert result.exit_code == 1, result
    lines = result.err.strip().splitlines()
    assert len(lines) == 1, result.err
    assert lines[0].startswith("Error: ")
    return lines[0]


def test_the_wizard_asks_searches_and_writes_a_checked_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cli: Cli
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "library.bib").write_text(BIB, "utf-8")
    config = tmp_path / "config.toml"
    answers = [
        "ada",  # name
        "robot",  # a search: lists cs.RO first
        "1",  # picks it
        "cs.LGG",  # a typo: the nearest code is suggested
        "cs.lg",  # any case
        "",  # done
        "Robot learning",  # interests
        "robot, grasping",  # keywords
        "no-such-file.bib",  # neither an id nor a file: asked again
        "library.bib, 2501.00001",  # liked papers
        "",  # no Zotero / ORCID import
        "weekly",
        "wed",
        "8",
        "Europe/Berlin",
        "files",
        "",  # email: the default
    ]
    args = ["init", "--config", str(config)]
    result = CliRunner().invoke(make_cli(args), args, input="\n".join(answers) + "\n")
    assert result.exit_code == 0, result.output
    assert " 1. cs.RO" in result.output and "Robotics" in result.output
    assert "unknown arXiv category 'cs.LGG' (did you mean 'cs.LG'?)" in result.output
    assert "'no-such-file.bib' is not an arXiv id, DOI" in result.output
    assert "2 liked papers from library.bib, stored as references" in result.output
    assert f"digest preview ada --config {config}" in result.output

    sub = load_settings(config).settings.subscribers["ada"]
    assert sub.categories == ("cs.RO", "cs.LG")
    assert (sub.interests, sub.keywords) == ("Robot learning", ("robot", "grasping"))
    assert sub.schedule == "0 8 * * 3" and sub.timezone == "Europe/Berlin"
    assert sub.email == "ada@localhost" and sub.channels == ("email", "feed")
    assert set(sub.liked) == {
        "arxiv:2501.00001",
        "arxiv:2406.01234",
        "doi:10.1145/3404835.3462891",
    }
    # The library's papers are stored as references, as `digest subscribers like` stores them.
    from digest.application import Application

    with Application.from_path(config) as app:
        stored = app.store.papers_by_id({"arxiv:2406.01234", "doi:10.1145/3404835.3462891"})
    assert len(stored) == 2
    assert cli("check", "--config", str(config)).exit_code == 0


def test_flags_alone_write_a_commented_private_config_that_passes_check(
    tmp_path: Path, cli: Cli
) -> None:
    config = tmp_path / "config.toml"
    result = init(cli, config, *FLAGS, "--liked", "https://arxiv.org/abs/2406.01234v2")
    assert result.exit_code == 0, result.err
    assert "Wrote" in result.out and "digest run --config" in result.out
    text = config.read_text("utf-8")
    for table in ("[digest]", "[sources.arxiv]", "[deliverers.files]", "[subscribers.ada]"):
        before = text.split(table)[0].rstrip().splitlines()[-1]
        assert before.startswith("#"), f"{table} has no comment above it"
    assert "[sources.sample]" not in text  # only with --offline-demo
    assert stat.S_IMODE(config.stat().st_mode) == 0o600  # it holds the secret key
    loaded = load_settings(config)
    s = loaded.settings
    assert s.sources["arxiv"].options()["categories"] == ["cs.LG", "cs.RO"]
    assert s.subscribers["ada"].liked == ("arxiv:2406.01234",)
    assert s.subscribers["ada"].schedule == "0 7 * * 1-5"  # weekdays at 7, the defaults
    assert s.digest.secret_key != "change-me"
    checked = cli("check", "--config", str(config))
    assert checked.exit_code == 0, checked.err
    assert "OK" in checked.out


def test_an_offline_demo_run_delivers_a_digest_to_files(
    tmp_path: Path, cli: Cli, fixture_server: FixtureServer
) -> None:
    config = tmp_path / "config.toml"
    assert init(cli, config, *FLAGS, "--offline-demo").exit_code == 0
    # arXiv itself is this test's fixture server (no network in tests).
    fixture_server.route("/feeds/rss/cs.LG+cs.RO", Reply(body="arxiv_rss/cs.LG_2025-06-11.rss.xml"))
    text = config.read_text("utf-8")
    text = text.replace('"https://rss.arxiv.org"', f'"{fixture_server.url("/feeds")}"')
    text = text.replace("[fetch]\n", '[fetch]\nallow = ["127.0.0.1/32"]\nretries = 0\n')
    config.write_text(text, "utf-8")

    result = cli("run", "--config", str(config))
    assert result.exit_code == 0, result.err
    assert "Source arxiv: FAILED" not in result.out
    assert "Source sample: 150 papers collected" in result.out
    assert "Delivered 1 digest" in result.out
    (edition,) = [p for p in (tmp_path / "digests" / "ada").iterdir() if p.is_dir()]
    assert (edition / "digest.html").is_file() and (edition / "digest.eml").is_file()
    assert (tmp_path / "digests" / "ada" / "rss.xml").is_file()


def test_an_existing_config_is_kept_unless_forced(tmp_path: Path, cli: Cli) -> None:
    config = tmp_path / "config.toml"
    config.write_text("# mine\n", "utf-8")
    line = one_error_line(init(cli, config, *FLAGS))
    assert "config.toml exists; use --force to overwrite it" in line
    assert config.read_text("utf-8") == "# mine\n"
    assert init(cli, config, *FLAGS, "--force").exit_code == 0
    assert "[subscribers.ada]" in config.read_text("utf-8")


def test_a_bad_category_is_one_line_with_the_nearest(tmp_path: Path, cli: Cli) -> None:
    config = tmp_path / "config.toml"
    line = one_error_line(init(cli, config, "--no-input", "--categories", "cs.LGG,cs.RO"))
    assert line == ("Error: --categories: unknown arXiv category 'cs.LGG' (did you mean 'cs.LG'?)")
    assert not config.exists()


def test_a_missing_required_answer_under_no_input_names_its_flag(tmp_path: Path, cli: Cli) -> None:
    config = tmp_path / "config.toml"
    line = one_error_line(init(cli, config, "--no-input", "--name", "ada"))
    assert "--no-input: pass --categories" in line and "cs.LG" in line
    smtp = init(cli, config, *FLAGS, "--channel", "smtp")
    assert "--no-input: pass --smtp-host" in one_error_line(smtp)
    smtp = init(cli, config, *FLAGS, "--channel", "smtp", "--smtp-host", "smtp.example.org")
    assert "--no-input: pass --email" in one_error_line(smtp)
    assert not config.exists()


def test_smtp_keeps_the_password_out_of_the_file(tmp_path: Path, cli: Cli) -> None:
    config = tmp_path / "config.toml"
    args = ["--channel", "smtp", "--smtp-host", "smtp.example.org", "--smtp-user", "ada"]
    result = init(cli, config, *FLAGS, *args, "--email", "ada@example.org")
    assert result.exit_code == 0, result.err
    s = load_settings(config).settings
    smtp = s.deliverers["smtp"].options()
    assert smtp == {
        "channels": ["email"],
        "host": "smtp.example.org",
        "port": 587,
        "security": "starttls",
        "username": "ada",
        "password_env": "SMTP_PASSWORD",
    }
    assert s.deliverers["files"].options() == {"channels": ["feed"]}
    assert s.fetch.contact == "mailto:ada@example.org"
    assert "password =" not in config.read_text("utf-8")
    assert cli("check", "--config", str(config)).exit_code == 0


def test_the_default_timezone_is_this_machines_iana_zone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from zoneinfo import ZoneInfo

    ZoneInfo(local_timezone())  # whatever this machine says, a zone the config accepts
    tzlocal = pytest.importorskip("tzlocal")
    monkeypatch.setattr(tzlocal, "get_localzone_name", lambda: "Asia/Tokyo")
    assert local_timezone() == "Asia/Tokyo"
    # what tzlocal cannot name, or names wrongly, falls back (/etc/localtime, else UTC)
    monkeypatch.setattr(tzlocal, "get_localzone_name", lambda: "Not/AZone")
    assert local_timezone() != "Not/AZone"
    ZoneInfo(local_timezone())


def test_imports_are_checked_before_anything_is_fetched(tmp_path: Path, cli: Cli) -> None:
    config = tmp_path / "config.toml"
    line = one_error_line(init(cli, config, *FLAGS, "--from", "zotro:users/1"))
    assert "no profile importer called 'zotro' (did you mean 'zotero'?)" in line
    line = one_error_line(init(cli, config, *FLAGS, "--from", "orcid:0000-0002-1825-009X"))
    assert line.startswith("Error: --from: orcid")
    assert not config.exists()
