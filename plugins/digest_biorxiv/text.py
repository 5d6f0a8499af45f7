"""bioRxiv's titles and abstracts as plain text.

The ``details`` API returns titles and abstracts as the authors typed them into the submission
form: mostly plain text, sometimes with inline HTML (``<i>Drosophila</i>``, ``H<sub>2</sub>O``)
and entities (``&amp;``, ``&lt;``). They are read with lxml's lenient HTML parser, which keeps
a bare ``<`` in prose (``x < 5 mM``) as text; LaTeX is kept as written (renderers show it with
:func:`digest.readable`).
"""

from __future__ import annotations

import html
import re
from typing import TYPE_CHECKING

from digest import one_line, strip_invalid

if TYPE_CHECKING:
    import lxml.html

__all__ = ["html_text"]

# Elements that separate words when shown; inline ones (i, b, sub, sup) do not: "H<sub>2</sub>O".
_BLOCK = frozenset(
    {"p", "div", "br", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "td", "th"}
)
_SKIP = frozenset({"script", "style"})
_TAG = re.compile(r"<[^>]*>")


def html_text(value: object) -> str:
    """The text of a title or abstract on one line: tags dropped, entities decoded; ``""``
    for anything that is not a string.

    >>> html_text("<i>In vivo</i> imaging &amp; H<sub>2</sub>O")
    'In vivo imaging & H2O'
    """
    if not isinstance(value, str):
        return ""
    text = strip_invalid(value)
    if "<" not in text and "&" not in text:
        return one_line(text)
    import lxml.etree  # only for text with markup: importing the plugin stays cheap
    import lxml.html

    try:
        root = lxml.html.fragment_fromstring(text, create_parent="div")
    except (lxml.etree.ParserError, ValueError, AssertionError):
        # What the parser cannot take ("<html></html>" trips an assertion in lxml): tags
        # dropped the simple way, entities decoded.
        return one_line(strip_invalid(html.unescape(_TAG.sub(" ", text))))
    parts: list[str] = []
    _collect(root, parts)
    return one_line(strip_invalid("".join(parts)))


def _collect(element: lxml.html.HtmlElement, parts: list[str]) -> None:
    tag = element.tag if isinstance(element.tag, str) else ""
    if tag not in _SKIP:
        block = tag in _BLOCK
        if block:
            parts.append(" ")
        if isinstance(element.tag, str) and element.text:
            parts.append(element.text)
        for child in element:
            _collect(child, parts)
            if child.tail:
                parts.append(child.tail)
        if block:
            parts.append(" ")
