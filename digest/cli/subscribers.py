"""``digest subscribers import|list|like|sync|remove``: the subscribers kept in the store."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import click

from digest.cli.common import config_option
from digest.errors import DigestError
from digest.text import plural

if TYPE_CHECKING:
    from digest.store import StoredSubscriber


def register(cli: click.Group) -> None:
    cli.add_command(subscribers)


@click.group()
def subscribers() -> None:
    """Import, list and remove subscribers."""


@subscribers.command("import")
@config_option
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
def import_(config: Path | None, strict: bool, file: Path) -> None:
    """Import subscribers from a JSON Lines FILE (all or nothing).

    Addresses on the suppression list (bounced, complained or unsubscribed) are not imported
    as new subscribers: each such line is reported; the person must confirm again."""
    from digest.application import Application
    from digest.store import utcnow
    from digest.store.codecs import email_key
    from digest.subscribers import parse_subscriber_lines

    with Application.from_path(config, strict=strict) as app:
        reserved = frozenset(app.settings.subscribers)
        lines = parse_subscriber_lines(file, reserved=reserved)
        known = {s.subscriber.name for s in app.store.subscribers()}
        suppressed = app.store.suppressed([email_key(s.email) or "" for _, s in lines])
        keep, left_out = [], []
        for number, sub in lines:
            hit = suppressed.get(email_key(sub.email) or "")
            if hit is not None and sub.name not in known:
                left_out.append(f"{file}:{number}: {sub.name}: address suppressed ({hit.reason})")
            else:
                keep.append(sub)
        if keep:
            app.store.save_subscribers(keep, origin="import", now=utcnow())
    click.echo(f"Imported {plural(len(keep), 'subscriber')} from {file}")
    if left_out:
        click.echo(
            f"Not imported, {plural(len(left_out), 'suppressed address', 'suppressed addresses')}"
            " (bounced, complained or unsubscribed; they must confirm again):"
        )
        for line in left_out:
            click.echo(f"  {line}")


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
                        "status": _status(r),
                        "unsubscribed": r.unsubscribed,
                        "channels": list(r.subscriber.channels),
                    }
                    for r in rows
                    if r.status != "deleted"
                ],
                indent=2,
            )
        )
        return
    for r in rows:
        if r.status == "deleted":
            continue
        sub = r.subscriber
        click.echo(
            f"{sub.name}\t{sub.email or '-'}\t{r.origin}\t{_status(r)}\t"
            f"{','.join(sub.channels)}\t{sub.schedule} {sub.timezone}"
        )


def _status(row: StoredSubscriber) -> str:
    """pending (not confirmed), active, bounced (no email until they confirm again),
    inactive (``active = false``) or unsubscribed."""
    if row.unsubscribed:
        return "unsubscribed"
    if row.pending:
        return "pending"
    if row.bounced:
        return "bounced"
    return "active" if row.subscriber.active else "inactive"


@subscribers.command("like")
@config_option
@click.argument("name")
@click.argument("library", required=False, type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["bibtex", "zotero-csv", "zotero-rdf"]),
    help="Library format (default: from the file).",
)
@click.option(
    "--from",
    "source",
    metavar="IMPORTER:REF",
    help="Import from a service instead of a file, and keep it for 'digest subscribers sync': "
    "zotero:users/123456, orcid:0000-0002-1825-0097, arxiv-author:Hinton_G, "
    "semantic-scholar:1741101.",
)
@click.option(
    "--api-key-env",
    metavar="VAR",
    help="With --from: the environment variable holding the service's API key (a private "
    "Zotero library); the variable's name is kept for syncing, never the key.",
)
def like(
    config: Path | None,
    strict: bool,
    name: str,
    library: Path | None,
    fmt: str | None,
    source: str | None,
    api_key_env: str | None,
) -> None:
    """Add the papers of a BibTeX or Zotero export (FILE), or of a Zotero library, ORCID
    record, arXiv author or Semantic Scholar author (--from), to NAME's liked papers."""
    from digest.application import Application
    from digest.importers import ImportHTTP, import_into, make_importer, parse_from, run_import
    from digest.library import read_library
    from digest.store import utcnow

    if (library is None) == (source is None):
        raise click.UsageError("give a library FILE or --from IMPORTER:REF (one of them)")
    if api_key_env and source is None:
        raise click.UsageError("--api-key-env goes with --from")
    with Application.from_path(config, strict=strict) as app:
        if name in app.settings.subscribers:
            raise DigestError(
                f"subscriber {name!r} is defined in {app.loaded.source}; "
                "add liked papers there (liked = [...])"
            )
        now = utcnow()
        if source is not None:
            importer_name, ref = parse_from(source)
            importer = make_importer(app.host.profile_importers(), importer_name)
            options = {"api_key_env": api_key_env} if api_key_env else {}
            with ImportHTTP.from_settings(app.settings.fetch) as http:
                result = run_import(app.store, name, importer, ref, http, options=options, now=now)
            click.echo(result.summary())
            return
        assert library is not None
        found = read_library(library, fmt)
        result = import_into(app.store, name, found.papers, now=now)
    disliked = f", {len(result.disliked)} disliked left out" if result.disliked else ""
    click.echo(
        f"{name}: {plural(len(found.papers), 'liked paper')} from {library} "
        f"({plural(found.skipped, 'entry')} without an arXiv id or DOI skipped{disliked}); "
        f"{result.liked} liked in all"
    )


@subscribers.command("sync")
@config_option
@click.option("--subscriber", "only", metavar="NAME", help="Only this subscriber's imports.")
def sync(config: Path | None, strict: bool, only: str | None) -> None:
    """Import again what every 'like --from' import lists now: papers it no longer lists are
    no longer liked; papers liked by hand and dislikes stay."""
    from digest.application import Application
    from digest.importers import ImportHTTP, ImportResult, sync_imports
    from digest.store import utcnow
    from digest.store.imports import StoredImport

    done: list[bool] = []

    def report(item: StoredImport, result: ImportResult | None, error: str | None) -> None:
        done.append(result is not None)
        if result is not None:
            click.echo(result.summary())
        else:
            click.echo(f"{item.subscriber}: {item.importer}:{item.ref} failed: {error}", err=True)

    with Application.from_path(config, strict=strict) as app:
        importers = app.host.profile_importers()
        with ImportHTTP.from_settings(app.settings.fetch) as http:
            sync_imports(
                app.store, importers, http, now=utcnow(), subscriber=only, on_result=report
            )
    if not done:
        click.echo("No imports to sync (add one with 'digest subscribers like NAME --from ...')")
        return
    click.echo(f"Synced {sum(done)} of {len(done)} imports")
    if not all(done):
        raise SystemExit(1)


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
