"""The input of ``digest rank --batch``: JSON Lines of queries, each checked on its own.

A line is ``{"query": str, "liked": [paper], "disliked": [paper], "interests": str,
"candidates": [paper]}`` with paper = ``{"id", "title", "abstract", "authors", "published"}``;
a line that is not valid JSON or not such an object becomes a :class:`BadLine` naming the
first problem, and the lines after it are still read.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field, ValidationError


class PaperIn(BaseModel):
    """A paper as ``digest rank`` reads it."""

    model_config = ConfigDict(extra="forbid")
    id: str = Field(min_length=1)
    title: str
    abstract: str = ""
    authors: list[str] = Field(default_factory=list)
    published: dt.datetime | dt.date | None = None


class QueryIn(BaseModel):
    """One input line."""

    model_config = ConfigDict(extra="forbid")
    query: str
    liked: list[PaperIn] = Field(default_factory=list)
    disliked: list[PaperIn] = Field(default_factory=list)
    interests: str = ""
    candidates: list[PaperIn]


@dataclass(frozen=True, slots=True)
class BadLine:
    number: int
    message: str


def read_queries(lines: Iterable[str]) -> Iterator[QueryIn | BadLine]:
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            yield QueryIn.model_validate(json.loads(line))
        except json.JSONDecodeError as error:
            yield BadLine(number, f"invalid JSON: {error.msg} (column {error.colno})")
        except ValidationError as error:
            first = error.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "(line)"
            message = "unknown key" if first["type"] == "extra_forbidden" else first["msg"]
            yield BadLine(number, f"{where}: {message}")
