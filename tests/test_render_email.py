"""The ``email`` renderer as a reader sees it: subject, text part and HTML part."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
from pathlib import Path

import pydantic
import pytest

import digest_email
import digest_email.renderer
from digest import Batch
from digest.components import Runtime, Site
from digest.models import (
    Artifact,
    Author,
    Edition,
    Links,
    Paper,
    PaperId,
    Reason,
    ScoredPaper,
    Selection,
    Subscriber,
)
from digest.rendering import make_environment
from digest_email.mjml import compile_mjml_template
from digest_email.renderer import EmailRenderer

HOSTILE = "<script>alert(1)</script> {{ 7*7 }} & $\\alpha$\r\nInjected: x"
SHOWN = "<script>alert(1)</script> {{ 7*7 }} & α Injected: x"
LINKS = Links(
    unsubscribe="https://digest.example.org/u/tok123?list=ml&x=1",
    unsubscribe_mailto="mailto:unsubscribe@example.org?subject=tok123",
    preferences="https://digest.example.org/prefs/tok123",
    archive="https://digest.example.org/archive/tok123/2024-06-11",
    feed="https://digest.example.org/feeds/tok123/rss.xml",
)
EDITION = Edition(id="2024-06-11", created=dt.datetime(2024, 6, 11, 6, 0, tzinfo=dt.UTC))


def make_runtime(tmp_path: Path) -> Runtime:
    return Runtime(
        site=Site(
            title="Papers digest",
            base_url="https://digest.example.org",
            sender="Digest <d@example.org>",
        ),
        templates=make_environment(),
        state_dir=tmp_path,
        output_dir=tmp_path,
    )


def make_renderer(tmp_path: Path, **config: object) -> EmailRenderer:
    return EmailRenderer(
        EmailRenderer.Config(**config), instance="email", runtime=make_runtime(tmp_path)
    )


def make_paper(
    n: int, *, title: str | None = None, abstract: str | None = None, **kw: object
) -> Paper:
    value = f"2406.{n:05d}"
    fields: dict[str, object] = {
        "id": PaperId(kind="arxiv", value=value),
        "title": title if title is not None else f"Paper number {n} on $\\beta$-VAEs",
        "abstract": abstract if abstract is not None else f"Abstract of paper {n}. " * 5,
        "authors": tuple(Author(name=f"Author {n}-{i}") for i in range(5)),
        "categories": ("cs.LG", "stat.ML"),
        "url": f"https://arxiv.org/abs/{value}",
        "pdf_url": f"https://arxiv.org/pdf/{value}",
    }
    fields.update(kw)
    return Paper(**fields)  # type: ignore[arg-type]


def make_selection(papers: list[Paper], **kw: object) -> Selection:
    items = tuple(
        ScoredPaper(
            paper=paper,
            score=0.9 - i / 1000,
            reasons=(
                Reason(kind="keyword", text=f"mentions your keyword “diffusion” #{i}", weight=0.5),
                Reason(kind="recency", text="announced today", weight=0.1),
            ),
        )
        for i, paper in enumerate(papers)
    )
    fields: dict[str, object] = {
        "subscriber": Subscriber(name="alice", email="alice@example.org", timezone="Europe/Paris"),
        "edition": EDITION,
        "items": items,
        "links": LINKS,
        "candidates": 312,
    }
    fields.update(kw)
    return Selection(**fields)  # type: ignore[arg-type]


def render(renderer: EmailRenderer, selection: Selection) -> dict[str, Artifact]:
    artifacts = renderer.render(selection)
    assert [a.role for a in artifacts] == ["subject", "text", "html"]
    return {a.role: a for a in artifacts}


@pytest.fixture
def hostile_email(tmp_path: Path) -> dict[str, Artifact]:
    papers = [make_paper(0, title=HOSTILE, abstract=f"Abstract: {HOSTILE}")] + [
        make_paper(n) for n in range(1, 7)
    ]
    renderer = make_renderer(tmp_path)
    renderer.prepare(Batch(papers, now=dt.datetime.now(dt.UTC)))
    return render(renderer, make_selection(papers))


def test_hostile_title_is_escaped_and_readable_in_html(hostile_email: dict[str, Artifact]) -> None:
    html = hostile_email["html"]
    assert html.media_type == "text/html"
    assert "<script>" not in html.content
    assert "&lt;script&gt;alert(1)&lt;/script&gt; {{ 7*7 }} &amp; α Injected: x" in html.content
    assert "$\\alpha$" not in html.content
    assert "\r" not in html.content


def test_hostile_title_is_plain_and_on_one_line_in_text(hostile_email: dict[str, Artifact]) -> None:
    text = hostile_email["text"]
    assert text.media_type == "text/plain"
    # A text/plain part shows the title literally (nothing is executed there), on one line:
    # the CR/LF inside it cannot start a line of its own.
    assert f"1. {SHOWN}" in text.content
    assert "\r" not in text.content
    assert not any(line.startswith("Injected") for line in text.content.splitlines())
    assert "49" not in text.content


def test_subject_is_one_line_and_not_a_template(hostile_email: dict[str, Artifact]) -> None:
    subject = hostile_email["subject"].content
    assert "\r" not in subject and "\n" not in subject
    assert subject.startswith("Papers digest: 7 new papers for alice — <script>alert(1)")
    assert "{{ 7*7 }}" in subject and "49" not in subject
    assert "$" not in subject


def test_subject_shortens_the_top_title(tmp_path: Path) -> None:
    renderer = make_renderer(tmp_path, subject_title_chars=20)
    subject = render(renderer, make_selection([make_paper(1, title="A " * 100)]))["subject"]
    assert subject.content == "Papers digest: 1 new paper for alice — A A A A A A A A A…"


def test_subject_template_is_configurable_and_checked(tmp_path: Path) -> None:
    renderer = make_renderer(tmp_path, subject="[{site}] {count} for {name} on {date}")
    subject = render(renderer, make_selection([make_paper(1)]))["subject"].content
    assert subject == "[Papers digest] 1 for alice on Tuesday 11 June 2024"
    with pytest.raises(pydantic.ValidationError, match="unknown placeholder"):
        EmailRenderer.Config(subject="{site.__class__}")
    with pytest.raises(pydantic.ValidationError):
        EmailRenderer.Config(colour="red")  # type: ignore[call-arg]  # unknown keys are errors


def test_empty_selection_has_its_own_subject(tmp_path: Path) -> None:
    out = render(make_renderer(tmp_path), make_selection([]))
    assert out["subject"].content == "Papers digest: no new papers for alice"
    assert LINKS.unsubscribe.replace("&", "&amp;") in out["html"].content


def test_each_card_shows_what_a_reader_needs(hostile_email: dict[str, Artifact]) -> None:
    html, text = hostile_email["html"].content, hostile_email["text"].content
    for content in (html, text):
        assert "Paper number 3 on β-VAEs" in content
        assert "Author 3-0, Author 3-1, Author 3-2 et al." in content  # first three, then et al.
        assert "Author 3-3" not in content
        assert "https://arxiv.org/abs/2406.00003" in content
        assert "https://arxiv.org/pdf/2406.00003" in content
        assert "arXiv:2406.00003" in content  # the meta line: id, date, primary category
        assert "https://arxiv.org/html/2406.00003" in content
        assert "Mentions your keyword “diffusion” #3." in content  # one "why" sentence...
        assert "announced today" not in content  # ...timing is never a reason
    assert '<a class="dg-title" href="https://arxiv.org/abs/2406.00003"' in html
    assert "Why:</strong> Mentions" in html and "    Why: Mentions" in text
    assert '<div class="dg-card" id="p4"' in html and 'href="#p4"' in html  # contents → card
    assert "Tuesday 11 June 2024" in html  # the edition date in the subscriber's time zone


def test_footer_links_and_why_you_receive_it(hostile_email: dict[str, Artifact]) -> None:
    html, text = hostile_email["html"].content, hostile_email["text"].content
    for url in (LINKS.unsubscribe, LINKS.preferences, LINKS.archive, LINKS.feed):
        assert f'href="{url.replace("&", "&amp;")}"' in html
        assert url in text
    assert "Unsubscribe" in html and "Preferences" in html and "View in browser" in html
    for content in (html, text):
        assert "You receive this because alice@example.org is subscribed to Papers digest" in (
            content
        )


def test_html_works_in_dark_mode_without_external_resources(
    hostile_email: dict[str, Artifact],
) -> None:
    html = hostile_email["html"].content
    assert '<meta name="color-scheme" content="light dark">' in html
    assert "prefers-color-scheme: dark" in html
    assert "<img" not in html
    assert "fonts.googleapis" not in html
    assert "max-width:640px" in html


def test_code_link_and_unsafe_urls(tmp_path: Path) -> None:
    papers = [
        make_paper(1, code_url="https://github.com/org/repo"),
        make_paper(2, url="javascript:alert(1)", pdf_url="data:text/html,x"),
    ]
    out = render(make_renderer(tmp_path), make_selection(papers))
    html = out["html"].content
    assert 'href="https://github.com/org/repo"' in html and ">Code</a>" in html
    assert "javascript:" not in html and "data:text" not in html
    # An unusable source URL falls back to the abstract page derived from the arXiv id.
    assert "https://arxiv.org/abs/2406.00002" in html


def test_control_characters_are_dropped(tmp_path: Path) -> None:
    paper = make_paper(1, title="Null\x00 and bell\x07 title", abstract="Form\x0cfeed")
    out = render(make_renderer(tmp_path), make_selection([paper]))
    for role in ("subject", "text", "html"):
        assert not re.search("[\x00-\x08\x0b\x0c\x0e-\x1f]", out[role].content)
    assert "Null and bell title" in out["html"].content


def test_html_stays_within_budget_and_links_to_the_web_version(tmp_path: Path) -> None:
    papers = [make_paper(n, abstract="Long abstract words. " * 150) for n in range(200)]
    assert len(papers[0].abstract) > 3000
    renderer = make_renderer(tmp_path)
    renderer.prepare(Batch(papers, now=dt.datetime.now(dt.UTC)))
    out = render(renderer, make_selection(papers))
    html = out["html"].content
    assert len(html.encode("utf-8")) <= 90_000
    kept = html.count('class="dg-title"')
    assert 10 <= kept < 200
    note = f"{200 - kept} more papers in the web version"
    assert note in html
    assert f'href="{LINKS.archive}"' in html
    # The footer survives the cut; the text part keeps every paper.
    assert LINKS.unsubscribe.replace("&", "&amp;") in html
    assert all(f"Paper number {n} on β-VAEs" in out["text"].content for n in range(200))


@pytest.mark.parametrize("budget_kb", [30, 45])
def test_budget_is_never_exceeded(tmp_path: Path, budget_kb: int) -> None:
    import base64

    papers = [make_paper(n, abstract="ü " * 2000) for n in range(60)]  # multi-byte text
    renderer = make_renderer(tmp_path, html_budget_kb=budget_kb, abstract_chars=5000)
    html = render(renderer, make_selection(papers))["html"].content
    encoded = base64.encodebytes(html.encode("utf-8"))  # as sent, in 76-character lines
    assert len(encoded) + encoded.count(b"\n") <= budget_kb * 1000  # CRLF line ends
    kept = html.count('class="dg-title"')
    assert kept >= 1
    assert f"{60 - kept} more papers in the web version" in html


def test_budget_config_has_a_floor() -> None:
    with pytest.raises(pydantic.ValidationError):
        EmailRenderer.Config(html_budget_kb=20)


def test_mjml_is_compiled_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    compile_ = compile_mjml_template

    def counting(env: object, name: str, **options: str) -> object:
        calls.append(name)
        return compile_(env, name, **options)  # type: ignore[arg-type]

    monkeypatch.setattr(digest_email.renderer, "compile_mjml_template", counting)
    renderer = make_renderer(tmp_path)
    papers = [make_paper(n) for n in range(3)]
    renderer.prepare(Batch(papers, now=dt.datetime.now(dt.UTC)))
    first = render(renderer, make_selection(papers))["html"].content
    second = render(renderer, make_selection(papers[:2]))["html"].content
    assert calls == ["email/digest.mjml"]
    assert "Paper number 2" in first and "Paper number 2" not in second


def test_prepare_does_the_per_paper_work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    papers = [make_paper(n) for n in range(5)]
    batch = Batch(papers, now=dt.datetime.now(dt.UTC))
    renderer = make_renderer(tmp_path)
    renderer.prepare(batch)
    assert set(batch.cache["email"]) == {str(p.id) for p in papers}

    def fail(*args: object, **kwargs: object) -> None:
        raise AssertionError("render() rebuilt a prepared paper")

    monkeypatch.setattr(digest_email.renderer, "build_view", fail)
    render(renderer, make_selection(papers[1:4]))


def test_render_works_for_papers_outside_the_batch(tmp_path: Path) -> None:
    renderer = make_renderer(tmp_path)
    renderer.prepare(Batch([make_paper(1)], now=dt.datetime.now(dt.UTC)))
    # Not prepared at all, and a different record under a prepared id: both built on the fly.
    newer = make_paper(1, title="Revised title of paper one")
    out = render(renderer, make_selection([make_paper(9), newer]))
    assert "Paper number 9 on β-VAEs" in out["html"].content
    assert "Revised title of paper one" in out["html"].content
    unprepared = make_renderer(tmp_path)
    assert "Paper number 9" in render(unprepared, make_selection([make_paper(9)]))["text"].content


def test_missing_template_is_a_clean_error(tmp_path: Path) -> None:
    from digest import PluginError

    renderer = make_renderer(tmp_path, html_template="email/nope.mjml")
    with pytest.raises(PluginError, match=r"email/nope\.mjml"):
        renderer.render(make_selection([make_paper(1)]))


def test_registered_through_the_hook() -> None:
    assert digest_email.register_renderers() == [EmailRenderer]
    assert (EmailRenderer.name, EmailRenderer.channel) == ("email", "email")
    for field in EmailRenderer.Config.model_fields.values():
        assert field.description


# -- the scannable layout ------------------------------------------------------------------------


def test_contents_list_then_compact_cards_in_both_parts(tmp_path: Path) -> None:
    papers = [make_paper(n) for n in range(3)]
    links = dataclasses.replace(LINKS, feedback="https://digest.example.org/feedback/tok123")
    out = render(make_renderer(tmp_path), make_selection(papers, links=links))
    html, text = out["html"].content, out["text"].content
    # contents: one line per pick linking to its card, with a short tag
    for n in (1, 2, 3):
        assert f'href="#p{n}"' in html and f'id="p{n}"' in html
    assert html.index('href="#p3"') < html.index('id="p1"')
    assert re.search(r'<span class="dg-tag"[^>]*>· diffusion</span>', html)
    lines = text.splitlines()
    assert lines[3:6] == [f" {n + 1}. Paper number {n} on β-VAEs · diffusion" for n in range(3)]
    # cards: no abstract by default (the web version has it), the actions instead
    assert "Abstract of paper 1." not in html and "Abstract of paper 1." not in text
    for label in ("Abstract", "PDF", "HTML", "More like this", "Less like this", "Mute"):
        assert re.search(rf"<a [^>]*dg-act[^>]*>{label}</a>", html), label
    assert text.index("1. Paper number 0") < text.index("2. Paper number 1")


def test_meta_line_says_id_date_category_and_popularity(tmp_path: Path) -> None:
    paper = make_paper(
        7,
        announced=dt.date(2024, 6, 11),
        signals={"hf.upvotes": 1234, "hf.github_stars": 56_789},
    )
    doi = make_paper(8, id=PaperId(kind="doi", value="10.1000/xyz"), url=None, pdf_url=None)
    out = render(make_renderer(tmp_path), make_selection([paper, doi]))
    for content in (out["html"].content, out["text"].content):
        assert "arXiv:2406.00007 · 11 Jun 2024 · cs.LG · 1.2k upvotes · 57k GitHub stars" in content
        assert "doi:10.1000/xyz · cs.LG" in content
    assert "https://arxiv.org/html/2406.00008" not in out["html"].content  # arXiv only


def test_thumbnails_are_linked_images_with_alt_text_never_insecure(tmp_path: Path) -> None:
    shown = make_paper(1, signals={"thumbnail": "https://cdn.example.org/p1.png"})
    insecure = make_paper(2, signals={"thumbnail": "http://cdn.example.org/p2.png"})
    hostile = make_paper(3, signals={"thumbnail": "javascript:alert(1)"})
    html = render(make_renderer(tmp_path), make_selection([shown, insecure, hostile]))[
        "html"
    ].content
    (image,) = re.findall(r"<img [^>]*>", html)
    assert 'src="https://cdn.example.org/p1.png"' in image and 'alt="' in image
    assert re.search(r'<a [^>]*href="https://arxiv.org/abs/2406.00001"[^>]*><img', html)
    assert "p2.png" not in html and "javascript:" not in html


def test_the_web_version_shows_whole_abstracts_without_the_browser_link(tmp_path: Path) -> None:
    long = "Sentence of a long abstract. " * 100
    renderer = make_renderer(tmp_path)
    page = renderer.render_page(make_selection([make_paper(1, abstract=long)]))
    assert page.role == "page" and page.media_type == "text/html"
    assert long.strip() in page.content
    assert "View in browser" not in page.content and "Unsubscribe" in page.content


def test_a_configured_abstract_length_shows_it_in_the_email(tmp_path: Path) -> None:
    out = render(make_renderer(tmp_path, abstract_chars=60), make_selection([make_paper(1)]))
    assert "Abstract of paper 1. Abstract of paper 1." in out["html"].content
    assert "Abstract of paper 1. " * 4 not in out["html"].content
