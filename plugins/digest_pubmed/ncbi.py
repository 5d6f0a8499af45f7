"""NCBI's error bodies, whichever E-utility sent them.

esearch reports a query it cannot run as ``{"esearchresult": {"ERROR": "..."}}`` (older
replies: a top-level ``"ERROR"``); a refused request (HTTP 429) carries
``{"error": "API rate limit exceeded", "api-key": "...", "count": "11", "limit": "10"}``;
efetch answers ``<eFetchResult><ERROR>...</ERROR></eFetchResult>``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from lxml import etree

from digest import one_line, strip_invalid

__all__ = ["XML_PARSER_OPTIONS", "clip", "error_message", "xml_error"]

#: no DTD loading, no network, no entity expansion: efetch XML declares NLM's DTD
XML_PARSER_OPTIONS: dict[str, Any] = {
    "resolve_entities": False,
    "no_network": True,
    "load_dtd": False,
    "huge_tree": False,
    "remove_comments": True,
    "remove_pis": True,
}


def clip(text: str, limit: int = 200) -> str:
    """``text`` on one line, at most ``limit`` characters."""
    text = one_line(strip_invalid(text))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def error_message(content: bytes) -> str | None:
    """NCBI's own error message in a reply body (esearch JSON, the rate-limit JSON, efetch's
    ``<ERROR>`` XML) on one line; ``None`` when the body holds none."""
    text = content.strip()
    if text.startswith(b"<"):
        return xml_error(text)
    if not text.startswith(b"{"):
        return None
    try:
        data = json.loads(text)
    except (UnicodeDecodeError, ValueError):
        return None
    result = data.get("esearchresult")  # an object: the text starts with "{"
    for where in (data, result if isinstance(result, Mapping) else {}):
        for key in ("ERROR", "error"):
            value = where.get(key)
            if isinstance(value, str) and value.strip():
                return clip(value)
    return None


def xml_error(content: bytes) -> str | None:
    """The text of an NCBI ``<ERROR>`` element in an XML reply, else ``None``."""
    try:
        root = etree.fromstring(content, etree.XMLParser(**XML_PARSER_OPTIONS))
    except etree.XMLSyntaxError:
        return None
    found = root if root.tag == "ERROR" else root.find(".//ERROR")
    if found is None:
        return None
    return clip("".join(found.itertext())) or None
