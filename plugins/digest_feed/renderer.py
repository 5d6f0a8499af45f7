"""The ``feed`` renderer: a subscriber's rolling RSS 2.0 and Atom feeds."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import Any

import jinja2
from markupsafe import Markup, escape
from pydantic import Field, field_validator

from digest import Batch, ComponentConfig, PluginError, Renderer, Runtime, one_line, strip_invalid
from digest.models import Artifact, Edition, Paper, Reason, ScoredPaper, Selection
from digest_feed.views import (
    SCORE_XML,
    Entry,
    FeedPaper,
    FeedReason,
    edition_dates,
    feed_reason,
    paper_data,
    sibling_url,
    why_html,
)

NAMESPACE = "https://papers-digest.org/ns/1.0"
"""XML namespace of ``digest:score`` and ``digest:reason`` (prefix ``digest``)."""
RSS_FILENAME = "feed.xml"
ATOM_FILENAME = "atom.xml"
# Last path segments of an RSS URL (Links.feed) whose Atom twin is "atom.xml" next to it.
RSS_URL_NAMES = frozenset({RSS_FILENAME, "rss.xml"})
# Papers rendered outside a prepared batch (history, no prepare()) and reasons are cached too,
# up to this many each, so a long-lived renderer cannot grow without bound.
_CACHE_LIMIT = 20_000
_IRI_PREFIX = re.compile(r"(?:[A-Za-z][A-Za-z0-9+.\-]*:[^\s\x00-\x1f\x7f<>\"{}|\\^`]*)?")


class FeedRenderer(Renderer):
    """Renders a subscriber's feed as RSS 2.0 and Atom from Jinja XML templates.

    Entries are this edition's papers in ranking order, then earlier editions' (newest
    first), de-duplicated by paper id and capped at ``max_entries``. Guids are the canonical
    paper ids, so readers recognise a paper they have already seen. Jinja templates rather than
    a feed library keep a render well under a millisecond (feedgen costs ~1.3 ms).
    """

    name = "feed"
    channel = "feed"
    description = "RSS 2.0 and Atom feeds with scores and reasons per entry"

    class Config(ComponentConfig):
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

        @field_validator("atom_id_prefix")
        @classmethod
        def _iri_prefix(cls, value: str) -> str:
            if not _IRI_PREFIX.fullmatch(value):
                raise ValueError("must be empty or start an IRI (scheme:…), without spaces")
            return value

    config: Config

    def __init__(self, config: ComponentConfig, *, instance: str, runtime: Runtime) -> None:
        super().__init__(config, instance=instance, runtime=runtime)
        self._rss: jinja2.Template | None = None
        self._atom: jinja2.Template | None = None
        self._parts: Any = None  # the parts template's module: its macros
        self._reasons: dict[Reason, FeedReason] = {}
        self._reason_sets: dict[tuple[FeedReason, ...], tuple[Markup, str]] = {}
        self._reason_xml: dict[FeedReason, str] = {}
        self._papers: dict[str, tuple[Paper, FeedPaper]] = {}
        self._fallback: dict[str, tuple[Paper, FeedPaper]] = {}
        self._site_title = one_line(strip_invalid(runtime.site.title))

    # -- per run -------------------------------------------------------------------------

    def prepare(self, batch: Batch) -> None:
        """Build every paper's feed data once; load the templates so errors surface early."""
        self._templates()
        # The source Paper is kept beside its fragments, not inside them: nothing reachable
        # from an entry may be unescaped text (see views.py).
        papers = {str(paper.id): (paper, self._build(paper)) for paper in batch}
        batch.cache[self.instance] = papers
        self._papers = papers
        self._fallback = {}

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

    def _build(self, paper: Paper) -> FeedPaper:
        config = self.config
        data = paper_data(
            paper,
            atom_prefix=config.atom_id_prefix,
            max_authors=config.max_authors,
            abstract_chars=config.abstract_chars,
        )
        parts = self._templates()[2]
        return FeedPaper(
            data=data,
            rss=Markup(parts.rss_item(data)),
            atom=Markup(parts.atom_entry(data)),
            # The HTML becomes the text of an XML element: escape it once more, on purpose
            # (str() first, or escape() would trust the Markup and leave it as is).
            body=escape(str(parts.body(data))),
        )

    def _reason(self, reason: Reason) -> FeedReason:
        shown = self._reasons.get(reason)
        if shown is None:
            if len(self._reasons) >= _CACHE_LIMIT:
                self._reasons.clear()
            shown = self._reasons[reason] = feed_reason(reason)
        return shown

    def _reason_parts(self, reasons: tuple[FeedReason, ...]) -> tuple[Markup, str]:
        """The ``digest:reason`` elements and the XML-escaped "Why this paper" HTML.

        Cached per combination: subscribers with similar interests share the same few.
        """
        parts = self._reason_sets.get(reasons)
        if parts is None:
            xml = Markup("".join([self._one_reason_xml(reason) for reason in reasons]))
            if len(self._reason_sets) >= _CACHE_LIMIT:
                self._reason_sets.clear()
            # HTML as the text of an XML element: str() first, or escape() would trust it.
            why_xml = str(escape(str(why_html(reasons))))
            parts = self._reason_sets[reasons] = (xml, why_xml)
        return parts

    def _one_reason_xml(self, reason: FeedReason) -> str:
        # Reasons repeat across subscribers even when their combinations do not.
        xml = self._reason_xml.get(reason)
        if xml is None:
            if len(self._reason_xml) >= _CACHE_LIMIT:
                self._reason_xml.clear()
            xml = self._reason_xml[reason] = str(self._templates()[2].reason(reason))
        return xml

    def _paper(self, paper: Paper, key: str) -> FeedPaper:
        cached = self._papers.get(key) or self._fallback.get(key)
        # Same id but another version of the record (e.g. from history): build it afresh.
        if cached is None or (cached[0] is not paper and cached[0] != paper):
            cached = (paper, self._build(paper))
            if len(self._fallback) >= _CACHE_LIMIT:
                self._fallback.clear()
            self._fallback[key] = cached
        return cached[1]

    # -- per subscriber ------------------------------------------------------------------

    def render(self, selection: Selection) -> Sequence[Artifact]:
        rss, atom, _ = self._templates()
        entries = list(self._entries(selection))
        links = selection.links
        name = one_line(strip_invalid(selection.subscriber.name))
        pubdate, updated = edition_dates(selection.edition.created)
        feed_url = strip_invalid(links.feed)
        atom_url = sibling_url(feed_url, RSS_URL_NAMES, ATOM_FILENAME)
        # Escaped here like everything else the templates get, so their entry loops can run
        # without autoescaping (see views.py).
        context: dict[str, Any] = {
            "namespace": escape(NAMESPACE),
            "title": escape(f"{self._site_title} — {name}"),
            "description": escape(f"Research papers picked for {name} by {self._site_title}"),
            "site_title": escape(self._site_title),
            "archive_url": escape(strip_invalid(links.archive)),
            "feed_url": escape(feed_url),
            # Links has no Atom URL: the Atom document is assumed next to the RSS one.
            "atom_url": None if atom_url is None else escape(atom_url),
            # The subscriber's feed URL is stable for them: a fine feed-level Atom id.
            "feed_id": escape(feed_url),
            "pubdate": pubdate,
            "updated": updated,
            "ttl": self.config.ttl_minutes,
            "entries": entries,
        }
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
        )

    def _entries(self, selection: Selection) -> Iterator[Entry]:
        """This edition's items in ranking order, then history newest first; unique, capped."""
        seen: set[str] = set()
        limit = self.config.max_entries
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
                yield self._entry(self._paper(item.paper, key), item, edition)
                if len(seen) >= limit:
                    return

    def _entry(self, paper: FeedPaper, item: ScoredPaper, edition: Edition) -> Entry:
        reasons = tuple([self._reason(reason) for reason in item.reasons])
        reasons_xml, why_xml = self._reason_parts(reasons)
        score = Markup(f"{item.score:.3f}")  # digits only: nothing to escape
        pubdate, updated = edition_dates(edition.created)
        # Joined as plain str and wrapped once: Markup's own + re-checks every part.
        content = Markup("".join([paper.body, why_xml, SCORE_XML.format(score)]))
        return Entry(paper, score, reasons, reasons_xml, content, pubdate, updated)
