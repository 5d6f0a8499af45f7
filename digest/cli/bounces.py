"""``digest bounces``: bounce and complaint counts, and ``digest bounces ingest``."""

from __future__ import annotations

from pathlib import Path

import click

from digest.cli.common import config_option
from digest.text import plural


def register(cli: click.Group) -> None:
    cli.add_command(bounces)


@click.group(invoke_without_command=True)
@config_option
@click.option("--limit", default=10, show_default=True, help="Rows per table.")
@click.pass_context
def bounces(ctx: click.Context, config: Path | None, strict: bool, limit: int) -> None:
    """Bounces and complaints per edition and per recipient domain, and the latest ones."""
    if ctx.invoked_subcommand is not None:
        return
    from digest.application import Application

    with Application.from_path(config, strict=strict) as app:
        editions = app.store.bounce_counts(by="edition", limit=limit)
        domains = app.store.bounce_counts(by="domain", limit=limit)
        latest = app.store.bounce_events(limit=limit)
    if not latest:
        click.echo("No bounces or complaints recorded.")
        return
    click.echo("Per edition (newest first): hard / soft / complaints / ignored")
    for c in editions:
        click.echo(f"  {c.name}: {c.hard} / {c.soft} / {c.complaints} / {c.ignored}")
    click.echo("Per recipient domain (most first): hard / soft / complaints / ignored")
    for c in domains:
        click.echo(f"  {c.name}: {c.hard} / {c.soft} / {c.complaints} / {c.ignored}")
    click.echo("Latest:")
    for e in latest:
        who = e["subscriber"] or "-"
        status = f" {e['status']}" if e["status"] else ""
        click.echo(
            f"  {e['at']:%Y-%m-%d %H:%M} {e['kind']}{status} via {e['origin']} "
            f"for {who} at {e['domain'] or '?'}: {e['outcome']}"
        )


@bounces.command("ingest")
@config_option
@click.argument("paths", nargs=-1, required=True)
def ingest_(config: Path | None, strict: bool, paths: tuple[str, ...]) -> None:
    """Read bounces, complaints and auto-replies from mbox files, Maildir folders, .eml files
    or standard input ("-"), and record each once: a hard bounce stops email to that
    subscriber, a complaint unsubscribes them."""
    from digest.application import Application
    from digest.bounces.intake import book_for, ingest
    from digest.store import utcnow

    with Application.from_path(config, strict=strict) as app:
        done = ingest(book_for(app.store, app.settings), paths, now=utcnow())
    click.echo(
        f"Read {plural(done.messages, 'message')} from {plural(len(paths), 'source')}: "
        f"{done.tally.summary()}"
    )


@bounces.command("poll")
@config_option
def poll(config: Path | None, strict: bool) -> None:
    """Read the bounce mailbox of [bounces.mailbox] once (digest serve polls it on its own):
    each message is recorded, then deleted or flagged."""
    from digest.application import Application
    from digest.bounces.intake import book_for
    from digest.bounces.mailbox import poll_mailbox
    from digest.errors import DigestError
    from digest.store import utcnow

    with Application.from_path(config, strict=strict) as app:
        mailbox = app.settings.bounces.mailbox
        if mailbox is None:
            raise DigestError(f"{app.loaded.source}: no [bounces.mailbox] to poll")
        done = poll_mailbox(mailbox, book_for(app.store, app.settings), now=utcnow())
    click.echo(
        f"Read {plural(done.messages, 'message')} from {mailbox.protocol}://{mailbox.host}: "
        f"{done.tally.summary()}"
    )
