"""Text helpers for feed items: HTML fragments to plain text, author strings to names."""

from __future__ import annotations

from html.parser import HTMLParser

from digest import one_line, reading_order, split_authors, strip_invalid

__all__ = ["html_to_text", "reading_order", "split_authors"]

# Elements that separate words when rendered; inline ones (b, i, sub, sup, a) do not, so
# "H<sub>2</sub>O" stays "H2O" while "<p>a</p><p>b</p>" becomes "a b".
_BLOCK = frozenset(
    {
        *("address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt"),
        *("figcaption", "figure", "footer", "h1", "h2", "h3", "h4", "h5", "h6", "header"),
        *("hr", "li", "main", "nav", "ol", "p", "pre", "section", "table", "tbody", "td"),
        *("tfoot", "th", "thead", "tr", "ul"),
    }
)
# Content that is not text: scripts and styles, and the TeX source MathML carries next to the
# rendered formula (it would otherwise appear twice, once as "α" and once as "\alpha").
_SKIP = frozenset({"script", "style", "template", "annotation", "annotation-xml"})


class _TextExtractor(HTMLParser):
    """Collects character data the way a browser would show it, entities decoded."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP:
            self._skipping += 1
        elif tag in _BLOCK:
            self.parts.append(" ")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BLOCK:
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP:
            self._skipping = max(0, self._skipping - 1)
        elif tag in _BLOCK:
            self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def html_to_text(fragment: str) -> str:
    """The text of an HTML fragment on one line: tags dropped, entities decoded.

    Uses the standard library's HTML tokenizer (lenient like a browser's), not regular
    expressions, so comments, CDATA, attributes containing ``>`` and unclosed tags are handled.

    >>> html_to_text("<p>We study <i>N</i>-body &amp; H<sub>2</sub>O.</p><p>Results.</p>")
    'We study N-body & H2O. Results.'
    """
    if "<" not in fragment and "&" not in fragment:
        return one_line(strip_invalid(fragment))
    parser = _TextExtractor()
    parser.feed(fragment)
    parser.close()
    return one_line(strip_invalid("".join(parser.parts)))
