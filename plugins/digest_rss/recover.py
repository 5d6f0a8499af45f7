"""Reading ill-formed feeds the way a lenient reader does, and saying what was wrong.

Publishers' feeds break XML in a few recurring ways. Dropping the whole feed for them loses
every paper in it (a journal's table of contents of 58 items, for whitespace before the XML
declaration), so :func:`repair` fixes what can be fixed without guessing:

* whitespace or blank lines before ``<?xml …?>`` (the declaration must come first);
* a bare ``&`` that starts no entity ("AT&T", "R&D");
* a document cut off part-way (a dropped connection, a full disk on the publisher's side):
  the items complete before the cut are read, the one in progress is not.

Each fix is named in a warning that the source reports in its health (``digest sources``). A
cut-off document is *partial*: its validators are not kept, so the next run fetches it whole.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from html.entities import name2codepoint

from lxml import etree

__all__ = ["Repaired", "repair"]

_LEADING = re.compile(rb"^(?:\xef\xbb\xbf)?[ \t\r\n]+(?=<\?xml)")
# "&" not starting a character or entity reference
_BARE_AMPERSAND = re.compile(rb"&(?!#[0-9]+;|#x[0-9a-fA-F]+;|[A-Za-z_][\w.-]*;)")
_ITEMS = frozenset({"item", "entry"})
# HTML's named entities that XML does not define (&nbsp; &eacute; …): feedparser steps over
# them in a whole document; made numeric, a cut-off document with them can be read too
_XML_ENTITIES = frozenset({"amp", "lt", "gt", "quot", "apos"})
_NAMED = re.compile(rb"&([A-Za-z][A-Za-z0-9]*);")


@dataclass(frozen=True, slots=True, kw_only=True)
class Repaired:
    """A document made well-formed, what was done to it, and whether it is only a part."""

    content: bytes
    fixes: tuple[str, ...]
    #: items complete before the document was cut off; ``None`` when it was whole
    complete_items: int | None = None


def repair(content: bytes) -> Repaired | None:
    """The document made well-formed, or ``None`` when nothing here can make it so."""
    fixes: list[str] = []
    content = _NAMED.sub(_numeric, content)
    leading = _LEADING.match(content)
    if leading:
        content = content[leading.end() :]
        fixes.append("whitespace before the XML declaration")
    if _BARE_AMPERSAND.search(content):
        count = len(_BARE_AMPERSAND.findall(content))
        content = _BARE_AMPERSAND.sub(b"&amp;", content)
        fixes.append(f"{count} unescaped “&”" + ("s" if count > 1 else ""))
    error = _first_error(content)
    if error is None:
        return Repaired(content=content, fixes=tuple(fixes)) if fixes else None
    complete = _complete_items(content)
    if complete is None:
        return None
    recovered = _recovered(content)
    if recovered is None:
        return None
    fixes.append(f"the document is cut off ({error}); read the {complete} complete items")
    return Repaired(content=recovered, fixes=tuple(fixes), complete_items=complete)


def _numeric(match: re.Match[bytes]) -> bytes:
    name = match.group(1).decode("ascii")
    if name in _XML_ENTITIES or name not in name2codepoint:
        return match.group(0)
    return f"&#{name2codepoint[name]};".encode("ascii")


def _parser(*, recover: bool = False) -> etree.XMLParser:
    return etree.XMLParser(
        recover=recover, resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False
    )


def _first_error(content: bytes) -> str | None:
    try:
        etree.fromstring(content, parser=_parser())
    except etree.XMLSyntaxError as error:
        return _where(error)
    return None


def _complete_items(content: bytes) -> int | None:
    """How many ``<item>``/``<entry>`` elements end before the document breaks off, when it
    breaks off at its end (anything else is damage in the middle, not a cut: ``None``)."""
    count = 0
    try:
        for _event, element in etree.iterparse(
            io.BytesIO(content), events=("end",), resolve_entities=False, no_network=True
        ):
            tag = element.tag if isinstance(element.tag, str) else ""
            if tag.rsplit("}", 1)[-1] in _ITEMS:
                count += 1
    except etree.XMLSyntaxError as error:
        return count if _at_end(content, error) else None
    return count


def _at_end(content: bytes, error: etree.XMLSyntaxError) -> bool:
    """Whether the parser stopped at the very end of the document: it ran out of text (a
    cut), rather than meeting something wrong in the middle."""
    if "premature end" in str(error).lower():
        return True
    line, column = error.position if error.position else (0, 0)
    lines = content.rstrip().split(b"\n")
    if line < len(lines):
        return False
    last = lines[-1].decode("utf-8", "replace")
    return bool(column >= len(last) - 1)


def _recovered(content: bytes) -> bytes | None:
    """The tree a recovering parser builds, serialised: well-formed by construction."""
    try:
        root = etree.fromstring(content, parser=_parser(recover=True))
    except etree.XMLSyntaxError:
        return None
    if root is None:
        return None
    return bytes(etree.tostring(root, encoding="utf-8", xml_declaration=True))


def _where(error: etree.XMLSyntaxError) -> str:
    message = re.sub(r"\s+line \d+$", "", str(error.msg or error).split(",", 1)[0].strip())
    return f"{message} at line {error.lineno}" if error.lineno else message
