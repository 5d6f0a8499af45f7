"""``arxiv-author``: an author's arXiv papers, from the arXiv API (``au:"Last_F"``).

``GET http://export.arxiv.org/api/query?search_query=au:"Hinton_G"&start=N&max_results=M``
answers an Atom feed, read by the ``arxiv`` plugin's own parser
(:func:`digest_arxiv.api.parse_api_page`), its error feed included. The fetcher keeps arXiv's
limit of one request every three seconds. arXiv matches names, not people: ``Hinton_G`` is
every G. Hinton, so the importer reads the newest ``max_results`` (option, default 200).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import urlencode

from digest import FetchError, ImportHTTP, ProfileImporter, SourceError
from digest.models import Paper
from digest_arxiv.api import api_error_message, parse_api_page

# Letters of any script, hyphens and apostrophes; "_" between the family name and initials.
_NAME = re.compile(r"^[^\W\d_][\w'\-]*(?:_[^\W\d_][\w'\-]*)*$")
PAGE_SIZE = 100
DEFAULT_MAX = 200


class ArxivAuthorImporter(ProfileImporter):
    """The newest arXiv papers by an author name, as arXiv's ``au:`` search finds them."""

    name = "arxiv-author"
    label = "arXiv author"
    placeholder = "Hinton_G"
    help = (
        "Family name and initials as arXiv's author search writes them (Hinton_G, "
        "van_der_Berg_J), or 'Geoffrey Hinton' / 'Hinton, Geoffrey'."
    )
    option_names = ("max_results",)
    base_url = "https://export.arxiv.org/api/query"

    def validate(self, ref: str) -> str:
        ref = super().validate(ref).strip("\"'")
        if "," in ref:  # "Hinton, Geoffrey E." → Hinton_G
            family, _, given = ref.partition(",")
            ref = _joined(family, given)
        elif " " in ref.strip():  # "Geoffrey Hinton" → Hinton_G
            words = ref.split()
            ref = _joined(words[-1], " ".join(words[:-1]))
        if not _NAME.match(ref):
            raise self.error(ref, "not an arXiv author name (want Last_F, e.g. Hinton_G)")
        return ref

    def read(self, ref: str, http: ImportHTTP, *, options: Mapping[str, str]) -> list[Paper]:
        ref = self.validate(ref)
        wanted = options.get("max_results", "")
        limit = int(wanted) if wanted.isdigit() and int(wanted) > 0 else DEFAULT_MAX
        papers: list[Paper] = []
        start = 0
        while start < limit:
            size = min(PAGE_SIZE, limit - start)
            params = {
                "search_query": f'au:"{ref}"',
                "start": str(start),
                "max_results": str(size),
                "sortBy": "submittedDate",
                "sortOrder": "descending",
            }
            label = f"{self.base_url}?{urlencode(params)}"
            try:
                fetched = http.get(self.base_url, params=params, accept="application/atom+xml")
                page = parse_api_page(fetched.content, url=label, source=self.paper_source)
            except FetchError as error:
                message = api_error_message(error.content) if error.content else None
                reason = f"arXiv API error: {message}" if message else str(error)
                raise self.error(ref, reason) from None
            except SourceError as error:
                raise self.error(ref, str(error)) from None
            papers.extend(page.papers[: limit - start])
            start += page.entries
            if page.entries < size or (
                page.total_results is not None and start >= page.total_results
            ):
                break
        return self.unique(papers)


def _joined(family: str, given: str) -> str:
    initials = "".join(word[0] for word in re.split(r"[\s.\-]+", given) if word)
    return "_".join(part for part in ("_".join(family.split()), initials[:1]) if part)
