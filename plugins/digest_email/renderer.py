"""The ``email`` renderer: subject line, plain-text part and an MJML-built HTML part."""

from __future__ import annotations

import datetime as dt
import functools
import string
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import jinja2
from markupsafe import Markup
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
    truncate,
)
from digest.models import Artifact, Paper, Selection
from digest_email.mjml import compile_html_fragment, compile_mjml_template, template_text
from digest_email.views import PaperView, build_view, rate_url, tag_line, why_line

SUBJECT_FIELDS = frozenset({"site", "name", "count", "papers", "top", "date", "edition"})


def _check_subject(template: str) -> str:
    """Reject placeholders other than plain :data:`SUBJECT_FIELDS` names at config time."""
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as error:
        raise ValueError(f"not a valid subject template: {error}") from None
    for _, field, spec, conversion in parsed:
        if field is None:
            continue
        if field not in SUBJECT_FIELDS or spec or conversion:
            allowed = ", ".join("{" + name + "}" for name in sorted(SUBJECT_FIELDS))
            raise ValueError(f"unknown placeholder {{{field}}}; use {allowed}")
    return template


class Card(NamedTuple):
    """One item as the templates see it: the shared paper view and this subscriber's reasons."""

    paper: PaperView
    #: the one "why" sentence
    why: str
    #: this subscriber's feedback link for the paper (add ``&action=more|less|mute``)
    rate: str | None = None
    #: the short tag of the contents list ("your keyword", a phrase)
    tag: str = ""


@functools.lru_cache(maxsize=1024)
def edition_date(created: dt.datetime, timezone: str) -> str:
    """``"Tuesday 11 June 2024"`` for the edition in the subscriber's time zone."""
    if created.tzinfo is None:  # the core stores UTC; a naive time is UTC
        created = created.replace(tzinfo=dt.UTC)
    try:
        zone: dt.tzinfo = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        zone = dt.UTC
    local = created.astimezone(zone)
    return f"{local:%A} {local.day} {local:%B %Y}"


def _utf8_len(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-8"))


def _encoded_len(text: str) -> int:
    """Size of the HTML part as sent: base64 in CRLF-terminated lines of 76 characters."""
    encoded = 4 * -(-_utf8_len(text) // 3)
    return encoded + 2 * -(-encoded // 76)


class EmailConfig(ComponentConfig):
    """``[renderers.<instance>]`` options of :class:`EmailRenderer`."""

    html_template: str = Field(
        default="email/digest.mjml",
        description="MJML template for the HTML part (compiled once, then Jinja-rendered).",
    )
    card_template: str = Field(
        default="email/card.html",
        description="Jinja macros head(p) and tail(p): a paper's card, rendered once.",
    )
    card_text_template: str = Field(
        default="email/card.txt",
        description="The same for the plain-text part.",
    )
    stylesheet: str = Field(
        default="email/style.css",
        description="CSS inlined into the compiled email and the cards (found like templates).",
    )
    text_template: str = Field(
        default="email/digest.txt",
        description="Jinja template for the plain-text part (a .txt name: not autoescaped).",
    )
    subject: str = Field(
        default="{site}: {count} new {papers} for {name} — {top}",
        description=(
            "Subject line. Placeholders: {site}, {name}, {count}, {papers} ('paper' or "
            "'papers'), {top} (the top paper's title, shortened), {date}, {edition}."
        ),
    )
    subject_empty: str = Field(
        default="{site}: no new papers for {name}",
        description="Subject line when the selection is empty; same placeholders.",
    )
    subject_title_chars: int = Field(
        default=60, ge=10, le=300, description="Shorten the {top} title to this many chars."
    )
    subject_max_chars: int = Field(
        default=150, ge=30, le=900, description="Shorten the whole subject to this length."
    )
    abstract_chars: int = Field(
        default=0,
        ge=0,
        le=20_000,
        description=(
            "Cut abstracts at a word boundary to this many chars; 0 (the default) leaves them "
            "to the web version, which shows them whole: the card has the TL;DR."
        ),
    )
    max_authors: int = Field(
        default=3, ge=1, le=100, description="Show this many authors, then 'et al.'."
    )
    text_width: int = Field(
        default=72,
        ge=30,
        le=200,
        description="Wrap the text part's titles and abstracts at this width (before indent).",
    )
    html_budget_kb: int = Field(
        default=90,
        ge=30,
        le=10_000,
        description=(
            "Largest HTML part in kB as sent (base64-encoded; 1 kB = 1,000 bytes). Gmail "
            "clips messages above ~102 KB, hiding the footer; papers beyond the budget are "
            "replaced by a link to the web version."
        ),
    )

    @field_validator("subject", "subject_empty")
    @classmethod
    def _placeholders(cls, value: str) -> str:
        return _check_subject(value)


class EmailRenderer(Renderer[EmailConfig]):
    """Renders a selection as an email: a subject, a text part and an HTML part.

    The MJML template is compiled to HTML once per renderer (Jinja tags left in) and then
    rendered per subscriber. Per-paper work happens in :meth:`prepare`; :meth:`render` only
    looks up the prepared views. The HTML never exceeds ``html_budget_kb``: papers are dropped
    from the end and replaced by a link to the web version.
    """

    name = "email"
    channel = "email"
    description = "HTML email built from MJML, with a plain-text part and a subject line"

    def __init__(self, config: EmailConfig, *, instance: str, runtime: Runtime) -> None:
        super().__init__(config, instance=instance, runtime=runtime)
        self._html: jinja2.Template | None = None
        self._text: jinja2.Template | None = None
        self._cards: tuple[Any, Any] | None = None  # macro modules of card.html and card.txt
        self._views = PaperCache(self._build, limit=10_000)
        self._site_title = one_line(strip_invalid(runtime.site.title))

    # -- per run -------------------------------------------------------------------------

    def prepare(self, batch: Batch) -> None:
        """Build every paper's view once; also compile the templates so errors surface early."""
        self._templates()
        batch.cache[self.instance] = self._views.prepare(batch)

    def _templates(self) -> tuple[jinja2.Template, jinja2.Template]:
        if self._html is None or self._text is None or self._cards is None:
            env = self.runtime.templates
            config = self.config
            name = config.stylesheet
            try:
                css = template_text(env, name)
                name = config.html_template
                self._html = compile_mjml_template(env, name, css=css)
                name = config.card_template
                card_html = compile_html_fragment(env, name, css=css).module
                name = config.text_template
                self._text = env.get_template(name)
                name = config.card_text_template
                self._cards = (card_html, env.get_template(name).module)
            except jinja2.TemplateNotFound as error:
                raise PluginError(f"email template not found: {error.name}") from error
            except (jinja2.TemplateError, ValueError) as error:
                raise PluginError(f"cannot compile email template {name!r}: {error}") from error
        return self._html, self._text

    def _build(self, paper: Paper, *, abstract_chars: int | None = -1) -> PaperView:
        view = build_view(
            paper,
            abstract_chars=self.config.abstract_chars if abstract_chars == -1 else abstract_chars,
            max_authors=self.config.max_authors,
            width=self.config.text_width,
        )
        self._templates()
        assert self._cards is not None
        html, text = self._cards
        # The subscriber-independent parts of the card, rendered once per paper.
        return replace(
            view,
            html_head=Markup(html.head(view)),
            html_tail=Markup(html.tail(view)),
            text_head=str(text.head(view)),
            text_tail=str(text.tail(view)),
        )

    # -- per subscriber ------------------------------------------------------------------

    def render(self, selection: Selection) -> Sequence[Artifact]:
        html_template, text_template = self._templates()
        cards = self._cards_of(selection, self._views.get)
        context = self._context(selection, cards)
        subject = self._subject(
            cards, name=context["name"], date=context["date"], edition=context["edition_id"]
        )
        text = text_template.render(context)
        html = self._fit(html_template, context)
        return (
            Artifact(role="subject", media_type="text/plain", content=subject),
            Artifact(role="text", media_type="text/plain", content=text, filename="digest.txt"),
            Artifact(role="html", media_type="text/html", content=html, filename="digest.html"),
        )

    def render_page(self, selection: Selection) -> Artifact:
        """The selection as the web version: the email's design with whole abstracts and no
        size budget (no "view in browser" link)."""
        html_template, _ = self._templates()
        cards = self._cards_of(selection, self._page_view)
        context = {**self._context(selection, cards), "web": True}
        return Artifact(role="page", media_type="text/html", content=html_template.render(context))

    def _page_view(self, paper: Paper) -> PaperView:
        return self._build(paper, abstract_chars=None)

    @staticmethod
    def _cards_of(selection: Selection, view: Any) -> list[Card]:
        feedback = selection.links.feedback
        return [
            Card(
                view(item.paper),
                why_line(item.reasons),
                rate_url(feedback, item.paper),
                tag_line(item.reasons),
            )
            for item in selection.items
        ]

    def _context(self, selection: Selection, cards: list[Card]) -> dict[str, Any]:
        subscriber = selection.subscriber
        name = one_line(strip_invalid(subscriber.name))
        edition = one_line(strip_invalid(selection.edition.id))
        date = edition_date(selection.edition.created, subscriber.timezone)
        context: dict[str, Any] = {
            # Cleaned (one line, no control characters) values for the templates to show; the
            # raw subscriber, site and edition stay available for custom templates.
            "title": self._site_title,
            "name": name,
            "email": one_line(strip_invalid(subscriber.email or "")),
            "edition_id": edition,
            "preheader": self._preheader(cards),
            "date": date,
            "edition": selection.edition,
            "count": len(cards),
            "candidates": selection.candidates,
            "cards": cards,
            "more": 0,
            "links": selection.links,
            "subscriber": subscriber,
            "site": self.runtime.site,
            "web": False,
            "text_width": self.config.text_width,
        }
        return context

    def _subject(self, cards: Sequence[Card], *, name: str, date: str, edition: str) -> str:
        config = self.config
        top = truncate(cards[0].paper.text_title, config.subject_title_chars) if cards else ""
        fields = {
            "site": self._site_title,
            "name": name,
            "count": str(len(cards)),
            "papers": "paper" if len(cards) == 1 else "papers",
            "top": top,
            "date": date,
            "edition": edition,
        }
        template = config.subject if cards else config.subject_empty
        # Values are data: str.format never interprets braces inside them. one_line() keeps
        # CR/LF out of the header whatever the template or the data say.
        subject = one_line(template.format_map(fields))
        return truncate(subject, config.subject_max_chars)

    @staticmethod
    def _preheader(cards: Sequence[Card]) -> str:
        return truncate(" · ".join(card.paper.text_title for card in cards[:3]), 140)

    def _fit(self, template: jinja2.Template, context: Mapping[str, Any]) -> str:
        """Render within the budget: the longest prefix of cards that fits, plus a note."""
        budget = self.config.html_budget_kb * 1000
        html = template.render(context)
        size = _encoded_len(html)
        if size <= budget:
            return html
        cards: list[Card] = context["cards"]

        def attempt(keep: int) -> str:
            return template.render({**context, "cards": cards[:keep], "more": len(cards) - keep})

        # Bisect on the number kept (size grows with it); start near the proportional guess.
        fits, too_big = -1, len(cards)
        best: str | None = None
        guess = min(len(cards) - 1, len(cards) * budget // size)
        while too_big - fits > 1:
            keep = guess if fits < guess < too_big else (fits + too_big) // 2
            candidate = attempt(keep)
            if _encoded_len(candidate) <= budget:
                fits, best = keep, candidate
            else:
                too_big = keep
        if best is None:
            raise PluginError(
                f"html_budget_kb={self.config.html_budget_kb} is too small for the email "
                "without any papers; raise it"
            )
        self.log.debug("html over budget: kept %d of %d papers", fits, len(cards))
        return best
