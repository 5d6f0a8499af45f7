"""Every built-in component keeps the contract `digest.testing` checks for plugin authors."""

from __future__ import annotations

from pathlib import Path

import pytest

from digest.components import Component
from digest.plugins import PluginHost
from digest.testing import (
    check_filter,
    check_ranker,
    check_renderer,
    check_source,
    make_runtime,
)

HOST = PluginHost()


def _instance(kind: str, name: str, tmp_path: Path) -> Component:
    cls = HOST.components(kind)[name].cls
    return cls(cls.Config(), instance=name, runtime=make_runtime(tmp_path))


# Sources that fetch run their contract checks against the fixture server in their own tests
# (tests/test_arxiv.py, test_hf.py, test_feeds_source.py); the offline ones run here.
OFFLINE_SOURCES = ["sample"]


@pytest.mark.parametrize("name", OFFLINE_SOURCES)
def test_sources(name: str, tmp_path: Path) -> None:
    assert check_source(_instance("sources", name, tmp_path))  # type: ignore[arg-type]


def test_every_source_is_contract_tested_somewhere() -> None:
    tested_elsewhere = {"arxiv", "huggingface", "rss"}
    assert set(HOST.components("sources")) <= set(OFFLINE_SOURCES) | tested_elsewhere


@pytest.mark.parametrize("name", sorted(HOST.components("filters")))
def test_filters(name: str, tmp_path: Path) -> None:
    check_filter(_instance("filters", name, tmp_path))  # type: ignore[arg-type]


# The semantic ranker needs the [semantic] extra; tests/test_semantic.py checks its contract.
@pytest.mark.parametrize("name", sorted(set(HOST.components("rankers")) - {"semantic"}))
def test_rankers(name: str, tmp_path: Path) -> None:
    check_ranker(_instance("rankers", name, tmp_path))  # type: ignore[arg-type]


@pytest.mark.parametrize("name", sorted(HOST.components("renderers")))
def test_renderers(name: str, tmp_path: Path) -> None:
    check_renderer(_instance("renderers", name, tmp_path))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kind", "name"),
    [
        (kind, name)
        for kind in ("sources", "filters", "rankers", "renderers", "deliverers")
        for name in sorted(HOST.components(kind))
    ],
)
def test_every_config_key_is_described(kind: str, name: str) -> None:
    cls = HOST.components(kind)[name].cls
    undocumented = [k for k, f in cls.Config.model_fields.items() if not f.description]
    assert not undocumented, f"[{kind}] {name}: no description for {undocumented}"
