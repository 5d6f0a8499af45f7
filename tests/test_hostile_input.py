"""A hostile paper travels the whole pipeline: escaped and readable in every output."""

from __future__ import annotations

import email
import email.policy
from pathlib import Path

import feedparser

from digest.testing import HOSTILE_TITLE, make_paper
from helpers import ONE_SUBSCRIBER, build_pipeline, write_papers

ABSTRACT = "We show <b>bold</b> & <img src=x onerror=alert(2)> {% raw %}{{ 7*7 }} $\\beta$-VAE"


def test_hostile_titles_and_abstracts_are_escaped_and_readable(tmp_path: Path) -> None:
    # Abstracts are on the web version by default; shown in the email when configured.
    config = ONE_SUBSCRIBER.replace(
        'component = "email"', 'component = "email"\nabstract_chars = 500'
    )
    (tmp_path / "config.toml").write_text(config)
    write_papers(tmp_path / "papers.jsonl", [
        make_paper("2411.00666", title=HOSTILE_TITLE, abstract=ABSTRACT,
                   authors=("Mallory <m@evil.example>", "Eve & Co")),
    ])  # fmt: skip
    report = build_pipeline(tmp_path / "config.toml").run()
    assert report.delivered == 1 and not report.problems, report

    person = tmp_path / "out" / "victim"
    raw = next(person.glob("*/digest.eml")).read_bytes()
    message = email.message_from_bytes(raw, policy=email.policy.default)
    subject = str(message["Subject"])
    assert "\r" not in subject and "\n" not in subject and message["Bcc"] is None
    assert "α" in subject and "{{ 7*7 }}" in subject  # shown as written, never evaluated

    html = message.get_body(("html",)).get_content()
    assert "<script>alert(1)" not in html and "&lt;script&gt;" in html
    assert "<img src=x" not in html and "<b>bold</b>" not in html
    # In the title and the abstract, as written: an evaluated template would show "49".
    assert html.count("{{ 7*7 }}") >= 2
    assert "α-nets" in html and "β-VAE" in html and "$\\alpha$" not in html
    assert "Eve &amp; Co" in html

    text = message.get_body(("plain",)).get_content()
    assert "α-nets" in text and "{{ 7*7 }}" in text
    assert "Bcc: victim" not in text.split("\n")[0]

    for name in ("rss.xml", "atom.xml"):
        body = (person / name).read_bytes()
        assert b"<script>" not in body
        parsed = feedparser.parse(body)
        assert parsed.bozo == 0, parsed.bozo_exception
        (entry,) = parsed.entries
        assert "α-nets" in entry.title and "{{ 7*7 }}" in entry.title
        assert entry.id.endswith("arxiv:2411.00666")
