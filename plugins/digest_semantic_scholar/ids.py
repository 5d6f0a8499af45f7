"""Paper and author ids as people write them, turned into the forms Semantic Scholar takes.

Semantic Scholar (S2) accepts a paper as its own 40-hex ``paperId`` or as a prefixed external
id: ``ARXIV:2406.01234``, ``DOI:10.1145/…``, ``CorpusId:215416146``, ``PMID:…``, ``PMCID:…``,
``MAG:…``, ``ACL:…``, ``DBLP:…`` or ``URL:<a paper page>``. People write ``2406.01234v2``,
``arXiv:2406.01234``, ``https://doi.org/10.1145/…`` or an S2 paper page; :func:`s2_paper_id`
accepts all of those. Authors are the number at the end of an author page's address.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from digest import canonical_ref, normalize_doi, parse_arxiv

__all__ = ["record_keys", "s2_author_id", "s2_paper_id", "s2_to_canonical"]

_SHA = re.compile(r"^[0-9a-f]{40}$", re.IGNORECASE)
_S2_PAPER_PAGE = re.compile(
    r"^https?://(?:www\.)?semanticscholar\.org/paper/(?:[^/?#]+/)?([0-9a-f]{40})/?(?:[?#].*)?$",
    re.IGNORECASE,
)
_PREFIXED = re.compile(
    r"^(corpusid|arxiv|doi|mag|acl|pmid|pmcid|dblp|url)\s*:\s*(\S.*)$", re.IGNORECASE
)
#: the spelling S2 documents for each prefix
_PREFIXES = {
    "corpusid": "CorpusId",
    "arxiv": "ARXIV",
    "doi": "DOI",
    "mag": "MAG",
    "acl": "ACL",
    "pmid": "PMID",
    "pmcid": "PMCID",
    "dblp": "DBLP",
    "url": "URL",
}
_AUTHOR = re.compile(
    r"^(?:https?://(?:www\.)?semanticscholar\.org/author/(?:[^/]+/)?)?(\d+)/?$", re.IGNORECASE
)


def s2_paper_id(text: str) -> str:
    """The id S2 takes for a paper written as a person would; raises ``ValueError``.

    >>> s2_paper_id("arXiv:2406.01234v2"), s2_paper_id("https://doi.org/10.5555/X.1")
    ('ARXIV:2406.01234', 'DOI:10.5555/x.1')
    """
    value = " ".join(text.split())
    if not value:
        raise ValueError("an empty paper id")
    if _SHA.match(value):
        return value.lower()
    page = _S2_PAPER_PAGE.match(value)
    if page:
        return page.group(1).lower()
    prefixed = _PREFIXED.match(value)
    if prefixed:
        kind, rest = prefixed.group(1).lower(), prefixed.group(2).strip()
        if kind == "arxiv":
            ref = parse_arxiv(rest)
            if ref is None:
                raise ValueError(f"{text!r} is not an arXiv id")
            return f"ARXIV:{ref.id}"
        if kind == "doi":
            doi = normalize_doi(rest)
            if doi is None:
                raise ValueError(f"{text!r} is not a DOI")
            return f"DOI:{doi}"
        if kind in ("corpusid", "pmid") and not rest.isdigit():
            raise ValueError(f"{text!r}: {_PREFIXES[kind]} is a number")
        return f"{_PREFIXES[kind]}:{rest}"
    ref = parse_arxiv(value)  # also arXiv's own DOI, 10.48550/arXiv.<id>
    if ref is not None:
        return f"ARXIV:{ref.id}"
    doi = normalize_doi(value)
    if doi is not None:
        return f"DOI:{doi}"
    raise ValueError(
        f"{text!r} is not a paper id S2 knows (an arXiv id, a DOI, a 40-hex S2 paper id, "
        "CorpusId:<n>, PMID:<n> …)"
    )


def s2_author_id(text: str) -> str:
    """The S2 author id in ``text`` (the number, or an author page's address)."""
    match = _AUTHOR.match(text.strip())
    if not match:
        raise ValueError(
            f"{text!r} is not a Semantic Scholar author id (the number at the end of "
            "semanticscholar.org/author/<name>/<id>)"
        )
    return match.group(1)


def s2_to_canonical(s2_id: str) -> str:
    """How a liked paper is named in signals: its canonical id (``arxiv:2406.01234``,
    ``doi:10.…``) when the S2 id carries one, else the S2 id as it is."""
    kind, _, value = s2_id.partition(":")
    if kind in ("ARXIV", "DOI"):
        return canonical_ref(value) or s2_id
    return s2_id


def record_keys(record: Mapping[str, Any]) -> set[str]:
    """The S2 ids a recommended paper is known by, in :func:`s2_paper_id`'s spelling: its
    ``paperId`` and its arXiv id, DOI, CorpusId and PubMed ids."""
    keys: set[str] = set()
    paper_id = record.get("paperId")
    if isinstance(paper_id, str) and paper_id:
        keys.add(paper_id.lower())
    external = record.get("externalIds")
    if not isinstance(external, Mapping):
        return keys
    for field, prefix in (("ArXiv", "arxiv"), ("DOI", "doi"), ("CorpusId", "corpusid")):
        value = external.get(field)
        if isinstance(value, (str, int)) and not isinstance(value, bool):
            try:
                keys.add(s2_paper_id(f"{prefix}:{value}"))
            except ValueError:
                continue
    for field, prefix in (("PubMed", "PMID"), ("PubMedCentral", "PMCID")):
        value = external.get(field)
        if isinstance(value, (str, int)) and not isinstance(value, bool) and str(value):
            keys.add(f"{prefix}:{value}")
    return keys
