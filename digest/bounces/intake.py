"""Bounces from files and pipes: mbox files, Maildir folders, single ``.eml`` messages and
standard input (an MTA can pipe a bounce into ``digest bounces ingest -``).

Messages are read one at a time and each is recorded in its own transaction; nothing is
deleted or moved here, so reading the same files again after a crash records what was missed
and counts nothing twice (each notice has a unique key).
"""

from __future__ import annotations

import datetime as dt
import mailbox
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from digest.bounces.book import BounceBook, BounceTally
from digest.bounces.notice import BounceNotice
from digest.errors import DigestError

__all__ = ["Ingested", "book_for", "ingest", "read_messages"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Ingested:
    """What ``digest bounces ingest`` did: messages read, and the tally of their notices."""

    messages: int
    tally: BounceTally


def book_for(store: object, settings: object) -> BounceBook:
    """The bounce book of a loaded configuration (:class:`digest.config.Settings`)."""
    from digest.config import Settings
    from digest.store import Store

    assert isinstance(settings, Settings) and isinstance(store, Store)
    b = settings.bounces
    return BounceBook(
        store,
        secrets=(settings.digest.secret_key, *settings.digest.old_secret_keys),
        verp_local=b.local_part,
        verp_domain=b.domain,
        soft_limit=b.soft_limit,
        soft_days=b.soft_days,
    )


def read_messages(paths: Iterable[str]) -> Iterator[tuple[str, bytes]]:
    """``(origin, message bytes)`` for every message in ``paths``; ``"-"`` is standard input.

    A folder with ``cur``/``new`` is a Maildir; a file starting with ``From `` an mbox;
    any other file one message. A path that does not exist is an error naming it.
    """
    for text in paths:
        if text == "-":
            yield "stdin", sys.stdin.buffer.read()
            continue
        path = Path(text)
        if path.is_dir():
            if not ((path / "cur").is_dir() or (path / "new").is_dir()):
                raise DigestError(f"{path}: a folder but not a Maildir (no cur/ or new/)")
            box = mailbox.Maildir(path, factory=None, create=False)
            for key in sorted(box.keys()):
                yield "maildir", box.get_bytes(key)
            continue
        try:
            with path.open("rb") as handle:
                head = handle.read(5)
        except OSError as error:
            raise DigestError(f"{path}: cannot read it ({error.strerror})") from None
        if head == b"From ":
            mbox = mailbox.mbox(path, factory=None, create=False)
            try:
                for key in mbox.iterkeys():
                    yield "mbox", mbox.get_bytes(key)
            finally:
                mbox.close()
        else:
            yield "eml", path.read_bytes()


def ingest(book: BounceBook, paths: Iterable[str], *, now: dt.datetime) -> Ingested:
    """Classify and record every message in ``paths``."""
    from digest.bounces.classify import classify

    tally = BounceTally()
    messages = 0
    for origin, content in read_messages(paths):
        messages += 1
        notices: list[BounceNotice] = classify(
            content, origin=origin, verp_domain=book.verp_domain, verp_local=book.verp_local
        )
        tally.add(book.record(notices, now=now))
    return Ingested(messages=messages, tally=tally)
