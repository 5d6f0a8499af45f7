"""Turning an ``efetch.fcgi?db=pubmed&retmode=xml`` reply into :class:`~digest.models.Paper`s.

Pure functions over bytes. The reply is a ``PubmedArticleSet`` (NLM's PubMed DTD) of
``PubmedArticle`` elements, each a ``MedlineCitation`` (PMID, ``Article`` with the title,
abstract, authors, journal and dates, ``MeshHeadingList``, ``KeywordList``) and
``PubmedData`` (the record's history and its ``ArticleIdList``: doi, pmc, pii, pubmed).
Titles and abstract sections may hold inline markup (``<i>``, ``<sup>``, ``<sub>``, MathML),
which becomes plain text. ``PubmedData/ReferenceList`` holds the *cited* works' ids: only the
article's own ``ArticleIdList`` is read. NCBI reports a failed fetch as
``<eFetchResult><ERROR>…</ERROR></eFetchResult>``.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from lxml import etree

from digest import SourceError, canonical_id, normalize_doi, one_line, strip_invalid
from digest.models import Author, Paper, PaperId, SignalValue

from .ncbi import XML_PARSER_OPTIONS, error_message, xml_error

__all__ = ["ArticleSet", "landing", "parse_articles", "plain_text"]

_MONTHS = {
    name: number
    for number, name in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"),
        start=1,
    )
}
_SUPERSCRIPT = str.maketrans("0123456789+-−=()n", "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁻⁼⁽⁾ⁿ")
_SUBSCRIPT = str.maketrans("0123456789+-−=()", "₀₁₂₃₄₅₆₇₈₉₊₋₋₌₍₎")
_SCRIPTABLE_SUP = re.compile(r"^[0-9+\-−=()n]+$")
_SCRIPTABLE_SUB = re.compile(r"^[0-9+\-−=()]+$")
#: relations between PubMed records that are versions of one work (preprint ↔ journal)
_SAME_WORK = frozenset({"UpdateOf", "UpdateIn"})


def landing(pmid: str) -> str:
    """The article's PubMed page."""
    return f"https://pubmed.ncbi.nlm.nih.gov/{pmid}/"


@dataclass(frozen=True, slots=True, kw_only=True)
class ArticleSet:
    """One parsed efetch reply: the papers and what was left out."""

    papers: tuple[Paper, ...]
    #: ``PubmedArticle`` records without a PMID or a title
    incomplete: int = 0
    #: book chapters (``PubmedBookArticle``), which this source does not read
    books: int = 0


def parse_articles(content: bytes, *, url: str, source: str = "pubmed") -> ArticleSet:
    """Parse one efetch reply; raise :class:`digest.SourceError` naming ``url`` for NCBI's
    ``<ERROR>`` reply and for anything that is not a ``PubmedArticleSet``."""
    root = _load(content, url)
    if root.tag in ("eFetchResult", "ERROR"):
        message = xml_error(content) or "a reply without articles"
        raise SourceError(f"{url}: NCBI efetch error: {message}")
    if root.tag != "PubmedArticleSet":
        raise SourceError(f"{url}: expected a PubmedArticleSet, got <{root.tag}>")
    papers: list[Paper] = []
    incomplete = 0
    for article in root.iterfind("PubmedArticle"):
        paper = _paper(article, source)
        if paper is None:
            incomplete += 1
        else:
            papers.append(paper)
    books = len(root.findall("PubmedBookArticle"))
    return ArticleSet(papers=tuple(papers), incomplete=incomplete, books=books)


def plain_text(element: Any) -> str:
    """The text of ``element`` with inline markup dropped, on one line: ``10<sup>6</sup>`` →
    ``10⁶``, ``CO<sub>2</sub>`` → ``CO₂``, ``<i>E. coli</i>`` → ``E. coli``."""
    if element is None:
        return ""
    return one_line(strip_invalid(_flatten(element)))


def _flatten(element: Any) -> str:
    parts = [element.text or ""]
    for child in element:
        if not isinstance(child.tag, str):  # a comment or processing instruction
            parts.append(child.tail or "")
            continue
        inner = _flatten(child)
        name = etree.QName(child).localname.lower()
        if name == "sup":
            stripped = inner.strip()
            if _SCRIPTABLE_SUP.match(stripped):
                inner = stripped.translate(_SUPERSCRIPT)
            elif stripped:
                inner = f"^{stripped}"
        elif name == "sub":
            stripped = inner.strip()
            if _SCRIPTABLE_SUB.match(stripped):
                inner = stripped.translate(_SUBSCRIPT)
        parts.append(inner)
        parts.append(child.tail or "")
    return "".join(parts)


def _load(content: bytes, url: str) -> Any:
    head = content.lstrip()[:1]
    if not head:
        raise SourceError(f"{url}: empty response, expected PubMed XML")
    if head == b"{":
        message = error_message(content)
        raise SourceError(f"{url}: NCBI efetch error: {message or 'a JSON reply, not XML'}")
    try:
        root = etree.fromstring(content, etree.XMLParser(**XML_PARSER_OPTIONS))
    except etree.XMLSyntaxError as error:
        lines = str(error).strip().splitlines()
        reason = lines[0] if lines else "unreadable"
        if b"<html" in content[:2000].lower():
            raise SourceError(f"{url}: got an HTML page, expected PubMed XML") from None
        raise SourceError(f"{url}: invalid XML ({reason})") from None
    if etree.QName(root).localname.lower() == "html":
        raise SourceError(f"{url}: got an HTML page, expected PubMed XML")
    return root


def _paper(article: Any, source: str) -> Paper | None:
    citation = article.find("MedlineCitation")
    if citation is None:
        return None
    pmid = (citation.findtext("PMID") or "").strip()
    record = citation.find("Article")
    if not pmid.isdigit() or record is None:
        return None
    title = _title(record)
    if not title:
        return None
    authors = _authors(record)
    ids = _article_ids(article.find("PubmedData"))
    doi = ids.get("doi") or _elocation_doi(record)
    paper_id, version = canonical_id(
        title=title, first_author=authors[0].name if authors else None, doi=doi
    )
    if paper_id.kind == "fp":  # no DOI: the PubMed record is what names the work
        paper_id = PaperId(kind="url", value=landing(pmid))
    aliases = [f"doi:{doi}"] if doi else []
    if paper_id.kind == "arxiv":  # an arXiv preprint indexed by PubMed (its 10.48550 DOI)
        aliases.insert(0, f"arxiv:{paper_id.value}")
    if paper_id.kind != "url":
        aliases.append(f"url:{landing(pmid)}")
    aliases.extend(f"url:{landing(other)}" for other in _versions(citation) if other != pmid)
    history = _history(article.find("PubmedData"))
    published = _electronic(record) or _pub_date(record) or history.get("pubmed")
    # The day the record entered PubMed (what datetype="edat" searches), else its publication.
    entered = history.get("entrez") or published
    return Paper(
        id=paper_id,
        title=title,
        abstract=_abstract(record),
        authors=authors,
        categories=_major_topics(citation),
        url=landing(pmid),
        doi=doi,
        announced=entered.date() if entered else None,
        published=published,
        updated=_moment(citation.find("DateRevised")),
        version=version,
        sources=(source,),
        signals=_signals(pmid, ids, record, citation),
        aliases=tuple(dict.fromkeys(aliases)),
    )


def _title(record: Any) -> str:
    title = plain_text(record.find("ArticleTitle"))
    if not title:
        title = plain_text(record.find("VernacularTitle"))
    # A translated title is printed in brackets: "[Title in English]."
    if title.startswith("[") and title.rstrip(".").endswith("]"):
        title = title.rstrip(".")[1:-1].strip()
    if title.endswith(".") and not title.endswith(".."):
        title = title[:-1].rstrip()
    return title


def _abstract(record: Any) -> str:
    sections = []
    for part in record.iterfind("Abstract/AbstractText"):
        text = plain_text(part)
        if not text:
            continue
        label = one_line(strip_invalid(part.get("Label") or ""))
        sections.append(f"{label}: {text}" if label else text)
    return "\n\n".join(sections)


def _authors(record: Any) -> tuple[Author, ...]:
    people: list[Author] = []
    for person in record.iterfind("AuthorList/Author"):
        if person.get("ValidYN", "Y") == "N":
            continue
        name = _name(person)
        if not name:
            continue
        affiliation = plain_text(person.find("AffiliationInfo/Affiliation")) or None
        people.append(Author(name=name, affiliation=affiliation))
    return tuple(people)


def _name(person: Any) -> str:
    group = plain_text(person.find("CollectiveName"))
    if group:
        return group
    last = plain_text(person.find("LastName"))
    given = plain_text(person.find("ForeName")) or plain_text(person.find("Initials"))
    suffix = plain_text(person.find("Suffix"))
    name = " ".join(p for p in (given, last) if p)
    return f"{name} {suffix}" if name and suffix else name


def _article_ids(data: Any) -> dict[str, str]:
    ids: dict[str, str] = {}
    if data is None:
        return ids
    # Only the article's own list: ReferenceList/Reference/ArticleIdList names cited works.
    for item in data.iterfind("ArticleIdList/ArticleId"):
        kind = (item.get("IdType") or "").strip().lower()
        value = one_line(item.text or "")
        if not kind or not value or kind in ids:
            continue
        if kind == "doi":
            doi = normalize_doi(value)
            if doi:
                ids["doi"] = doi
        else:
            ids[kind] = value
    return ids


def _elocation_doi(record: Any) -> str | None:
    for item in record.iterfind("ELocationID"):
        if item.get("EIdType") == "doi" and item.get("ValidYN", "Y") != "N":
            doi = normalize_doi(item.text or "")
            if doi:
                return doi
    return None


def _versions(citation: Any) -> list[str]:
    """PMIDs of the other versions of this work (a preprint's journal version, or back)."""
    found = []
    for link in citation.iterfind("CommentsCorrectionsList/CommentsCorrections"):
        if link.get("RefType") in _SAME_WORK:
            pmid = (link.findtext("PMID") or "").strip()
            if pmid.isdigit():
                found.append(pmid)
    return found


def _major_topics(citation: Any) -> tuple[str, ...]:
    topics: list[str] = []
    for heading in citation.iterfind("MeshHeadingList/MeshHeading"):
        descriptor = heading.find("DescriptorName")
        if descriptor is None:
            continue
        major = descriptor.get("MajorTopicYN") == "Y" or any(
            q.get("MajorTopicYN") == "Y" for q in heading.iterfind("QualifierName")
        )
        name = plain_text(descriptor)
        if major and name:
            topics.append(name)
    return tuple(dict.fromkeys(topics))


def _signals(pmid: str, ids: dict[str, str], record: Any, citation: Any) -> dict[str, SignalValue]:
    signals: dict[str, SignalValue] = {"pubmed.pmid": pmid}
    if ids.get("pmc"):
        signals["pubmed.pmcid"] = ids["pmc"]
    journal = plain_text(record.find("Journal/Title"))
    if journal:
        signals["pubmed.journal"] = journal
    # Commas are part of MeSH names ("Neoplasms, Experimental"): lists are "; "-separated.
    for key, path in (
        ("pubmed.mesh", "MeshHeadingList/MeshHeading/DescriptorName"),
        ("pubmed.keywords", "KeywordList/Keyword"),
    ):
        words = [plain_text(e).replace(";", ",") for e in citation.iterfind(path)]
        joined = "; ".join(dict.fromkeys(w for w in words if w))
        if joined:
            signals[key] = joined
    types = [plain_text(e) for e in record.iterfind("PublicationTypeList/PublicationType")]
    if any(types):
        signals["pubmed.publication_types"] = "; ".join(t for t in types if t)
    return signals


# -- dates ------------------------------------------------------------------------------------


def _month(text: str | None) -> int | None:
    if not text:
        return None
    text = text.strip().lower()
    if text.isdigit():
        number = int(text)
        return number if 1 <= number <= 12 else None
    return _MONTHS.get(text[:3])


def _moment(element: Any) -> dt.datetime | None:
    """A UTC datetime from an element with ``Year``/``Month``/``Day`` (and ``Hour``/``Minute``)
    children; ``None`` when it is incomplete or impossible."""
    if element is None:
        return None
    year = (element.findtext("Year") or "").strip()
    month = _month(element.findtext("Month"))
    day_text = (element.findtext("Day") or "").strip()
    if not year.isdigit() or month is None or not day_text.isdigit():
        return None
    hour = (element.findtext("Hour") or "0").strip()
    minute = (element.findtext("Minute") or "0").strip()
    try:
        return dt.datetime(
            int(year),
            month,
            int(day_text),
            int(hour) if hour.isdigit() else 0,
            int(minute) if minute.isdigit() else 0,
            tzinfo=dt.UTC,
        )
    except ValueError:
        return None


def _electronic(record: Any) -> dt.datetime | None:
    for date in record.iterfind("ArticleDate"):
        if date.get("DateType", "Electronic") == "Electronic":
            found = _moment(date)
            if found:
                return found
    return None


def _pub_date(record: Any) -> dt.datetime | None:
    return _moment(record.find("Journal/JournalIssue/PubDate"))


def _history(data: Any) -> dict[str, dt.datetime]:
    found: dict[str, dt.datetime] = {}
    if data is None:
        return found
    for date in data.iterfind("History/PubMedPubDate"):
        status = date.get("PubStatus") or ""
        moment = _moment(date)
        if status and moment and status not in found:
            found[status] = moment
    return found
