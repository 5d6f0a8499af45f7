"""The hook specs are the plugin API: their signatures may gain arguments, never lose them."""

from __future__ import annotations

import inspect

from digest import hookspecs

# Adding an argument: append it here. Renaming or removing one breaks every plugin using it.
SNAPSHOT = {
    "after_run": ["report"],
    "before_run": ["edition", "dry_run"],
    "on_component_error": ["component", "error"],
    "prepare_jinja_env": ["env"],
    "register_commands": ["cli"],
    "register_deliverers": [],
    "register_enrichers": [],
    "register_filters": [],
    "register_profile_importers": [],
    "register_rankers": [],
    "register_renderers": [],
    "register_sources": [],
}


def _specs() -> dict[str, inspect.Signature]:
    return {
        name: inspect.signature(fn)
        for name, fn in vars(hookspecs).items()
        if callable(fn) and hasattr(fn, "digest_spec")
    }


def test_hook_signatures_only_ever_grow() -> None:
    specs = _specs()
    assert set(specs) == set(SNAPSHOT), "a hook was added or removed: update SNAPSHOT and docs"
    for name, params in SNAPSHOT.items():
        actual = list(specs[name].parameters)
        assert actual[: len(params)] == params, f"{name}: arguments renamed or removed"


def test_every_hook_is_documented_with_its_version() -> None:
    for name in _specs():
        doc = inspect.getdoc(getattr(hookspecs, name)) or ""
        assert len(doc) > 40 and "versionadded" in doc, f"{name} needs a docstring"


def test_every_hook_has_a_section_in_the_plugin_docs() -> None:
    from pathlib import Path

    docs = (Path(__file__).parent.parent / "docs" / "plugin-hooks.md").read_text("utf-8")
    for name in _specs():
        assert f"## {name}(" in docs, f"docs/plugin-hooks.md lacks a section for {name}"
