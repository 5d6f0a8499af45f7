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
    """List installed plugins: version, hooks, the components each registers and whether
    each can run here, and any load error."""
    from digest.application import Application

    infos = Application.from_path(config).host.plugin_infos()
    if not show_all:
        infos = [i for i in infos if not i.builtin]
    if as_json:
        click.echo(json.dumps([_row(i) for i in infos], indent=2))
        return
    if not infos:
        click.echo("No third-party plugins installed (--all lists the built-ins).")
    for info in infos:
        status = f"  ERROR: {info.error}" if info.error else ""
        click.echo(
            f"{info.name} {info.version or '?'}: {', '.join(info.hooks) or '(no hooks)'}{status}"
        )
        for c in info.components:
            aliases = f" (also {', '.join(c.aliases)}, deprecated)" if c.aliases else ""
            state = f"cannot run here: {c.unavailable}" if c.unavailable else "ok"
            click.echo(f"  {c.kind[:-1]} {c.name}{aliases}: {state}")


def _row(info: PluginInfo) -> dict[str, Any]:
    return {
        "name": info.name,
        "version": info.version,
        "hooks": list(info.hooks),
        "components": [
            {
                "kind": c.kind[:-1],
                "name": c.name,
                "aliases": list(c.aliases),
                "available": c.unavailable is None,
                "unavailable": c.unavailable,
            }
            for c in info.components
        ],
        "error": info.error,
    }
