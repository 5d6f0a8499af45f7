"""Test-only components and a way to build a pipeline with them."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from pathlib import Path
from typing import ClassVar

from pydantic import Field

from digest import (
    CollectContext,
    ComponentConfig,
    Deliverer,
    DelivererConfig,
    Ranker,
    Source,
    SourceError,
    hookimpl,
)
from digest.application import Application
from digest.batch import Batch, Scores
from digest.models import Outcome, Paper, Parcel, Profile
from digest.pipeline import Pipeline
from digest.store import Store, paper_from_json, paper_to_json
from digest.testing import make_host


class JsonLinesSource(Source):
    """Papers from a JSON Lines file of stored-paper records, re-read on every run."""

    name = "jsonl"

    class Config(ComponentConfig):
        file: Path
        fail: bool = Field(False, description="raise instead of collecting")
        expects: bool | None = Field(None, description="what expects_papers() answers")

    config: Config

    def expects_papers(self, now: dt.datetime) -> bool | None:
        return self.config.expects

    def collect(self, context: CollectContext) -> Iterable[Paper]:
        if self.config.fail:
            raise SourceError(f"{self.config.file}: HTTP 503 Service Unavailable")
        lines = self.runtime.path(self.config.file).read_text().splitlines()
        context.save("seen", str(len(lines)))
        return [paper_from_json(line) for line in lines]


class ExplodingRanker(Ranker):
    """Raises for every subscriber."""

    name = "exploding"

    def score(self, profile: Profile, batch: Batch) -> Scores:
        raise RuntimeError("model server unreachable")


class FlakyDeliverer(Deliverer):
    """Delivers like a sink but fails for chosen subscribers or crashes after N parcels."""

    name = "flaky"
    channels = ("email", "feed")
    parcels: ClassVar[list[Parcel]] = []
    events: ClassVar[list[str]] = []

    class Config(DelivererConfig):
        fail_for: tuple[str, ...] = ()
        defer_all: bool = False
        crash_after: int | None = None

    config: Config

    def open(self) -> None:
        self.events.append("open")

    def close(self) -> None:
        self.events.append("close")

    def deliver(self, parcel: Parcel) -> Outcome:
        from digest.models import DeliveryStatus

        if self.config.crash_after is not None and len(self.parcels) >= self.config.crash_after:
            raise KeyboardInterrupt("simulated crash")
        if parcel.selection.subscriber.name in self.config.fail_for:
            raise ConnectionError(f"mailbox {parcel.selection.subscriber.email} unavailable")
        if self.config.defer_all:
            return Outcome(status=DeliveryStatus.CLAIMED, detail="421 4.7.0 Try again later")
        self.parcels.append(parcel)
        return Outcome(status=DeliveryStatus.SENT)


class TestPlugin:
    @hookimpl
    def register_sources(self) -> list[type[Source]]:
        return [JsonLinesSource]

    @hookimpl
    def register_rankers(self) -> list[type[Ranker]]:
        return [ExplodingRanker]

    @hookimpl
    def register_deliverers(self) -> list[type[Deliverer]]:
        return [FlakyDeliverer]


#: one subscriber ("victim"), papers from ``papers.jsonl``, recency only, files out
ONE_SUBSCRIBER = """
[digest]
state_dir = "state"
output_dir = "out"
secret_key = "s"

[selection]
rankers = { recency = 1.0 }

[sources.main]
component = "jsonl"
file = "papers.jsonl"

[rankers.recency]
component = "recency"

[renderers.email]
component = "email"

[renderers.feed]
component = "feed"

[deliverers.files]
component = "files"

[subscribers.victim]
email = "victim@example.org"
"""


def write_papers(path: Path, papers: Iterable[Paper]) -> None:
    path.write_text("".join(paper_to_json(p) + "\n" for p in papers), "utf-8")


def build_pipeline(config: Path, *plugins: object) -> Pipeline:
    """The pipeline of ``config`` with :class:`TestPlugin` and ``plugins`` registered (a
    :class:`~digest.errors.ConfigError` lists any problem)."""
    return Application.from_path(config, host=make_host(TestPlugin(), *plugins)).pipeline


def stored_papers_json(store: Store) -> list[dict[str, object]]:
    from sqlalchemy import select

    from digest.store import papers

    with store.engine.connect() as conn:
        return [json.loads(r.data) for r in conn.execute(select(papers.c.data))]
