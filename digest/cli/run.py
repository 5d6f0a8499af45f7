"""``digest run``, ``digest preview`` and ``digest check``."""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import click

from digest.cli.common import config_option, progress, summary, verbosity
from digest.errors import DigestError
from digest.text import plural

if TYPE_CHECKING:
    from digest.application import Application
    from digest.models import Artifact, Selection


def register(cli: click.Group) -> None:
    cli.add_command(run)
    cli.add_command(check)
    cli.add_command(preview)


@click.command()
@config_option
@click.option("--subscriber", "-s", help="Only this subscriber.")
@click.option("--dry-run", is_flag=True, help="Select and render, but deliver and record nothing.")
@click.option(
    "--due", is_flag=True, help="Only subscribers whose schedule fired since their last digest."
)
@click.option(
    "--no-wait",
    is_flag=True,
    help='[queue] backend = "procrastinate": return once the chunks are queued.',
)
def run(
    config: Path | None,
    strict: bool,
    subscriber: str | None,
    dry_run: bool,
    due: bool,
    no_wait: bool,
) -> None:
    """Collect new papers and deliver one edition (cron-friendly, idempotent)."""
    from digest.application import Application
    from digest.pipeline import RunOptions

    with Application.from_path(config, strict=strict) as app:
        pipeline = app.pipeline
        known_subscriber(app, subscriber)
        started = time.perf_counter()
        with progress(sys.stderr.isatty()) as advance:
            report = pipeline.run(
                RunOptions(
                    subscriber=subscriber,
                    dry_run=dry_run,
                    due_only=due,
                    progress=advance,
                    wait=not no_wait,
                )
            )
        summary(report, app.loaded, config is None, time.perf_counter() - started)
        if verbosity():
            for line in pipeline.timings():
                click.echo(f"  {line}", err=True)


@click.command()
@config_option
def check(config: Path | None, strict: bool) -> None:
    """Validate the configuration and plugins; print every problem found."""
    from digest.application import Application

    app = Application.from_path(config, lenient=True)
    problems, warnings = app.review()
    for line in problems:
        click.echo(line, err=True)
    for line in warnings:
        click.echo(f"Warning: {line}", err=True)
    if not problems:
        for line in app.notes():
            click.echo(f"Note: {line}", err=True)
    if problems or (strict and warnings):
        raise SystemExit(1)
    s = app.settings
    noted = f" with {plural(len(warnings), 'warning')}" if warnings else ""
    click.echo(
        f"{app.loaded.source}: OK{noted} — {plural(len(s.sources), 'source')}, "
        f"{plural(len(s.subscribers), 'subscriber')} in the file"
    )


@click.command()
@config_option
@click.argument("subscriber")
@click.option(
    "--output",
    "-o",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Where to write the HTML (default: preview-SUBSCRIBER.html).",
)
def preview(config: Path | None, strict: bool, subscriber: str, output: Path | None) -> None:
    """Render SUBSCRIBER's next digest to an HTML file, delivering nothing."""
    from digest.application import Application
    from digest.pipeline import RunOptions

    with Application.from_path(config, strict=strict) as app:
        pipeline = app.pipeline
        known_subscriber(app, subscriber)
        captured: dict[str, str] = {}

        def keep(selection: Selection, channel: str, artifacts: Sequence[Artifact]) -> None:
            captured.update({a.role: a.content for a in artifacts if a.role == "html"})

        report = pipeline.run(RunOptions(subscriber=subscriber, dry_run=True, on_rendered=keep))
    if "html" not in captured:
        reason = report.skipped.get(subscriber) or report.failed.get(f"{subscriber} (email)")
        raise DigestError(f"nothing to preview for {subscriber!r}: {reason or 'no email'}")
    target = output or Path(f"preview-{subscriber}.html")
    target.write_text(captured["html"], "utf-8")
    click.echo(str(target.resolve()))


def known_subscriber(app: Application, name: str | None) -> None:
    """Stop with one line when ``name`` is neither in the config nor in the store."""
    if name is None:
        return
    names = set(app.settings.subscribers)
    names.update(r.subscriber.name for r in app.store.subscribers())
    if name not in names:
        raise DigestError(f"no subscriber named {name!r}")
