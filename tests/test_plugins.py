"""The plugin host: broken plugins are reported by name and never take the others down."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from digest import Ranker, hookimpl
from digest.errors import PluginError
from digest.plugins import PluginHost
from digest.testing import make_host


def _fake_distribution(root: Path, name: str, module_source: str) -> None:
    """An installed distribution with a ``digest`` entry point, as pip would leave it."""
    (root / f"{name}.py").write_text(textwrap.dedent(module_source), "utf-8")
    info = root / f"{name}-1.2.3.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.2.3\n")
    (info / "entry_points.txt").write_text(f"[digest]\n{name} = {name}\n")


def test_a_plugin_failing_at_import_is_reported_and_the_rest_load(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fake_distribution(tmp_path, "digest_broken_import", "raise RuntimeError('boom at import')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    host = PluginHost()
    failure = next(f for f in host.failures if f.plugin == "digest_broken_import")
    assert "boom at import" in failure.message
    assert "keywords" in host.components("rankers"), "built-in plugins must still work"
    info = next(i for i in host.plugin_infos() if i.name == "digest_broken_import")
    assert info.version == "1.2.3" and "boom at import" in (info.error or "")


def test_strict_mode_makes_a_broken_plugin_fatal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fake_distribution(tmp_path, "digest_broken_strict", "import not_a_module_anywhere\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(PluginError, match=r"digest_broken_strict.*not_a_module_anywhere"):
        PluginHost(strict=True)


class MisspelledHook:
    @hookimpl
    def register_rankerz(self) -> list[type[Ranker]]:
        return []


def test_an_unknown_hook_is_reported_with_its_name() -> None:
    host = make_host(MisspelledHook())
    failure = next(f for f in host.failures if f.plugin == "MisspelledHook")
    assert failure.hook == "register_rankerz" and "unknown hook" in failure.message
    assert "recency" in host.components("rankers")
    with pytest.raises(PluginError, match="register_rankerz"):
        make_host(MisspelledHook(), strict=True)


class RaisingRegistration:
    @hookimpl
    def register_rankers(self) -> list[type[Ranker]]:
        raise ValueError("cannot register today")


def test_a_hook_that_raises_is_reported_and_others_still_register() -> None:
    host = make_host(RaisingRegistration())
    rankers = host.components("rankers")
    assert {"keywords", "recency"} <= set(rankers)
    failure = next(f for f in host.failures if f.plugin == "RaisingRegistration")
    assert failure.hook == "register_rankers" and "cannot register today" in failure.message


class Shadow(Ranker):
    """A ranker claiming a name that is already taken."""

    name = "recency"


class DuplicateName:
    @hookimpl
    def register_rankers(self) -> list[type[Ranker]]:
        return [Shadow]


def test_a_duplicate_component_name_is_refused_and_the_first_kept() -> None:
    host = make_host(DuplicateName())
    assert host.components("rankers")["recency"].plugin == "recency"
    assert any("already registered" in f.message for f in host.failures)


class NotAComponent:
    @hookimpl
    def register_sources(self) -> list[object]:
        return [dict]


def test_registering_something_that_is_not_a_component_is_reported() -> None:
    host = make_host(NotAComponent())
    assert "sample" in host.components("sources")
    assert any("not a subclass of digest.Source" in f.message for f in host.failures)


class Recorder:
    def __init__(self) -> None:
        self.errors: list[str] = []

    @hookimpl
    def on_component_error(self, component: str, error: BaseException) -> None:
        self.errors.append(f"{component}: {error}")


def test_component_errors_reach_on_component_error() -> None:
    recorder = Recorder()
    host = make_host(RaisingRegistration(), recorder)
    host.components("rankers")
    assert any("cannot register today" in e for e in recorder.errors)


def test_entry_points_are_loaded_when_a_host_is_built_not_at_import() -> None:
    import subprocess
    import sys

    code = (
        "import digest, digest.cli, sys; print(any(m.startswith('digest_') for m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_disabled_plugins_are_not_loaded() -> None:
    host = PluginHost(disabled=["recency"])
    assert "recency" not in host.components("rankers")
    assert "keywords" in host.components("rankers")
