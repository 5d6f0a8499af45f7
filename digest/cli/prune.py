"""``digest prune``: old ledger rows and bounce events removed, as ``[retention]`` says."""

from __future__ import annotations

from pathlib import Path

import click

from digest.cli.common import config_option


def register(cli: click.Group) -> None:
    cli.add_command(prune)


@click.command()
@config_option
@click.option("--dry-run", is_flag=True, help="Count what would be pruned; delete nothing.")
def prune(config: Path | None, strict: bool, dry_run: bool) -> None:
    """Remove the selections and deliveries of complete editions older than [retention]
    ledger_days (then the editions), and bounce events older than bounce_events_days.

    Open and paused editions are never touched (a resumed run needs their rows), nor are
    the subscribers' watermarks, which keep every paper from being sent twice. Safe to run
    from cron while digests go out; digest serve runs it once a day."""
    from digest.application import Application
    from digest.store.retention import Retention

    with Application.from_path(config, strict=strict) as app:
        retention = Retention.from_settings(app.store, app.settings)
        done = retention.prune(dry_run=dry_run)
    click.echo(done.summary())
