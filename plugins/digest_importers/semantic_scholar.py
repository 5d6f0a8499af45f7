"""``semantic-scholar``: an author's papers from the Semantic Scholar Academic Graph API.

``GET https://api.semanticscholar.org/graph/v1/author/<id>/papers?fields=…&limit=100&offset=N``
answers ``{"offset": N, "next": M, "data": [...]}`` (no ``next`` on the last page); each paper
has ``title``, ``abstract`` (may be null), ``year``, ``authors[]`` (``name``) and
``externalIds`` (``ArXiv``, ``DOI`` …). An API key is optional (header ``x-api-key``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from digest import ImportHTTP, ProfileImporter
from digest.models import Paper

from .common import MAX_PAPERS, dig, text

_AUTHOR = re.compile(r"^(?:https?://(?:www\.)?semanticscholar\.org/author/(?:[^/]+/)?)?(\d+)/?$")
FIELDS = "title,externalIds,authors,abstract,year"
PAGE_SIZE = 100


class SemanticScholarImporter(ProfileImporter):
    """The papers Semantic Scholar attributes to one author."""

    name = "semantic-scholar"
    label = "Semantic Scholar author"
    placeholder = "1741101"
    help = (
        "The number at the end of your author page's address on semanticscholar.org "
        "(semanticscholar.org/author/<name>/<id>), or that address."
    )
    option_names = ("api_key", "api_key_env")
    base_url = "https://api.semanticscholar.org/graph/v1"

    def validate(self, ref: str) -> str:
        ref = super().validate(ref)
        match = _AUTHOR.match(ref)
        if not match:
            raise self.error(ref, "not a Semantic Scholar author id (want digits, e.g. 1741101)")
        return match.group(1)

    def read(self, ref: str, http: ImportHTTP, *, options: Mapping[str, str]) -> list[Paper]:
        ref = self.validate(ref)
        key = self.api_key(ref, options)
        headers = {"x-api-key": key} if key else None
        url = f"{self.base_url}/author/{ref}/papers"
        papers: list[Paper | None] = []
        offset: int | None = 0
        while offset is not None and offset < MAX_PAPERS:
            params = {"fields": FIELDS, "limit": str(PAGE_SIZE), "offset": str(offset)}
            doc, _ = self.get_json(http, ref, url, params=params, headers=headers)
            data = dig(doc, "data")
            if not isinstance(data, list):
                raise self.error(ref, f"{url}: no 'data' list of papers in the reply")
            papers.extend(self._paper(item) for item in data)
            after = dig(doc, "next")
            offset = after if isinstance(after, int) and after > offset and data else None
        return self.unique(papers)

    def _paper(self, item: Any) -> Paper | None:
        if not isinstance(item, dict):
            return None
        authors = dig(item, "authors")
        return self.paper(
            title=text(item.get("title")),
            authors=[text(dig(a, "name")) for a in authors] if isinstance(authors, list) else [],
            abstract=text(item.get("abstract")),
            arxiv=text(dig(item, "externalIds", "ArXiv")) or None,
            doi=text(dig(item, "externalIds", "DOI")) or None,
        )
