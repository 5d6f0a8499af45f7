"""Text normalisation shared by the keyword index and profile look-ups (names are compared
with :func:`digest.author_key`, as everywhere).

Papers and profiles go through the same functions, so a keyword matches exactly when its
normalised words appear as consecutive normalised words of the paper's text.
"""

from __future__ import annotations

import re
import unicodedata

_WORD = re.compile(r"[^\W_]+")


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
