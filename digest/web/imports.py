"""Profile imports from the preferences page (Zotero, ORCID, arXiv author, Semantic Scholar,
and what plugins add) and their periodic resync by ``digest serve``.

From the web a reader imports *public* data only: an API key typed into a form would have to
be stored to resync, so private Zotero libraries stay with the operator's
``digest subscribers like NAME --from zotero:... --api-key-env VAR``, which stores the
variable's name, never the key.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from digest.errors import DigestError
from digest.importers import (
    ImportHTTP,
    ProfileImporter,
    ProfileImportError,
    make_importer,
    run_import,
    sync_imports,
)
from digest.store import StoredSubscriber, utcnow
from digest.store.imports import StoredImport

if TYPE_CHECKING:
    from digest.web.service import WebService

log = logging.getLogger("digest.serve")
#: longest reference a form may submit (an ORCID iD is 19 characters, a Zotero ref ~40)
MAX_REF = 200


@dataclass(frozen=True, slots=True, kw_only=True)
class ImporterChoice:
    """One importer as the preferences form offers it."""

    name: str
    label: str
    placeholder: str
    help: str


class ProfileImports:
    """Imports of one site's subscribers, over :class:`WebService`."""

    def __init__(self, web: WebService) -> None:
        self.web = web
        self.store = web.store
        self._importers: Mapping[str, ProfileImporter | type[ProfileImporter]] | None = None
        self._sync_lock = threading.Lock()
        self._last_sync: dt.datetime | None = None

    def importers(self) -> Mapping[str, ProfileImporter | type[ProfileImporter]]:
        """The importers plugins registered (asked once)."""
        if self._importers is None:
            self._importers = self.web.pipeline.host.profile_importers()
        return self._importers

    def choices(self) -> list[ImporterChoice]:
        return [
            ImporterChoice(
                name=name,
                label=found.label or name,
                placeholder=found.placeholder,
                help=found.help,
            )
            for name, found in sorted(self.importers().items())
        ]

    def of(self, stored: StoredSubscriber) -> list[StoredImport]:
        return self.store.profile_imports(subscriber_id=stored.id)

    def run(self, stored: StoredSubscriber, name: str, ref: str) -> str:
        """Import ``name:ref`` into the subscriber's liked papers (tracked, so it is resynced);
        the one-line summary. Raises :class:`ProfileImportError` with a readable reason."""
        ref = ref.strip()
        if not ref or len(ref) > MAX_REF or any(c in ref for c in "\r\n\x00"):
            raise ProfileImportError(f"a reference of at most {MAX_REF} characters on one line")
        importer = make_importer(self.importers(), name)
        with ImportHTTP.from_settings(self.web.settings.fetch) as http:
            result = run_import(
                self.store, stored.subscriber.name, importer, ref, http, now=utcnow()
            )
        return result.summary().partition(": ")[2]

    def remove(self, stored: StoredSubscriber, import_id: int) -> bool:
        """Stop resyncing one of the subscriber's imports (what it added stays liked)."""
        if not any(item.id == import_id for item in self.of(stored)):
            return False
        return self.store.remove_profile_import(import_id)

    def resync_due(self, now: dt.datetime | None = None) -> list[str] | None:
        """Re-run every recorded import when ``[signup] resync_imports_hours`` have passed
        since the last time (the first call only starts the clock: a restart does not hammer
        the APIs); the problems, or None when it was not time."""
        hours = self.web.settings.signup.resync_imports_hours
        now = now or utcnow()
        if not hours:
            return None
        with self._sync_lock:
            if self._last_sync is None:
                self._last_sync = now
                return None
            if now - self._last_sync < dt.timedelta(hours=hours):
                return None
            self._last_sync = now
            return self.resync(now)

    def resync(self, now: dt.datetime) -> list[str]:
        """Re-run every recorded import now; failures are kept on each import and logged."""
        try:
            with ImportHTTP.from_settings(self.web.settings.fetch) as http:
                problems = sync_imports(self.store, self.importers(), http, now=now)
        except DigestError as error:
            problems = [str(error)]
        for problem in problems:
            log.warning("profile import: %s", problem)
        return problems
