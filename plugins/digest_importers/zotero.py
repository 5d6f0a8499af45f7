"""``zotero``: a Zotero library (or one collection of it) through the Zotero web API v3.

``GET https://api.zotero.org/users/<id>/items?format=json&limit=100&start=N`` (or
``/groups/<id>/…``, ``…/collections/<key>/items``) answers a JSON array of items, each with a
``data`` object: ``itemType`` (attachments, notes and annotations are skipped), ``title``,
``creators`` (``firstName``/``lastName`` or a single ``name``), ``abstractNote``, ``date``,
``DOI``, ``url``, ``extra`` (lines such as ``arXiv: 2401.01234``) and ``archiveID``
(``arXiv:2401.01234``). The next page is the ``Link: <…>; rel="next"`` header, and
``Total-Results`` says how many there are. A private library needs an API key, sent as the
``Zotero-API-Key`` header (option ``api_key``, or ``api_key_env`` naming the variable).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from digest import ImportHTTP, ProfileImporter
from digest.models import Paper

from .common import MAX_PAPERS, dig, published, text

#: ``users/1001``, ``groups/98765/collections/ABCD1234``, or such a path of a zotero.org address
#: (``https://www.zotero.org/groups/98765/lab_papers/collections/ABCD1234``: a group's slug and
#: ``/library`` are skipped)
_REF = re.compile(
    r"^(?:(?:https?://)?(?:www\.|api\.)?zotero\.org/)?(users|groups)/(\d+)"
    r"(?:/(?!collections/)[^/?#]+)?(?:/library)?(?:/collections/([A-Z0-9]{8}))?/?(?:[?#].*)?$",
    re.IGNORECASE,
)
_LINK = re.compile(r'<([^>]*)>\s*;\s*rel="?next"?', re.IGNORECASE)
_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})")
SKIPPED_TYPES = frozenset({"attachment", "note", "annotation"})
PAGE_SIZE = 100


class ZoteroImporter(ProfileImporter):
    """The items of a Zotero user or group library, or of one of its collections."""

    name = "zotero"
    label = "Zotero library"
    placeholder = "users/123456"
    help = (
        "users/123456 or groups/98765 (or a group's zotero.org address), optionally "
        "/collections/ABCD1234: your user ID is on zotero.org/settings/keys. A private library "
        "needs an API key with read access."
    )
    option_names = ("api_key", "api_key_env")
    base_url = "https://api.zotero.org"

    def validate(self, ref: str) -> str:
        ref = super().validate(ref).strip("/")
        match = _REF.match(ref)
        if not match:
            raise self.error(ref, "want users/<id> or groups/<id>, optionally /collections/<key>")
        kind, number, collection = match.groups()
        ref = f"{kind.lower()}/{number}"
        return f"{ref}/collections/{collection.upper()}" if collection else ref

    def read(self, ref: str, http: ImportHTTP, *, options: Mapping[str, str]) -> list[Paper]:
        ref = self.validate(ref)
        headers = {"Zotero-API-Version": "3"}
        key = self.api_key(ref, options)
        if key:
            headers["Zotero-API-Key"] = key
        url: str | None = f"{self.base_url}/{ref}/items"
        params: dict[str, str] | None = {"format": "json", "limit": str(PAGE_SIZE), "start": "0"}
        papers: list[Paper | None] = []
        read = 0
        while url is not None and read < MAX_PAPERS:
            items, fetched = self.get_json(http, ref, url, params=params, headers=headers)
            if not isinstance(items, list):
                raise self.error(ref, f"{url}: want a JSON array of items")
            read += len(items)
            papers.extend(self._paper(item) for item in items)
            url, params = self._next(ref, fetched.headers.get("link", "")), None
            total = fetched.headers.get("total-results", "")
            if not items or (total.isdigit() and read >= int(total)):
                break
        return self.unique(papers)

    def _next(self, ref: str, link: str) -> str | None:
        """The ``rel="next"`` URL, only on the API's own host (a reply cannot send us
        elsewhere)."""
        match = _LINK.search(link)
        if not match:
            return None
        url = match.group(1)
        if urlsplit(url)[:2] != urlsplit(self.base_url)[:2]:
            raise self.error(ref, f"the next page {url!r} is not on {self.base_url}")
        return url

    def _paper(self, item: Any) -> Paper | None:
        data = dig(item, "data")
        if not isinstance(data, dict) or text(data.get("itemType")) in SKIPPED_TYPES:
            return None
        extra = text(data.get("extra"))
        arxiv = [
            line.split(":", 1)[1].strip()
            for line in extra.splitlines()
            if line.lower().startswith("arxiv:")
        ]
        dois = [
            line.split(":", 1)[1].strip()
            for line in extra.splitlines()
            if line.lower().startswith("doi:")
        ]
        archive = text(data.get("archiveID"))
        if archive.lower().startswith("arxiv"):
            arxiv.append(archive)
        date = _DATE.match(text(data.get("date")))
        return self.paper(
            title=text(data.get("title")),
            authors=_creators(data.get("creators")),
            abstract=text(data.get("abstractNote")),
            arxiv=next(iter(arxiv), None)
            or (archive if archive.lower().startswith("arxiv") else None),
            doi=text(data.get("DOI")) or next(iter(dois), None),
            links=(text(data.get("url")),),
            url=text(data.get("url")) or None,
            published=published(*date.groups()) if date else None,
        )


def _creators(creators: Any) -> list[str]:
    """Authors' names ("First Last"); every creator when none is marked as an author."""
    if not isinstance(creators, list):
        return []
    people = [c for c in creators if isinstance(c, dict)]
    authors = [c for c in people if c.get("creatorType", "author") == "author"] or people
    names = []
    for creator in authors:
        name = text(creator.get("name")) or " ".join(
            part for part in (text(creator.get("firstName")), text(creator.get("lastName"))) if part
        )
        if name:
            names.append(name)
    return names
