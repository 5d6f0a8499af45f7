"""Plain text from Semantic Scholar's titles and abstracts.

S2 passes on what publishers deposit: most titles are plain, but some carry HTML or JATS
markup (``<i>in vivo</i>``, ``<jats:p>…</jats:p>``, ``<sub>2</sub>``), entities (``&amp;``)
or TeX (``$\\alpha$``). :func:`plain_text` drops the markup, decodes the entities and shows
TeX as Unicode, on one line.
"""

from __future__ import annotations

import re

from digest import one_line, readable, strip_invalid

__all__ = ["plain_text"]

# Elements whose boundaries separate words ("<jats:p>a</jats:p><jats:p>b</jats:p>" is
# "a b"); inline ones (i, b, sub, sup) do not, so "H<sub>2</sub>O" stays "H2O".
_BLOCK = frozenset(
    {"p", "div", "br", "li", "ul", "ol", "sec", "title", "h1", "h2", "h3", "h4", "table", "tr"}
    | {"td", "th", "blockquote", "list", "list-item", "label", "caption", "abstract"}
)
# Not text: scripts and styles, and the TeX source MathML carries beside the formula.
_SKIP = frozenset({"script", "style", "annotation", "annotation-xml"})
# Markup is a whole tag, a comment or an entity: "p<q" in a formula's prose is no tag.
_MARKUP = re.compile(r"</?[A-Za-z][^<>]*>|<!--|&(?:#\d+|#x[0-9A-Fa-f]+|[A-Za-z][A-Za-z0-9]*);")
# A "<" that opens no whole tag or comment is text ("p<q"), escaped before parsing.
_STRAY_LT = re.compile(r"<(?!/?[A-Za-z][^<>]*>|!--)")
# Formatting tags left after one pass: markup escaped twice ("&lt;i&gt;n&lt;/i&gt;"), which
# some publishers deposit. Only these few names, so a "<" in prose is never taken for a tag.
_ESCAPED_TAG = re.compile(r"</?(?:i|b|em|strong|sub|sup|sc|p|jats:[a-z-]+|mml:[a-z]+)\b[^<>]*>")


def plain_text(value: object) -> str:
    """``value`` as one line of plain text; ``""`` for anything that is not a string."""
    if not isinstance(value, str):
        return ""
    text = strip_invalid(value)
    if _MARKUP.search(text):
        text = _markup_to_text(text)
        if _ESCAPED_TAG.search(text):
            text = _markup_to_text(text)
    return readable(text)


def _local(tag: str) -> str:
    # lxml's HTML parser keeps a JATS prefix in the name ("jats:p"); only the local part counts.
    return tag.rsplit(":", 1)[-1].lower()


def _markup_to_text(text: str) -> str:
    import lxml.html  # imported on first use: most titles carry no markup at all

    # The HTML parser recovers from anything (unclosed tags, stray "<"), like a browser.
    root = lxml.html.fragment_fromstring(_STRAY_LT.sub("&lt;", text), create_parent="div")
    for element in list(root.iter()):
        if not isinstance(element.tag, str):
            continue  # comments and processing instructions carry no text
        name = _local(element.tag)
        if name in _SKIP:
            element.drop_tree()
        elif name in _BLOCK:
            element.text = f" {element.text or ''}"
            element.tail = f" {element.tail or ''}"
    return one_line(root.text_content())
