"""Author lists as feeds and APIs write them, split into people.

One ``dc:creator`` or one API field often holds a whole list, in one of a few shapes:

* ``"Ada Lovelace, Alan Turing and Grace Hopper"`` (given name first, commas and "and");
* ``"Lovelace, A.; Turing, A. M."`` (family name first, semicolons: bioRxiv's API, PubMed);
* ``"Kaur, M., Shukla, A., Shukla, V."`` (family name first, all commas: bioRxiv and medRxiv
  RSS): names and initials alternate;
* ``"ATLAS Collaboration: A. Author, B. Author, et al. (909 additional authors not shown)"``
  (arXiv's legacy RSS): the collaboration is an author, "et al." and the count are not.

:func:`split_authors` reads all of them and returns each person's name in reading order
(``"A. Lovelace"``), family-first names turned round with :mod:`nameparser`; a suffix stays
after a comma (``"Martin Luther King, Jr."``). HTML that leaked into the field (arXiv's legacy
``<a href>`` author links) is dropped first.
"""

from __future__ import annotations

import html
import re

from digest.text import one_line, strip_invalid

__all__ = ["reading_order", "split_authors"]

_TAG = re.compile(r"<[^>]*>")
# "(909 additional authors not shown)", "[+ 12 more]", and a trailing "et al." / "and others"
_NOT_SHOWN = re.compile(
    r"[\s,;]*[(\[]\s*\+?\s*[\d,]+\s+(?:additional|more|other)?\s*authors?(?:\s+not\s+shown)?"
    r"\s*[)\]]",
    re.IGNORECASE,
)
_ET_AL_TAIL = re.compile(r"[\s,;]*(?:\bet\.?\s+al\b\.?|\band\s+others\b|…|\.\.\.)\s*$", re.I)
_ET_AL = re.compile(r"^(?:et\.?\s+al\.?|others|…|\.\.\.)$", re.IGNORECASE)
# "ATLAS Collaboration: A, B" / "The CMS Collaboration, A, B": the group, then its members
_GROUP = re.compile(
    r"^(?P<group>[^:;,]*?\b(?:collaborations?|consortium|consortia|group|team|"
    r"working\s+group|investigators|collab\.?))\s*[:;]\s*(?P<rest>.+)$",
    re.IGNORECASE,
)
_AND = re.compile(r"\s*,?\s+(?:and|&)\s+|\s*&\s*", re.IGNORECASE)
_SUFFIX = re.compile(r"^(?:jr|sr|[ivx]{1,4})\.?$", re.IGNORECASE)
# Initials as a family-first list writes them: "M.", "A. M.", "AM", "J.-P.", "Ch.", "M"
_INITIALS = re.compile(r"^(?:[A-Z][a-z]?\.?(?:[\s-]+|$))+$")
# Vancouver style (PubMed, many journals): "Smith J", "van der Berg JA"
_VANCOUVER = re.compile(r"^(?P<family>\S(?:.*\S)?)\s+(?P<initials>[A-Z]{1,4})$")


def split_authors(text: str) -> list[str]:
    """The people of one combined author string, in the order given; ``[]`` for none.

    >>> split_authors("Kaur, M., Shukla, A., Shukla, V.")
    ['M. Kaur', 'A. Shukla', 'V. Shukla']
    >>> split_authors("Lovelace, Ada; van der Berg, Jan")
    ['Ada Lovelace', 'Jan van der Berg']
    >>> split_authors("ATLAS Collaboration: G. Aad, B. Abbott, et al. (909 more authors)")
    ['ATLAS Collaboration', 'G. Aad', 'B. Abbott']
    """
    text = _plain(text)
    text = _NOT_SHOWN.sub("", text)
    text = _ET_AL_TAIL.sub("", text).strip(" ,;")
    if not text:
        return []
    names: list[str] = []
    group = _GROUP.match(text)
    if group:
        names.append(group.group("group").strip())
        text = group.group("rest")
        text = _ET_AL_TAIL.sub("", _NOT_SHOWN.sub("", text)).strip(" ,;")
    if ";" in text:
        for piece in text.split(";"):
            names.extend(_names_in(piece, one_person_if_family_first=True))
    else:
        names.extend(_names_in(text, one_person_if_family_first=False))
    return [n for n in names if n and not _ET_AL.match(n)]


def reading_order(name: str) -> str:
    """``"Lovelace, Ada"`` → ``"Ada Lovelace"``; a name without a comma is returned as it is.

    A suffix stays last after a comma: ``"King, Martin Luther, Jr."`` →
    ``"Martin Luther King, Jr."``.
    """
    name = one_line(name)
    if "," not in name:
        return name
    from nameparser import HumanName

    parsed = HumanName(name)
    given = " ".join(p for p in (parsed.title, parsed.first, parsed.middle) if p)
    family = parsed.last
    if not family or not given:
        return name
    turned = f"{given} {family}"
    return f"{turned}, {parsed.suffix}" if parsed.suffix else turned


def _plain(text: str) -> str:
    """One line of text: markup (escaped or not) dropped, entities decoded."""
    text = strip_invalid(text)
    for _ in range(2):  # "&lt;a href=…&gt;Name&lt;/a&gt;" is markup escaped once more
        if "<" in text:
            text = _TAG.sub("", text)
        if "&" in text:
            text = html.unescape(text)
    if "<" in text:
        text = _TAG.sub("", text)
    return one_line(text)


def _names_in(piece: str, *, one_person_if_family_first: bool) -> list[str]:
    """The people in a list without semicolons."""
    piece = piece.strip(" ,")
    if not piece:
        return []
    parts = [p.strip() for p in _split_commas(piece)]
    parts = [p for p in parts if p]
    # "Lovelace, A." / "King, Martin Luther, Jr." between semicolons: one person
    if (
        one_person_if_family_first
        and " and " not in piece.lower()
        and (len(parts) == 2 or (len(parts) == 3 and _SUFFIX.match(parts[2])))
    ):
        return [reading_order(", ".join(parts))]
    if len(parts) >= 2 and all(_VANCOUVER.match(p) for p in parts):
        return [_vancouver(p) for p in parts]
    if _alternating(parts):
        return [reading_order(f"{parts[i]}, {parts[i + 1]}") for i in range(0, len(parts), 2)]
    names: list[str] = []
    for chunk in _AND.split(piece):
        sub = [p.strip() for p in _split_commas(chunk.strip(" ,"))]
        sub = [p for p in sub if p]
        # "Family, Given": two parts one of which is a single word (not a suffix). A list of
        # two names where one is a mononym reads the same way; such lists are far rarer.
        if len(sub) == 2 and (" " not in sub[0] or " " not in sub[1]) and not _SUFFIX.match(sub[1]):
            names.append(reading_order(f"{sub[0]}, {sub[1]}"))
            continue
        for part in sub:
            if _SUFFIX.match(part) and names:
                names[-1] = f"{names[-1]}, {part}"
            elif not _ET_AL.match(part):
                names.append(part)
    return names


def _vancouver(name: str) -> str:
    """``"Smith JA"`` → ``"J. A. Smith"``."""
    match = _VANCOUVER.match(name)
    assert match is not None
    initials = " ".join(f"{c}." for c in match.group("initials"))
    return f"{initials} {match.group('family')}"


def _alternating(parts: list[str]) -> bool:
    """Whether ``parts`` read "Family, Initials, Family, Initials, …" (at least two people)."""
    if len(parts) < 4 or len(parts) % 2:
        return False
    families, initials = parts[0::2], parts[1::2]
    return all(_INITIALS.match(i) for i in initials) and not any(
        _INITIALS.match(f) or _SUFFIX.match(f) for f in families
    )


def _split_commas(text: str) -> list[str]:
    """Split at commas outside parentheses and brackets ("A (MIT, CSAIL), B")."""
    if "(" not in text and "[" not in text:
        return text.split(",")
    parts: list[str] = []
    depth = 0
    current: list[str] = []
    for char in text:
        if char in "([":
            depth += 1
        elif char in ")]" and depth:
            depth -= 1
        if char == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts
