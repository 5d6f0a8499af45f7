"""VERP return paths: the envelope sender of each digest names its (edition, subscriber).

``bounces+<edition>.<subscriber id>.<mac>@<domain>``: a bounce is sent back to the message's
envelope sender, so the address it arrives at says whose digest bounced, without trusting
anything the bounce's body claims. The MAC (HMAC-SHA256 under the site's secret, 16 hex
digits) makes the address unforgeable: a bounce to an address we never used is ignored.

Everything is lower case: some mail servers fold the local part's case.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["ReturnPath", "read_return_path", "return_path"]

_TOKEN = re.compile(r"^(?P<edition>[0-9a-z-]{1,40})\.(?P<sid>[0-9]{1,12})\.(?P<mac>[0-9a-f]{16})$")


@dataclass(frozen=True, slots=True, kw_only=True)
class ReturnPath:
    """What a valid return path names: the edition (lower case) and the subscriber id."""

    edition: str
    subscriber_id: int


def _mac(secret: str, edition: str, subscriber_id: int) -> str:
    message = f"verp:{edition}:{subscriber_id}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()[:16]


def return_path(
    *, edition_id: str, subscriber_id: int, secret: str, local_part: str, domain: str
) -> str:
    """The envelope sender for one subscriber's digest of one edition.

    >>> return_path(edition_id="20261207T070000Z-ab12cd", subscriber_id=42, secret="s",
    ...             local_part="bounces", domain="bounces.example.org")[:41]
    'bounces+20261207t070000z-ab12cd.42.8cc021'
    """
    edition = edition_id.lower()
    token = f"{edition}.{subscriber_id}.{_mac(secret, edition, subscriber_id)}"
    return f"{local_part.lower()}+{token}@{domain.lower()}"


def read_return_path(
    address: str,
    *,
    secrets: Sequence[str],
    local_part: str,
    domain: str,
) -> ReturnPath | None:
    """The (edition, subscriber) a return path names, or ``None`` when it is not one of ours
    or its MAC is wrong (under the current secret or an old one still accepted)."""
    address = address.strip().strip("<>").lower()
    local, _, host = address.rpartition("@")
    prefix = f"{local_part.lower()}+"
    if host != domain.lower() or not local.startswith(prefix):
        return None
    match = _TOKEN.match(local[len(prefix) :])
    if match is None:
        return None
    edition, sid = match.group("edition"), int(match.group("sid"))
    for secret in secrets:
        if hmac.compare_digest(_mac(secret, edition, sid), match.group("mac")):
            return ReturnPath(edition=edition, subscriber_id=sid)
    return None
