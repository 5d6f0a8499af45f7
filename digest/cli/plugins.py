"""``digest plugins``: the installed plugins and what they register."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from digest.cli.common import config_only

if TYPE_CHECKING:
    from digest.plugins import PluginInfo


def register(cli: click.Group) -> None:
    cli.add_command(plugins)


@click.command()
@click.option("--all", "show_all", is_flag=True, help="Include the built-in plugins.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@config_only
def plugins(show_all: bool, as_json: bool, config: Path | None) -> None:
    """List installed plugins with version, hooks and any load error."""
    from digest.application import Application

    infos = Application.from_path(config).host.plugin_infos()
    if not show_all:
        infos = [i for i in infos if not _builtin(i)]
    rows: list[dict[str, Any]] = [
        {"name": i.name, "version": i.version, "hooks": list(i.hooks), "error": i.error}
        for i in infos
    ]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo("No third-party plugins installed (--all lists the built-ins).")
    for row in rows:
        status = f"  ERROR: {row['error']}" if row["error"] else ""
        click.echo(
            f"{row['name']} {row['version'] or '?'}: "
            f"{', '.join(row['hooks']) or '(no hooks)'}{status}"
        )


def _builtin(info: PluginInfo) -> bool:
    return bool(info.distribution == "papers-digest")
