"""Every hook, through the example the plugin guide gives for it (docs/plugin-hooks.md).

Each ``test_hook_<name>`` loads the guide's example for that hook as a plugin and checks what
a user of it would notice; the meta-tests at the end fail when a hook has no example in the
guide or no ``test_hook_<name>`` here (datasette's rule). Deleting a hook's call from the
core makes its test fail.
"""

from __future__ import annotations

import ast
import json
import logging
import re
import sys
import textwrap
import types
from collections.abc import Iterator
from pathlib import Path

import pytest

from digest import hookspecs
from digest.batch import Batch
from digest.models import Profile
from digest.testing import (
    NOW,
    check_filter,
    check_ranker,
    check_renderer,
    check_source,
    make_context,
    make_host,
    make_paper,
    make_runtime,
    make_selection,
)
from helpers import build_pipeline, write_papers
from httpserver import FixtureServer

ROOT = Path(__file__).parent.parent
GUIDE = ROOT / "docs" / "plugin-hooks.md"


def _hook_names() -> list[str]:
    return sorted(
        name for name, fn in vars(hookspecs).items() if callable(fn) and hasattr(fn, "digest_spec")
    )


def guide_examples() -> dict[str, list[str]]:
    """Each ``## <hook>(…)`` section's Python code blocks, by hook name."""
    sections: dict[str, list[str]] = {}
    current: str | None = None
    text = GUIDE.read_text("utf-8")
    for part in re.split(r"^(## .*)$", text, flags=re.M):
        heading = re.match(r"## (\w+)\(", part)
        if heading:
            current = heading.group(1)
            continue
        if part.startswith("## "):
            current = None
            continue
        if current is not None:
            sections[current] = re.findall(r"```python\n(.*?)```", part, re.S)
    return sections


def example(hook: str) -> types.ModuleType:
    """The guide's example for ``hook``, as a plugin module."""
    (code,) = guide_examples()[hook]
    module = types.ModuleType(f"guide_{hook}")
    # Importable by name while it runs, as an installed plugin's module is (pydantic resolves
    # a config's annotations through it).
    sys.modules[module.__name__] = module
    exec(compile(code, f"{GUIDE}:{hook}", "exec"), module.__dict__)
    return module


# -- the component hooks --------------------------------------------------------------------


def test_hook_register_sources(tmp_path: Path) -> None:
    plugin = example("register_sources")
    feed = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "Reading list",
        "items": [
            {
                "id": "https://arxiv.org/abs/2406.01234v2",
                "url": "https://arxiv.org/abs/2406.01234v2",
                "title": "Diffusion policies for deformable objects",
                "summary": "We fold towels.",
                "authors": [{"name": "Ada Lovelace"}],
            },
            {
                "id": "urn:reading-list:2",
                "title": "A workshop paper without ids",
                "authors": [{"name": "Alan Turing"}],
            },
        ],
    }
    (tmp_path / "list.json").write_text(json.dumps(feed), "utf-8")
    with FixtureServer(tmp_path) as server:
        cls = make_host(plugin).components("sources")["jsonfeed"].cls
        config = cls.Config(url=server.url("/list.json"))
        source = cls(config, instance="list", runtime=make_runtime(tmp_path))
        context = make_context()
        papers = check_source(source, context=context)
        assert str(papers[0].id) == "arxiv:2406.01234"  # merges with arXiv's copy of it
        assert papers[0].version == 2 and papers[1].id.kind == "fp"
        # Conditional GET through context.http: unchanged, nothing again.
        again = make_context(state=context.pending_state)
        assert list(source.collect(again)) == []
        assert server.hits("/list.json")[-1].headers.get("if-none-match")


def test_hook_register_filters(tmp_path: Path) -> None:
    plugin = example("register_filters")
    cls = make_host(plugin).components("filters")["team-size"].cls
    team = cls(cls.Config(max_authors=3), instance="team", runtime=make_runtime(tmp_path))
    check_filter(team)  # type: ignore[arg-type]
    crowd = tuple(f"Physicist {n}" for n in range(500))
    batch = Batch([make_paper("2406.00001"), make_paper("2406.00002", authors=crowd)], now=NOW)
    team.prepare(batch)  # type: ignore[attr-defined]
    assert team.keep(Profile(), batch).tolist() == [True, False]  # type: ignore[attr-defined]


def test_hook_register_rankers(tmp_path: Path) -> None:
    plugin = example("register_rankers")
    cls = make_host(plugin).components("rankers")["coauthors"].cls
    ranker = cls(cls.Config(), instance="co", runtime=make_runtime(tmp_path))
    check_ranker(ranker)  # type: ignore[arg-type]
    liked = make_paper("2301.00001", authors=("Levine, Sergey", "Chelsea Finn"))
    batch = Batch(
        [
            make_paper("2406.00001", authors=("S. Levine", "A. N. Other")),
            make_paper("2406.00002", authors=("Someone Else",)),
        ],
        now=NOW,
        references={str(liked.id): liked},
    )
    profile = Profile(liked=(str(liked.id),))
    assert ranker.score(profile, batch).tolist() == [0.5, 0.0]  # type: ignore[attr-defined]
    (reason,) = ranker.explain(profile, batch, 0)  # type: ignore[attr-defined]
    assert reason.text == "by Levine, Sergey, an author of a paper you liked"


def test_hook_register_enrichers(tmp_path: Path) -> None:
    from digest.enrich import enrich
    from digest.store import Store

    plugin = example("register_enrichers")
    cls = make_host(plugin).components("enrichers")["code-links"].cls
    enricher = cls(cls.Config(), instance="code", runtime=make_runtime(tmp_path))
    store = Store.open(f"sqlite:///{tmp_path / 'digest.db'}")
    with_code = make_paper(
        "2406.00001", abstract="Code: https://github.com/lab/tinyfold. We fold proteins."
    )
    without = make_paper("2406.00002")
    problems: list[str] = []
    out = enrich([with_code, without], {"code": enricher}, store, lambda w, e: problems.append(w))
    assert out[0].signals["code.github"] == "https://github.com/lab/tinyfold"
    assert "code.github" not in out[1].signals and not problems


NOTES_CONFIG = """
[digest]
state_dir = "state"
output_dir = "out"
title = "Lab digest"
secret_key = "s"

[selection]
rankers = { recency = 1.0 }

[sources.main]
component = "jsonl"
file = "papers.jsonl"

[rankers.recency]
component = "recency"

[renderers.md]
component = "markdown"

[deliverers.notes]
component = "notes"
folder = "lab-notes"

[subscribers.ada]
channels = ["markdown"]
"""


@pytest.fixture
def notes_run(tmp_path: Path) -> Iterator[tuple[Path, object]]:
    write_papers(
        tmp_path / "papers.jsonl",
        [make_paper("2406.00007", title="Grasping [with] $\\alpha$-nets")],
    )
    (tmp_path / "config.toml").write_text(NOTES_CONFIG, "utf-8")
    pipeline = build_pipeline(
        tmp_path / "config.toml", example("register_renderers"), example("register_deliverers")
    )
    yield tmp_path, pipeline.run()


def test_hook_register_renderers(notes_run: tuple[Path, object], tmp_path: Path) -> None:
    folder, _ = notes_run
    notes = (folder / "lab-notes" / "ada.md").read_text("utf-8")
    assert "# Lab digest for ada" in notes
    assert "- [Grasping (with) α-nets](https://arxiv.org/abs/2406.00007)" in notes
    cls = make_host(example("register_renderers")).components("renderers")["markdown"].cls
    check_renderer(cls(cls.Config(), instance="md", runtime=make_runtime(tmp_path)))  # type: ignore[arg-type]


def test_hook_register_deliverers(notes_run: tuple[Path, object]) -> None:
    folder, report = notes_run
    assert report.delivered == 1 and not report.problems, report  # type: ignore[attr-defined]
    notes = (folder / "lab-notes" / "ada.md").read_text("utf-8")
    assert notes.startswith("<!-- <") and notes.count("# Lab digest") == 1


def test_hook_register_profile_importers(tmp_path: Path) -> None:
    from digest.fetch import Fetcher, FetchPolicy
    from digest.importers import ImportHTTP, ProfileImportError

    plugin = example("register_profile_importers")
    lists = tmp_path / "lists"
    lists.mkdir()
    reading = {
        "papers": [
            {"title": "Diffusion policies", "arxiv": "2406.01234v2", "authors": ["Ada Lovelace"]},
            {"title": "Compilers for robots", "doi": "https://doi.org/10.1145/3404835.3462891"},
            {"title": "Diffusion policies (again)", "arxiv": "arXiv:2406.01234"},
            {"title": "", "doi": "10.5555/untitled"},
        ]
    }
    (lists / "robots.json").write_text(json.dumps(reading), "utf-8")
    with (
        FixtureServer(tmp_path) as server,
        ImportHTTP(Fetcher(FetchPolicy(allow=("127.0.0.0/8",), retries=0))) as http,
    ):
        cls = make_host(plugin).profile_importers()["reading-list"]
        importer = cls(base_url=server.url("/lists"))
        papers = importer.read(" Robots ", http, options={})
        assert [str(p.id) for p in papers] == [
            "arxiv:2406.01234",
            "doi:10.1145/3404835.3462891",
        ]
        assert papers[0].authors[0].name == "Ada Lovelace"
        with pytest.raises(ProfileImportError, match=r"^reading-list vision: .*HTTP 404"):
            importer.read("vision", http, options={})
        with pytest.raises(ProfileImportError, match="want a list name"):
            importer.validate("../etc")


# -- the other hooks ------------------------------------------------------------------------


def _installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, hook: str) -> None:
    """The guide's example for ``hook`` installed as pip would: a module and an entry point."""
    name = f"digest_guide_{hook}"
    (tmp_path / f"{name}.py").write_text(guide_examples()[hook][0], "utf-8")
    info = tmp_path / f"{name}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[digest]\n{name} = {name}\n")
    monkeypatch.syspath_prepend(str(tmp_path))


def test_hook_register_commands(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from digest.cli import main

    _installed(tmp_path, monkeypatch, "register_commands")
    main(["--help"])
    assert re.search(r"^\s+hello\s+Greet NAME", capsys.readouterr().out, re.M)
    main(["hello", "Ada"])
    assert capsys.readouterr().out == "Hello, Ada!\n"


def test_hook_prepare_jinja_env(tmp_path: Path) -> None:
    from digest.config import load_settings
    from digest.wiring import make_runtime as runtime_for

    templates = tmp_path / "templates" / "email"
    templates.mkdir(parents=True)
    (templates / "digest.txt").write_text(
        "{{ lab_name }}: {{ name | shout }}\n{% for card in cards %}{{ card.paper.text_title }}\n"
        "{% endfor %}",
        "utf-8",
    )
    (tmp_path / "config.toml").write_text('[digest]\ntemplate_dirs = ["templates"]\n', "utf-8")
    host = make_host(example("prepare_jinja_env"))
    runtime = runtime_for(load_settings(tmp_path / "config.toml"), host)
    from digest_email.renderer import EmailRenderer

    email = EmailRenderer(EmailRenderer.Config(), instance="email", runtime=runtime)
    selection = make_selection([make_paper("2406.00001", title="Robots")])
    email.prepare(Batch([i.paper for i in selection.items], now=NOW))
    text = next(a for a in email.render(selection) if a.role == "text").content
    assert text.startswith("Robot Learning Lab: TESTER!\nRobots")


HOOK_CONFIG = """
[digest]
state_dir = "state"
output_dir = "out"
secret_key = "s"

[selection]
rankers = { recency = 1.0, exploding = 0.5 }

[sources.main]
component = "jsonl"
file = "papers.jsonl"

[rankers.recency]
component = "recency"

[rankers.exploding]
component = "exploding"

[renderers.email]
component = "email"

[deliverers.files]
component = "files"

[subscribers.ada]
email = "ada@example.org"
channels = ["email"]
"""


def _run_with(tmp_path: Path, *plugins: object, dry_run: bool = False) -> object:
    from digest.pipeline import RunOptions

    write_papers(tmp_path / "papers.jsonl", [make_paper("2406.00009", title="Robots")])
    (tmp_path / "config.toml").write_text(HOOK_CONFIG, "utf-8")
    return build_pipeline(tmp_path / "config.toml", *plugins).run(RunOptions(dry_run=dry_run))


def test_hook_before_run(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="digest.plugin.announce")
    report = _run_with(tmp_path, example("before_run"))
    edition = report.edition.id  # type: ignore[attr-defined]
    assert [r.getMessage() for r in caplog.records] == [f"edition {edition} starts"]
    calls: list[tuple[object, bool]] = []

    class Recorder:
        @hookspecs.hookimpl
        def before_run(self, edition: object, dry_run: bool) -> None:
            calls.append((edition, dry_run))

    (tmp_path / "dry").mkdir()
    _run_with(tmp_path / "dry", Recorder(), dry_run=True)
    assert calls == [(None, True)], "a dry run has no edition to announce"


def test_hook_after_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    report = _run_with(tmp_path, example("after_run"))
    written = json.loads((tmp_path / "last-run.json").read_text("utf-8"))
    assert written["delivered"] == report.delivered == 1  # type: ignore[attr-defined]
    assert written["edition"] == report.edition.id  # type: ignore[attr-defined]
    assert any("model server unreachable" in p for p in written["problems"])

    class Broken:
        @hookspecs.hookimpl
        def after_run(self) -> None:
            raise RuntimeError("the dashboard is down")

    (tmp_path / "again").mkdir()
    again = _run_with(tmp_path / "again", Broken())
    assert any("the dashboard is down" in p.message for p in again.problems)  # type: ignore[attr-defined]


def test_hook_on_component_error(tmp_path: Path) -> None:
    plugin = example("on_component_error")
    _run_with(tmp_path, plugin)
    assert plugin.ALERTS == ["rankers.exploding: RuntimeError: model server unreachable"]


# -- the meta-tests -------------------------------------------------------------------------


def test_every_hook_has_an_example_in_the_guide() -> None:
    examples = guide_examples()
    for name in _hook_names():
        assert examples.get(name), f"docs/plugin-hooks.md: section {name}() has no Python example"


def test_every_hook_has_a_test() -> None:
    tested = {
        node.name.removeprefix("test_hook_")
        for path in Path(__file__).parent.glob("test_*.py")
        for node in ast.walk(ast.parse(path.read_text("utf-8")))
        if isinstance(node, ast.FunctionDef) and node.name.startswith("test_hook_")
    }
    missing = sorted(set(_hook_names()) - tested)
    assert not missing, f"hooks without a test_hook_<name>: {missing}"


def test_every_example_in_the_guide_compiles() -> None:
    text = GUIDE.read_text("utf-8")
    for block in re.findall(r"```python\n(.*?)```", text, re.S):
        compile(textwrap.dedent(block), str(GUIDE), "exec")
