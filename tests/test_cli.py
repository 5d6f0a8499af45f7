"""The CLI a person uses: the embedded default, summaries, preview, plugins, errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import feedparser
import pytest

from conftest import CliResult


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_the_embedded_default_runs_offline_into_the_current_folder(
    cli: Callable[..., CliResult], in_tmp: Path
) -> None:
    result = cli("run")
    assert result.exit_code == 0, result.err
    assert "Source sample: 150 papers collected (150 new, 0 updated)" in result.out
    assert "Delivered 3 digests" in result.out
    assert f"Files are under {in_tmp / 'digests'}" in result.out
    for name in ("ada", "grace", "alan"):
        folder = in_tmp / "digests" / name
        (edition,) = [p for p in folder.iterdir() if p.is_dir()]
        assert {p.name for p in edition.iterdir()} == {"digest.html", "digest.txt", "digest.eml"}
        for feed in ("rss.xml", "atom.xml"):
            parsed = feedparser.parse((folder / feed).read_bytes())
            assert parsed.bozo == 0 and len(parsed.entries) >= 1
        assert (edition / "digest.html").stat().st_size <= 90 * 1024

    again = cli("run")
    assert "Delivered 0 digests" in again.out
    assert "Skipped ada: no new papers" in again.out


def test_a_subscriber_that_does_not_exist_is_named(
    cli: Callable[..., CliResult], in_tmp: Path
) -> None:
    result = cli("run", "--subscriber", "nobody")
    assert result.exit_code == 1 and result.err == "Error: no subscriber named 'nobody'\n"


def test_preview_writes_html_and_prints_its_path_without_delivering(
    cli: Callable[..., CliResult], in_tmp: Path
) -> None:
    result = cli("preview", "grace")
    assert result.exit_code == 0, result.err
    path = Path(result.out.strip())
    assert path == in_tmp / "preview-grace.html" and "<html" in path.read_text()
    assert not (in_tmp / "digests").exists()
    assert "Delivered 3 digests" in cli("run").out


def test_plugins_lists_builtins_with_all_and_json(cli: Callable[..., CliResult]) -> None:
    rows = json.loads(cli("plugins", "--all", "--json").out)
    by_name = {r["name"]: r for r in rows}
    assert {"sample", "keywords", "recency", "email", "feed", "files"} <= set(by_name)
    assert "register_rankers" in by_name["keywords"]["hooks"]
    assert by_name["files"]["version"] and by_name["files"]["error"] is None
    plain = cli("plugins", "--all").out
    assert "keywords" in plain and "register_filters" in plain


def test_plugins_all_lists_each_component_and_whether_it_can_run(
    cli: Callable[..., CliResult],
) -> None:
    rows = {r["name"]: r for r in json.loads(cli("plugins", "--all", "--json").out)}
    keywords = {(c["kind"], c["name"]) for c in rows["keywords"]["components"]}
    assert keywords == {("filter", "keywords"), ("ranker", "keywords")}
    (rss,) = rows["rss"]["components"]
    assert rss["aliases"] == ["feed"] and rss["available"]
    plain = cli("plugins", "--all").out.splitlines()
    assert "  source rss (also feed, deprecated): ok" in plain
    semantic = next(line for line in plain if line.startswith("  ranker semantic:"))
    try:
        import torch  # noqa: F401
    except ImportError:
        assert "cannot run here:" in semantic and "[semantic]" in semantic
    else:  # pragma: no cover - the [semantic] extra installed
        assert semantic.endswith(": ok")


def test_check_and_run_print_warnings_and_check_counts_them(
    cli: Callable[..., CliResult], write_config: Callable[..., Path]
) -> None:
    path = write_config(rankers={"tfidf": {"component": "tfidf"}})
    checked = cli("check", "--config", str(path))
    assert checked.exit_code == 0, checked.err
    assert "Warning: " in checked.err and "[rankers.tfidf]" in checked.err
    assert "OK with 1 warning" in checked.out
    assert cli("check", "--strict", "--config", str(path)).exit_code == 1
    ran = cli("run", "--config", str(path))
    assert ran.exit_code == 0, ran.err
    assert any(
        line.startswith("Warning: ") and "[rankers.tfidf]" in line for line in ran.out.splitlines()
    )


def test_an_unwritable_state_dir_is_one_line(
    cli: Callable[..., CliResult], write_config: Callable[..., Path], tmp_path: Path
) -> None:
    blocker = tmp_path / "state"
    blocker.write_text("a file where the state dir should be")
    result = cli("run", "--config", str(write_config()))
    assert result.exit_code == 1
    assert result.err.startswith("Error: state directory") and result.err.count("\n") == 1


def test_the_console_script_runs_as_a_real_process(tmp_path: Path) -> None:
    env = {**os.environ, "COLUMNS": "100"}
    script = Path(sys.executable).parent / "digest"
    result = subprocess.run(
        [str(script), "run"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "Delivered 3 digests" in result.stdout
