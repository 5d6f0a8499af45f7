"""``digest subscribers import|list|like|remove``: the subscribers kept in the store."""

from __future__ import annotations

import json
from pathlib import Path

import click

from digest.cli.common import config_option
from digest.errors import DigestError


def register(cli: click.Group) -> None:
    cli.add_command(subscribers)


@click.group()
def subscribers() -> None:
    """Import, list and remove subscribers."""


@subscribers.command("import")
@config_option
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
def import_(config: Path | None, strict: bool, file: Path) -> None:
    """Import subscribers from a JSON Lines FILE (all or nothing)."""
    from digest.application import Application
    from digest.store import utcnow
    from digest.subscribers import parse_subscribers_file

    with Application.from_path(config, strict=strict) as app:
        reserved = frozenset(app.settings.subscribers)
        found = parse_subscribers_file(file, reserved=reserved)
        app.store.save_subscribers(found, origin="import", now=utcnow())
    click.echo(f"Imported {len(found)} subscriber{'s' if len(found) != 1 else ''} from {file}")


@subscribers.command("list")
@config_option
@click.option("--json", "as_json", is_flag=True)
def list_(config: Path | None, strict: bool, as_json: bool) -> None:
    """List subscribers known to the store and the config file."""
    from digest.application import Application
    from digest.store import utcnow

    with Application.from_path(config, strict=strict) as app:
        app.pipeline.sync_config_subscribers(utcnow())
        rows = app.store.subscribers()
    if as_json:
        click.echo(
            json.dumps(
                [
                    {
                        "name": r.subscriber.name,
                        "email": r.subscriber.email,
                        "origin": r.origin,
                        "unsubscribed": r.unsubscribed,
                        "channels": list(r.subscriber.channels),
                    }
                    for r in rows
                ],
                indent=2,
            )
        )
        return
    for r in rows:
        sub = r.subscriber
        state = "unsubscribed" if r.unsubscribed else ("inactive" if not sub.active else "active")
        click.echo(
            f"{sub.name}\t{sub.email or '-'}\t{r.origin}\t{state}\t"
            f"{','.join(sub.channels)}\t{sub.schedule} {sub.timezone}"
        )


@subscribers.command("like")
@config_option
@click.argument("name")
@click.argument("library", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["bibtex", "zotero-csv", "zotero-rdf"]),
    help="Library format (default: from the file).",
)
def like(config: Path | None, strict: bool, name: str, library: Path, fmt: str | None) -> None:
    """Add the papers of a BibTeX or Zotero export to NAME's liked papers."""
    from dataclasses import replace

    from digest.application import Application
    from digest.library import merge_liked, read_library
    from digest.store import LIBRARY_SOURCE, utcnow

    with Application.from_path(config, strict=strict) as app:
        if name in app.settings.subscribers:
            raise DigestError(
                f"subscriber {name!r} is defined in {app.loaded.source}; "
                "add liked papers there (liked = [...])"
            )
        store = app.store
        stored = next((s for s in store.subscribers() if s.subscriber.name == name), None)
        if stored is None:
            raise DigestError(f"no subscriber named {name!r}")
        found = read_library(library, fmt)
        now = utcnow()
        store.upsert_papers(found.papers, source=LIBRARY_SOURCE, now=now)
        sub = stored.subscriber
        liked = merge_liked(sub.profile.liked, found.papers)
        updated = replace(sub, profile=replace(sub.profile, liked=liked))
        store.save_subscribers([updated], origin=stored.origin, now=now)
    click.echo(
        f"{name}: {len(found.papers)} liked papers from {library} "
        f"({found.skipped} entries without an arXiv id or DOI skipped); "
        f"{len(liked)} liked in all"
    )


@subscribers.command("remove")
@config_option
@click.argument("name")
def remove(config: Path | None, strict: bool, name: str) -> None:
    """Remove an imported subscriber."""
    from digest.application import Application

    with Application.from_path(config, strict=strict) as app:
        if name in app.settings.subscribers:
            raise DigestError(
                f"subscriber {name!r} is defined in {app.loaded.source}; remove it there"
            )
        if app.store.remove_subscriber(name) is None:
            raise DigestError(f"no subscriber named {name!r}")
    click.echo(f"Removed {name}")
