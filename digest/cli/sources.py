"""``digest sources``: each source's health."""

from __future__ import annotations

from pathlib import Path

import click

from digest.cli.common import config_option


def register(cli: click.Group) -> None:
    cli.add_command(sources)


@click.command()
@config_option
def sources(config: Path | None, strict: bool) -> None:
    """Show each source's health: last success and error, papers per run, warnings."""
    from digest.application import Application

    with Application.from_path(config, strict=strict) as app:
        health = {h.source: h for h in app.store.source_health()}
        names = list(app.settings.sources)
    for name in names:
        h = health.get(name)
        if h is None:
            click.echo(f"{name}: never run")
            continue
        state = "FAILING" if h.failing else ("WARNING" if h.flag else "ok")
        ok = f"{h.last_success:%Y-%m-%d %H:%M} UTC" if h.last_success else "never"
        recent = ", ".join(map(str, h.recent[:5])) or "-"
        click.echo(f"{name}: {state}; last success {ok}; papers per run (newest first): {recent}")
        if h.last_error:
            click.echo(f"  last error {h.last_error_at:%Y-%m-%d %H:%M} UTC: {h.last_error}")
        if h.flag:
            click.echo(f"  warning: {h.flag}")
