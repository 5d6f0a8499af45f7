"""The ``sample`` source: ~300 real arXiv papers bundled with papers-digest.

It lets ``digest run`` work offline on a fresh machine: three real announcement days (December
2025, ~100 papers each, a mix of cs.CV, cs.CL, cs.LG, cs.AI, cs.RO, cs.CR, cs.IR, cs.HC …),
those featured on Hugging Face daily papers with their upvotes and code links. The data file is
built by ``tools/build_sample_data.py``.
"""

from __future__ import annotations

import datetime as dt
import gzip
import importlib.resources
import json
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from pydantic import Field

from digest import CollectContext, ComponentConfig, Source, SourceError, canonical_id, hookimpl
from digest.models import Author, Paper, SignalValue

DATA_FILE = "papers.jsonl.gz"
SOURCE_NAME = "sample"


def load_records() -> list[dict[str, Any]]:
    """The bundled records as stored, ordered by (announced, id).

    Read through importlib.resources so it works from a wheel or a zip, not just a checkout.
    """
    resource = importlib.resources.files(__package__ or __name__).joinpath(DATA_FILE)
    try:
        with resource.open("rb") as raw, gzip.open(raw, "rt", encoding="utf-8") as handle:
            return [json.loads(line) for line in handle if line.strip()]
    except (OSError, ValueError) as error:
        raise SourceError(f"bundled sample data is unreadable: {error}") from error


def to_paper(record: Mapping[str, Any], announced: dt.date) -> Paper:
    """One bundled record as a :class:`Paper` announced on ``announced``."""
    paper_id, version = canonical_id(
        title=record["title"],
        first_author=record["authors"][0] if record["authors"] else None,
        arxiv=record["id"],
    )
    arxiv_id = paper_id.value
    signals: dict[str, SignalValue] = {}
    if record.get("upvotes") is not None:
        signals["hf.upvotes"] = int(record["upvotes"])
    return Paper(
        id=paper_id,
        title=record["title"],
        abstract=record.get("abstract", ""),
        authors=tuple(Author(name=name) for name in record["authors"]),
        categories=tuple(record["categories"]),
        url=f"https://arxiv.org/abs/{arxiv_id}",
        pdf_url=f"https://arxiv.org/pdf/{arxiv_id}",
        code_url=record.get("github_repo") or None,
        announced=announced,
        version=version,
        sources=(SOURCE_NAME,),
        signals=signals,
    )


class SampleSource(Source):
    """Real papers bundled with the package, for demos, tests and first runs without network.

    ``days`` limits the output to the first N announcement days, so raising it from run to run
    simulates new papers arriving. With ``shift_to_today`` (the default) the days are re-dated
    so that the latest day emitted falls on the run's date, keeping their relative spacing.
    """

    name = SOURCE_NAME
    description = "~300 real arXiv papers bundled with papers-digest (offline demo data)"

    class Config(ComponentConfig):
        days: int | None = Field(
            default=None,
            ge=1,
            description="Emit only the first N announcement days (all three when unset).",
        )
        shift_to_today: bool = Field(
            default=True,
            description=(
                "Re-date the announcement days so the latest day emitted is the run's date, "
                "keeping their spacing; false keeps the real 2025 dates."
            ),
        )

    config: Config

    def collect(self, context: CollectContext) -> Iterable[Paper]:
        records = load_records()
        days = sorted({dt.date.fromisoformat(r["announced"]) for r in records})
        if self.config.days is not None:
            days = days[: self.config.days]
        if not days:
            return []
        # Shift by the latest day *emitted*, so with days=1 the first day reads as "today".
        shift = context.now.date() - days[-1] if self.config.shift_to_today else dt.timedelta()
        wanted = set(days)
        return list(_papers(records, wanted, shift))


def _papers(
    records: Iterable[Mapping[str, Any]], days: set[dt.date], shift: dt.timedelta
) -> Iterator[Paper]:
    for record in records:
        announced = dt.date.fromisoformat(record["announced"])
        if announced in days:
            yield to_paper(record, announced + shift)


@hookimpl
def register_sources() -> list[type[Source]]:
    return [SampleSource]
