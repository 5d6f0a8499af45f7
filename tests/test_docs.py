"""The documentation stays true: every config key documented, the example valid."""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel

from conftest import CliResult
from digest.config import (
    DigestSettings,
    FetchSettings,
    HostLimitSettings,
    PluginSettings,
    SubscriberSettings,
)
from digest.plugins import PluginHost, builtin_plugins

ROOT = Path(__file__).parent.parent
EXAMPLE = ROOT / "config.example.toml"


def _keys(model: type[BaseModel]) -> set[str]:
    return set(model.model_fields)


def test_config_example_documents_every_key() -> None:
    text = EXAMPLE.read_text("utf-8")
    lines = [line.lstrip("# ").split("=")[0].strip() for line in text.splitlines()]
    # Keys that are tables (``[fetch.hosts."example.org"]``) count too.
    lines += [
        part.strip('[]"')
        for line in text.splitlines()
        if line.startswith("[")
        for part in line.split(".")
    ]
    for model in (
        DigestSettings,
        PluginSettings,
        SubscriberSettings,
        FetchSettings,
        HostLimitSettings,
    ):
        missing = _keys(model) - set(lines)
        assert not missing, f"config.example.toml lacks {model.__name__} keys {missing}"
    host = PluginHost()
    builtins = builtin_plugins()
    for kind in ("sources", "filters", "rankers", "renderers", "deliverers"):
        for name, entry in host.components(kind).items():
            if entry.alias_of is not None or entry.plugin not in builtins:
                continue
            missing = _keys(entry.cls.Config) - set(lines)
            assert not missing, f"config.example.toml lacks [{kind}] {name} keys {missing}"


def test_config_example_is_valid(
    cli: Callable[..., CliResult], tmp_path: Path, monkeypatch: object
) -> None:
    import pytest

    mp = pytest.MonkeyPatch()
    mp.setenv("DIGEST_SECRET", "example")
    try:
        result = cli("check", "--config", str(EXAMPLE))
    finally:
        mp.undo()
    assert result.exit_code == 0, result.err
    assert tomllib.loads(EXAMPLE.read_text("utf-8"))["digest"]["workers"] == 0


def test_plugins_use_only_the_public_api() -> None:
    import ast

    allowed = ("digest", "digest.models", "digest.testing")
    for path in (ROOT / "plugins").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            for name in names:
                if name == "digest" or name.startswith("digest."):
                    assert name in allowed, f"{path}:{node.lineno} imports {name} (not public)"


def test_the_readme_quick_start_output_is_what_digest_prints(
    cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    import os
    import re

    readme = (ROOT / "README.md").read_text("utf-8")
    block = re.search(r"```console\n(.*?)```", readme, re.S)
    assert block is not None
    expected = [line for line in block.group(1).splitlines() if not line.startswith("$ ")]
    old = Path.cwd()
    os.chdir(tmp_path)
    try:
        actual = (cli("run").out + cli("run").out).splitlines()
    finally:
        os.chdir(old)

    def normal(line: str) -> str:
        line = re.sub(r"edition \S+", "edition E", line)
        line = re.sub(r"Done in [\d.]+ s", "Done in T s", line)
        return re.sub(r"under \S+/digests", "under DIR/digests", line)

    assert [normal(line) for line in actual] == [normal(line) for line in expected]
