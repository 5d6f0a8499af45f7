"""From notices to records: which subscriber and edition a bounce is about, and what it does.

A bounce names its message by the VERP return path it was sent to, else by our Message-ID
quoted in it (ESP events carry it too). Both carry an HMAC under the site's secret, and the
ledger must show that edition's email went to that subscriber: a bounce for a message we never
sent, or with a forged or damaged token, is recorded as ignored and counted, never trusted.
"""

from __future__ import annotations

import datetime as dt
import hmac
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from digest.bounces.notice import BounceNotice
from digest.bounces.verp import read_return_path
from digest.mail import message_id as make_message_id
from digest.store import Store
from digest.store.bounces import BounceRow

_MESSAGE_ID = re.compile(
    r"^<?(?P<edition>[0-9A-Za-z-]{1,40})\.(?P<sid>[0-9]{1,12})\.(?P<tag>[0-9a-f]{12})"
    r"@(?P<domain>[^<>\s@]+)>?$"
)
#: kinds that never change a subscriber (recorded as ignored, with why)
_IGNORED_KINDS = {"auto-reply": "an auto-reply", "unknown": "not a bounce we could read"}


@dataclass(slots=True)
class BounceTally:
    """What one intake did: outcomes by name, how many were read before (not again)."""

    outcomes: Counter[str] = field(default_factory=Counter)
    duplicates: int = 0

    def add(self, other: BounceTally) -> None:
        self.outcomes.update(other.outcomes)
        self.duplicates += other.duplicates

    @property
    def recorded(self) -> int:
        return sum(self.outcomes.values())

    def summary(self) -> str:
        """One line: "3 recorded (1 bounced, 2 ignored: an auto-reply), 1 read before"."""
        parts = ", ".join(f"{n} {what}" for what, n in sorted(self.outcomes.items()))
        text = f"{self.recorded} recorded" + (f" ({parts})" if parts else "")
        return text + (f", {self.duplicates} read before" if self.duplicates else "")


class BounceBook:
    """Resolves notices to (subscriber, edition) and records them in the store."""

    def __init__(
        self,
        store: Store,
        *,
        secrets: Sequence[str],
        verp_local: str,
        verp_domain: str | None,
        soft_limit: int,
        soft_days: int,
    ) -> None:
        self.store = store
        self.secrets = tuple(secrets)
        self.verp_local = verp_local
        self.verp_domain = verp_domain
        self.soft_limit = soft_limit
        self.soft_days = soft_days

    def record(self, notices: Iterable[BounceNotice], *, now: dt.datetime) -> BounceTally:
        """Record each notice once (each in its own transaction: a crash loses none of the
        ones recorded and the rest are recorded when read again)."""
        tally = BounceTally()
        for notice in notices:
            outcome = self.store.record_bounce(
                self.row(notice, now=now), soft_limit=self.soft_limit, soft_days=self.soft_days
            )
            if outcome is None:
                tally.duplicates += 1
            else:
                tally.outcomes[outcome] += 1
        return tally

    def row(self, notice: BounceNotice, *, now: dt.datetime) -> BounceRow:
        """The notice resolved: its subscriber and edition, or why it is ignored."""
        domain = notice.recipient.rpartition("@")[2].lower() if notice.recipient else None
        found, why = (
            (None, _IGNORED_KINDS[notice.kind])
            if notice.kind in _IGNORED_KINDS
            else (self._message(notice))
        )
        if found is None and notice.kind not in _IGNORED_KINDS and notice.trusted_recipient:
            found = self._by_recipient(notice.recipient)
        return BounceRow(
            key=notice.key,
            at=now,
            origin=notice.origin,
            kind=notice.kind,
            subscriber_id=found[1] if found else None,
            edition_id=found[0] if found else None,
            domain=domain or None,
            status=notice.status,
            detail=notice.detail,
            ignored=None if found else why,
        )

    def _by_recipient(self, recipient: str | None) -> tuple[str, int] | None:
        """An authenticated event naming only the address: its subscriber's latest email."""
        if not recipient:
            return None
        sid = self.store.subscriber_id_by_email(recipient)
        edition = self.store.latest_email(sid) if sid is not None else None
        return (edition, sid) if edition is not None and sid is not None else None

    def _message(self, notice: BounceNotice) -> tuple[tuple[str, int] | None, str]:
        why = "names no message of ours"
        if notice.return_path and self.verp_domain:
            path = read_return_path(
                notice.return_path,
                secrets=self.secrets,
                local_part=self.verp_local,
                domain=self.verp_domain,
            )
            if path is None:
                why = "a bad return path token"
            else:
                edition = self.store.delivered_email(path.edition, path.subscriber_id)
                if edition is not None:
                    return (edition, path.subscriber_id), ""
                why = "a message we never sent"
        if notice.message_id:
            match = _MESSAGE_ID.match(notice.message_id.strip())
            if match is None:
                return None, why if notice.return_path else "not one of our Message-IDs"
            edition, sid = match.group("edition"), int(match.group("sid"))
            if not any(
                hmac.compare_digest(
                    make_message_id(
                        edition_id=edition,
                        subscriber_id=sid,
                        secret=secret,
                        domain=match.group("domain"),
                    ),
                    f"<{edition}.{sid}.{match.group('tag')}@{match.group('domain')}>",
                )
                for secret in self.secrets
            ):
                return None, "a forged Message-ID"
            stored = self.store.delivered_email(edition, sid)
            if stored is None:
                return None, "a message we never sent"
            return (stored, sid), ""
        return None, why
