"""The ``sample`` source: ~150 invented demo papers written for papers-digest.

It lets ``digest run`` work offline on a fresh machine. The papers are fiction written for this
project — titles, abstracts and author names are invented, none describes or paraphrases a
real paper — spread over three announcement days of about 50 papers each. They cover the
fields of the example subscribers of the embedded default configuration (robot learning,
large language models, security and privacy of machine learning) plus filler from cs.CV,
cs.LG, cs.IR, cs.HC, eess.AS, stat.ML, q-bio.NC and others; some carry Hugging Face style
upvotes and code links.

Every paper lives in a reserved demo namespace so it can never pass for a real one: its DOI is
``10.5555/papers-digest-demo.NNNN`` under Crossref's test prefix (canonical id
``doi:10.5555/papers-digest-demo.nnnn``), and its links point to ``https://example.org/``, a
domain reserved for documentation.

The data is ``papers.jsonl`` next to this module: plain JSON Lines, one paper a line, edited
by hand. Keys: ``id`` (the DOI), ``day`` (1, 2 or 3), ``title``, ``abstract``, ``authors``,
``categories`` (primary first), and optionally ``upvotes`` and ``code`` (a code link).
"""

from __future__ import annotations

import datetime as dt
import importlib.resources
import json
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from pydantic import Field

from digest import CollectContext, ComponentConfig, Source, SourceError, canonical_id
from digest.models import Author, Paper, SignalValue

__all__ = ["DAY_DATES", "SampleConfig", "SampleSource", "load_records", "to_paper"]

DATA_FILE = "papers.jsonl"
SOURCE_NAME = "sample"
#: the DOI prefix of every bundled paper: Crossref's test prefix, a demo-only suffix
DOI_PREFIX = "10.5555/papers-digest-demo."
#: where the demo links point: example.org is reserved for documentation (RFC 2606)
URL_BASE = "https://example.org/papers-digest-demo/"
#: the nominal dates of announcement days 1, 2 and 3, used as they are without ``shift_to_today``
DAY_DATES: Mapping[int, dt.date] = {
    1: dt.date(2025, 12, 9),
    2: dt.date(2025, 12, 10),
    3: dt.date(2025, 12, 11),
}


def load_records() -> list[dict[str, Any]]:
    """The bundled records as stored, in file order (by day, then number).

    Read through importlib.resources so it works from a wheel or a zip, not just a checkout.
    """
    resource = importlib.resources.files(__package__ or __name__).joinpath(DATA_FILE)
    try:
        text = resource.read_text(encoding="utf-8")
        records = [json.loads(line) for line in text.splitlines() if line.strip()]
    except (OSError, ValueError) as error:
        raise SourceError(f"bundled sample data is unreadable: {error}") from error
    for record in records:
        if not isinstance(record, dict) or record.get("day") not in DAY_DATES:
            raise SourceError(f"bundled sample data has a bad record: {str(record)[:80]}")
    return records


def to_paper(record: Mapping[str, Any], announced: dt.date) -> Paper:
    """One bundled record as a :class:`Paper` announced on ``announced``."""
    doi = str(record["id"])
    if not doi.startswith(DOI_PREFIX):
        raise SourceError(f"bundled sample paper {doi!r} is outside the demo DOI namespace")
    number = doi.removeprefix(DOI_PREFIX)
    paper_id, _ = canonical_id(
        title=record["title"],
        first_author=record["authors"][0] if record["authors"] else None,
        doi=doi,
    )
    signals: dict[str, SignalValue] = {}
    if record.get("upvotes") is not None:
        signals["hf.upvotes"] = int(record["upvotes"])
    return Paper(
        id=paper_id,
        title=record["title"],
        abstract=record.get("abstract", ""),
        authors=tuple(Author(name=name) for name in record["authors"]),
        categories=tuple(record["categories"]),
        url=f"{URL_BASE}{number}",
        pdf_url=f"{URL_BASE}{number}.pdf",
        code_url=record.get("code") or None,
        doi=paper_id.value,
        announced=announced,
        sources=(SOURCE_NAME,),
        signals=signals,
    )


class SampleConfig(ComponentConfig):
    """``[sources.<instance>]`` options of :class:`SampleSource`."""

    days: int | None = Field(
        default=None,
        ge=1,
        description="Emit only the first N announcement days (all three when unset).",
    )
    shift_to_today: bool = Field(
        default=True,
        description=(
            "Re-date the announcement days so the latest day emitted is the run's date, "
            "keeping their spacing; false keeps their nominal dates (9-11 December 2025)."
        ),
    )


class SampleSource(Source[SampleConfig]):
    """Invented demo papers bundled with the package, for demos, tests and first runs offline.

    ``days`` limits the output to the first N announcement days, so raising it from run to run
    simulates new papers arriving. With ``shift_to_today`` (the default) the days are re-dated
    so that the latest day emitted falls on the run's date, keeping their relative spacing.
    """

    name = SOURCE_NAME
    description = "~150 invented demo papers written for papers-digest (offline demo data)"

    def collect(self, context: CollectContext) -> Iterable[Paper]:
        records = load_records()
        days = sorted({DAY_DATES[r["day"]] for r in records})
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
        announced = DAY_DATES[record["day"]]
        if announced in days:
            yield to_paper(record, announced + shift)
