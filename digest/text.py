"""Making source text safe and readable: one-line titles, LaTeX turned into Unicode."""

from __future__ import annotations

import functools
import logging
import re

_WS = re.compile(r"\s+")
# Control characters are parse errors in HTML and invalid in XML; lone surrogates cannot even be
# encoded as UTF-8. Tab, LF and CR are legal (one_line() folds them where one line is wanted).
_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
# A link we put in an href: absolute http(s) only (no javascript:, data:), no spaces/controls.
_SAFE_URL = re.compile(r"https?://[^\s\x00-\x1f\x7f]+", re.IGNORECASE)
# Pandoc's rule: "$" opens math only before a non-space and closes only after one and not
# before a digit, so "costs $5 and $6" stays prose.
_MATH = re.compile(r"\$\$(?P<display>.+?)\$\$|\$(?P<inline>[^\s$](?:[^$]*?[^\s$])?)\$(?!\d)", re.S)
# In prose, only LaTeX commands are converted: accents (\"o, \'{e}), named symbols and
# formatting macros with one braced argument (\emph{few}); the rest is left as written.
_COMMAND = re.compile(
    r"\\(?:[%&#_$]|[\"'`^~=.][A-Za-z]|[\"'`^~=.]\{[A-Za-z]\}|[A-Za-z]+\*?(?:\{[^{}$]*\})?)"
)


def strip_invalid(text: str) -> str:
    """``text`` without characters that HTML, XML or UTF-8 cannot carry."""
    return _INVALID.sub("", text)


def safe_url(url: str | None) -> str | None:
    """``url`` if it is an absolute http(s) URL that is safe in a link, else ``None``."""
    if not url:
        return None
    url = url.strip()
    return url if _SAFE_URL.fullmatch(url) else None


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
    text = one_line(strip_invalid(text))
    if "$" not in text and "\\" not in text:
        return text
    out: list[str] = []
    last = 0
    for match in _MATH.finditer(text):
        out.append(_prose(text[last : match.start()]))
        out.append(_latex_to_text(match.group("display") or match.group("inline")))
        last = match.end()
    out.append(_prose(text[last:]))
    # Cleaned again: the LaTeX converter may emit anything.
    return strip_invalid(one_line("".join(out))) or text


def latex_text(text: str) -> str:
    """A field that is LaTeX throughout (BibTeX) as text on one line: braces, accents
    (``Sch{\\"o}lkopf`` → ``Schölkopf``), ``\\&`` and math converted; kept as written where
    the converter cannot read it."""
    text = one_line(strip_invalid(text))
    if not any(c in text for c in "\\{}$~"):
        return text
    return strip_invalid(one_line(_latex_to_text(text))) or text


def _prose(fragment: str) -> str:
    if "\\" not in fragment:
        return fragment
    return _COMMAND.sub(lambda m: _latex_to_text(m.group(0)), fragment)


def plural(n: int, noun: str, many: str | None = None) -> str:
    """``n`` and the noun it counts: ``1 paper``, ``2 papers``, ``1 entry``, ``3 entries``
    (``many``: an irregular plural)."""
    if n == 1:
        return f"{n} {noun}"
    if many is None:
        vowel_y = noun.endswith("y") and noun[-2:-1] not in tuple("aeiou")
        many = f"{noun[:-1]}ies" if vowel_y else f"{noun}s"
    return f"{n} {many}"


def truncate(text: str, limit: int) -> str:
    """Cut ``text`` at a word boundary to at most ``limit`` characters, adding an ellipsis."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:.") + "…"
