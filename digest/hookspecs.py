"""Every hook a plugin can implement.

Plugins import only :data:`digest.hookimpl` and implement any of these by name. Hooks may gain
arguments in later versions but never lose or rename one; pluggy passes an implementation only
the arguments it asks for, so plugins written today keep working. ``tests/test_hookspecs.py``
snapshots these signatures.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    import click
    import jinja2

    from digest.components import Deliverer, Enricher, Filter, Ranker, Renderer, Source
    from digest.importers import ProfileImporter
    from digest.models import Edition, RunReport

PROJECT = "digest"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def register_sources() -> list[type[Source]]:  # type: ignore[empty-body]
    """Return source classes this plugin provides.

    Each class needs a unique ``name`` (what ``component = "…"`` in ``[sources.<instance>]``
    refers to) and a ``Config`` model. Example::

        @hookimpl
        def register_sources():
            return [BiorxivSource]

    .. versionadded:: 0.1
    """


@hookspec
def register_filters() -> list[type[Filter]]:  # type: ignore[empty-body]
    """Return filter classes; a subscriber's candidates must pass every configured filter.

    .. versionadded:: 0.1
    """


@hookspec
def register_rankers() -> list[type[Ranker]]:  # type: ignore[empty-body]
    """Return ranker classes; configured rankers' scores are combined by weight.

    .. versionadded:: 0.1
    """


@hookspec
def register_enrichers() -> list[type[Enricher]]:  # type: ignore[empty-body]
    """Return enricher classes: per-paper work done once per paper version (a TL;DR, code
    links, thumbnails), run after collection and before selection for every configured
    ``[enrichers.<instance>]`` table.

    .. versionadded:: 0.1
    """


@hookspec
def register_renderers() -> list[type[Renderer]]:  # type: ignore[empty-body]
    """Return renderer classes; each renders one channel (``email``, ``feed`` …).

    .. versionadded:: 0.1
    """


@hookspec
def register_deliverers() -> list[type[Deliverer]]:  # type: ignore[empty-body]
    """Return deliverer classes; each serves the channels it lists.

    .. versionadded:: 0.1
    """


@hookspec
def register_profile_importers() -> list[type[ProfileImporter]]:  # type: ignore[empty-body]
    """Return profile importer classes: each turns a reference a researcher has (a Zotero
    library, an ORCID iD, an arXiv author) into papers they like.

    Each class needs a unique ``name`` (what ``--from <name>:<ref>`` refers to) and subclasses
    :class:`digest.importers.ProfileImporter`; importers are not configured components (no
    ``[importers.x]`` tables). A name taken twice goes to the built-in plugin, else to the
    plugin registered first. Example::

        @hookimpl
        def register_profile_importers():
            return [OpenReviewImporter]

    .. versionadded:: 0.1
    """


@hookspec
def register_commands(cli: click.Group) -> None:
    """Add commands to the ``digest`` CLI group.

    :param cli: the click group; use ``@cli.command()`` inside the implementation.

    .. versionadded:: 0.1
    """


@hookspec
def prepare_jinja_env(env: jinja2.Environment) -> None:
    """Adjust the Jinja environment every renderer uses (filters, globals).

    :param env: autoescaping, ``StrictUndefined`` environment, created once per run.

    .. versionadded:: 0.1
    """


@hookspec
def before_run(edition: Edition | None, dry_run: bool) -> None:
    """Called once before a run collects anything.

    :param edition: the edition this run will deliver, ``None`` before it exists.
    :param dry_run: ``True`` when nothing will be delivered or recorded.

    .. versionadded:: 0.1
    """


@hookspec
def after_run(report: RunReport) -> None:
    """Called once with the run report after every delivery is recorded.

    .. versionadded:: 0.1
    """


@hookspec
def on_component_error(component: str, error: BaseException) -> None:
    """Called when a component (``sources.arxiv``, ``rankers.tfidf`` …) or a hook raised.

    The run goes on without it; use this to alert. It must not raise.

    .. versionadded:: 0.1
    """
