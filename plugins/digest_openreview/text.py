"""OpenReview text fields as plain text: Markdown marks dropped, LaTeX math made readable.

Authors write titles, abstracts and TL;DRs in OpenReview's Markdown with TeX math
(``$\\mathcal{O}(n)$``): links, emphasis, inline code, headings and list markers are dropped
outside math; the math itself goes to :func:`digest.readable`.
"""

from __future__ import annotations

import html
import re

from digest import readable, strip_invalid

__all__ = ["plain"]

# Math spans are left alone: "*" and "_" mean something else there ($f^*$, $x_i$).
_MATH = re.compile(r"\$\$.+?\$\$|\$[^$]+?\$", re.S)
_LINK = re.compile(r"!?\[([^\]]*)\]\(\s*<?[^()\s>]*>?(?:\s+\"[^\"]*\")?\s*\)")
_AUTOLINK = re.compile(r"<(https?://[^>\s]+)>")
_STRONG = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1", re.S)
_EMPHASIS = re.compile(r"(?<![\w*\\])\*(?=[^\s*])([^*]+?)(?<=[^\s*])\*(?![\w*])")
_CODE = re.compile(r"`+([^`]+?)`+")
_HEADING = re.compile(r"^[ \t]{0,3}#{1,6}[ \t]+", re.M)
_BULLET = re.compile(r"^[ \t]*(?:[-*+]|\d{1,3}[.)])[ \t]+", re.M)
_TAG = re.compile(r"</?(?:b|i|em|strong|u|sup|sub|br|p|code|span|a)\b[^>]*>", re.I)


def plain(text: str) -> str:
    """``text`` (Markdown with TeX math) as one line of readable plain text.

    >>> plain("**Fast** $\\\\alpha$-nets: see [the code](https://example.org)")
    'Fast α-nets: see the code'
    """
    text = strip_invalid(text)
    pieces: list[str] = []
    last = 0
    for match in _MATH.finditer(text):
        pieces.append(_prose(text[last : match.start()]))
        pieces.append(match.group(0))
        last = match.end()
    pieces.append(_prose(text[last:]))
    return readable("".join(pieces))


def _prose(fragment: str) -> str:
    fragment = _LINK.sub(r"\1", fragment)
    fragment = _AUTOLINK.sub(r"\1", fragment)
    fragment = _CODE.sub(r"\1", fragment)
    fragment = _STRONG.sub(r"\2", fragment)
    fragment = _EMPHASIS.sub(r"\1", fragment)
    fragment = _HEADING.sub("", fragment)
    fragment = _BULLET.sub("", fragment)
    fragment = _TAG.sub("", fragment)
    return html.unescape(fragment)
