"""The built-in profile importers: ``zotero``, ``orcid``, ``arxiv-author`` and
``semantic-scholar`` (``digest subscribers like NAME --from <importer>:<ref>``).

Each reads one public API through :class:`digest.ImportHTTP` and returns the papers
it lists, identified like every source's (arXiv id, else DOI, else a fingerprint).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from digest import hookimpl

if TYPE_CHECKING:
    from digest import ProfileImporter


@hookimpl
def register_profile_importers() -> list[type[ProfileImporter]]:
    from .arxiv_author import ArxivAuthorImporter
    from .orcid import OrcidImporter
    from .semantic_scholar import SemanticScholarImporter
    from .zotero import ZoteroImporter

    return [ZoteroImporter, OrcidImporter, ArxivAuthorImporter, SemanticScholarImporter]
