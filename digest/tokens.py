"""Signed, purpose-salted tokens for the links in digests (unsubscribe, feed, preferences).

A token for one purpose is useless for another. Tokens are signed with the current secret
and accepted under it or any of ``old_secrets`` (a rotation grace period); once an old
secret is dropped from the configuration, its tokens stop working.
"""

from __future__ import annotations

from collections.abc import Sequence

from itsdangerous import BadSignature, URLSafeSerializer

#: "read" opens the subscriber's private feeds and web archive; "unsubscribe",
#: "preferences" and "feedback" change things and are kept apart.
PURPOSES = ("unsubscribe", "preferences", "read", "feedback")


class Tokens:
    """Makes and checks tokens carrying a subscriber id."""

    def __init__(self, secret: str, old_secrets: Sequence[str] = ()) -> None:
        # itsdangerous signs with the last key and verifies with any of them.
        keys = [*old_secrets, secret]
        self._serializers = {p: URLSafeSerializer(keys, salt=f"digest.{p}") for p in PURPOSES}

    def make(self, purpose: str, subscriber_id: int) -> str:
        token: str = self._serializers[purpose].dumps(subscriber_id)
        return token

    def read(self, purpose: str, token: str) -> int | None:
        """The subscriber id in a valid token for ``purpose``, else ``None``."""
        try:
            value = self._serializers[purpose].loads(token)
        except (BadSignature, KeyError, UnicodeError, ValueError):
            return None
        return value if isinstance(value, int) and not isinstance(value, bool) else None
