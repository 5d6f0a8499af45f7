"""papers-digest: personal research-paper digests by email and RSS/Atom.

The public plugin API is this package's top level, :mod:`digest.models` and
:mod:`digest.testing`; everything else is internal and may change.
"""

from digest.batch import Batch, Mask, Scores
from digest.components import (
    CollectContext,
    Component,
    ComponentConfig,
    Deliverer,
    DelivererConfig,
    FeatureStore,
    Filter,
    HttpUrl,
    Ranker,
    Renderer,
    Runtime,
    Site,
    Source,
)
from digest.errors import DigestError, PluginError, SourceError
from digest.fetch import Fetched, FetchError, SourceHTTP
from digest.hookspecs import hookimpl
from digest.identity import (
    canonical_id,
    canonical_ref,
    family_name,
    find_arxiv,
    landing_url,
    normalize_doi,
    parse_arxiv,
)
from digest.rendering import compile_html_fragment, compile_mjml_template, template_text
from digest.text import one_line, readable, safe_url, strip_invalid, truncate

__version__ = "0.1.0"

__all__ = [
    "Batch",
    "CollectContext",
    "Component",
    "ComponentConfig",
    "Deliverer",
    "DelivererConfig",
    "DigestError",
    "FeatureStore",
    "FetchError",
    "Fetched",
    "Filter",
    "HttpUrl",
    "Mask",
    "PluginError",
    "Ranker",
    "Renderer",
    "Runtime",
    "Scores",
    "Site",
    "Source",
    "SourceError",
    "SourceHTTP",
    "__version__",
    "canonical_id",
    "canonical_ref",
    "compile_html_fragment",
    "compile_mjml_template",
    "family_name",
    "find_arxiv",
    "hookimpl",
    "landing_url",
    "normalize_doi",
    "one_line",
    "parse_arxiv",
    "readable",
    "safe_url",
    "strip_invalid",
    "template_text",
    "truncate",
]
