"""Text helpers for feed items: HTML fragments to plain text, author strings to names."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from digest import one_line, strip_invalid

__all__ = ["html_to_text", "split_authors"]

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


# Separators between authors in one combined string: ";", " and ", "&", and commas (an Oxford
# comma before "and" included). Suffixes such as "Jr." belong to the name before them.
_AND = re.compile(r"\s*;\s*|\s*,?\s+(?:and|&)\s+|\s*&\s*", re.IGNORECASE)
_SUFFIX = re.compile(r"^(?:jr|sr|[ivx]{1,4})\.?$", re.IGNORECASE)
_ET_AL = re.compile(r"^(?:et\.?\s+al\.?|others)$", re.IGNORECASE)
_TRAILING_ET_AL = re.compile(r"[\s,]+et\.?\s+al\.?$", re.IGNORECASE)


def split_authors(combined: str) -> list[str]:
    """Split one combined author string into names.

    ``"Ada Lovelace, Alan Turing and Grace Hopper"`` gives three names; a single name written
    family-first (``"Lovelace, Ada"``, ``"van der Berg, Jan"``) stays one name, as do
    ``"Lovelace, Ada and Turing, Alan"``'s two. "et al." is dropped.

    >>> split_authors("Ada Lovelace, Alan Turing, and Grace Hopper")
    ['Ada Lovelace', 'Alan Turing', 'Grace Hopper']
    >>> split_authors("Lovelace, Ada")
    ['Lovelace, Ada']
    """
    names: list[str] = []
    combined = _TRAILING_ET_AL.sub("", one_line(strip_invalid(combined)))
    for piece in _AND.split(combined):
        parts = [p.strip() for p in piece.strip(" ,").split(",")]
        parts = [p for p in parts if p]
        # "Family, Given": two parts one of which is a single word (not a suffix). A list of
        # two names where one is a mononym reads the same way; such lists are far rarer.
        family_first = len(parts) == 2 and (" " not in parts[0] or " " not in parts[1])
        if family_first and not _SUFFIX.match(parts[1]):
            names.append(f"{parts[0]}, {parts[1]}")
            continue
        for part in parts:
            if _SUFFIX.match(part) and names:
                names[-1] = f"{names[-1]}, {part}"
            elif not _ET_AL.match(part):
                names.append(part)
    return names
