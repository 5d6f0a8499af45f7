"""The ``feed`` renderer: a subscriber's rolling RSS 2.0, Atom and JSON Feed 1.1 feeds."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import Any, NamedTuple

import jinja2
from markupsafe import Markup, escape
from pydantic import Field, field_validator

from digest import (
    Batch,
    ComponentConfig,
    PaperCache,
    PluginError,
    Renderer,
    Runtime,
    one_line,
    strip_invalid,
)
from digest.models import Artifact, Edition, Paper, Reason, ScoredPaper, Selection
from digest_feed.views import (
    Entry,
    FeedPaper,
    FeedReason,
    JsonPaper,
    edition_dates,
    edition_parts,
    feed_reason,
    json_number,
    json_paper,
    json_reasons,
    json_text,
    paper_data,
    paper_text,
    rate_parts,
    sibling_url,
    why_html,
)

NAMESPACE = "https://papers-digest.org/ns/1.0"
"""XML namespace of ``digest:score`` and ``digest:reason`` (prefix ``digest``)."""
JSON_FEED_VERSION = "https://jsonfeed.org/version/1.1"
RSS_FILENAME = "rss.xml"
ATOM_FILENAME = "atom.xml"
JSON_FILENAME = "feed.json"
STYLESHEET_FILENAME = "feed.xsl"
# Last path segments of an RSS URL (Links.feed) whose Atom and JSON Feed twins are
# "atom.xml" and "feed.json" next to it.
RSS_URL_NAMES = frozenset({RSS_FILENAME, "feed.xml"})  # feed.xml: the old name
# Papers rendered outside a prepared batch (history, no prepare()) and reasons are cached too,
# up to this many each, so a long-lived renderer cannot grow without bound.
_CACHE_LIMIT = 20_000
_IRI_PREFIX = re.compile(r"(?:[A-Za-z][A-Za-z0-9+.\-]*:[^\s\x00-\x1f\x7f<>\"{}|\\^`]*)?")


class _Cached(NamedTuple):
    """A paper as the renderer keeps it: its XML fragments and its JSON fragments.

    The JSON (plain str) is kept beside the XML fragments, not inside them: nothing reachable
    from an entry may be unescaped text (see views.py).
    """

    feed: FeedPaper
    json: JsonPaper


class _ReasonParts(NamedTuple):
    """What a combination of reasons adds to an entry (see ``FeedRenderer._reason_parts``)."""

    xml: Markup  # the digest:reason elements
    why_xml: str  # the "Why this paper" HTML, escaped as XML text
    why_json: str  # the same HTML as JSON string text
    json: str  # the JSON array of the reasons


class FeedConfig(ComponentConfig):
    """``[renderers.<instance>]`` options of :class:`FeedRenderer`."""

    rss_template: str = Field(default="feed/rss.xml", description="Jinja RSS 2.0 template.")
    atom_template: str = Field(default="feed/atom.xml", description="Jinja Atom template.")
    parts_template: str = Field(
        default="feed/parts.xml",
        description="Macros for the per-paper parts of entries, rendered once per paper.",
    )
    max_entries: int = Field(
        default=50,
        ge=1,
        le=1000,
        description="Most entries per feed: this edition's papers, then earlier ones.",
    )
    max_authors: int = Field(
        default=20,
        ge=1,
        le=1000,
        description="List this many authors per entry, then 'et al.' (papers can have 1000s).",
    )
    abstract_chars: int | None = Field(
        default=None,
        ge=50,
        description="Cut abstracts at a word boundary to this many characters; unset: full.",
    )
    atom_id_prefix: str = Field(
        default="tag:papers-digest.org,2024:",
        description=(
            "Atom entry ids are this prefix + the canonical paper id, e.g. "
            "tag:papers-digest.org,2024:arxiv:2406.01234 (a valid RFC 4151 IRI). "
            "An empty prefix uses the canonical id itself (arxiv:2406.01234)."
        ),
    )
    ttl_minutes: int = Field(
        default=60, ge=1, description="RSS <ttl>: how long readers may cache the feed."
    )
    stylesheet_template: str | None = Field(
        default="feed/feed.xsl",
        description=(
            "XSLT stylesheet the RSS and Atom feeds point at (written as feed.xsl next to "
            "them): a feed opened in a browser reads as a page on how to follow it. "
            "Empty: none."
        ),
    )

    @field_validator("atom_id_prefix")
    @classmethod
    def _iri_prefix(cls, value: str) -> str:
        if not _IRI_PREFIX.fullmatch(value):
            raise ValueError("must be empty or start an IRI (scheme:…), without spaces")
        return value


class FeedRenderer(Renderer[FeedConfig]):
    """Renders a subscriber's feed as RSS 2.0 and Atom from Jinja XML templates, and as
    JSON Feed 1.1 (``feed.json``) from JSON fragments pre-serialised per paper.

    Entries are this edition's papers in ranking order, then earlier editions' (newest
    first), de-duplicated by paper id and capped at ``max_entries``. Guids (and JSON Feed item
    ids) are the canonical paper ids, so readers recognise a paper they have already seen.
    Jinja templates rather than a feed library keep a render well under a millisecond
    (feedgen costs ~1.3 ms). JSON Feed items carry the score and reasons in ``_digest``.
    """

    name = "feed"
    channel = "feed"
    description = "RSS 2.0, Atom and JSON Feed 1.1 feeds with scores and reasons per entry"

    def __init__(self, config: FeedConfig, *, instance: str, runtime: Runtime) -> None:
        super().__init__(config, instance=instance, runtime=runtime)
        self._rss: jinja2.Template | None = None
        self._atom: jinja2.Template | None = None
        self._parts: Any = None  # the parts template's module: its macros
        self._stylesheet: Artifact | None = None  # the same for every subscriber
        self._reasons: dict[Reason, FeedReason] = {}
        self._reason_sets: dict[tuple[FeedReason, ...], _ReasonParts] = {}
        self._reason_xml: dict[FeedReason, str] = {}
        self._papers = PaperCache(self._build, limit=_CACHE_LIMIT)
        self._site_title = one_line(strip_invalid(runtime.site.title))
        site = json_text(self._site_title)
        # The JSON Feed members after the subscriber's own ones: the same for every feed.
        self._json_tail = (
            f',"authors":[{{"name":"{site}"}}],"_digest":{{"about":"{json_text(NAMESPACE)}"}}'
            ',"items":['
        )

    # -- per run -------------------------------------------------------------------------

    def prepare(self, batch: Batch) -> None:
        """Build every paper's feed data once; load the templates so errors surface early."""
        self._templates()
        batch.cache[self.instance] = self._papers.prepare(batch)

    def _templates(self) -> tuple[jinja2.Template, jinja2.Template, Any]:
        if self._rss is None or self._atom is None or self._parts is None:
            env = self.runtime.templates
            config = self.config
            name = config.rss_template
            try:
                self._rss = env.get_template(name)
                name = config.atom_template
                self._atom = env.get_template(name)
                name = config.parts_template
                self._parts = env.get_template(name).module
            except jinja2.TemplateNotFound as error:
                raise PluginError(f"feed template not found: {error.name}") from error
            except jinja2.TemplateError as error:
                raise PluginError(f"cannot load feed template {name!r}: {error}") from error
        return self._rss, self._atom, self._parts

    def _build(self, paper: Paper) -> _Cached:
        config = self.config
        text = paper_text(
            paper, max_authors=config.max_authors, abstract_chars=config.abstract_chars
        )
        data = paper_data(paper, text, atom_prefix=config.atom_id_prefix)
        parts = self._templates()[2]
        body = str(parts.body(data))
        feed = FeedPaper(
            data=data,
            rss=Markup(parts.rss_item(data)),
            atom=Markup(parts.atom_entry(data)),
            # The HTML becomes the text of an XML element: escape it once more, on purpose
            # (str() first, or escape() would trust the Markup and leave it as is).
            body=escape(body),
        )
        return _Cached(feed, json_paper(text, body))

    def _reason(self, reason: Reason) -> FeedReason:
        shown = self._reasons.get(reason)
        if shown is None:
            if len(self._reasons) >= _CACHE_LIMIT:
                self._reasons.clear()
            shown = self._reasons[reason] = feed_reason(reason)
        return shown

    def _reason_parts(
        self, reasons: tuple[FeedReason, ...], source: tuple[Reason, ...]
    ) -> _ReasonParts:
        """The ``digest:reason`` elements, the "Why this paper" HTML (XML-escaped and as JSON
        string text) and the JSON reasons of ``reasons`` (the feed versions of ``source``).

        Cached per combination: subscribers with similar interests share the same few. Any
        ``source`` with these feed versions has the same JSON: it shows the same cleaned texts
        and weights.
        """
        parts = self._reason_sets.get(reasons)
        if parts is None:
            xml = Markup("".join([self._one_reason_xml(reason) for reason in reasons]))
            if len(self._reason_sets) >= _CACHE_LIMIT:
                self._reason_sets.clear()
            why = str(why_html(reasons))
            # HTML as the text of an XML element: str() first, or escape() would trust it.
            parts = self._reason_sets[reasons] = _ReasonParts(
                xml, str(escape(why)), json_text(why), json_reasons(source)
            )
        return parts

    def _one_reason_xml(self, reason: FeedReason) -> str:
        # Reasons repeat across subscribers even when their combinations do not.
        xml = self._reason_xml.get(reason)
        if xml is None:
            if len(self._reason_xml) >= _CACHE_LIMIT:
                self._reason_xml.clear()
            xml = self._reason_xml[reason] = str(self._templates()[2].reason(reason))
        return xml

    # -- per subscriber ------------------------------------------------------------------

    def render(self, selection: Selection) -> Sequence[Artifact]:
        rss, atom, _ = self._templates()
        entries: list[Entry] = []
        # The JSON Feed as one list of fragments, joined once: its members (filled in below),
        # then the items, each one's fragments after a separator.
        json_parts = [""]
        separator = "\n"
        for entry, fragments in self._rendered(selection):
            entries.append(entry)
            json_parts.append(separator)
            json_parts.extend(fragments)
            separator = ",\n"
        links = selection.links
        name = one_line(strip_invalid(selection.subscriber.name))
        title = f"{self._site_title} — {name}"
        description = f"Research papers picked for {name} by {self._site_title}"
        pubdate, updated = edition_dates(selection.edition.created)
        archive_url = strip_invalid(links.archive)
        feed_url = strip_invalid(links.feed)
        atom_url = sibling_url(feed_url, RSS_URL_NAMES, ATOM_FILENAME)
        # Escaped here like everything else the templates get, so their entry loops can run
        # without autoescaping (see views.py).
        context: dict[str, Any] = {
            "namespace": escape(NAMESPACE),
            "title": escape(title),
            "description": escape(description),
            "site_title": escape(self._site_title),
            "archive_url": escape(archive_url),
            "feed_url": escape(feed_url),
            # Links has no Atom URL: the Atom document is assumed next to the RSS one.
            "atom_url": None if atom_url is None else escape(atom_url),
            # The Atom document's own URL (stable for the subscriber) identifies the Atom feed.
            "feed_id": escape(atom_url or feed_url),
            "pubdate": pubdate,
            "updated": updated,
            "ttl": self.config.ttl_minutes,
            "entries": entries,
            # relative: next to the feed on disk (files) as on the web (digest serve)
            "stylesheet": STYLESHEET_FILENAME if self.config.stylesheet_template else None,
        }
        stylesheet = self._stylesheet_artifact()
        return (
            Artifact(
                role="rss",
                media_type="application/rss+xml",
                content=rss.render(context),
                filename=RSS_FILENAME,
            ),
            Artifact(
                role="atom",
                media_type="application/atom+xml",
                content=atom.render(context),
                filename=ATOM_FILENAME,
            ),
            Artifact(
                role="json",
                media_type="application/feed+json",
                content=self._json_feed(title, description, archive_url, feed_url, json_parts),
                filename=JSON_FILENAME,
            ),
            *([stylesheet] if stylesheet else []),
        )

    def _stylesheet_artifact(self) -> Artifact | None:
        name = self.config.stylesheet_template
        if not name:
            return None
        if self._stylesheet is None:
            try:
                content = self.runtime.templates.get_template(name).render(
                    namespace=escape(NAMESPACE), site_title=escape(self._site_title)
                )
            except jinja2.TemplateNotFound as error:
                raise PluginError(f"feed template not found: {error.name}") from error
            except jinja2.TemplateError as error:
                raise PluginError(f"cannot load feed template {name!r}: {error}") from error
            self._stylesheet = Artifact(
                role="stylesheet",
                media_type="text/xsl",
                content=content,
                filename=STYLESHEET_FILENAME,
            )
        return self._stylesheet

    def _json_feed(
        self, title: str, description: str, archive_url: str, feed_url: str, parts: list[str]
    ) -> str:
        """The JSON Feed document from ``parts``: a placeholder, then the items' fragments.

        Joined once: the document is mostly the items' pre-serialised fragments, and every
        extra concatenation would copy all of it again.
        """
        # Links has no JSON Feed URL: the document is assumed next to the RSS one.
        json_url = sibling_url(feed_url, RSS_URL_NAMES, JSON_FILENAME)
        self_link = "" if json_url is None else f',"feed_url":"{json_text(json_url)}"'
        parts[0] = (
            f'{{"version":"{JSON_FEED_VERSION}","title":"{json_text(title)}"'
            f',"home_page_url":"{json_text(archive_url)}"{self_link}'
            f',"description":"{json_text(description)}"{self._json_tail}'
        )
        parts.append("\n]}\n" if len(parts) > 1 else "]}\n")
        return "".join(parts)

    def _entries(self, selection: Selection) -> Iterator[Entry]:
        """This edition's items in ranking order, then history newest first; unique, capped."""
        for entry, _ in self._rendered(selection):
            yield entry

    def _rendered(self, selection: Selection) -> Iterator[tuple[Entry, tuple[str, ...]]]:
        """The entries (see ``_entries``), each with the fragments of its JSON Feed item."""
        seen: set[str] = set()
        limit = self.config.max_entries
        feedback = selection.links.feedback
        editions: list[tuple[Edition, tuple[ScoredPaper, ...]]] = [
            (selection.edition, selection.items),
            *selection.history,
        ]
        for edition, items in editions:
            for item in items:
                key = str(item.paper.id)
                if key in seen:
                    continue
                seen.add(key)
                yield self._entry(self._papers.get(item.paper), item, edition, feedback)
                if len(seen) >= limit:
                    return

    def _entry(
        self, cached: _Cached, item: ScoredPaper, edition: Edition, feedback: str | None = None
    ) -> tuple[Entry, tuple[str, ...]]:
        paper, fragments = cached.feed, cached.json
        reasons = tuple([self._reason(reason) for reason in item.reasons])
        parts = self._reason_parts(reasons, item.reasons)
        score_text = f"{item.score:.3f}"
        score = Markup(score_text)  # digits only: nothing to escape
        pubdate, updated = edition_dates(edition.created)
        # Joined as plain str and wrapped once: Markup's own + re-checks every part.
        rate_xml, rate_json = rate_parts(feedback, str(item.paper.id))
        edition_xml, edition_json = edition_parts(edition.created)
        content = Markup("".join([paper.body, parts.why_xml, edition_xml, rate_xml]))
        entry = Entry(paper, score, reasons, parts.xml, content, pubdate, updated)
        # The JSON Feed item's fragments: content_html is the same HTML as the content above.
        json_item = (
            fragments.head,
            parts.why_json,
            edition_json,
            rate_json,
            fragments.tail,
            ',"date_published":"',
            str(updated),  # RFC 3339: digits and punctuation, nothing to escape
            '","_digest":{"score":',
            json_number(score_text, item.score),
            ',"reasons":',
            parts.json,
            "}}",
        )
        return entry, json_item
