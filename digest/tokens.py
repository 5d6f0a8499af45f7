"""Signed, purpose-salted tokens for the links in digests (unsubscribe, feed, preferences).

A token for one purpose is useless for another, and a changed secret invalidates them all.
"""

from __future__ import annotations

from itsdangerous import BadSignature, URLSafeSerializer

#: "read" opens the subscriber's private feeds and web archive; "unsubscribe" and
#: "preferences" change things and are kept apart.
PURPOSES = ("unsubscribe", "preferences", "read")


class Tokens:
    """Makes and checks tokens carrying a subscriber id."""

    def __init__(self, secret: str) -> None:
        self._serializers = {p: URLSafeSerializer(secret, salt=f"digest.{p}") for p in PURPOSES}

    def make(self, purpose: str, subscriber_id: int) -> str:
        token: str = self._serializers[purpose].dumps(subscriber_id)
        return token

    def read(self, purpose: str, token: str) -> int | None:
        """The subscriber id in a valid token for ``purpose``, else ``None``."""
        try:
            value = self._serializers[purpose].loads(token)
        except (BadSignature, KeyError):
            return None
        return value if isinstance(value, int) else None
