"""The ``digest`` command line, built in a factory (no import-time side effects).

One module per command or group (:mod:`~digest.cli.run` for run, preview and check;
:mod:`~digest.cli.serve`, :mod:`~digest.cli.subscribers`, :mod:`~digest.cli.sources`,
:mod:`~digest.cli.plugins`, :mod:`~digest.cli.rank`), each with a ``register(cli)``; what
they share is in :mod:`~digest.cli.common`. A command imports what it needs when it runs, so
building the command line stays cheap; plugins add commands through ``register_commands``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import click

from digest.cli import (
    bounces,
    doctor,
    init,
    plugins,
    prune,
    queue,
    rank,
    run,
    serve,
    sources,
    subscribers,
)
from digest.cli.common import CONFIG_ENV
from digest.errors import DigestError

__all__ = ["main", "make_cli"]

#: the modules whose ``register(cli)`` adds the built-in commands
COMMANDS = (init, run, serve, rank, plugins, subscribers, sources, bounces, doctor, prune, queue)


def make_cli(argv: Sequence[str] | None = None) -> click.Group:
    """Build the ``digest`` command group; plugins add commands via ``register_commands``.

    The plugins are those the config named by ``argv`` (default: ``sys.argv``) leaves enabled.
    """

    @click.group(context_settings={"help_option_names": ["-h", "--help"]})
    @click.version_option(package_name="papers-digest")
    @click.option("-v", "--verbose", count=True, help="More logging (-vv for debug).")
    def cli(verbose: int) -> None:
        """papers-digest: new research papers, picked for each subscriber, by email and RSS."""
        level = {0: logging.ERROR, 1: logging.INFO}.get(verbose, logging.DEBUG)
        logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")

    for module in COMMANDS:
        module.register(cli)
    _register_plugin_commands(cli, sys.argv[1:] if argv is None else argv)
    return cli


def _register_plugin_commands(cli: click.Group, argv: Sequence[str]) -> None:
    from digest.plugins import PluginHost

    disabled: Sequence[str] = ()
    with contextlib.suppress(Exception):  # the command itself reports a config it cannot read
        from digest.config import load_settings

        disabled = load_settings(config_path(argv), lenient=True).settings.plugins.disable
    with contextlib.suppress(DigestError):
        PluginHost.from_settings(disabled=disabled).call_each("register_commands", cli=cli)


def config_path(argv: Sequence[str]) -> Path | None:
    """The config file the command line names (``--config X``, ``--config=X``, ``-c X``),
    else ``$DIGEST_CONFIG``; ``None`` for the embedded default."""
    args = list(argv)
    for i, arg in enumerate(args):
        if arg == "--":
            break
        if arg in ("--config", "-c") and i + 1 < len(args):
            return Path(args[i + 1])
        if arg.startswith("--config="):
            return Path(arg.removeprefix("--config="))
    value = os.environ.get(CONFIG_ENV)
    return Path(value) if value else None


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point: expected errors become one line on stderr and a non-zero exit."""
    # Until -v configures logging, plugin warnings surface in the run summary, not as
    # stray stderr lines.
    logging.getLogger("digest").addHandler(logging.NullHandler())
    args = list(argv) if argv is not None else None
    cli = make_cli(args)
    try:
        cli.main(args=args, standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        raise SystemExit(130) from None
    except click.ClickException as error:
        error.show()
        raise SystemExit(error.exit_code) from None
    except DigestError as error:
        for line in str(error).splitlines() or [type(error).__name__]:
            click.echo(f"Error: {line}", err=True)
        raise SystemExit(1) from None
    except SystemExit:
        raise
