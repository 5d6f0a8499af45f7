"""The ``rss`` source: papers from any RSS 2.0, RSS 1.0 (RDF) or Atom feed."""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import Field

from digest import CollectContext, ComponentConfig, HttpUrl, Source
from digest.models import Paper

from .parse import parse_feed

# What feeds are served as; */* last because many servers label feeds text/html or text/plain.
ACCEPT = (
    "application/atom+xml, application/rss+xml, application/rdf+xml;q=0.9, "
    "application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"
)


class RssSource(Source):
    """Papers from any RSS 2.0, RSS 1.0 (RDF) or Atom feed: journals, preprint servers, labs.

    Each item becomes a paper identified by the arXiv id or DOI found in its guid, links,
    ``dc:identifier`` or ``prism:doi`` — so a journal's or arXiv's feed merges with the other
    sources — else by a fingerprint of title and first author. The feed is fetched with a
    conditional GET: when it has not changed since the last run, nothing is collected. An HTML
    page or an empty body is an error naming the URL; a valid feed without items is an empty
    result. Ill-formed XML that a lenient reader gets past (whitespace before the declaration,
    a bare "&", a document cut off part-way) is read so and reported in the source's health;
    of a cut-off document the complete items are kept and the whole is fetched again next run.
    """

    name = "rss"
    #: the name before 0.1 (still accepted in configs, with a deprecation warning)
    aliases = ("feed",)
    description = "papers from any RSS 2.0, RSS 1.0 (RDF) or Atom feed"

    class Config(ComponentConfig):
        url: HttpUrl = Field(description="The feed's address (http or https).")
        name: str | None = Field(
            default=None,
            description="A label for the feed, kept as the feed.name signal "
            "(default: the feed's own title).",
        )
        max_items: int = Field(
            default=500, ge=1, description="Read at most this many items, in feed order."
        )

    config: Config

    def collect(self, context: CollectContext) -> Iterable[Paper]:
        url = self.config.url
        fetched = context.http.get(url, conditional=True, accept=ACCEPT)
        if fetched.not_modified:
            self.log.debug("%s: not modified since the last run", url)
            return []
        # Relative links resolve against the final URL (after redirects); errors name the
        # configured one, which is what the operator wrote.
        parsed = parse_feed(
            fetched.content,
            url=url,
            source=self.instance,
            label=self.config.name,
            max_items=self.config.max_items,
        )
        for warning in parsed.warnings:
            context.warn(f"{url}: {warning}")
        if parsed.partial:
            context.http.forget(url)  # fetched whole again next run, not "not modified"
        self.log.debug(
            "%s: %s, %d papers (%d untitled, %d duplicates, %d beyond max_items)",
            url,
            parsed.version,
            len(parsed.papers),
            parsed.untitled,
            parsed.duplicates,
            parsed.beyond_limit,
        )
        return list(parsed.papers)
