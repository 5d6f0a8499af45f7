"""Project errors: expected failures carry a one-line message that names the culprit."""

from __future__ import annotations

from collections.abc import Iterable


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


class EnricherNote(DigestError):
    """Something an enricher told the run report (a fallback, a budget reached); not a bug."""


class StoreError(DigestError):
    """The store (database or state directory) cannot be used."""


class SubscriberFileError(DigestError):
    """A subscriber import file was rejected; nothing from it was stored."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


def describe(error: BaseException) -> str:
    """``error`` as the one line an operator sees, naming its type unless it is our own.

    Our errors (:class:`DigestError`) carry a message written for people; anything else is a
    bug or a library's failure, so its type leads (``ValueError: …``). A message of several
    lines (a :class:`ConfigError` with many problems) is joined with ``; ``.
    """
    text = "; ".join(line.strip() for line in str(error).strip().splitlines() if line.strip())
    if isinstance(error, DigestError):
        return text or type(error).__name__
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """``" (did you mean 'half_life_days'?)"`` for the closest of ``known``, else ``""``."""
    import difflib

    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""
