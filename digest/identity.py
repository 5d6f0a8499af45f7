"""Canonical paper identity (ARCHITECTURE §5).

An arXiv id without its version wins; else a DOI; else a fingerprint of the normalised title
and the first author's family name. Every source goes through :func:`canonical_id` so the same
work seen from arXiv RSS, the arXiv API, Hugging Face or a journal feed becomes one paper.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from urllib.parse import unquote

from digest.models import Paper, PaperId
from digest.text import safe_url

# New style: YYMM.NNNN (2007–2014) or YYMM.NNNNN (2015–); old style: archive[.SUB]/YYMMNNN.
_NEW = r"(?P<new>\d{4}\.\d{4,5})"
_OLD = r"(?P<old>[a-z][a-z\-]*(?:\.[A-Za-z]{2})?/\d{7})"
_VERSION = r"(?:v(?P<version>\d+))?"
_ARXIV_CORE = re.compile(rf"(?:{_NEW}|{_OLD}){_VERSION}", re.IGNORECASE)
_ARXIV_BARE = re.compile(rf"^(?:arxiv:|oai:arxiv\.org:)?\s*(?:{_NEW}|{_OLD}){_VERSION}$", re.I)
_ARXIV_URL = re.compile(
    rf"arxiv\.org/(?:abs|pdf|html|format)/(?:{_NEW}|{_OLD}){_VERSION}(?:\.pdf)?(?:[/?#]|$)", re.I
)
_ARXIV_DOI = re.compile(rf"^10\.48550/arxiv\.(?:{_NEW}|{_OLD}){_VERSION}$", re.I)
_DOI = re.compile(r"(10\.\d{4,9}/\S+)")
_DOI_PREFIX = re.compile(r"^(?:https?://(?:dx\.)?doi\.org/|doi:\s*)", re.I)


@dataclass(frozen=True, slots=True, kw_only=True)
class ArxivRef:
    """An arXiv identifier split into the versionless id and the version, if one was given."""

    id: str
    version: int | None


def _ref(match: re.Match[str]) -> ArxivRef:
    new, old, version = match.group("new"), match.group("old"), match.group("version")
    if old:
        archive, _, number = old.partition("/")
        # Archive names are lower case except the subject class (math.GT stays math.GT).
        head, dot, subject = archive.partition(".")
        old = f"{head.lower()}{dot}{subject.upper()}/{number}"
    return ArxivRef(id=new or old, version=int(version) if version else None)


def parse_arxiv(text: str) -> ArxivRef | None:
    """Recognise an arXiv id in any usual spelling, or return ``None``.

    Accepts ``2406.01234``, ``2406.01234v2``, ``arXiv:2406.01234``, ``hep-th/9901001v2``,
    ``oai:arXiv.org:2406.01234v1``, abs/pdf URLs and the ``10.48550/arXiv.…`` DOI.

    >>> parse_arxiv("https://arxiv.org/pdf/2406.01234v3.pdf")
    ArxivRef(id='2406.01234', version=3)
    """
    text = text.strip()
    if not text:
        return None
    for pattern in (_ARXIV_BARE, _ARXIV_DOI):
        match = pattern.match(text)
        if match:
            return _ref(match)
    match = _ARXIV_URL.search(text)
    return _ref(match) if match else None


def find_arxiv(text: str) -> ArxivRef | None:
    """Find an arXiv id inside free text such as ``arXiv:2406.01234v1 Announce Type: new``."""
    ref = parse_arxiv(text)
    if ref:
        return ref
    for match in re.finditer(r"arxiv[:\s./]*", text, re.IGNORECASE):
        inner = _ARXIV_CORE.match(text, match.end())
        if inner:
            return _ref(inner)
    return None


def normalize_doi(text: str) -> str | None:
    """Return the DOI in lower case without resolver prefix, or ``None`` if there is none.

    >>> normalize_doi("https://doi.org/10.1145/3404835.3462891")
    '10.1145/3404835.3462891'
    """
    text = _DOI_PREFIX.sub("", unquote(text.strip()))
    match = _DOI.search(text)
    if not match:
        return None
    # Journal links append tracking queries and fragments ("?af=R"): not part of the DOI.
    doi = re.split(r"[?#]", match.group(1), maxsplit=1)[0]
    return doi.rstrip(".,;)").lower() or None


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    ascii_only = "".join(c for c in decomposed if not unicodedata.combining(c))
    return re.sub(r"[^a-z0-9]+", " ", ascii_only.casefold()).strip()


def family_name(author: str) -> str:
    """The family name of ``"Ada Lovelace"`` or ``"Lovelace, Ada"``, folded to ASCII.

    Only for :func:`fingerprint`, whose ids must never change for papers already stored: it
    keeps its first rule (the last word, suffixes included); compare people with
    :func:`author_key`.
    """
    # "van der Berg, Jan" and "Jan van der Berg" must agree: take the last word either way.
    author = author.strip()
    head = author.split(",", 1)[0] if "," in author else author
    parts = _fold(head).split()
    return parts[-1] if parts else ""


#: name suffixes that are not family names ("Martin Luther King Jr.")
_SUFFIXES = frozenset({"jr", "sr", "ii", "iii", "iv"})
_NAME_WORD = re.compile(r"[^\W_]+")


def _name_words(text: str) -> list[str]:
    """Case- and accent-folded words of a name, in any script (``"Schrödinger"`` →
    ``["schrodinger"]``, ``"李 明"`` → ``["李", "明"]``)."""
    if not text.isascii():
        decomposed = unicodedata.normalize("NFKD", text)
        text = "".join(c for c in decomposed if not unicodedata.combining(c))
    return _NAME_WORD.findall(text.casefold())


def author_key(name: str) -> tuple[str, str]:
    """``(family name, first initial)`` of a person, folded; the initial may be ``""``.

    The one way author names are compared: following an author, muting one and matching a
    paper's authors all use it. ``"Sergey Levine"``, ``"S. Levine"`` and ``"Levine, Sergey"``
    agree; particles and suffixes do not count (``"Ludwig van Beethoven"`` →
    ``("beethoven", "l")``, ``"Martin Luther King Jr."`` → ``("king", "m")``). See
    :func:`same_author`.
    """
    if "," in name:
        family_part, _, given_part = name.partition(",")
        family_words = [w for w in _name_words(family_part) if w not in _SUFFIXES]
        given_words = [w for w in _name_words(given_part) if w not in _SUFFIXES]
        if not family_words:
            return author_key(given_part)
        # The last word of the family part, as for "First Last", so both spellings agree.
        return family_words[-1], given_words[0][0] if given_words else ""
    parts = _name_words(name)
    while len(parts) > 1 and parts[-1] in _SUFFIXES:
        parts.pop()
    if not parts:
        return "", ""
    return parts[-1], parts[0][0] if len(parts) > 1 else ""


def same_author(a: tuple[str, str], b: tuple[str, str]) -> bool:
    """Whether two :func:`author_key` keys may name the same person: the same family name,
    and the same first initial unless one of them has none."""
    return bool(a[0]) and a[0] == b[0] and (not a[1] or not b[1] or a[1] == b[1])


def fingerprint(title: str, first_author: str | None) -> str:
    """A stable hash of the normalised title and the first author's family name."""
    key = f"{_fold(title)}|{family_name(first_author or '')}"
    return hashlib.sha1(key.encode()).hexdigest()[:20]


def canonical_id(
    *,
    title: str,
    first_author: str | None = None,
    arxiv: str | None = None,
    doi: str | None = None,
    links: tuple[str, ...] = (),
) -> tuple[PaperId, int | None]:
    """Return the canonical id of a work and the arXiv version, if one was seen.

    ``arxiv`` may be any spelling :func:`parse_arxiv` accepts; ``links`` are searched for arXiv
    ids and DOIs (a feed item's guid or link) when no explicit id is given.
    """
    candidates = [arxiv, doi, *links]
    for text in candidates:
        ref = parse_arxiv(text) if text else None
        if ref:
            return PaperId(kind="arxiv", value=ref.id), ref.version
    for text in (doi, *links):
        found = normalize_doi(text) if text else None
        if found:
            return PaperId(kind="doi", value=found), None
    return PaperId(kind="fp", value=fingerprint(title, first_author)), None


def canonical_ref(text: str) -> str | None:
    """The canonical id text (``"arxiv:2406.01234"``) for a reference a person wrote.

    Accepts canonical ids, any arXiv spelling (``2406.01234v2``, abs/pdf URLs) and DOIs
    (``10.1145/…``, doi.org links); ``None`` if ``text`` names neither.
    """
    text = text.strip()
    kind, sep, value = text.partition(":")
    if sep and kind.lower() in ("fp", "url"):
        return f"{kind.lower()}:{value}"
    if sep and kind.lower() == "doi":
        doi = normalize_doi(value)
        return f"doi:{doi}" if doi else None
    ref = parse_arxiv(text)
    if ref:
        return f"arxiv:{ref.id}"
    doi = normalize_doi(text)
    return f"doi:{doi}" if doi else None


#: which id a work is known by when several are linked: arXiv, then DOI, then the rest
_ID_RANK = {"arxiv": 0, "doi": 1, "url": 2, "fp": 3}


def paper_keys(paper: Paper) -> list[str]:
    """Every canonical id text the paper is known by: its id first, then its DOI and its
    :attr:`~digest.models.Paper.aliases` (normalised; unreadable ones are dropped). The store
    links all of them to one paper (ARCHITECTURE §5)."""
    keys = [str(paper.id)]
    doi = normalize_doi(paper.doi) if paper.doi else None
    if doi:
        keys.append(f"doi:{doi}")
    for alias in paper.aliases:
        ref = canonical_ref(alias)
        if ref:
            keys.append(ref)
    return list(dict.fromkeys(keys))


def preferred_id(keys: list[str]) -> PaperId:
    """The id a work linked under several ``keys`` is known by: an arXiv id beats a DOI beats
    a URL beats a fingerprint; among equals the first (the one stored first) stays."""
    ids = [PaperId.parse(k) for k in keys]
    return min(ids, key=lambda i: _ID_RANK.get(i.kind, 9))  # min is stable: first of equals


def landing_url(paper: Paper) -> str | None:
    """The paper's abstract page: the source's URL if safe, else one derived from its id."""
    url = safe_url(paper.url)
    if url is not None:
        return url
    if paper.id.kind == "arxiv":
        return f"https://arxiv.org/abs/{paper.id.value}"
    if paper.id.kind == "doi":
        return safe_url(f"https://doi.org/{paper.id.value}")
    if paper.id.kind == "url":
        return safe_url(paper.id.value)
    return None
