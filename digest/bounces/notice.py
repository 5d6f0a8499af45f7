"""What every bounce intake produces, whatever it read: one :class:`BounceNotice` per
recipient a bounce, complaint or auto-reply is about."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

#: ``hard``: the address does not exist or never will accept mail (5.x.x); ``soft``: a
#: temporary failure (mailbox full, 4.x.x, greylisting given up); ``complaint``: the recipient
#: marked a digest as spam (ARF / an ESP's complaint event); ``auto-reply``: an out-of-office
#: or vacation reply (ignored); ``unknown``: not recognisable as any of these (ignored, counted)
BounceKind = Literal["hard", "soft", "complaint", "auto-reply", "unknown"]


@dataclass(frozen=True, slots=True, kw_only=True)
class BounceNotice:
    """One bounce, complaint or auto-reply, about one recipient, as the intake understood it.

    Which message it is about is found from, in this order: ``return_path`` (the VERP address
    the bounce was sent to), ``message_id`` (the Message-ID of our message, quoted in the
    bounce or named by an ESP event). ``recipient`` is only shown, never trusted to pick a
    subscriber — a bounce's body can say anything — unless ``trusted_recipient``.
    """

    kind: BounceKind
    #: a unique key of this notice, so one bounce read twice is recorded once (the bounce's
    #: own Message-ID, an ESP event id, or a hash of the bytes)
    key: str
    #: where it came from: "mbox", "maildir", "eml", "stdin", "imap", "pop3", "ses",
    #: "sendgrid", "postmark", "mailgun"
    origin: str
    return_path: str | None = None
    message_id: str | None = None
    recipient: str | None = None
    #: the enhanced status code ("5.1.1") when there is one
    status: str | None = None
    #: one line for the operator: the remote server's diagnostic, an ARF feedback type …
    detail: str = ""
    #: the recipient comes from an authenticated source (an ESP's signed webhook), not from a
    #: bounce's body: when no return path or Message-ID names the message, the subscriber
    #: with that address is meant (if we ever mailed them)
    trusted_recipient: bool = False
