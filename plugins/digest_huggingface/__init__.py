"""The ``huggingface`` source: Hugging Face daily papers, with upvotes and code links.

Configure it with ``component = "huggingface"`` under ``[sources.<instance>]``; see
:class:`~digest_huggingface.source.HuggingFaceSource` for the options.
"""

from __future__ import annotations

from digest import Source, hookimpl

from .parse import DailyPapers, parse_daily_papers
from .source import DEFAULT_URL, HuggingFaceSource

__all__ = ["DEFAULT_URL", "DailyPapers", "HuggingFaceSource", "parse_daily_papers"]


@hookimpl
def register_sources() -> list[type[Source]]:
    return [HuggingFaceSource]
