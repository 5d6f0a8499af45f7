"""Per-paper feed data, built once per paper per run, and the per-subscriber entries.

Everything that depends only on the paper (readable title, author line, links) is computed in
:func:`paper_text` and escaped by :func:`paper_data`; the renderer turns it into XML fragments
(and :func:`json_paper` into JSON Feed fragments) once. An :class:`Entry` adds the subscriber's
score, reasons and the edition date, which is all a render has to do.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import functools
import json.encoder
import math
from collections.abc import Collection, Sequence
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
class PaperText:
    """What the feeds show of one paper, as plain text (cleaned and readable, not escaped)."""

    guid: str
    title: str
    link: str | None
    pdf_url: str | None
    code_url: str | None
    creator: str
    authors: tuple[str, ...]
    categories: tuple[str, ...]
    abstract: str


def paper_text(paper: Paper, *, max_authors: int, abstract_chars: int | None) -> PaperText:
    """Everything about ``paper`` the feeds show that does not depend on the subscriber."""
    names = [name for name in (readable(author.name) for author in paper.authors) if name]
    shown = names[:max_authors]
    abstract = readable(paper.abstract)
    if abstract_chars is not None:
        abstract = truncate(abstract, abstract_chars)
    categories = (one_line(strip_invalid(category)) for category in paper.categories)
    return PaperText(
        guid=strip_invalid(str(paper.id)),
        title=readable(paper.title) or "(untitled)",
        link=landing_url(paper),
        pdf_url=safe_url(paper.pdf_url),
        code_url=safe_url(paper.code_url),
        creator=", ".join(shown) + (" et al." if len(names) > max_authors else ""),
        authors=tuple(shown),
        categories=tuple(category for category in categories if category),
        abstract=abstract,
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class PaperData:
    """What the feeds show of one paper (a :class:`PaperText`), every text escaped for XML/HTML."""

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


def paper_data(paper: Paper, text: PaperText, *, atom_prefix: str) -> PaperData:
    """``text`` (the feed text of ``paper``) escaped, plus the paper's Atom id."""
    return PaperData(
        guid=escape(text.guid),
        atom_id=escape(atom_id(paper.id, atom_prefix)),
        title=escape(text.title),
        link=_optional(text.link),
        pdf_url=_optional(text.pdf_url),
        code_url=_optional(text.code_url),
        creator=escape(text.creator),
        authors=tuple(map(escape, text.authors)),
        categories=tuple(map(escape, text.categories)),
        abstract=escape(text.abstract),
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
    ref: Markup | None = None


def reason_text(reason: Reason) -> tuple[str, str, str]:
    """A reason cleaned for the feeds (one line, LaTeX readable, valid XML): kind, text, weight."""
    return one_line(strip_invalid(reason.kind)), readable(reason.text), f"{reason.weight:.3g}"


def feed_reason(reason: Reason) -> FeedReason:
    """A reason cleaned for the feeds and escaped."""
    kind, text, weight = reason_text(reason)
    ref = escape(one_line(strip_invalid(reason.ref))) if reason.ref else None
    return FeedReason(escape(kind), escape(text), escape(weight), ref)


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


@functools.lru_cache(maxsize=256)
def edition_parts(created: dt.datetime) -> tuple[str, str]:
    """The "which edition" paragraph of an entry's HTML: (as XML text, as JSON string text).

    Readers see the edition and (in "Why this paper") the reasons in words; the raw score
    stays in ``digest:score`` / ``_digest`` for machines.
    """
    if created.tzinfo is None:  # the core stores UTC; a naive time is UTC
        created = created.replace(tzinfo=dt.UTC)
    utc = created.astimezone(dt.UTC)
    html = f"<p><small>From your digest of {utc.day} {utc:%B %Y}.</small></p>"
    return str(escape(html)), json_text(html)


# -- JSON Feed ----------------------------------------------------------------------------
# The JSON Feed is assembled from pre-serialised fragments, joined as strings per subscriber:
# a JSON string's escaping is per character, so the JSON of a concatenation is the
# concatenation of the JSON of its parts (and as no HTML part joined into content_html ends in
# "<", no "</" is split across two). These fragments are plain str, never Markup: they must
# not reach the XML templates (and are kept out of Entry and FeedPaper).

# The C encoder behind json.dumps(ensure_ascii=True): the JSON Feed is pure ASCII. Escaping
# the few non-ASCII characters (α as \u03b1) costs some bytes, but a str holding any character
# above U+00FF takes 2 or 4 bytes per character, and every join or UTF-8 encode of it must
# convert them all; ASCII fragments are joined and encoded as plain copies (~2x faster here).
_encode = json.encoder.encode_basestring_ascii


def json_text(text: str) -> str:
    """``text`` as the inside of a JSON string (no quotes around it), all ASCII.

    Also escapes ``</`` (as ``<\\/``), so the document stays safe to paste into an HTML
    ``<script>``; U+2028/U+2029, which JavaScript before ES2019 does not allow in strings, are
    escaped like every non-ASCII character. ``json.loads`` reads everything back as it was.
    """
    out = _encode(text)[1:-1]
    return out.replace("</", "<\\/") if "</" in out else out


def json_number(text: str, value: float) -> str:
    """``text`` (``value`` as the XML feeds show it, e.g. ``0.930``), or null if not finite."""
    return text if math.isfinite(value) else "null"


class JsonPaper(NamedTuple):
    """A paper's JSON Feed item, pre-serialised around the parts that depend on the subscriber.

    An item is ``head`` + the rest of its ``content_html`` (JSON-escaped, without quotes) +
    ``tail`` + the item's ``date_published`` and ``_digest`` members + ``}``.
    """

    head: str
    tail: str


def json_paper(text: PaperText, body_html: str) -> JsonPaper:
    """The JSON fragments of ``text``'s item; ``body_html`` starts its ``content_html``."""
    head = [f'{{"id":"{json_text(text.guid)}"']
    if text.link:
        head.append(f',"url":"{json_text(text.link)}"')
    head.append(f',"title":"{json_text(text.title)}","content_html":"{json_text(body_html)}')
    tail = ['"']
    if text.abstract:
        tail.append(f',"summary":"{json_text(text.abstract)}"')
    if text.authors:
        names = ",".join([f'{{"name":"{json_text(name)}"}}' for name in text.authors])
        tail.append(f',"authors":[{names}]')
    if text.categories:
        tags = ",".join([f'"{json_text(category)}"' for category in text.categories])
        tail.append(f',"tags":[{tags}]')
    return JsonPaper("".join(head), "".join(tail))


def json_reasons(reasons: Sequence[Reason]) -> str:
    """The ``reasons`` array of an item's ``_digest`` object: the same texts as the XML feeds."""
    parts = []
    for reason in reasons:
        kind, text, weight = reason_text(reason)
        number = json_number(weight, reason.weight)
        ref = f',"ref":"{json_text(reason.ref)}"' if reason.ref else ""
        parts.append(
            f'{{"kind":"{json_text(kind)}","text":"{json_text(text)}","weight":{number}{ref}}}'
        )
    return f"[{','.join(parts)}]"


_RATE_HTML = (
    '<p><a href="{url}&amp;action=more">More like this</a> · '
    '<a href="{url}&amp;action=less">Less like this</a> · '
    '<a href="{url}&amp;action=mute">Mute an author</a></p>'
)


def rate_parts(feedback: str | None, paper_id: str) -> tuple[str, str]:
    """The subscriber's feedback links for a paper: (as XML text, as JSON string text)."""
    if not feedback:
        return "", ""
    url = escape(f"{feedback}?paper={quote(paper_id, safe=':')}")
    html = _RATE_HTML.format(url=url)
    return str(escape(html)), json_text(html)
