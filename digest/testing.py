"""Helpers for testing plugins: papers, batches, a runtime, a fresh host, contract checks.

Plugin authors use these in their own test suites::

    from digest.testing import make_host, make_runtime, check_ranker

    def test_my_ranker_keeps_the_contract(tmp_path):
        ranker = MyRanker(MyRanker.Config(), instance="mine", runtime=make_runtime(tmp_path))
        check_ranker(ranker)
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TypeVar

import numpy as np

from digest import checks
from digest.batch import Batch
from digest.components import (
    CollectContext,
    Component,
    ComponentConfig,
    Deliverer,
    Filter,
    Ranker,
    Renderer,
    Runtime,
    Site,
    Source,
)
from digest.fetch import Fetcher, FetchPolicy, HostLimit, SourceHTTP
from digest.identity import canonical_id
from digest.models import (
    Author,
    Edition,
    Links,
    Outcome,
    Paper,
    Parcel,
    Profile,
    Reason,
    ScoredPaper,
    Selection,
    Subscriber,
)
from digest.plugins import PluginHost
from digest.rendering import make_environment

T = TypeVar("T")

HOSTILE_TITLE = "<script>alert(1)</script> {{ 7*7 }} & $\\alpha$-nets\r\nBcc: victim@example.org"
NOW = dt.datetime(2026, 11, 22, 12, 0, tzinfo=dt.UTC)

__all__ = [
    "HOSTILE_TITLE",
    "NOW",
    "check_component_class",
    "check_deliverer",
    "check_filter",
    "check_ranker",
    "check_renderer",
    "check_source",
    "make_batch",
    "make_context",
    "make_host",
    "make_paper",
    "make_runtime",
    "make_selection",
]


def make_paper(
    arxiv: str | None = "2406.00001",
    *,
    title: str = "A study of things",
    abstract: str = "We study things and find results.",
    authors: Sequence[str] = ("Ada Lovelace", "Alan Turing"),
    categories: Sequence[str] = ("cs.LG",),
    announced: dt.date | None = None,
    doi: str | None = None,
    signals: dict[str, int | float | str | bool] | None = None,
    sources: Sequence[str] = ("test",),
) -> Paper:
    """A realistic paper with sensible defaults; pass ``arxiv=None`` for a non-arXiv work."""
    paper_id, version = canonical_id(
        title=title, first_author=authors[0] if authors else None, arxiv=arxiv, doi=doi
    )
    base = f"https://arxiv.org/abs/{paper_id.value}" if paper_id.kind == "arxiv" else None
    return Paper(
        id=paper_id,
        title=title,
        abstract=abstract,
        authors=tuple(Author(name=a) for a in authors),
        categories=tuple(categories),
        url=base or (f"https://doi.org/{doi}" if doi else None),
        pdf_url=base.replace("/abs/", "/pdf/") if base else None,
        doi=doi,
        announced=announced or NOW.date(),
        version=version,
        sources=tuple(sources),
        signals=signals or {},
    )


def make_batch(papers: Sequence[Paper] | None = None, *, now: dt.datetime = NOW) -> Batch:
    """A batch of ``papers`` (default: five varied papers, one with a hostile title)."""
    if papers is None:
        papers = [
            make_paper(
                "2406.00001", title="Diffusion policies for robot grasping", categories=("cs.RO",)
            ),
            make_paper(
                "2406.00002", title="Large language models reason poorly", categories=("cs.CL",)
            ),
            make_paper(
                "2406.00003",
                title="Backdoor attacks on federated learning",
                categories=("cs.CR", "cs.LG"),
            ),
            make_paper(
                "2406.00004", title=HOSTILE_TITLE, abstract=HOSTILE_TITLE, categories=("cs.LG",)
            ),
            make_paper(None, title="A journal paper without arXiv id", doi="10.1000/xyz123"),
        ]
    return Batch(papers, now=now)


def make_context(
    *,
    now: dt.datetime = NOW,
    state: dict[str, str] | None = None,
    allow: Sequence[str] = ("127.0.0.0/8",),
    interval: float = 0.0,
    retries: int = 2,
    fetcher: Fetcher | None = None,
) -> CollectContext:
    """A collect context with a real HTTP client that may reach local test servers.

    ``allow`` exempts networks from the private-address guard; ``interval`` is the minimum
    spacing of requests to one host (arXiv hosts keep their 3 s unless a ``fetcher`` with
    another policy is passed). Pass ``state`` from an earlier context's ``pending_state`` to
    test conditional GET.
    """
    if fetcher is None:
        fetcher = Fetcher(
            FetchPolicy(
                allow=tuple(allow),
                retries=retries,
                backoff=0.05,
                max_retry_wait=5.0,
                default_limit=HostLimit(interval=interval, connections=4),
            ),
        )
    context = CollectContext(now=now, state=dict(state or {}))
    context.http = SourceHTTP(fetcher, context.state, context.save)
    return context


def make_runtime(tmp_path: Path, *, title: str = "Papers digest") -> Runtime:
    """A runtime writing under ``tmp_path`` with the bundled templates."""
    return Runtime(
        site=Site(
            title=title,
            base_url="https://digest.example.org",
            sender="Papers Digest <digest@example.org>",
        ),
        templates=make_environment(),
        state_dir=tmp_path / "state",
        output_dir=tmp_path / "out",
    )


def make_host(*plugins: object, load_entrypoints: bool = True, strict: bool = False) -> PluginHost:
    """A fresh plugin host with the installed plugins plus ``plugins`` registered in order."""
    extra = [(getattr(p, "__name__", type(p).__name__), p) for p in plugins]
    return PluginHost(load_entrypoints=load_entrypoints, extra=extra, strict=strict)


def make_selection(
    papers: Sequence[Paper] | None = None,
    *,
    subscriber: Subscriber | None = None,
    reasons: Sequence[Reason] = (Reason(kind="keywords", text="matches your keywords: things"),),
) -> Selection:
    """A selection of ``papers`` (default: :func:`make_batch`'s) for a test subscriber."""
    papers = list(papers if papers is not None else make_batch().papers)
    sub = subscriber or Subscriber(name="tester", email="tester@example.org")
    edition = Edition(id="20261122T120000Z-abc123", created=NOW)
    base = "https://digest.example.org"
    return Selection(
        subscriber=sub,
        edition=edition,
        items=tuple(
            ScoredPaper(paper=p, score=round(1 - i / (len(papers) + 1), 4), reasons=tuple(reasons))
            for i, p in enumerate(papers)
        ),
        links=Links(
            unsubscribe=f"{base}/unsubscribe/tok",
            unsubscribe_mailto=None,
            preferences=f"{base}/preferences/tok",
            archive=f"{base}/archive/e/tok",
            feed=f"{base}/feeds/tok/rss.xml",
        ),
        candidates=len(papers),
    )


# -- contract checks ---------------------------------------------------------------------------


def check_component_class(cls: type[Component]) -> None:
    """A registered name, a docstring, and a ``Config`` that rejects unknown keys."""
    assert isinstance(getattr(cls, "name", None), str) and cls.name, f"{cls!r} needs a name"
    assert cls.__doc__, f"{cls.__qualname__} needs a docstring"
    assert issubclass(cls.Config, ComponentConfig), "Config must subclass digest.ComponentConfig"
    assert cls.Config.model_config.get("extra") == "forbid", "Config must forbid unknown keys"


def _contract(what: str, check: Callable[..., T], value: object, *args: object) -> T:
    """``check(value, *args)``, one of the core's own checks (:mod:`digest.checks`): the test
    fails where the core would drop the component, with the same message."""
    try:
        return check(value, *args)
    except checks.ContractError as error:
        raise AssertionError(f"{what} {error}") from None


def check_source(
    source: Source, *, now: dt.datetime = NOW, context: CollectContext | None = None
) -> list[Paper]:
    """``collect`` yields Papers with canonical ids and readable titles; returns them."""
    check_component_class(type(source))
    collected = source.collect(context or make_context(now=now))
    papers = [_contract("collect()", checks.paper, item) for item in collected]
    for paper in papers:
        assert paper.id.kind in ("arxiv", "doi", "fp", "url"), f"bad id {paper.id}"
        assert paper.title.strip(), f"{paper.id} has an empty title"
        if paper.id.kind == "arxiv":
            assert "v" not in paper.id.value.rsplit("/", 1)[-1], f"{paper.id} keeps its version"
    return papers


def _profiles() -> list[Profile]:
    return [
        Profile(),
        Profile(keywords=("robot", "language model"), categories=("cs.RO",)),
        Profile(exclude=("attack",), authors=("Ada Lovelace",)),
    ]


def check_filter(component: Filter, batch: Batch | None = None) -> None:
    """``keep`` returns ``None`` or one boolean per paper, the same every time."""
    check_component_class(type(component))
    batch = batch or make_batch()
    component.prepare(batch)
    for profile in _profiles():
        mask = _contract("keep()", checks.mask, component.keep(profile, batch), len(batch))
        if mask is None:
            continue
        again = component.keep(profile, batch)
        assert again is not None and np.array_equal(mask, np.asarray(again)), "not deterministic"


def check_ranker(component: Ranker, batch: Batch | None = None) -> None:
    """``score`` gives one finite score in [0, 1] per paper; ``explain`` gives one-line
    Reasons; ``vectors``, if any, has one row per paper."""
    check_component_class(type(component))
    batch = batch or make_batch()
    component.prepare(batch)
    for profile in _profiles():
        _contract("score()", checks.scores, component.score(profile, batch), len(batch))
        for position in range(len(batch)):
            _contract("explain()", checks.reasons, component.explain(profile, batch, position))
    _contract("vectors()", checks.vectors, component.vectors(batch), len(batch))


def check_renderer(component: Renderer, selection: Selection | None = None) -> None:
    """Artifacts are text; hostile titles are escaped in markup and never evaluated."""
    check_component_class(type(component))
    selection = selection or make_selection()
    component.prepare(make_batch([i.paper for i in selection.items]))
    artifacts = _contract("render()", checks.artifacts, component.render(selection))
    assert artifacts, "render() returned no artifacts"
    for artifact in artifacts:
        markup = "html" in artifact.media_type or artifact.media_type.endswith("xml")
        if markup:  # plain text shows "<script>" as the characters it is
            assert "<script>alert(1)" not in artifact.content, f"{artifact.role}: raw <script>"
        hostile = any("{{ 7*7 }}" in item.paper.title for item in selection.items)
        if hostile and artifact.role in ("html", "text", "rss", "atom"):
            # Shown as written: an evaluated template would have turned it into "49".
            assert "{{ 7*7 }}" in artifact.content, f"{artifact.role}: evaluated {{{{ }}}}"
        if artifact.role == "subject":
            assert "\n" not in artifact.content and "\r" not in artifact.content


def check_deliverer(component: Deliverer, parcels: Iterable[Parcel]) -> list[Outcome]:
    """Every parcel gets an Outcome; delivering the same parcel twice is harmless."""
    check_component_class(type(component))
    component.open()
    try:
        outcomes = []
        for parcel in parcels:
            first = _contract("deliver()", checks.outcome, component.deliver(parcel))
            outcomes.append(first)
            again = _contract("deliver()", checks.outcome, component.deliver(parcel))
            assert again.status == first.status, "delivering twice changed the outcome"
        return outcomes
    finally:
        component.close()
