"""Source text made safe and readable: LaTeX, controls, URLs, one line."""

from __future__ import annotations

import pytest

from digest.identity import landing_url
from digest.testing import make_paper
from digest.text import one_line, plural, readable, safe_url, strip_invalid, truncate


@pytest.mark.parametrize(
    ("source", "shown"),
    [
        (
            "Learning $\\alpha$-divergences with \\emph{few} samples",
            "Learning α-divergences with few samples",
        ),
        ("Price is $5 and $6", "Price is $5 and $6"),
        ('Schr\\"odinger bridges', "Schrödinger bridges"),
        ('G\\"{o}del and Erd\\H{o}s', "Gödel and Erdős"),
        ("50% of \\% and $x_{i}^{2}$ & more", "50% of % and x_i^2 & more"),
        ("A $$E=mc^2$$ b", "A E=mc^2 b"),
        ("plain {{ 7*7 }} <script> &amp;", "plain {{ 7*7 }} <script> &amp;"),
        ("two\r\nlines\tand  spaces", "two lines and spaces"),
        ("bad $\\frac{a$ end", "bad \\frac{a end"),
        ("nul\x00 and \x0b vertical tab", "nul and vertical tab"),
    ],
)
def test_readable(source: str, shown: str) -> None:
    assert readable(source) == shown


def test_strip_invalid_keeps_text_and_drops_what_xml_cannot_carry() -> None:
    assert strip_invalid("a\x00b\x1fc\ud800d\ufffee\tf\ng") == "abcde\tf\ng"


@pytest.mark.parametrize(
    ("url", "kept"),
    [
        ("https://arxiv.org/abs/2406.01234", True),
        (" http://example.org/x?y=1 ", True),
        ("javascript:alert(1)", False),
        ("data:text/html,<script>", False),
        ("https://exa mple.org", False),
        ("//example.org", False),
        ("", False),
        (None, False),
    ],
)
def test_safe_url(url: str | None, kept: bool) -> None:
    assert (safe_url(url) is not None) is kept


def test_landing_url_falls_back_to_the_canonical_id() -> None:
    assert landing_url(make_paper("2406.01234")) == "https://arxiv.org/abs/2406.01234"
    journal = make_paper(None, title="J", doi="10.1000/xyz")
    assert landing_url(journal) == "https://doi.org/10.1000/xyz"
    assert landing_url(make_paper(None, title="Untraceable")) is None


def test_truncate_and_one_line() -> None:
    assert truncate("one two three four", 12) == "one two…"
    assert truncate("short", 12) == "short"
    assert one_line(" a\r\n b ") == "a b"


@pytest.mark.parametrize(
    ("n", "noun", "many", "said"),
    [
        (1, "subscriber", None, "1 subscriber"),
        (0, "subscriber", None, "0 subscribers"),
        (1, "entry", None, "1 entry"),
        (3, "entry", None, "3 entries"),
        (2, "day", None, "2 days"),
        (2, "interrupted delivery", None, "2 interrupted deliveries"),
        (2, "child", "children", "2 children"),
    ],
)
def test_plural_counts_in_words(n: int, noun: str, many: str | None, said: str) -> None:
    assert plural(n, noun, many) == said
