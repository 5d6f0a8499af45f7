"""Profile importers: a researcher's Zotero library, ORCID record or arXiv author page → the
papers they like (issue 12, "the front door").

The public API, for the command line, the web sign-up and plugins:

* :class:`ProfileImporter` — the base of importers; plugins register theirs with the
  ``register_profile_importers`` hook and :meth:`digest.plugins.PluginHost.profile_importers`
  collects them by ``name``. ``read(ref, http, options=…)`` returns papers.
* :class:`ImportHTTP` — what importers fetch through: the project's one HTTP client
  (:class:`digest.fetch.Fetcher`: timeouts, SSRF guard, per-host rate limits, retries).
  ``ImportHTTP.from_settings(app.settings.fetch)`` builds one.
* :func:`parse_liked_lines` — a pasted list of arXiv ids, DOIs and their URLs;
  :func:`read_upload` — an uploaded BibTeX / Zotero CSV / Zotero RDF export.
* :func:`import_into` — stores papers as library references (never news: they are not
  candidates for a digest), adds them to the subscriber's ``liked`` and records a tracked
  import in ``profile_imports``; :func:`sync_imports` re-runs every recorded import.

A resync replaces exactly what the import contributed last time: papers liked by hand (or by
another import) stay liked, and a paper the subscriber disliked ("less like this" or
``disliked``) is never liked again by an import.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, ClassVar

from digest.errors import DigestError, describe, did_you_mean
from digest.identity import canonical_id, canonical_ref
from digest.models import Author, Paper
from digest.text import one_line, plural

if TYPE_CHECKING:
    from digest.fetch import Fetched, Fetcher
    from digest.store import Store, StoredSubscriber
    from digest.store.imports import StoredImport

#: what ``papers.sources`` says of an imported paper (they are stored under LIBRARY_SOURCE)
PAPER_SOURCE = "library"


class ProfileImportError(DigestError):
    """An import failed: a bad ref, an HTTP error, a reply that is not what the API sends.
    The message is one line naming the importer and the ref."""


class ImportHTTP:
    """The HTTP client importers fetch through: a thin layer over :class:`~digest.fetch.Fetcher`.

    Build it from the ``[fetch]`` settings (:meth:`from_settings`) or around a fetcher (tests
    pass one whose policy allows 127.0.0.1); close it when done, or use it as a context
    manager.
    """

    def __init__(self, fetcher: Fetcher) -> None:
        self.fetcher = fetcher

    @classmethod
    def from_settings(cls, fetch: Any) -> ImportHTTP:
        """From :class:`digest.config.FetchSettings` (``app.settings.fetch``)."""
        from digest import __version__
        from digest.fetch import Fetcher, policy_from_settings

        return cls(Fetcher(policy_from_settings(fetch), version=__version__))

    def get(
        self,
        url: str,
        *,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        accept: str | None = None,
    ) -> Fetched:
        """GET ``url``; raises :class:`digest.FetchError` (``status``/``content`` set when the
        server answered)."""
        return self.fetcher.get(url, params=params, headers=headers, accept=accept)

    def close(self) -> None:
        self.fetcher.close()

    def __enter__(self) -> ImportHTTP:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class ProfileImporter(ABC):
    """Turns a reference (``users/123456``, an ORCID iD) into the papers it lists.

    Subclasses set ``name`` (what ``--from <name>:<ref>`` refers to), ``label``,
    ``placeholder`` and ``help`` (for forms), and ``base_url`` (the API's root; a constructor
    argument overrides it, as tests do), and implement :meth:`read`; :meth:`validate`
    normalises a ref or raises.
    """

    name: ClassVar[str] = ""
    #: what a form calls it: "Zotero library"
    label: ClassVar[str] = ""
    #: an example ref for an empty form field: "users/123456"
    placeholder: ClassVar[str] = ""
    #: one or two sentences for a form: what the ref is and where to find it
    help: ClassVar[str] = ""
    #: the option names :meth:`read` understands (``api_key_env`` …)
    option_names: ClassVar[tuple[str, ...]] = ()
    #: the API's root; ``ProfileImporter(base_url=…)`` overrides it
    base_url: str = ""

    def __init__(self, *, base_url: str | None = None) -> None:
        self.base_url = (base_url or type(self).base_url).rstrip("/")

    def validate(self, ref: str) -> str:
        """``ref`` normalised (stripped); raise :class:`ProfileImportError` when it cannot be
        one. Subclasses check the shape."""
        ref = ref.strip()
        if not ref:
            raise self.error(ref, "empty reference")
        return ref

    @abstractmethod
    def read(self, ref: str, http: ImportHTTP, *, options: Mapping[str, str]) -> list[Paper]:
        """The papers ``ref`` lists, fetched through ``http``; raise
        :class:`ProfileImportError` (:meth:`error`) on a bad ref, an HTTP error or a bad
        reply."""

    # -- helpers for subclasses -------------------------------------------------------------

    #: what ``Paper.sources`` says of an imported paper
    paper_source: ClassVar[str] = PAPER_SOURCE

    @staticmethod
    def unique(papers: Iterable[Paper | None]) -> list[Paper]:
        """``papers`` without ``None`` and without repeats of an id (the first one wins)."""
        found: dict[str, Paper] = {}
        for paper in papers:
            if paper is not None:
                found.setdefault(str(paper.id), paper)
        return list(found.values())

    def api_key(self, ref: str, options: Mapping[str, str]) -> str | None:
        """The API key in ``options``: ``api_key`` itself, or the environment variable named
        by ``api_key_env`` (what is kept for a resync, so the key itself never is)."""
        if options.get("api_key"):
            return options["api_key"]
        variable = options.get("api_key_env")
        if not variable:
            return None
        value = os.environ.get(variable)
        if not value:
            raise self.error(ref, f"environment variable {variable} (the API key) is not set")
        return value

    def error(self, ref: str, reason: str) -> ProfileImportError:
        """The one-line error: ``zotero users/123: HTTP 404 Not Found``."""
        return ProfileImportError(one_line(f"{self.name} {ref}: {reason}"))

    def get_json(
        self,
        http: ImportHTTP,
        ref: str,
        url: str,
        *,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> tuple[Any, Fetched]:
        """GET ``url`` as JSON: the decoded document and the reply (for paging headers).

        HTTP errors and undecodable replies become :meth:`error`; 401/403 and 404 say what
        they usually mean.
        """
        from digest.fetch import FetchError

        try:
            fetched = http.get(url, params=params, headers=headers, accept="application/json")
        except FetchError as failure:
            hint = {
                401: "access denied (a private library needs an API key)",
                403: "access denied (a private library needs an API key)",
                404: "not found",
            }.get(failure.status or 0)
            raise self.error(ref, f"{failure}" + (f": {hint}" if hint else "")) from None
        try:
            return json.loads(fetched.content), fetched
        except ValueError as failure:
            raise self.error(ref, f"{url}: not JSON ({failure})") from None

    def paper(
        self,
        *,
        title: str,
        authors: Sequence[str] = (),
        abstract: str = "",
        arxiv: str | None = None,
        doi: str | None = None,
        links: Iterable[str] = (),
        url: str | None = None,
        published: dt.datetime | None = None,
    ) -> Paper | None:
        """A :class:`~digest.models.Paper` with its canonical id (arXiv id, else DOI, else a
        fingerprint), or ``None`` without a title."""
        title = one_line(title or "")
        if not title:
            return None
        names = [one_line(a) for a in authors if a and one_line(a)]
        paper_id, version = canonical_id(
            title=title,
            first_author=names[0] if names else None,
            arxiv=arxiv or None,
            doi=doi or None,
            links=tuple(link for link in links if link),
        )
        return Paper(
            id=paper_id,
            title=title,
            abstract=one_line(abstract or ""),
            authors=tuple(Author(name=n) for n in names),
            url=url or None,
            doi=paper_id.value if paper_id.kind == "doi" else None,
            published=published,
            version=version,
            sources=(self.paper_source,),
        )


def parse_from(text: str) -> tuple[str, str]:
    """``"zotero:users/123456"`` → ``("zotero", "users/123456")``."""
    name, sep, ref = text.partition(":")
    if not sep or not name.strip() or not ref.strip():
        raise ProfileImportError(
            f"--from {text!r}: want IMPORTER:REF, e.g. zotero:users/123456 or "
            "orcid:0000-0002-1825-0097"
        )
    return name.strip(), ref.strip()


def make_importer(
    importers: Mapping[str, ProfileImporter | type[ProfileImporter]], name: str
) -> ProfileImporter:
    """The importer called ``name`` (an instance; a class is instantiated), or a one-line
    error listing the known names."""
    found = importers.get(name)
    if found is None:
        known = ", ".join(sorted(importers)) or "none"
        raise ProfileImportError(
            f"no profile importer called {name!r}{did_you_mean(name, importers)} (known: {known})"
        )
    return found() if isinstance(found, type) else found


# -- pasted lists and uploads -----------------------------------------------------------------


def parse_liked_lines(text: str) -> tuple[list[str], list[str]]:
    """One arXiv id, DOI, or arXiv/DOI URL per line → ``(canonical refs, problems)``.

    Blank lines and lines starting with ``#`` are ignored; repeats are dropped. Each bad line
    is one problem: ``line 3: 'foo' is not an arXiv id, DOI or arXiv/DOI URL``.
    """
    refs: dict[str, None] = {}
    problems: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        ref = canonical_ref(line)
        if ref is None or not ref.startswith(("arxiv:", "doi:")):
            shown = line if len(line) <= 80 else line[:79] + "…"
            problems.append(f"line {number}: {shown!r} is not an arXiv id, DOI or arXiv/DOI URL")
            continue
        refs[ref] = None
    return list(refs), problems


def read_upload(filename: str, data: bytes) -> list[Paper]:
    """The papers of an uploaded BibTeX, Zotero CSV or Zotero RDF export (the format from the
    file name, else the content); entries without a title or an arXiv id / DOI are skipped.
    Raises :class:`ProfileImportError` naming the file."""
    from digest.library import parse_library

    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ProfileImportError(f"{filename}: not UTF-8 text ({error.reason})") from None
    try:
        return list(parse_library(text, name=filename).papers)
    except ProfileImportError:
        raise
    except DigestError as error:
        raise ProfileImportError(str(error)) from None


# -- storing ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class ImportResult:
    """What :func:`import_into` changed for one subscriber."""

    subscriber: str
    importer: str | None
    ref: str | None
    #: papers the import listed (repeats counted once)
    found: int
    #: ids newly liked
    added: tuple[str, ...]
    #: ids this import had contributed and no longer lists (or the subscriber now dislikes)
    removed: tuple[str, ...]
    #: ids left out because the subscriber disliked them
    disliked: tuple[str, ...]
    #: how many papers the subscriber likes now
    liked: int

    def summary(self) -> str:
        source = f"{self.importer}:{self.ref}" if self.importer else "the list"
        parts = [f"{plural(self.found, 'paper')} from {source}", f"{len(self.added)} newly liked"]
        if self.removed:
            parts.append(f"{len(self.removed)} no longer listed")
        if self.disliked:
            parts.append(f"{len(self.disliked)} disliked left out")
        return f"{self.subscriber}: {', '.join(parts)}; {self.liked} liked in all"


def find_subscriber(store: Store, name: str) -> StoredSubscriber:
    """The stored subscriber called ``name``; one-line errors for unknown or config-defined."""
    stored = next((s for s in store.subscribers() if s.subscriber.name == name), None)
    if stored is None:
        raise ProfileImportError(f"no subscriber named {name!r}")
    if stored.origin == "config":
        raise ProfileImportError(
            f"subscriber {name!r} is defined in the config file; add liked papers there "
            "(liked = [...])"
        )
    return stored


def import_into(
    store: Store,
    subscriber_name: str,
    papers: Sequence[Paper],
    *,
    importer: str | None = None,
    ref: str | None = None,
    options: Mapping[str, str] | None = None,
    now: dt.datetime,
) -> ImportResult:
    """Store ``papers`` as library references and add them to the subscriber's ``liked``.

    With ``importer`` and ``ref`` the import is tracked: recorded in ``profile_imports`` with
    ``options`` and the ids it contributed, and a later call for the same (importer, ref) —
    a resync — takes back what it contributed and no longer lists. Without, the papers are
    simply added (an upload, a pasted list). Either way a paper the subscriber disliked is
    left out, and papers liked by hand stay liked.
    """
    from digest.library import merge_liked
    from digest.store import LIBRARY_SOURCE

    if (importer is None) != (ref is None):
        raise ValueError("import_into: give importer and ref together, or neither")
    stored = find_subscriber(store, subscriber_name)
    papers = ProfileImporter.unique(papers)
    ids = [str(p.id) for p in papers]
    profile = stored.subscriber.profile
    feedback = store.feedback([stored.id]).get(stored.id, [])
    disliked = set(profile.disliked) | {f.paper_id for f in feedback if f.kind == "less"}
    liked = set(profile.liked)

    recorded = store.profile_imports(subscriber_id=stored.id) if importer else []
    this = next((r for r in recorded if (r.importer, r.ref) == (importer, ref)), None)
    owned = set(this.papers) if this is not None else set()
    others = {p for r in recorded if r is not this for p in r.papers}

    wanted = [i for i in ids if i not in disliked]
    # Ours: what this import added, or already owned, or shares with another import. A paper
    # liked by hand before any import listed it is never ours, so never taken back.
    ours = [i for i in wanted if i in owned or i not in liked or i in others]
    wanted_set = set(wanted)
    gone = owned - wanted_set - others
    removed = tuple(i for i in profile.liked if i in gone)
    kept = [i for i in profile.liked if i not in gone]
    new_liked = merge_liked(kept, [p for p in papers if str(p.id) in wanted_set])

    store.upsert_papers(papers, source=LIBRARY_SOURCE, now=now)
    if importer is not None and ref is not None:
        # Recorded before the profile changes: after a crash in between, the next sync only
        # finds ids it owns that are not liked, which is harmless.
        store.save_profile_import(
            subscriber_id=stored.id,
            importer=importer,
            ref=ref,
            options=options or {},
            papers=ours,
            now=now,
        )
    if new_liked != profile.liked:
        sub = stored.subscriber
        updated = replace(sub, profile=replace(profile, liked=new_liked))
        store.save_subscribers([updated], origin=stored.origin, now=now)
    return ImportResult(
        subscriber=subscriber_name,
        importer=importer,
        ref=ref,
        found=len(papers),
        added=tuple(i for i in wanted if i not in liked),
        removed=removed,
        disliked=tuple(i for i in ids if i in disliked),
        liked=len(new_liked),
    )


def run_import(
    store: Store,
    subscriber_name: str,
    importer: ProfileImporter,
    ref: str,
    http: ImportHTTP,
    *,
    options: Mapping[str, str] | None = None,
    now: dt.datetime,
) -> ImportResult:
    """Validate ``ref``, read it with ``importer`` and :func:`import_into` the subscriber."""
    find_subscriber(store, subscriber_name)  # before any request
    ref = importer.validate(ref)
    papers = importer.read(ref, http, options=dict(options or {}))
    return import_into(
        store, subscriber_name, papers, importer=importer.name, ref=ref, options=options, now=now
    )


#: called by :func:`sync_imports` after each import: the import, its result or its error
SyncCallback = Callable[["StoredImport", "ImportResult | None", "str | None"], None]


def sync_imports(
    store: Store,
    importers: Mapping[str, ProfileImporter | type[ProfileImporter]],
    http: ImportHTTP,
    *,
    now: dt.datetime,
    subscriber: str | None = None,
    on_result: SyncCallback | None = None,
) -> list[str]:
    """Re-run every recorded import (of ``subscriber``, or all); return the problems.

    ``importers`` is :meth:`PluginHost.profile_importers` (or instances, e.g. pointed at a
    test server). An import that fails — its importer gone, the service down, the library
    made private — has its error kept in ``profile_imports.error`` and keeps what it
    contributed; the others go on. Subscribers who unsubscribed are left alone.
    """
    gone = {
        s.id
        for s in store.subscribers()
        if s.unsubscribed or getattr(s, "status", "active") in ("unsubscribed", "deleted")
    }
    problems: list[str] = []
    for item in store.profile_imports():
        if item.subscriber_id in gone or (subscriber and item.subscriber != subscriber):
            continue
        result: ImportResult | None = None
        error: str | None = None
        try:
            importer = make_importer(importers, item.importer)
            result = run_import(
                store, item.subscriber, importer, item.ref, http, options=item.options, now=now
            )
        except Exception as failure:  # one import never stops the others
            error = describe(failure)
            if not isinstance(failure, DigestError):
                error = f"{item.importer} {item.ref}: {error}"
            store.record_profile_import_error(item.id, error, now=now)
            problems.append(f"{item.subscriber}: {error}")
        if on_result is not None:
            on_result(item, result, error)
    return problems
