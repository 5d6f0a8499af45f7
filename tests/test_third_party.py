"""Third-party plugins: built, pip-installed and found through their entry point."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGES = Path(__file__).parent / "plugin_packages"
ROOT = Path(__file__).parent.parent
pytestmark = pytest.mark.slow

CONFIG = """
[digest]
state_dir = "state"
output_dir = "out"

[selection]
filters = ["keywords"]
rankers = { keywords = 1.0 }

[sources.sample]
component = "sample"

[sources.group]
component = "static"
titles = ["Reading group pick: robots that fold laundry"]

[filters.keywords]
component = "keywords"

[rankers.keywords]
component = "keywords"

[renderers.email]
component = "email"

[renderers.feed]
component = "feed"

[deliverers.files]
component = "files"

[subscribers.ada]
email = "ada@example.org"
keywords = ["fold laundry"]
"""


@pytest.fixture(scope="module")
def site_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Both plugin packages built and installed with pip into their own directory."""
    target = tmp_path_factory.mktemp("site")
    for name in ("digest-example", "digest-broken"):
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "--quiet",
                "--no-deps",
                "--no-build-isolation",
                "--target",
                str(target),
                str(PACKAGES / name),
            ],
            check=True,
            capture_output=True,
            text=True,
            timeout=300,
        )
    return target


def _digest(site: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]),
    }
    return subprocess.run(
        [sys.executable, "-m", "digest", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_an_installed_plugin_is_listed_and_used_by_a_run(site_dir: Path, tmp_path: Path) -> None:
    listed = _digest(site_dir, tmp_path, "plugins", "--json")
    assert listed.returncode == 0, listed.stderr
    rows = {r["name"]: r for r in json.loads(listed.stdout)}
    assert rows["static"]["version"] == "0.3.0"
    assert rows["static"]["hooks"] == ["register_sources"] and rows["static"]["error"] is None

    (tmp_path / "config.toml").write_text(CONFIG)
    run = _digest(site_dir, tmp_path, "run", "--config", "config.toml")
    assert run.returncode == 0, run.stderr
    assert "Source group: 1 paper collected" in run.stdout
    text = next((tmp_path / "out" / "ada").glob("*/digest.txt")).read_text()
    assert "robots that fold laundry" in text


def test_a_plugin_failing_at_import_is_listed_and_the_run_still_delivers(
    site_dir: Path, tmp_path: Path
) -> None:
    listed = _digest(site_dir, tmp_path, "plugins", "--json")
    broken = {r["name"]: r for r in json.loads(listed.stdout)}["broken"]
    assert broken["version"] == "0.0.1"
    assert "a_dependency_that_is_not_installed" in broken["error"]

    run = _digest(site_dir, tmp_path, "run")
    assert run.returncode == 0, run.stderr
    assert "Delivered 3 digests" in run.stdout
    assert "Problem in plugin broken: failed to load digest_broken" in run.stdout
    assert "Traceback" not in run.stderr

    strict = _digest(site_dir, tmp_path, "run", "--strict")
    assert strict.returncode == 1
    assert "plugin 'broken'" in strict.stderr and "Traceback" not in strict.stderr


def test_the_readme_plugin_example_is_the_tested_one() -> None:
    readme = (ROOT / "README.md").read_text("utf-8")
    blocks = re.findall(r"```python\n(.*?)```", readme, re.S)
    example = (PACKAGES / "digest-example" / "digest_example.py").read_text("utf-8")
    assert example in blocks, "README's plugin example must match tests/plugin_packages"
    toml = (PACKAGES / "digest-example" / "pyproject.toml").read_text("utf-8")
    stanza = toml[toml.index("[project.entry-points.digest]") :]
    assert stanza.strip() in readme
