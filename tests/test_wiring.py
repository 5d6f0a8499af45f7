"""From config to components: nothing configured is dropped silently, typos get suggestions,
components that cannot run here are caught before a run, old names still work and say so."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from digest import Ranker, hookimpl
from digest.batch import Batch, Scores
from digest.config import load_settings
from digest.models import Profile
from digest.plugins import PluginHost
from digest.testing import make_host
from digest.wiring import review

MINIMAL = """
[digest]
state_dir = "state"
output_dir = "out"

[selection]
rankers = { recency = 1.0 }

[sources.sample]
component = "sample"

[rankers.recency]
component = "recency"

[renderers.email]
component = "email"

[deliverers.files]
component = "files"
"""


def _review(tmp_path: Path, extra: str, host: PluginHost | None = None) -> tuple[list, list]:
    path = tmp_path / "config.toml"
    path.write_text(MINIMAL + textwrap.dedent(extra), "utf-8")
    loaded = load_settings(path, lenient=True)
    return review(loaded, host or PluginHost())


def test_a_ranker_table_the_selection_never_uses_is_reported_by_name(tmp_path: Path) -> None:
    problems, warnings = _review(tmp_path, '[rankers.kw]\ncomponent = "keywords"\n')
    assert problems == []
    assert any(
        "[rankers.kw] is configured but never used" in w and "add kw = <weight>" in w
        for w in warnings
    ), warnings


def test_a_filter_table_the_selection_never_uses_is_reported_by_name(tmp_path: Path) -> None:
    problems, warnings = _review(tmp_path, '[filters.keywords]\ncomponent = "keywords"\n')
    assert problems == []
    assert any("[filters.keywords] is configured but never used" in w for w in warnings)


def test_a_weight_of_zero_is_a_use_not_a_forgotten_table(tmp_path: Path) -> None:
    text = MINIMAL.replace("{ recency = 1.0 }", "{ recency = 1.0, kw = 0 }")
    path = tmp_path / "config.toml"
    path.write_text(text + '[rankers.kw]\ncomponent = "keywords"\n', "utf-8")
    problems, warnings = review(load_settings(path), PluginHost())
    assert problems == [] and not any("never used" in w for w in warnings)


def test_the_embedded_default_config_has_no_warning() -> None:
    problems, warnings = review(load_settings(None), PluginHost())
    assert problems == [] and warnings == []


class Unrunnable(Ranker):
    """A ranker whose optional dependency is missing."""

    name = "unrunnable"

    @classmethod
    def unavailable(cls) -> str | None:
        return "needs the [gpu] extra: pip install 'digest-unrunnable[gpu]'"

    def score(self, profile: Profile, batch: Batch) -> Scores:
        return batch.zeros()


class RegistersUnrunnable:
    @hookimpl
    def register_rankers(self) -> list[type[Ranker]]:
        return [Unrunnable]


def test_a_used_component_that_cannot_run_here_is_a_problem_before_the_run(
    tmp_path: Path,
) -> None:
    text = MINIMAL.replace("{ recency = 1.0 }", "{ recency = 1.0, gpu = 1.0 }")
    path = tmp_path / "config.toml"
    path.write_text(text + '[rankers.gpu]\ncomponent = "unrunnable"\n', "utf-8")
    problems, _ = review(load_settings(path), make_host(RegistersUnrunnable()))
    assert any(
        "[rankers.gpu] component 'unrunnable' cannot run here: needs the [gpu] extra" in p
        for p in problems
    ), problems


def test_an_optional_component_that_cannot_run_is_left_out_with_a_note(
    tmp_path: Path,
) -> None:
    from digest.application import Application

    text = MINIMAL.replace("{ recency = 1.0 }", "{ recency = 1.0, gpu = 1.0 }")
    path = tmp_path / "config.toml"
    path.write_text(text + '[rankers.gpu]\ncomponent = "unrunnable"\noptional = true\n', "utf-8")
    host = make_host(RegistersUnrunnable())
    assert review(load_settings(path), host) == ([], [])
    app = Application.from_path(path, host=host)
    assert app.notes() == [
        f"{path}: [rankers.gpu] is optional and off here: needs the [gpu] extra: "
        "pip install 'digest-unrunnable[gpu]'"
    ]
    c = app.pipeline.c
    assert list(c.rankers) == ["recency"] and c.weights == {"recency": 1.0}
    report = app.pipeline.run()
    assert report.delivered == 0 and not report.problems  # no subscribers: nothing to send


def test_an_unused_component_that_cannot_run_is_only_a_warning(tmp_path: Path) -> None:
    problems, warnings = _review(
        tmp_path, '[rankers.gpu]\ncomponent = "unrunnable"\n', make_host(RegistersUnrunnable())
    )
    assert problems == []
    assert any("cannot run here" in w for w in warnings)


def test_the_semantic_ranker_without_its_extra_is_caught_by_check(tmp_path: Path) -> None:
    from digest_semantic.ranker import SemanticRanker

    if SemanticRanker.unavailable() is None:
        pytest.skip("the [semantic] extra is installed here")
    text = MINIMAL.replace("{ recency = 1.0 }", "{ recency = 1.0, semantic = 1.0 }")
    path = tmp_path / "config.toml"
    path.write_text(text + '[rankers.semantic]\ncomponent = "semantic"\n', "utf-8")
    problems, _ = review(load_settings(path), PluginHost())
    assert any("cannot run here" in p and "pip install" in p for p in problems), problems


def test_an_old_component_name_works_and_warns(tmp_path: Path) -> None:
    problems, warnings = _review(
        tmp_path, '[sources.journal]\ncomponent = "feed"\nurl = "https://example.org/j.rss"\n'
    )
    assert problems == []
    assert any(
        "[sources.journal] component: 'feed' is the old name of source 'rss'" in w
        and 'component = "rss"' in w
        for w in warnings
    ), warnings


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (
            "[rankers.recency]\nhalf_life_day = 2\n",
            "[rankers.recency] half_life_day: unknown key (did you mean 'half_life_days'?)",
        ),
        (
            '[rankers.mine]\ncomponent = "tfdif"\n',
            "unknown ranker 'tfdif' (did you mean 'tfidf'?)",
        ),
    ],
    ids=["component key", "component name"],
)
def test_typos_get_the_nearest_name(tmp_path: Path, extra: str, expected: str) -> None:
    text = MINIMAL.replace('[rankers.recency]\ncomponent = "recency"\n', "")
    if "half_life" in extra:
        extra = '[rankers.recency]\ncomponent = "recency"\nhalf_life_day = 2\n'
    path = tmp_path / "config.toml"
    path.write_text(text + extra, "utf-8")
    problems, _ = review(load_settings(path, lenient=True), PluginHost())
    assert any(expected in p for p in problems), problems


def test_a_typo_in_a_core_key_gets_the_nearest_key(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(MINIMAL.replace('state_dir = "state"', 'stat_dir = "state"'), "utf-8")
    loaded = load_settings(path, lenient=True)
    assert any(
        "[digest] stat_dir: unknown key (did you mean 'state_dir'?)" in p for p in loaded.problems
    ), loaded.problems


def test_a_selection_naming_a_missing_table_gets_the_nearest_table(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(MINIMAL.replace("{ recency = 1.0 }", "{ recensy = 1.0 }"), "utf-8")
    problems, _ = review(load_settings(path), PluginHost())
    assert any(
        "[selection] rankers: no [rankers.recensy] table (did you mean 'recency'?)" in p
        for p in problems
    ), problems
