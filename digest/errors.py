"""Project errors: expected failures carry a one-line message that names the culprit."""

from __future__ import annotations


class DigestError(Exception):
    """An expected failure. ``str(error)`` is the one line the operator sees."""


class ConfigError(DigestError):
    """A configuration problem; ``problems`` holds every one found, each naming file and key."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(problems[0] if len(problems) == 1 else f"{len(problems)} problems")

    def __str__(self) -> str:
        return "\n".join(self.problems)


class PluginError(DigestError):
    """Raised by a plugin for a clean, one-line failure (the host adds the plugin's name)."""


class SourceError(PluginError):
    """A source could not collect; the message names the feed URL or the reason."""


class StoreError(DigestError):
    """The store (database or state directory) cannot be used."""


class SubscriberFileError(DigestError):
    """A subscriber import file was rejected; nothing from it was stored."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))
