"""Per-paper email fragments, built once per paper per run and shared by every subscriber.

The slow parts of rendering (LaTeX → Unicode, escaping, truncation, author lines, wrapping the
plain-text part) depend only on the paper, so they happen here; the per-subscriber render only
looks views up and loops.
"""

from __future__ import annotations

import functools
import textwrap
from dataclasses import dataclass
from urllib.parse import quote

from markupsafe import Markup, escape

from digest import (
    landing_url,
    one_line,
    readable,
    safe_url,
    strip_invalid,
    truncate,
    why_sentence,
    why_tag,
)
from digest.models import Paper, Reason


def author_names(paper: Paper) -> list[str]:
    """Readable author names, empty ones dropped."""
    names = (readable(author.name) for author in paper.authors)
    return [name for name in names if name]


def author_line(names: list[str], limit: int) -> str:
    """``"A, B, C et al."`` for more than ``limit`` names, else all of them."""
    if len(names) > limit:
        return ", ".join(names[:limit]) + " et al."
    return ", ".join(names)


@functools.lru_cache(maxsize=8192)
def why_line(reasons: tuple[Reason, ...]) -> str:
    """The one "why" sentence of a pick (:func:`digest.reasons.why_sentence`)."""
    return why_sentence(reasons)


@functools.lru_cache(maxsize=8192)
def tag_line(reasons: tuple[Reason, ...]) -> str:
    """The pick's short tag in the contents list (:func:`digest.reasons.why_tag`)."""
    return why_tag(reasons)


@functools.lru_cache(maxsize=8192)
def paper_query(paper_id: str) -> str:
    """``paper=<id>`` for a feedback link (ids hold ``:`` and, for DOIs, ``/``)."""
    return "paper=" + quote(paper_id, safe=":")


def rate_url(feedback: str | None, paper: Paper) -> str | None:
    """The subscriber's feedback link for ``paper``, without the ``action``."""
    return f"{feedback}?{paper_query(str(paper.id))}" if feedback else None


_EMPTY = Markup("")


@dataclass(frozen=True, slots=True, kw_only=True)
class PaperView:
    """One paper ready for the email templates.

    The HTML fields are :class:`markupsafe.Markup` (escaped once here, so autoescaping leaves
    them alone); the ``text_*`` fields are plain text for the text part and the subject, with
    the abstract pre-wrapped to the configured width.
    """

    paper: Paper
    title: Markup
    #: the title for the contents list (shortened)
    short_title: Markup
    url: Markup | None
    authors: Markup
    categories: Markup
    #: "arXiv:2406.01234 · 11 Jun 2024 · cs.RO · 120 upvotes · 1.2k stars"
    meta: Markup
    abstract: Markup
    #: the one-sentence summary an enricher added (``signals["tldr"]``), or empty
    tldr: Markup
    pdf_url: Markup | None
    #: arXiv's HTML version of the paper (arXiv papers only)
    html_url: Markup | None
    code_url: Markup | None
    #: a picture of the paper a source provided (``signals["thumbnail"]``, https only)
    thumbnail: Markup | None
    text_title: str
    text_title_wrapped: str
    text_short_title: str
    text_url: str | None
    text_authors: str
    text_categories: str
    text_meta: str
    text_abstract_wrapped: str
    text_tldr_wrapped: str
    text_pdf_url: str | None
    text_html_url: str | None
    text_code_url: str | None
    #: the card's subscriber-independent parts (email/card.html and card.txt), set by the renderer
    html_head: Markup = _EMPTY
    html_tail: Markup = _EMPTY
    text_head: str = ""
    text_tail: str = ""


def _markup(value: str | None) -> Markup | None:
    return None if value is None else escape(value)


def count_text(value: int) -> str:
    """``950``, ``1.2k``, ``12k``: a count short enough for a meta line."""
    if value < 1000:
        return str(value)
    if value < 10_000:
        return f"{value / 1000:.1f}".rstrip("0").rstrip(".") + "k"
    return f"{round(value / 1000)}k"


def id_label(paper: Paper) -> str:
    """``arXiv:2406.01234`` or ``doi:10.1000/xyz``; empty for other ids."""
    if paper.id.kind == "arxiv":
        return f"arXiv:{paper.id.value}"
    doi = paper.doi or (paper.id.value if paper.id.kind == "doi" else None)
    return f"doi:{one_line(strip_invalid(doi))}" if doi else ""


def meta_line(paper: Paper) -> str:
    """The card's facts in one line: id, announcement date, primary category, popularity."""
    parts = [id_label(paper)]
    day = paper.announced or (paper.published.date() if paper.published else None)
    if day is not None:
        parts.append(f"{day.day} {day:%b %Y}")
    primary = one_line(strip_invalid(paper.primary_category or ""))
    parts.append(primary)
    upvotes = paper.signals.get("hf.upvotes")
    if isinstance(upvotes, int) and not isinstance(upvotes, bool) and upvotes > 0:
        parts.append(f"{count_text(upvotes)} upvote{'' if upvotes == 1 else 's'}")
    stars = paper.signals.get("hf.github_stars")
    if isinstance(stars, int) and not isinstance(stars, bool) and stars > 0:
        parts.append(f"{count_text(stars)} GitHub star{'' if stars == 1 else 's'}")
    return " · ".join(p for p in parts if p)


def html_version(paper: Paper) -> str | None:
    """arXiv's HTML rendering of the paper, for arXiv papers."""
    return f"https://arxiv.org/html/{paper.id.value}" if paper.id.kind == "arxiv" else None


def build_view(
    paper: Paper, *, abstract_chars: int | None, max_authors: int, width: int
) -> PaperView:
    """Everything about ``paper`` that does not depend on the subscriber (``abstract_chars``
    ``None``: the whole abstract, as on the web version)."""
    title = readable(paper.title) or "(untitled)"
    short_title = truncate(title, 64)
    authors = author_line(author_names(paper), max_authors)
    categories = " · ".join(c for c in (one_line(strip_invalid(c)) for c in paper.categories) if c)
    abstract = ""
    if paper.abstract and abstract_chars != 0:
        abstract = readable(paper.abstract)
        if abstract_chars is not None:
            abstract = truncate(abstract, abstract_chars)
    found = paper.signals.get("tldr")
    tldr = truncate(readable(found), 400) if isinstance(found, str) else ""
    url = landing_url(paper)
    pdf_url = safe_url(paper.pdf_url)
    code_url = safe_url(paper.code_url)
    html_url = html_version(paper)
    picture = paper.signals.get("thumbnail")
    thumbnail = safe_url(picture) if isinstance(picture, str) else None
    if thumbnail is not None and not thumbnail.startswith("https://"):
        thumbnail = None  # mail clients warn about (or block) insecure images
    meta = meta_line(paper)
    return PaperView(
        paper=paper,
        title=escape(title),
        short_title=escape(short_title),
        url=_markup(url),
        authors=escape(authors),
        categories=escape(categories),
        meta=escape(meta),
        abstract=escape(abstract),
        tldr=escape(tldr),
        pdf_url=_markup(pdf_url),
        html_url=_markup(html_url),
        code_url=_markup(code_url),
        thumbnail=_markup(thumbnail),
        text_title=title,
        text_title_wrapped=_wrap(title, width),
        text_short_title=short_title,
        text_url=url,
        text_authors=authors,
        text_categories=categories,
        text_meta=meta,
        text_abstract_wrapped=_wrap(abstract, width),
        text_tldr_wrapped=_wrap(f"TL;DR: {tldr}", width) if tldr else "",
        text_pdf_url=pdf_url,
        text_html_url=html_url,
        text_code_url=code_url,
    )


def _wrap(text: str, width: int) -> str:
    # Never break inside long words: URLs in abstracts must stay clickable in the text part.
    lines = textwrap.wrap(text, width, break_long_words=False, break_on_hyphens=False)
    return "\n".join(lines)
