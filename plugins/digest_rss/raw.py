"""What feedparser collapses, read from the document itself.

feedparser keeps one value per element name: of an item's several ``dc:identifier``s only the
last survives (``info:doi/10.1126/…`` then ``hwp:resource-id:…`` loses the DOI), and a
``dc:title`` is overwritten by the display ``<title>`` ("Fluids, Vol. 9, Pages 120: …"). The
raw XML has them all.
"""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

__all__ = ["RawItem", "raw_items"]

_DC = "http://purl.org/dc/elements/1.1/"
_PRISM = (
    "http://prismstandard.org/namespaces/basic/2.0/",
    "http://prismstandard.org/namespaces/basic/3.0/",
    "http://prismstandard.org/namespaces/1.2/basic/",
)
_ITEMS = frozenset({"item", "entry"})


@dataclass(frozen=True, slots=True, kw_only=True)
class RawItem:
    """Fields of one ``<item>``/``<entry>`` that feedparser does not keep whole."""

    #: every ``dc:identifier``, ``prism:doi`` and ``dc:source``, in document order
    identifiers: tuple[str, ...] = ()
    #: the ``dc:title``: the article's own title where ``<title>`` is a display string
    dc_title: str = ""


def raw_items(content: bytes) -> list[RawItem] | None:
    """One :class:`RawItem` per item or entry, in document order; ``None`` if unreadable."""
    parser = etree.XMLParser(
        recover=True, resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False
    )
    try:
        root = etree.fromstring(content, parser=parser)
    except (etree.XMLSyntaxError, ValueError):
        return None
    if root is None:
        return None
    items: list[RawItem] = []
    for element in root.iter():
        if not isinstance(element.tag, str) or _local(element.tag) not in _ITEMS:
            continue
        identifiers: list[str] = []
        dc_title = ""
        for child in element:
            if not isinstance(child.tag, str):
                continue
            namespace, name = _split(child.tag)
            text = " ".join("".join(child.itertext()).split())
            if not text:
                continue
            if (namespace == _DC and name in ("identifier", "source")) or (
                namespace in _PRISM and name == "doi"
            ):
                identifiers.append(text)
            elif namespace == _DC and name == "title" and not dc_title:
                dc_title = text
        items.append(RawItem(identifiers=tuple(identifiers), dc_title=dc_title))
    return items


def _split(tag: str) -> tuple[str, str]:
    if tag.startswith("{"):
        namespace, _, name = tag[1:].partition("}")
        return namespace, name
    return "", tag


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]
