"""Liked papers from a reference manager: BibTeX, Zotero CSV and Zotero RDF exports.

Each entry becomes a :class:`~digest.models.Paper` identified by its arXiv id or DOI (found in
the fields meant for them: ``eprint``/``doi``/``url`` in BibTeX; ``DOI``/``Url``/``Extra`` in
Zotero CSV; ``dc:identifier`` and links in Zotero RDF). Entries with neither are skipped and
counted. The papers are stored (so rankers can compare new papers with them) and their ids
added to the subscriber's ``liked``.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePath

from digest.errors import DigestError
from digest.identity import canonical_ref
from digest.models import Author, Paper, PaperId
from digest.text import latex_text, one_line

FORMATS = ("bibtex", "zotero-csv", "zotero-rdf")


@dataclass(frozen=True, slots=True)
class Library:
    papers: tuple[Paper, ...]
    skipped: int


def detect(path: Path | str, text: str) -> str:
    """The format of ``text`` from the file name's suffix or the text's first character."""
    suffix = PurePath(path).suffix.lower()
    if suffix in (".bib", ".bibtex") or text.lstrip().startswith("@"):
        return "bibtex"
    if suffix == ".csv":
        return "zotero-csv"
    if suffix in (".rdf", ".xml") or text.lstrip().startswith("<"):
        return "zotero-rdf"
    raise DigestError(f"{path}: cannot tell the format; use --format ({', '.join(FORMATS)})")


def read_library(path: Path, fmt: str | None = None) -> Library:
    """Read a library export; raise :class:`DigestError` naming the file on failure."""
    try:
        text = path.read_text("utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise DigestError(f"{path}: cannot read: {error}") from None
    return parse_library(text, name=str(path), fmt=fmt)


def parse_library(text: str, *, name: str, fmt: str | None = None) -> Library:
    """Read a library export's text; ``name`` (a file name) tells the format when ``fmt`` is
    not given and names the culprit in a :class:`DigestError`."""
    path = name
    fmt = fmt or detect(name, text)
    readers = {"bibtex": _bibtex, "zotero-csv": _zotero_csv, "zotero-rdf": _zotero_rdf}
    try:
        entries = list(readers[fmt](text))
    except DigestError:
        raise
    except Exception as error:
        raise DigestError(f"{path}: not a readable {fmt} file: {error}") from None
    papers: dict[str, Paper] = {}
    skipped = 0
    for refs, title, abstract, authors in entries:
        ref = next((r for text in refs if text and (r := canonical_ref(text))), None)
        if ref is None or not title:
            skipped += 1
            continue
        papers.setdefault(
            ref,
            Paper(
                id=PaperId.parse(ref),
                title=one_line(title),
                abstract=one_line(abstract),
                authors=tuple(Author(name=display_name(a)) for a in authors if a.strip()),
                sources=("library",),
            ),
        )
    return Library(papers=tuple(papers.values()), skipped=skipped)


def display_name(name: str) -> str:
    """An author as a reader writes them: BibTeX's and Zotero's ``Last, First`` and
    ``Last, Jr., First`` become ``First Last`` and ``First Last Jr.``."""
    parts = [p.strip() for p in one_line(name).split(",")]
    if len(parts) == 2 and all(parts):
        return f"{parts[1]} {parts[0]}"
    if len(parts) == 3 and all(parts):
        return f"{parts[2]} {parts[0]} {parts[1]}"
    return one_line(name)


#: BibTeX's author separator (any case, any white space around it)
_AND = re.compile(r"\s+and\s+", re.IGNORECASE)
Entry = tuple[list[str], str, str, list[str]]  # (identifier texts, title, abstract, authors)


def _bibtex(text: str) -> Iterator[Entry]:
    import bibtexparser

    for e in bibtexparser.loads(text).entries:
        refs = []
        if e.get("eprint") and e.get("archiveprefix", "arXiv").lower() == "arxiv":
            refs.append(e["eprint"])
        refs += [e.get("doi", ""), e.get("url", "")]
        authors = [latex_text(a) for a in _AND.split(e.get("author", "")) if a.strip()]
        yield refs, latex_text(e.get("title", "")), latex_text(e.get("abstract", "")), authors


def _zotero_csv(text: str) -> Iterator[Entry]:
    for row in csv.DictReader(io.StringIO(text)):
        extra = row.get("Extra", "") or ""
        arxiv = [
            line.split(":", 1)[1]
            for line in extra.splitlines()
            if line.lower().startswith("arxiv:")
        ]
        refs = [*arxiv, row.get("DOI", ""), row.get("Url", ""), row.get("Archive Location", "")]
        authors = [a.strip() for a in (row.get("Author") or "").split(";") if a.strip()]
        yield refs, row.get("Title", ""), row.get("Abstract Note", ""), authors


def _zotero_rdf(text: str) -> Iterator[Entry]:
    from lxml import etree

    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    root = etree.fromstring(text.encode("utf-8"), parser)
    ns = {
        "dc": "http://purl.org/dc/elements/1.1/",
        "dcterms": "http://purl.org/dc/terms/",
        "foaf": "http://xmlns.com/foaf/0.1/",
        "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    }
    for item in root:
        titles = item.findall("dc:title", ns)
        if not titles:
            continue
        refs = [
            t for t in item.xpath(".//dc:identifier//text() | .//rdf:value//text()", namespaces=ns)
        ]
        refs += [a for a in item.xpath("@rdf:about", namespaces=ns)]
        abstract = " ".join(item.xpath("dcterms:abstract//text()", namespaces=ns))
        authors = [
            " ".join(p for p in (given, family) if p)
            for person in item.xpath(".//foaf:Person", namespaces=ns)
            for family, given in [
                (
                    "".join(person.xpath("foaf:surname//text()", namespaces=ns)),
                    "".join(person.xpath("foaf:givenName//text()", namespaces=ns)),
                )
            ]
        ]
        yield [str(r) for r in refs], titles[0].text or "", abstract, authors


def merge_liked(current: Iterable[str], papers: Iterable[Paper]) -> tuple[str, ...]:
    """The subscriber's liked ids plus the library's, without duplicates, in order."""
    return tuple(dict.fromkeys([*current, *(str(p.id) for p in papers)]))
