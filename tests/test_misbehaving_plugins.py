"""What plugins return is checked at run time: garbage is reported naming the component, the
component is dropped for the rest of the run, and everything else goes on."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest
from pydantic import Field

from digest import ComponentConfig, Deliverer, Filter, Ranker, Renderer, hookimpl
from digest.batch import Batch, Mask, Scores
from digest.models import Artifact, Outcome, Parcel, Profile, Reason, Selection
from digest.testing import make_paper
from helpers import build_pipeline, write_papers


class BadConfig(ComponentConfig):
    mode: str = Field("ok", description="what to return")


class BadRanker(Ranker[BadConfig]):
    """Scores that are wrong in the way ``mode`` says; counts its calls."""

    name = "bad"
    calls: ClassVar[int] = 0

    def score(self, profile: Profile, batch: Batch) -> Scores:
        type(self).calls += 1
        mode = self.config.mode
        if mode == "short":
            return np.array([0.5])
        if mode == "nan":
            return np.full(len(batch), np.nan)
        if mode == "range":
            return np.full(len(batch), 7.0)
        if mode == "text":
            return np.array(["high"] * len(batch))  # type: ignore[return-value]
        if mode == "none":
            return None  # type: ignore[return-value]
        return np.full(len(batch), 0.5)

    def explain(self, profile: Profile, batch: Batch, position: int) -> Sequence[Reason]:
        if self.config.mode == "bad-reasons":
            return ["because"]  # type: ignore[list-item]
        return (Reason(kind="bad", text="the bad ranker liked it"),)


class BadFilter(Filter[BadConfig]):
    """A mask of the wrong length or type."""

    name = "badfilter"
    calls: ClassVar[int] = 0

    def keep(self, profile: Profile, batch: Batch) -> Mask | None:
        type(self).calls += 1
        if self.config.mode == "short":
            return np.ones(1, dtype=np.bool_)
        return np.ones(len(batch), dtype=np.float64)  # type: ignore[return-value]


class BadRenderer(Renderer[BadConfig]):
    """Renders the feed channel as something that is not an Artifact."""

    name = "badrenderer"
    channel = "feed"
    calls: ClassVar[int] = 0

    def render(self, selection: Selection) -> Sequence[Artifact]:
        type(self).calls += 1
        return [{"role": "rss", "content": "<rss/>"}]  # type: ignore[list-item]


class BadDeliverer(Deliverer):
    """Answers True instead of an Outcome."""

    name = "baddeliverer"
    channels = ("email",)
    calls: ClassVar[int] = 0

    def deliver(self, parcel: Parcel) -> Outcome:
        type(self).calls += 1
        return True  # type: ignore[return-value]


class Misbehaving:
    @hookimpl
    def register_rankers(self) -> list[type[Ranker]]:
        return [BadRanker]

    @hookimpl
    def register_filters(self) -> list[type[Filter]]:
        return [BadFilter]

    @hookimpl
    def register_renderers(self) -> list[type[Renderer]]:
        return [BadRenderer]

    @hookimpl
    def register_deliverers(self) -> list[type[Deliverer]]:
        return [BadDeliverer]


CONFIG = """
[digest]
state_dir = "state"
output_dir = "out"
secret_key = "s"
workers = 1

[selection]
rankers = {{ keywords = 1.0, bad = 1.0 }}
filters = [{filters}]

[sources.main]
component = "jsonl"
file = "papers.jsonl"

[rankers.keywords]
component = "keywords"

[rankers.bad]
component = "bad"
mode = "{mode}"

[filters.badfilter]
component = "badfilter"
mode = "{mode}"

[renderers.email]
component = "email"

[renderers.feed]
component = "{feed_renderer}"

[deliverers.mail]
component = "{email_deliverer}"
channels = ["email"]

[deliverers.files]
component = "files"
channels = ["feed"]
"""

SUBSCRIBERS = "".join(
    f'\n[subscribers.s{n}]\nemail = "s{n}@example.org"\nkeywords = ["robot"]\n' for n in range(5)
)


@pytest.fixture
def run(tmp_path: Path) -> Any:
    write_papers(
        tmp_path / "papers.jsonl",
        [make_paper(f"2411.{n:05d}", title=f"A robot paper {n}") for n in range(1, 301)],
    )
    for cls in (BadRanker, BadFilter, BadRenderer, BadDeliverer):
        cls.calls = 0

    def go(
        mode: str = "ok",
        *,
        filters: str = "",
        feed_renderer: str = "feed",
        email_deliverer: str = "files",
    ) -> Any:
        text = CONFIG.format(
            mode=mode,
            filters=filters,
            feed_renderer=feed_renderer,
            email_deliverer=email_deliverer,
        )
        (tmp_path / "config.toml").write_text(text + SUBSCRIBERS, "utf-8")
        return build_pipeline(tmp_path / "config.toml", Misbehaving()).run()

    return go


def _problems(report: Any, where: str) -> list[str]:
    return [p.message for p in report.problems if p.where == where]


@pytest.mark.parametrize(
    ("mode", "message"),
    [
        ("short", "returned 1 score for 300 papers"),
        ("nan", "returned 300 scores that are NaN or infinite"),
        ("range", "returned scores outside [0, 1]"),
        ("text", "returned scores of dtype <U4, want floats"),
        ("none", "returned None, not an array of scores"),
    ],
)
def test_a_ranker_returning_garbage_is_named_dropped_and_the_run_goes_on(
    run: Any, mode: str, message: str
) -> None:
    report = run(mode)
    assert [m for m in _problems(report, "rankers.bad") if message in m] != [], report.problems
    assert len(_problems(report, "rankers.bad")) == 1, "reported once, not per subscriber"
    assert BadRanker.calls == 1, "dropped for the rest of the run after the first answer"
    # The keywords ranker still decides: every subscriber gets their robot papers.
    assert report.delivered == 5 and not report.skipped, report


def test_a_ranker_giving_malformed_reasons_is_dropped_but_its_picks_stand(run: Any) -> None:
    report = run("bad-reasons")
    assert any(
        "returned a str in its explain() result, not a Reason" in m
        for m in _problems(report, "rankers.bad")
    ), report.problems
    assert report.delivered == 5


@pytest.mark.parametrize(
    ("mode", "message"),
    [
        ("short", "returned a mask of 1 value for 300 papers"),
        ("float", "returned a mask of dtype float64, want bool"),
    ],
)
def test_a_filter_returning_garbage_skips_its_subscribers_and_is_not_asked_again(
    run: Any, mode: str, message: str
) -> None:
    report = run(mode, filters='"badfilter"')
    assert any(message in m for m in _problems(report, "filters.badfilter")), report.problems
    assert BadFilter.calls == 1
    assert report.delivered == 0
    assert set(report.skipped.values()) == {"filter 'badfilter' failed"}


def test_a_renderer_returning_garbage_is_named_and_the_other_channels_deliver(
    run: Any,
) -> None:
    report = run(feed_renderer="badrenderer")
    assert any(
        "returned a dict in its render() result, not an Artifact" in m
        for m in _problems(report, "renderers.feed")
    ), report.problems
    assert BadRenderer.calls == 1
    assert report.delivered == 5  # the email channel still went out
    assert all("(feed)" in key for key in report.failed)


def test_a_deliverer_returning_garbage_is_named_and_its_parcels_retried_later(
    run: Any,
) -> None:
    report = run(email_deliverer="baddeliverer")
    assert any(
        "returned a bool, not a digest.models.Outcome" in m
        for m in _problems(report, "deliverers.mail")
    ), report.problems
    assert BadDeliverer.calls == 1
    # Nobody knows whether that message left: it stays claimed for the next run (same
    # Message-ID), and the edition is not complete.
    assert len(report.deferred) == 5


@pytest.mark.parametrize(
    ("mode", "message"),
    [
        ("short", "score() returned 1 score for 5 papers"),
        ("nan", "score() returned 5 scores that are NaN or infinite"),
        ("bad-reasons", "explain() returned a str in its explain() result, not a Reason"),
    ],
)
def test_the_contract_checks_plugin_authors_run_say_what_the_core_would(
    tmp_path: Path, mode: str, message: str
) -> None:
    from digest.testing import check_ranker, make_runtime

    ranker = BadRanker(BadConfig(mode=mode), instance="bad", runtime=make_runtime(tmp_path))
    with pytest.raises(AssertionError, match=re.escape(message)):
        check_ranker(ranker)
