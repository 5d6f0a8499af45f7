"""Signed, purpose-salted tokens for the links in digests (unsubscribe, feed, preferences).

A token for one purpose is useless for another. Tokens are signed with the current secret
and accepted under it or any of ``old_secrets`` (a rotation grace period); once an old
secret is dropped from the configuration, its tokens stop working.
"""

from __future__ import annotations

from collections.abc import Sequence

from itsdangerous import BadSignature, URLSafeSerializer, URLSafeTimedSerializer

#: "read" opens the subscriber's private feeds and web archive; "unsubscribe",
#: "preferences" and "feedback" change things and are kept apart.
PURPOSES = ("unsubscribe", "preferences", "read", "feedback")
#: tokens that expire (read with ``max_age``): "confirm" activates a sign-up or a
#: re-subscription; "form" guards a form against cross-site posts (bound to a cookie value)
TIMED_PURPOSES = ("confirm", "form")


class Tokens:
    """Makes and checks tokens carrying a subscriber id."""

    def __init__(self, secret: str, old_secrets: Sequence[str] = ()) -> None:
        # itsdangerous signs with the last key and verifies with any of them.
        keys = [*old_secrets, secret]
        self._serializers = {p: URLSafeSerializer(keys, salt=f"digest.{p}") for p in PURPOSES}
        self._timed = {p: URLSafeTimedSerializer(keys, salt=f"digest.{p}") for p in TIMED_PURPOSES}

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

    def make_timed(self, purpose: str, value: int | str) -> str:
        """A token for one of :data:`TIMED_PURPOSES` carrying ``value`` and its issue time."""
        token: str = self._timed[purpose].dumps(value)
        return token

    def read_timed(self, purpose: str, token: str, *, max_age: int) -> int | str | None:
        """The value of a valid ``purpose`` token issued at most ``max_age`` seconds ago."""
        try:
            value = self._timed[purpose].loads(token, max_age=max_age)
        except (BadSignature, KeyError, UnicodeError, ValueError):  # SignatureExpired included
            return None
        if isinstance(value, bool) or not isinstance(value, int | str):
            return None
        return value
