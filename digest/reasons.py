"""Reasons in plain words: the one "why" sentence per pick, and its short tag.

Rankers explain a pick with :class:`~digest.models.Reason` objects whose ``text`` is a clause
("close to “Diffusion Policy”, which you liked", "mentions your keyword “visuomotor”"); the
selector orders them strongest first, the subscriber's own evidence before what holds for
everyone. :func:`why_sentence` joins the clauses into one sentence:

    Close to “Diffusion Policy”, which you liked, and mentions your keyword “visuomotor”.

Timing ("announced today") is never a reason on its own: every paper of the day has it, and
the card's meta line shows the date. Two clauses about the same liked paper (two rankers found
it) are said once.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from digest.models import Reason
from digest.text import readable, truncate

#: reason kinds that hold for every paper of the day, never a reason to read one by themselves
TIMELY_KINDS = frozenset({"recency"})
#: reason kinds that hold for every subscriber (not about their profile)
GENERAL_KINDS = TIMELY_KINDS | {"popularity"}
#: most clauses in one sentence
MAX_CLAUSES = 2
#: said when nothing but timing speaks for a pick
ONLY_RECENT = "A recent paper; nothing in your profile matched it strongly"
#: clauses that describe the paper ("close to …", "by …", "in …"): "[it is] close to …"
_BE = ("close ", "by ", "in ", "popular ", "similar ", "from ", "among ", "written ")
_QUOTED = re.compile(r"“([^”]{1,200})”")
#: a short tag per kind, for the contents list (a quoted phrase in the clause wins)
_TAGS = {
    "author": "author you follow",
    "category": "your category",
    "keywords": "your keyword",
    "keyword": "your keyword",
    "similar": "your interests",
    "semantic": "your interests",
    "svm": "your likes",
    "popularity": "popular",
    "recency": "new",
}


def clauses(reasons: Sequence[Reason]) -> list[str]:
    """The clauses to say, in order: readable, each once, one per liked paper, no timing."""
    said: list[str] = []
    refs: set[str] = set()
    for reason in reasons:
        if reason.kind in TIMELY_KINDS:
            continue
        if reason.ref is not None:
            if reason.ref in refs:
                continue
            refs.add(reason.ref)
        text = readable(reason.text).strip().rstrip(".;")
        if text and text not in said:
            said.append(text)
    return said[:MAX_CLAUSES]


def why_sentence(reasons: Sequence[Reason]) -> str:
    """One sentence saying why a paper was picked (see the module docs); empty only when
    there are no reasons at all."""
    said = clauses(reasons)
    if not said:
        return f"{ONLY_RECENT}." if reasons else ""
    body = said[0]
    verbs = not said[0].startswith(_BE)
    for position, clause in enumerate(said[1:], start=1):
        last = position == len(said) - 1
        if clause.startswith(_BE):
            # "mentions “x” and is by Ada": after a verb, a state needs its own verb
            clause = f"is {clause}" if verbs else clause
        else:
            verbs = True
        # a clause with a comma of its own ("close to “X”, which you liked") is closed by one
        joiner = ", and " if last and "," in said[position - 1] else " and " if last else ", "
        body += joiner + clause
    return body[:1].upper() + body[1:] + "."


def why_tag(reasons: Sequence[Reason], *, limit: int = 32) -> str:
    """A short tag for the contents list: the strongest reason's quoted phrase, else a word
    for its kind ("author you follow")."""
    for reason in reasons:
        if reason.kind in TIMELY_KINDS:
            continue
        found = _QUOTED.search(readable(reason.text))
        if reason.ref is not None:  # the liked paper it is close to, by (part of) its title
            return f"like “{truncate(found.group(1), 28)}”" if found else "like a paper you liked"
        if found and len(found.group(1)) <= limit:
            return found.group(1)
        return _TAGS.get(reason.kind, reason.kind.replace("_", " ")[:limit])
    return "new" if reasons else ""
