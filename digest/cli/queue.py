"""``digest worker`` and ``digest queue``: the distributed fan-out (``[queue] backend =
"procrastinate"``)."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from digest.cli.common import config_option
from digest.errors import DigestError
from digest.text import plural

if TYPE_CHECKING:
    from digest.application import Application


def register(cli: click.Group) -> None:
    cli.add_command(worker)
    cli.add_command(queue)


@click.command()
@config_option
@click.option(
    "--concurrency",
    "-n",
    type=click.IntRange(1, 256),
    default=1,
    show_default=True,
    help="Worker processes (one chunk each at a time; about one per core).",
)
def worker(config: Path | None, strict: bool, concurrency: int) -> None:
    """Run chunk tasks of queued editions until stopped (SIGTERM finishes the chunk in hand)."""
    from digest.application import Application
    from digest.queue.schema import ensure_schema
    from digest.queue.worker import serve

    with Application.from_path(config, strict=strict) as app:
        _need_queue(app)
        ensure_schema(app.store, app.settings.queue)
    raise SystemExit(serve(config, concurrency))


@click.group()
def queue() -> None:
    """The queue of chunk tasks: its schema, status, pausing and resuming editions."""


def _need_queue(app: Application) -> None:
    if app.settings.queue.backend != "procrastinate":
        raise DigestError(
            f'{app.loaded.source}: [queue] backend is "{app.settings.queue.backend}"; set '
            'backend = "procrastinate" (with a PostgreSQL [digest] database) to use the queue'
        )


@queue.command("migrate")
@config_option
def migrate(config: Path | None, strict: bool) -> None:
    """Create procrastinate's tables in the store's PostgreSQL database (idempotent)."""
    from digest.application import Application
    from digest.queue.schema import ensure_schema

    with Application.from_path(config, strict=strict) as app:
        _need_queue(app)
        created = ensure_schema(app.store, app.settings.queue)
    click.echo("Queue schema created." if created else "Queue schema is up to date.")


@queue.command("status")
@config_option
@click.option("--limit", default=5, show_default=True, help="Editions to show.")
def status(config: Path | None, strict: bool, limit: int) -> None:
    """Queued, running, failed and stalled chunks per edition, and failed chunks' errors."""
    from digest.application import Application
    from digest.queue import work as q
    from digest.queue.schema import ensure_schema, stalled_chunks

    with Application.from_path(config, strict=strict) as app:
        _need_queue(app)
        ensure_schema(app.store, app.settings.queue)
        store = app.store
        shown = q.queued_editions(store)[:limit]
        if not shown:
            click.echo("No queued editions.")
            return
        stalled = asyncio.run(stalled_chunks(app))
        for edition_id, edition_status in shown:
            chunks = q.chunks_of(store, edition_id)
            counts = {s: sum(1 for c in chunks if c.status == s) for s in q.STATES}
            lost = sum(1 for c in chunks if (edition_id, c.first) in stalled)
            people = sum(c.size for c in chunks)
            finished = sum(c.size for c in chunks if c.status in (q.DONE, q.FAILED))
            click.echo(
                f"Edition {edition_id} ({edition_status}): {plural(len(chunks), 'chunk')} — "
                f"{counts[q.QUEUED]} queued, {counts[q.RUNNING] - lost} running, "
                f"{lost} stalled, {counts[q.DONE]} done, {counts[q.FAILED]} failed; "
                f"{finished:,} of {people:,} subscribers finished"
            )
            for c in chunks:
                if c.status == q.FAILED:
                    click.echo(
                        f"  Failed subscribers {c.first}–{c.last} after "
                        f"{plural(c.attempts, 'attempt')}: {c.error}"
                    )
                elif c.error:
                    click.echo(
                        f"  Retrying subscribers {c.first}–{c.last} (attempt {c.attempts + 1}): "
                        f"{c.error}"
                    )
                elif (edition_id, c.first) in stalled:
                    click.echo(
                        f"  Stalled subscribers {c.first}–{c.last}: worker {c.worker} stopped "
                        "answering; the chunk runs again shortly"
                    )


@queue.command("pause")
@config_option
@click.argument("edition")
def pause(config: Path | None, strict: bool, edition: str) -> None:
    """Pause EDITION: every worker stops sending it within seconds; claimed rows wait."""
    from digest.application import Application
    from digest.queue import work as q

    with Application.from_path(config, strict=strict) as app:
        _need_queue(app)
        if not q.set_paused(app.store, edition, True):
            raise DigestError(f"edition {edition!r} is not open (see digest queue status)")
    click.echo(f"Edition {edition} paused; digest queue resume {edition} continues it.")


@queue.command("resume")
@config_option
@click.argument("edition")
def resume(config: Path | None, strict: bool, edition: str) -> None:
    """Resume a paused EDITION: its chunks are queued again (what was sent stays sent)."""
    from digest.application import Application
    from digest.queue import dispatch
    from digest.queue import work as q

    with Application.from_path(config, strict=strict) as app:
        _need_queue(app)
        if not q.set_paused(app.store, edition, False):
            raise DigestError(f"edition {edition!r} is not paused (see digest queue status)")
        count = dispatch.requeue(app.pipeline, edition)
    click.echo(f"Edition {edition} resumed: {plural(count, 'chunk')} queued again.")
    sys.stdout.flush()
