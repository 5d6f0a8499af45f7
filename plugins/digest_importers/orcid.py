"""``orcid``: the works on a public ORCID record (ORCID public API v3.0).

``GET https://pub.orcid.org/v3.0/<iD>/works`` with ``Accept: application/json`` answers
``{"group": [...]}``: one group per work, its ``work-summary`` list holding the same work as
each source reported it (the first is the preferred one) with ``title.title.value``,
``external-ids.external-id[]`` (``external-id-type`` ``doi`` / ``arxiv``,
``external-id-value``), ``url.value`` and ``publication-date`` (``year``/``month``/``day``,
each ``{"value": …}`` or null). Summaries carry no authors.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from digest import ImportHTTP, ProfileImporter
from digest.models import Paper

from .common import dig, published, text

_ORCID = re.compile(
    r"^(?:https?://(?:www\.|sandbox\.)?orcid\.org/)?(\d{4})-?(\d{4})-?(\d{4})-?(\d{3}[\dX])/?$",
    re.IGNORECASE,
)


def checksum(digits: str) -> str:
    """The ORCID check character of the first 15 digits (ISO 7064 MOD 11-2)."""
    total = 0
    for digit in digits:
        total = (total + int(digit)) * 2
    result = (12 - total % 11) % 11
    return "X" if result == 10 else str(result)


class OrcidImporter(ProfileImporter):
    """The works listed on a researcher's public ORCID record."""

    name = "orcid"
    label = "ORCID record"
    placeholder = "0000-0002-1825-0097"
    help = "Your ORCID iD (16 digits, the last may be X), or its orcid.org address."
    base_url = "https://pub.orcid.org/v3.0"

    def validate(self, ref: str) -> str:
        ref = super().validate(ref)
        match = _ORCID.match(ref)
        if not match:
            raise self.error(ref, "not an ORCID iD (want 0000-0002-1825-0097)")
        orcid = "-".join(match.groups()).upper()
        digits = orcid.replace("-", "")
        if checksum(digits[:15]) != digits[15]:
            raise self.error(ref, "not an ORCID iD: the check digit does not match")
        return orcid

    def read(self, ref: str, http: ImportHTTP, *, options: Mapping[str, str]) -> list[Paper]:
        ref = self.validate(ref)
        url = f"{self.base_url}/{ref}/works"
        doc, _ = self.get_json(http, ref, url)
        groups = dig(doc, "group")
        if not isinstance(groups, list):
            raise self.error(ref, f"{url}: no 'group' list of works in the reply")
        return self.unique(self._paper(dig(group, "work-summary", 0)) for group in groups)

    def _paper(self, work: Any) -> Paper | None:
        if not isinstance(work, dict):
            return None
        ids = dig(work, "external-ids", "external-id")
        found: dict[str, str] = {}
        for item in ids if isinstance(ids, list) else []:
            kind = text(dig(item, "external-id-type")).lower()
            value = text(dig(item, "external-id-value"))
            if kind in ("doi", "arxiv") and value:
                found.setdefault(kind, value)
        date = dig(work, "publication-date")
        url = text(dig(work, "url", "value"))
        return self.paper(
            title=text(dig(work, "title", "title", "value")),
            arxiv=found.get("arxiv"),
            doi=found.get("doi"),
            links=(url,),
            url=url or None,
            published=published(
                dig(date, "year", "value"), dig(date, "month", "value"), dig(date, "day", "value")
            ),
        )
