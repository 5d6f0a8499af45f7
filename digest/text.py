"""Making source text safe and readable: one-line titles, LaTeX turned into Unicode."""

from __future__ import annotations

import functools
import logging
import re

_WS = re.compile(r"\s+")
# Pandoc's rule: "$" opens math only before a non-space and closes only after one and not
# before a digit, so "costs $5 and $6" stays prose.
_MATH = re.compile(r"\$\$(?P<display>.+?)\$\$|\$(?P<inline>[^\s$](?:[^$]*?[^\s$])?)\$(?!\d)", re.S)
# In prose, only LaTeX commands are converted: accents (\"o, \'{e}), named symbols and
# formatting macros with one braced argument (\emph{few}); the rest is left as written.
_COMMAND = re.compile(
    r"\\(?:[%&#_$]|[\"'`^~=.][A-Za-z]|[\"'`^~=.]\{[A-Za-z]\}|[A-Za-z]+\*?(?:\{[^{}$]*\})?)"
)


def one_line(text: str) -> str:
    """Collapse all white space, CR and LF included, to single spaces."""
    return _WS.sub(" ", text).strip()


@functools.lru_cache(maxsize=1)
def _converter() -> object:
    from pylatexenc.latex2text import LatexNodes2Text

    # It logs a warning per malformed macro; the source text is shown instead, so stay quiet.
    logging.getLogger("pylatexenc").setLevel(logging.ERROR)

    return LatexNodes2Text(math_mode="text", strict_latex_spaces=False)


def _latex_to_text(fragment: str) -> str:
    try:
        converted: str = _converter().latex_to_text(fragment)  # type: ignore[attr-defined]
    except Exception:  # unparseable LaTeX: show the source rather than nothing
        return fragment
    # pylatexenc leaves printf placeholders when a macro lacks its arguments.
    return fragment if "%s" in converted else converted


@functools.lru_cache(maxsize=65536)
def readable(text: str) -> str:
    """Return ``text`` on one line with LaTeX math and commands shown as Unicode.

    ``"Learning $\\alpha$-divergences with \\emph{few} samples"`` →
    ``"Learning α-divergences with few samples"``. Prose ``%``, ``&`` and ``$5`` stay as
    written; anything the converter cannot read is kept as written.
    """
    text = one_line(text)
    if "$" not in text and "\\" not in text:
        return text
    out: list[str] = []
    last = 0
    for match in _MATH.finditer(text):
        out.append(_prose(text[last : match.start()]))
        out.append(_latex_to_text(match.group("display") or match.group("inline")))
        last = match.end()
    out.append(_prose(text[last:]))
    return one_line("".join(out)) or text


def _prose(fragment: str) -> str:
    if "\\" not in fragment:
        return fragment
    return _COMMAND.sub(lambda m: _latex_to_text(m.group(0)), fragment)


def truncate(text: str, limit: int) -> str:
    """Cut ``text`` at a word boundary to at most ``limit`` characters, adding an ellipsis."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:.") + "…"
