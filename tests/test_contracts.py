"""Every built-in component keeps the contract `digest.testing` checks for plugin authors.

Only this distribution's plugins are checked (`digest.plugins.builtin_plugins()`, read from
the installed metadata of pyproject.toml's entry points): a third-party plugin installed next
to papers-digest has its own tests and must not change what this suite runs.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from digest.components import Component
from digest.plugins import PluginHost, Registered, builtin_plugins
from digest.testing import (
    check_component_class,
    check_filter,
    check_ranker,
    check_renderer,
    check_source,
    make_runtime,
)


def builtin_components(kind: str, host: PluginHost | None = None) -> dict[str, Registered]:
    """The built-in components of ``kind`` by current name (old names left out)."""
    host = host or PluginHost(only=builtin_plugins())
    return {n: e for n, e in host.components(kind).items() if e.alias_of is None}


SOURCES = builtin_components("sources")


def _instance(kind: str, name: str, tmp_path: Path) -> Component:
    cls = builtin_components(kind)[name].cls
    return cls(cls.Config(), instance=name, runtime=make_runtime(tmp_path))


# Sources that fetch run their contract checks against the fixture server in their own tests
# (tests/test_arxiv.py, test_huggingface.py, test_rss_source.py, test_biorxiv.py,
# test_crossref.py, test_pubmed.py, test_openreview.py, test_semantic_scholar_source.py); the
# offline ones run here.
OFFLINE_SOURCES = ["sample"]
TESTED_ELSEWHERE = {
    "arxiv",
    "huggingface",
    "rss",
    "biorxiv",
    "crossref",
    "pubmed",
    "openreview",
    "semantic_scholar",
}


@pytest.mark.parametrize("name", OFFLINE_SOURCES)
def test_sources(name: str, tmp_path: Path) -> None:
    assert check_source(_instance("sources", name, tmp_path))  # type: ignore[arg-type]


def test_every_source_is_contract_tested_somewhere() -> None:
    assert set(SOURCES) == set(OFFLINE_SOURCES) | TESTED_ELSEWHERE


@pytest.mark.parametrize("name", sorted(builtin_components("filters")))
def test_filters(name: str, tmp_path: Path) -> None:
    check_filter(_instance("filters", name, tmp_path))  # type: ignore[arg-type]


# The semantic ranker needs the [semantic] extra; tests/test_semantic.py checks its contract.
@pytest.mark.parametrize("name", sorted(set(builtin_components("rankers")) - {"semantic"}))
def test_rankers(name: str, tmp_path: Path) -> None:
    check_ranker(_instance("rankers", name, tmp_path))  # type: ignore[arg-type]


@pytest.mark.parametrize("name", sorted(builtin_components("renderers")))
def test_renderers(name: str, tmp_path: Path) -> None:
    check_renderer(_instance("renderers", name, tmp_path))  # type: ignore[arg-type]


ALL = [
    (kind, name)
    for kind in ("sources", "filters", "rankers", "renderers", "deliverers")
    for name in sorted(builtin_components(kind))
]


@pytest.mark.parametrize(("kind", "name"), ALL)
def test_every_component_class_keeps_the_class_contract(kind: str, name: str) -> None:
    check_component_class(builtin_components(kind)[name].cls)


@pytest.mark.parametrize(("kind", "name"), ALL)
def test_every_config_key_is_described(kind: str, name: str) -> None:
    cls = builtin_components(kind)[name].cls
    undocumented = [k for k, f in cls.Config.model_fields.items() if not f.description]
    assert not undocumented, f"[{kind}] {name}: no description for {undocumented}"


def test_the_builtins_come_from_this_distributions_entry_points() -> None:
    plugins = builtin_plugins()
    assert {"sample", "arxiv", "rss", "huggingface", "tfidf", "svm", "email", "feed"} <= set(
        plugins
    )
    assert all(module.startswith("digest_") for module in plugins.values())


def test_a_third_party_plugin_installed_beside_does_not_join_the_contract_suite(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The README's example plugin, installed as pip would leave it.
    (tmp_path / "digest_static_example.py").write_text(
        textwrap.dedent(
            """
            from digest import ComponentConfig, Source, hookimpl

            class StaticSource(Source):
                '''Needs titles: its Config() alone is invalid.'''
                name = "static"

                class Config(ComponentConfig):
                    titles: list[str]

            @hookimpl
            def register_sources():
                return [StaticSource]
            """
        ),
        "utf-8",
    )
    info = tmp_path / "digest_static_example-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: digest-static-example\n")
    (info / "entry_points.txt").write_text("[digest]\nstatic = digest_static_example\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert "static" in PluginHost().components("sources"), "the plugin is installed"
    assert "static" not in builtin_components("sources", PluginHost(only=builtin_plugins()))
