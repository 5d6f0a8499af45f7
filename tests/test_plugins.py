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


def _ordered(calls: list[str], label: str, **marks: bool) -> object:
    class Plugin:
        @hookimpl(**marks)
        def before_run(self) -> None:
            calls.append(label)

    Plugin.__name__ = label  # make_host names plugins after their class
    return Plugin()


def test_hooks_run_in_pluggys_order_tryfirst_and_trylast_honoured() -> None:
    calls: list[str] = []
    host = make_host(
        _ordered(calls, "plain"),
        _ordered(calls, "last", trylast=True),
        _ordered(calls, "first", tryfirst=True),
        _ordered(calls, "plain, registered later"),
        load_entrypoints=False,
    )
    host.call_each("before_run", edition=None, dry_run=False)
    # pluggy: tryfirst, then plain ones newest first, then trylast
    assert calls == ["first", "plain, registered later", "plain", "last"]


def test_the_order_is_the_one_pluggy_itself_uses() -> None:
    calls: list[str] = []
    plugins = [
        _ordered(calls, "a", trylast=True),
        _ordered(calls, "b"),
        _ordered(calls, "c", tryfirst=True),
        _ordered(calls, "d"),
    ]
    host = make_host(*plugins, load_entrypoints=False)
    host.pm.hook.before_run(edition=None, dry_run=False)
    native, calls[:] = list(calls), []
    host.call_each("before_run", edition=None, dry_run=False)
    assert calls == native


def test_a_failing_implementation_does_not_stop_the_next_in_order() -> None:
    calls: list[str] = []

    class Broken:
        @hookimpl(tryfirst=True)
        def before_run(self) -> None:
            raise RuntimeError("first one breaks")

    host = make_host(_ordered(calls, "plain"), Broken(), load_entrypoints=False)
    host.call_each("before_run", edition=None, dry_run=False)
    assert calls == ["plain"]
    assert any("first one breaks" in f.message for f in host.failures)


class Wrapping:
    @hookimpl(wrapper=True)
    def before_run(self) -> object:
        return (yield)

    @hookimpl
    def register_rankers(self) -> list[type[Ranker]]:
        return [Shadow]


class OldStyleWrapping:
    @hookimpl(hookwrapper=True)
    def after_run(self) -> object:
        yield


@pytest.mark.parametrize("plugin", [Wrapping(), OldStyleWrapping()], ids=["wrapper", "hookwrapper"])
def test_hook_wrappers_are_refused_at_registration_with_a_clear_problem(plugin: object) -> None:
    host = make_host(plugin, load_entrypoints=False)
    name = type(plugin).__name__
    failure = next(f for f in host.failures if f.plugin == name)
    assert failure.hook in ("before_run", "after_run")
    assert "wrapper" in failure.message and "not supported" in failure.message
    assert not host.pm.has_plugin(name), "nothing of a refused plugin stays registered"
    host.call_each("before_run", edition=None, dry_run=False)  # and nothing hangs or breaks
    info = next(i for i in host.plugin_infos() if i.name == name)
    assert "not supported" in (info.error or "")


class ReturnsAClass:
    @hookimpl
    def register_rankers(self) -> object:
        return Shadow  # a class, not a list of classes


def test_a_registration_hook_returning_a_class_instead_of_a_list_is_reported() -> None:
    host = make_host(ReturnsAClass())
    assert "keywords" in host.components("rankers")
    failure = next(f for f in host.failures if f.plugin == "ReturnsAClass")
    assert failure.hook == "register_rankers" and "want a list of classes" in failure.message


class Renamed(Ranker):
    """A ranker that used to be called 'oldname'."""

    name = "newname"
    aliases = ("oldname", "recency")  # "recency" is another ranker's current name: it wins


class RegistersRenamed:
    @hookimpl
    def register_rankers(self) -> list[type[Ranker]]:
        return [Renamed]


def test_old_component_names_resolve_to_the_component_and_say_so() -> None:
    rankers = make_host(RegistersRenamed()).components("rankers")
    assert rankers["newname"].cls is Renamed and rankers["newname"].alias_of is None
    assert rankers["oldname"].cls is Renamed and rankers["oldname"].alias_of == "newname"
    assert rankers["recency"].alias_of is None and rankers["recency"].cls is not Renamed


def test_the_rss_source_is_still_reachable_as_feed() -> None:
    sources = PluginHost().components("sources")
    assert sources["feed"].cls is sources["rss"].cls and sources["feed"].alias_of == "rss"


def test_digest_plugins_environment_variable_loads_only_the_named_plugins() -> None:
    host = PluginHost.from_settings(environ={"DIGEST_PLUGINS": "recency, keywords"})
    assert set(host.components("rankers")) == {"recency", "keywords"}
    assert PluginHost.from_settings(environ={"DIGEST_PLUGINS": ""}).components("rankers") == {}
    everything = PluginHost.from_settings(environ={})
    assert "tfidf" in everything.components("rankers")


def test_disabling_a_name_that_names_no_plugin_is_a_warning_with_a_suggestion() -> None:
    host = PluginHost.from_settings(disabled=["recensy"], environ={})
    assert any("no plugin is called 'recensy'" in w and "'recency'" in w for w in host.warnings)
    assert "recency" in host.components("rankers")


def test_disabling_the_old_name_of_a_renamed_plugin_disables_it_and_warns() -> None:
    host = PluginHost.from_settings(disabled=["feeds"], environ={})
    assert "rss" not in host.components("sources")
    assert any("now called 'rss'" in w for w in host.warnings)
    assert "feed" in host.components("renderers"), "disable = ['feeds'] is not the renderer"


def test_plugins_list_their_components_and_whether_they_can_run() -> None:
    infos = {i.name: i for i in PluginHost().plugin_infos()}
    keywords = {(c.kind, c.name) for c in infos["keywords"].components}
    assert keywords == {("filters", "keywords"), ("rankers", "keywords")}
    rss = infos["rss"].components[0]
    assert (rss.kind, rss.name, rss.aliases) == ("sources", "rss", ("feed",))
    assert all(c.unavailable is None for c in infos["tfidf"].components)
    assert infos["tfidf"].builtin


#: what `digest --help` must not import: every command would pay for it
HEAVY = ("numpy", "scipy", "sklearn", "torch", "sqlalchemy", "fastapi", "uvicorn", "httpx")


def test_digest_help_imports_no_heavy_library() -> None:
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from digest.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))\n"
        "print(','.join(sorted(m for m in sys.modules if m.startswith('digest_'))))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    heavy, plugins = out.stdout.strip().splitlines()[-2:]
    assert heavy == "", f"digest --help imported {heavy}"
    assert "digest_tfidf" in plugins, "the plugins were loaded (for register_commands)"
