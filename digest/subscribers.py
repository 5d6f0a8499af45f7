"""Importing subscribers from JSON Lines, all or nothing."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import ValidationError

from digest.config import SUBSCRIBER_NAME as NAME
from digest.config import SUBSCRIBER_NAME_RULE as NAME_RULE
from digest.config import SubscriberSettings
from digest.errors import SubscriberFileError
from digest.models import Subscriber


def parse_subscribers_file(
    path: Path, *, reserved: frozenset[str] = frozenset()
) -> list[Subscriber]:
    """Parse every line; raise :class:`SubscriberFileError` naming each bad line (see
    :func:`parse_subscriber_lines`)."""
    return [sub for _, sub in parse_subscriber_lines(path, reserved=reserved)]


def parse_subscriber_lines(
    path: Path, *, reserved: frozenset[str] = frozenset()
) -> list[tuple[int, Subscriber]]:
    """Each subscriber with its line number; raise :class:`SubscriberFileError` naming each
    bad line.

    Each line is one JSON object with ``name`` and the keys of ``[subscribers.<name>]``;
    unknown keys are rejected. ``reserved`` names (defined in the config file) may not be
    imported.
    """
    try:
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise SubscriberFileError([f"{path}: cannot read: {error}"]) from None
    problems: list[str] = []
    found: dict[str, tuple[int, Subscriber]] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            data = json.loads(line)
        except json.JSONDecodeError as error:
            problems.append(f"{where}: invalid JSON: {error.msg} (column {error.colno})")
            continue
        if not isinstance(data, dict):
            problems.append(f"{where}: expected a JSON object, got {type(data).__name__}")
            continue
        name = data.pop("name", None)
        if not isinstance(name, str) or not NAME.match(name):
            problems.append(f"{where}: name: required, {NAME_RULE}; got {name!r}")
            continue
        try:
            settings = SubscriberSettings.model_validate(data)
        except ValidationError as error:
            for item in error.errors():
                key = ".".join(str(p) for p in item["loc"]) or "(line)"
                message = "unknown key" if item["type"] == "extra_forbidden" else item["msg"]
                problems.append(f"{where}: {key}: {message.removeprefix('Value error, ')}")
            continue
        if "email" in settings.channels and not settings.email:
            problems.append(f"{where}: email: required for the email channel")
            continue
        if name in reserved:
            problems.append(f"{where}: name: {name!r} is defined in the config file")
            continue
        if name in found:
            problems.append(f"{where}: name: {name!r} already on line {found[name][0]}")
            continue
        found[name] = (number, settings.to_subscriber(name))
    if problems:
        raise SubscriberFileError(problems)
    if not found:
        raise SubscriberFileError([f"{path}: no subscribers in the file"])
    return list(found.values())
