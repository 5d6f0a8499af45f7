"""papers-digest: personal research-paper digests by email and RSS/Atom.

The public plugin API is this package's top level, :mod:`digest.models` and
:mod:`digest.testing`; everything else is internal and may change. The names below are what a
plugin author needs (see ``docs/plugin-hooks.md``):

* ``hookimpl`` — the marker for hook implementations;
* component bases and their configs: ``Source``, ``Filter``, ``Ranker``, ``Renderer``,
  ``Deliverer``, ``Component``, ``ComponentConfig``, ``DelivererConfig``, ``HttpUrl``;
* what components are handed: ``CollectContext`` (with ``SourceHTTP``, answering
  ``Fetched``), ``Runtime`` (with ``SharedRates`` handing out ``RateGate`` limits shared by
  every process), ``Site``, ``FeatureStore``, ``Batch`` with its ``Mask`` and
  ``Scores`` arrays, ``PaperCache`` (per-paper work shared by every subscriber);
* errors: ``DigestError``, ``PluginError``, ``SourceError``, ``FetchError``;
* profile importers: ``ProfileImporter``, ``ImportHTTP`` (what they fetch through) and
  ``ProfileImportError``;
* identity: ``canonical_id``, ``canonical_ref``, ``parse_arxiv``, ``find_arxiv``,
  ``normalize_doi``, ``landing_url``, ``author_key``, ``same_author``;
* authors: ``split_authors`` (one combined author string → people), ``reading_order``;
* text: ``one_line``, ``readable``, ``safe_url``, ``strip_invalid``, ``truncate``.

Names are imported when first used, so ``import digest`` (and a plugin module that imports
only ``hookimpl``) stays cheap: ``digest --help`` does not pay for NumPy, pydantic or httpx.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from digest.hookspecs import hookimpl

if TYPE_CHECKING:
    from digest.authors import reading_order, split_authors
    from digest.batch import Batch, Mask, Scores
    from digest.components import (
        CollectContext,
        Component,
        ComponentConfig,
        Deliverer,
        DelivererConfig,
        Enricher,
        FeatureStore,
        Filter,
        HttpUrl,
        Ranker,
        RateGate,
        Renderer,
        Runtime,
        SharedRates,
        Site,
        Source,
    )
    from digest.enrich import feature_key
    from digest.errors import DigestError, PluginError, SourceError
    from digest.fetch import Fetched, FetchError, SourceHTTP, parse_json
    from digest.identity import (
        author_key,
        canonical_id,
        canonical_ref,
        find_arxiv,
        landing_url,
        normalize_doi,
        parse_arxiv,
        same_author,
    )
    from digest.importers import ImportHTTP, ProfileImporter, ProfileImportError
    from digest.reasons import why_sentence, why_tag
    from digest.rendering import PaperCache
    from digest.text import one_line, readable, safe_url, strip_invalid, truncate

__version__ = "0.1.0"

#: public name → the module that defines it
_HOMES = {
    **dict.fromkeys(("reading_order", "split_authors"), "digest.authors"),
    **dict.fromkeys(("Batch", "Mask", "Scores"), "digest.batch"),
    **dict.fromkeys(
        (
            "CollectContext",
            "Component",
            "ComponentConfig",
            "Deliverer",
            "DelivererConfig",
            "Enricher",
            "FeatureStore",
            "Filter",
            "HttpUrl",
            "RateGate",
            "Ranker",
            "Renderer",
            "Runtime",
            "SharedRates",
            "Site",
            "Source",
        ),
        "digest.components",
    ),
    **dict.fromkeys(("DigestError", "PluginError", "SourceError"), "digest.errors"),
    **dict.fromkeys(("Fetched", "FetchError", "SourceHTTP", "parse_json"), "digest.fetch"),
    **dict.fromkeys(
        (
            "author_key",
            "canonical_id",
            "canonical_ref",
            "find_arxiv",
            "landing_url",
            "normalize_doi",
            "parse_arxiv",
            "same_author",
        ),
        "digest.identity",
    ),
    **dict.fromkeys(("ImportHTTP", "ProfileImportError", "ProfileImporter"), "digest.importers"),
    "PaperCache": "digest.rendering",
    "feature_key": "digest.enrich",
    **dict.fromkeys(("why_sentence", "why_tag"), "digest.reasons"),
    **dict.fromkeys(
        ("one_line", "readable", "safe_url", "strip_invalid", "truncate"), "digest.text"
    ),
}

__all__ = [
    "Batch",
    "CollectContext",
    "Component",
    "ComponentConfig",
    "Deliverer",
    "DelivererConfig",
    "DigestError",
    "Enricher",
    "FeatureStore",
    "FetchError",
    "Fetched",
    "Filter",
    "HttpUrl",
    "ImportHTTP",
    "Mask",
    "PaperCache",
    "PluginError",
    "ProfileImportError",
    "ProfileImporter",
    "Ranker",
    "RateGate",
    "Renderer",
    "Runtime",
    "Scores",
    "SharedRates",
    "Site",
    "Source",
    "SourceError",
    "SourceHTTP",
    "__version__",
    "author_key",
    "canonical_id",
    "canonical_ref",
    "feature_key",
    "find_arxiv",
    "hookimpl",
    "landing_url",
    "normalize_doi",
    "one_line",
    "parse_arxiv",
    "parse_json",
    "readable",
    "reading_order",
    "safe_url",
    "same_author",
    "split_authors",
    "strip_invalid",
    "truncate",
    "why_sentence",
    "why_tag",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'digest' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value  # once imported, a plain module attribute
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_HOMES))
