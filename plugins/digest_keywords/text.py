"""Text and name normalisation shared by the keyword index and profile look-ups.

Papers and profiles go through the same functions, so a keyword matches exactly when its
normalised words appear as consecutive normalised words of the paper's text.
"""

from __future__ import annotations

import re
import unicodedata

_WORD = re.compile(r"[^\W_]+")
# Name suffixes that are not family names ("Martin Luther King Jr.").
_SUFFIXES = frozenset({"jr", "sr", "ii", "iii", "iv"})


def fold(text: str) -> str:
    """Case- and accent-insensitive form: ``"Schrödinger"`` → ``"schrodinger"``."""
    if not text.isascii():
        decomposed = unicodedata.normalize("NFKD", text)
        text = "".join(c for c in decomposed if not unicodedata.combining(c))
    return text.casefold()


def words(text: str) -> list[str]:
    """The folded words of ``text``: letters and digits, split at everything else.

    Hyphens and punctuation separate words, so ``"diffusion-policy"`` reads as
    ``"diffusion policy"`` and ``"graph"`` never matches inside ``"paragraph"``.
    """
    return _WORD.findall(fold(text))


def author_key(name: str) -> tuple[str, str]:
    """``(family name, first initial)`` of a person, folded; the initial may be ``""``.

    Accepts ``"Sergey Levine"``, ``"S. Levine"`` and ``"Levine, Sergey"``; particles and
    suffixes do not count (``"Ludwig van Beethoven"`` → ``("beethoven", "l")``).
    """
    if "," in name:
        family_part, _, given_part = name.partition(",")
        family_words = [w for w in words(family_part) if w not in _SUFFIXES]
        given_words = [w for w in words(given_part) if w not in _SUFFIXES]
        if not family_words:
            return author_key(given_part)
        # The last word of the family part, as for "First Last", so both spellings agree.
        return family_words[-1], given_words[0][0] if given_words else ""
    parts = words(name)
    while len(parts) > 1 and parts[-1] in _SUFFIXES:
        parts.pop()
    if not parts:
        return "", ""
    return parts[-1], parts[0][0] if len(parts) > 1 else ""
