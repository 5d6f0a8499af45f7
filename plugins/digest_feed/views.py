"""Per-paper feed data, built once per paper per run, and the per-subscriber entries.

Everything that depends only on the paper (readable title, author line, links) is computed in
:func:`paper_data`; the renderer turns it into XML fragments once. An :class:`Entry` adds the
subscriber's score, reasons and the edition date, which is all a render has to do.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import functools
from collections.abc import Collection
from dataclasses import dataclass
from typing import NamedTuple
from urllib.parse import quote, urlsplit, urlunsplit

from markupsafe import Markup, escape

from digest import landing_url, one_line, readable, safe_url, strip_invalid, truncate
from digest.models import Paper, PaperId, Reason

# What RFC 4151 allows in the specific part of a tag: URI, besides unreserved characters.
_TAG_SAFE = "!$&'()*+,;=:@/?"


def atom_id(paper_id: PaperId, prefix: str) -> str:
    """The Atom entry id: ``prefix`` + the canonical id, percent-encoded where IRIs need it.

    With the default prefix, ``arxiv:2406.01234`` becomes
    ``tag:papers-digest.org,2024:arxiv:2406.01234`` (RFC 4151), a valid IRI from which the
    canonical id is recovered by dropping the prefix (and unquoting, for exotic DOIs).
    """
    return f"{prefix}{paper_id.kind}:{quote(strip_invalid(paper_id.value), safe=_TAG_SAFE)}"


def sibling_url(url: str, old_names: Collection[str], new_name: str) -> str | None:
    """``url`` with its last path segment (one of ``old_names``) replaced by ``new_name``.

    Used to find the Atom document next to the RSS one (``…/rss.xml`` → ``…/atom.xml``);
    ``None`` when the URL does not end in one of ``old_names``.
    """
    parts = urlsplit(url)
    head, sep, last = parts.path.rpartition("/")
    if not sep or last not in old_names:
        return None
    return urlunsplit(parts._replace(path=f"{head}/{new_name}"))


@functools.lru_cache(maxsize=256)
def edition_dates(created: dt.datetime) -> tuple[Markup, Markup]:
    """The edition time as (RFC 822 for RSS, RFC 3339 for Atom), in UTC."""
    if created.tzinfo is None:  # the core stores UTC; a naive time is UTC
        created = created.replace(tzinfo=dt.UTC)
    utc = created.astimezone(dt.UTC).replace(microsecond=0)
    return escape(email.utils.format_datetime(utc)), escape(utc.isoformat().replace("+00:00", "Z"))


# Everything below is handed to the feed templates already escaped (Markup): their entry loops
# run with autoescaping off for speed (~3x), which is safe only because no plain str (and no
# raw Paper) is reachable from an entry. tests/test_render_feed.py checks this.


@dataclass(frozen=True, slots=True, kw_only=True)
class PaperData:
    """What the feeds show of one paper, every text escaped for XML/HTML."""

    guid: Markup
    atom_id: Markup
    title: Markup
    link: Markup | None
    pdf_url: Markup | None
    code_url: Markup | None
    creator: Markup
    authors: tuple[Markup, ...]
    categories: tuple[Markup, ...]
    abstract: Markup


def _optional(value: str | None) -> Markup | None:
    return None if value is None else escape(value)


def paper_data(
    paper: Paper, *, atom_prefix: str, max_authors: int, abstract_chars: int | None
) -> PaperData:
    """Everything about ``paper`` the feeds show that does not depend on the subscriber."""
    names = [name for name in (readable(author.name) for author in paper.authors) if name]
    shown = names[:max_authors]
    abstract = readable(paper.abstract)
    if abstract_chars is not None:
        abstract = truncate(abstract, abstract_chars)
    categories = (one_line(strip_invalid(category)) for category in paper.categories)
    return PaperData(
        guid=escape(strip_invalid(str(paper.id))),
        atom_id=escape(atom_id(paper.id, atom_prefix)),
        title=escape(readable(paper.title) or "(untitled)"),
        link=_optional(landing_url(paper)),
        pdf_url=_optional(safe_url(paper.pdf_url)),
        code_url=_optional(safe_url(paper.code_url)),
        creator=escape(", ".join(shown) + (" et al." if len(names) > max_authors else "")),
        authors=tuple(map(escape, shown)),
        categories=tuple(escape(category) for category in categories if category),
        abstract=escape(abstract),
    )


class FeedPaper(NamedTuple):
    """A paper's feed fragments, rendered once per run from ``feed/parts.xml``.

    ``rss`` and ``atom`` are the parts of an ``<item>`` / ``<entry>`` that depend only on the
    paper; ``body`` is its HTML (authors, abstract, links) escaped once more as XML text.
    """

    data: PaperData
    rss: Markup
    atom: Markup
    body: Markup


class FeedReason(NamedTuple):
    """A reason as the templates see it: machine ``kind``, reader ``text``, ``weight``."""

    kind: Markup
    text: Markup
    weight: Markup


def feed_reason(reason: Reason) -> FeedReason:
    """A reason cleaned for the feeds (one line, LaTeX readable, valid XML) and escaped."""
    return FeedReason(
        escape(one_line(strip_invalid(reason.kind))),
        escape(readable(reason.text)),
        escape(f"{reason.weight:.3g}"),
    )


class Entry(NamedTuple):
    """One feed entry: the shared paper fragments plus this subscriber's score, reasons, date.

    ``content`` is the HTML of the description (the paper's body, the "Why this paper" line and
    the score) escaped as XML text; ``reasons_xml`` is the ``digest:reason`` elements. Both are
    shared by the RSS and the Atom template.
    """

    paper: FeedPaper
    score: Markup
    reasons: tuple[FeedReason, ...]
    reasons_xml: Markup
    content: Markup
    pubdate: Markup
    updated: Markup


def why_html(reasons: tuple[FeedReason, ...]) -> Markup:
    """The "Why this paper" paragraph of an entry's HTML, or nothing without reasons."""
    # The texts are Markup already: joining with a Markup keeps them from being escaped twice.
    why = Markup("; ").join(dict.fromkeys(reason.text for reason in reasons if reason.text))
    return Markup("<p><strong>Why this paper:</strong> {}</p>").format(why) if why else Markup()


# The score paragraph of an entry's HTML, escaped as XML text once here: "{}" takes the score.
SCORE_XML = str(escape("<p>Score: {}</p>"))
