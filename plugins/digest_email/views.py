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

from digest import landing_url, one_line, readable, safe_url, strip_invalid, truncate
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
def reason_text(reason: Reason) -> str:
    """A reason as shown to the reader; cached because rankers repeat the same few texts."""
    return readable(reason.text)


def why_line(reasons: tuple[Reason, ...]) -> str:
    """The reasons' texts joined into the "Why this paper:" line."""
    texts = [text for text in map(reason_text, reasons) if text]
    return "; ".join(dict.fromkeys(texts))  # rankers may repeat a text; show it once


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
    url: Markup | None
    authors: Markup
    categories: Markup
    abstract: Markup
    #: the one-sentence summary an enricher added (``signals["tldr"]``), or empty
    tldr: Markup
    pdf_url: Markup | None
    code_url: Markup | None
    text_title: str
    text_title_wrapped: str
    text_url: str | None
    text_authors: str
    text_categories: str
    text_abstract_wrapped: str
    text_tldr_wrapped: str
    text_pdf_url: str | None
    text_code_url: str | None
    #: the card's subscriber-independent parts (email/card.html and card.txt), set by the renderer
    html_head: Markup = _EMPTY
    html_tail: Markup = _EMPTY
    text_head: str = ""
    text_tail: str = ""


def _markup(value: str | None) -> Markup | None:
    return None if value is None else escape(value)


def build_view(paper: Paper, *, abstract_chars: int, max_authors: int, width: int) -> PaperView:
    """Everything about ``paper`` that does not depend on the subscriber."""
    title = readable(paper.title) or "(untitled)"
    authors = author_line(author_names(paper), max_authors)
    categories = " · ".join(c for c in (one_line(strip_invalid(c)) for c in paper.categories) if c)
    abstract = ""
    if abstract_chars and paper.abstract:
        abstract = truncate(readable(paper.abstract), abstract_chars)
    found = paper.signals.get("tldr")
    tldr = truncate(readable(found), 400) if isinstance(found, str) else ""
    url = landing_url(paper)
    pdf_url = safe_url(paper.pdf_url)
    code_url = safe_url(paper.code_url)
    return PaperView(
        paper=paper,
        title=escape(title),
        url=_markup(url),
        authors=escape(authors),
        categories=escape(categories),
        abstract=escape(abstract),
        tldr=escape(tldr),
        pdf_url=_markup(pdf_url),
        code_url=_markup(code_url),
        text_title=title,
        text_title_wrapped=_wrap(title, width),
        text_url=url,
        text_authors=authors,
        text_categories=categories,
        text_abstract_wrapped=_wrap(abstract, width),
        text_tldr_wrapped=_wrap(f"TL;DR: {tldr}", width) if tldr else "",
        text_pdf_url=pdf_url,
        text_code_url=code_url,
    )


def _wrap(text: str, width: int) -> str:
    # Never break inside long words: URLs in abstracts must stay clickable in the text part.
    lines = textwrap.wrap(text, width, break_long_words=False, break_on_hyphens=False)
    return "\n".join(lines)
