"""Crossref's JATS abstracts (and marked-up titles) as plain text.

Publishers deposit abstracts as JATS XML fragments: ``<jats:title>Abstract</jats:title>``
followed by ``<jats:p>`` paragraphs, sometimes in ``<jats:sec>`` sections with their own titles
("Background", "Methods"), with inline ``<jats:italic>``, ``<jats:sub>``, MathML
(``<mml:math>``) and ``<jats:inline-formula>``. What publishers send is not always well-formed
(undeclared prefixes, HTML entities such as ``&nbsp;``, a bare ``&``), so fragments are read
with lxml's lenient HTML parser, which keeps prefixed names (``jats:p``) as element names and
decodes entities. A leading "Abstract" heading is dropped; section headings become
"Background: …"; a formula given both as MathML and as TeX is shown once (the MathML text).
"""

from __future__ import annotations

import html
import re
from typing import TYPE_CHECKING

from digest import one_line, strip_invalid

if TYPE_CHECKING:
    import lxml.html

__all__ = ["jats_text"]

# Elements that separate words (by local name); inline ones (italic, sub, sup) do not.
_BLOCK = frozenset(
    {
        *("p", "sec", "title", "list", "list-item", "def-list", "def-item", "term", "def"),
        *("disp-quote", "disp-formula", "fig", "caption", "label", "table-wrap", "table"),
        *("tr", "td", "th", "boxed-text", "break", "br", "div", "li", "ul", "ol", "abstract"),
        *("trans-abstract", "h1", "h2", "h3", "h4", "h5", "h6"),
    }
)
# Not text: scripts, styles, and the TeX source MathML carries next to the rendered formula.
_SKIP = frozenset({"script", "style", "annotation", "annotation-xml"})
_TAG = re.compile(r"<[^>]*>")
_HEADING_END = re.compile(r"[.:;?!]$")
_ABSTRACT = "abstract"


def jats_text(value: object) -> str:
    """The text of a JATS (or HTML) fragment on one line; ``""`` for anything not a string.

    >>> jats_text("<jats:title>Abstract</jats:title><jats:p>We <jats:italic>do</jats:italic>"
    ...           " this &amp; that.</jats:p>")
    'We do this & that.'
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
        # What the parser cannot take ("<html></html>" trips an assertion in lxml).
        return one_line(strip_invalid(html.unescape(_TAG.sub(" ", text))))
    _drop_abstract_heading(root)
    parts: list[str] = []
    _collect(root, parts)
    return one_line(strip_invalid("".join(parts)))


def _local(element: lxml.html.HtmlElement) -> str:
    tag = element.tag
    return tag.rsplit(":", 1)[-1].lower() if isinstance(tag, str) else ""


def _drop_abstract_heading(root: lxml.html.HtmlElement) -> None:
    """Remove the first heading when no text comes before it and it only says "Abstract"."""
    title = next((e for e in root.iter() if _local(e) == "title"), None)
    if title is None or "".join(title.xpath("preceding::text()")).strip():
        return
    if one_line(title.text_content()).strip(" .:").lower() != _ABSTRACT:
        return
    parent = title.getparent()  # never None: the fragment's root is the parser's <div>
    if title.tail:  # lxml removes the tail with the element: keep it in place
        previous = title.getprevious()
        if previous is not None:
            previous.tail = (previous.tail or "") + title.tail
        else:
            parent.text = (parent.text or "") + title.tail
    parent.remove(title)


def _collect(element: lxml.html.HtmlElement, parts: list[str]) -> None:
    name = _local(element)
    if name in _SKIP:
        return
    if name == "tex-math" and _has_math_sibling(element):
        return  # the same formula as MathML: keep that one
    block = name in _BLOCK
    if block:
        parts.append(" ")
    start = len(parts)
    if isinstance(element.tag, str) and element.text:
        parts.append(element.text)
    for child in element:
        _collect(child, parts)
        if child.tail:
            parts.append(child.tail)
    heading = "".join(parts[start:]).strip() if name == "title" else ""
    if heading and not _HEADING_END.search(heading):
        parts.append(":")  # a section heading runs into its text: "Methods: We …"
    if block:
        parts.append(" ")


def _has_math_sibling(element: lxml.html.HtmlElement) -> bool:
    parent = element.getparent()
    return parent is not None and any(_local(sibling) == "math" for sibling in parent)
