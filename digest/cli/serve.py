"""``digest serve``: the web app and the edition scheduler under uvicorn."""

from __future__ import annotations

import copy
from pathlib import Path

import click

from digest.cli.common import config_option, verbosity


def register(cli: click.Group) -> None:
    cli.add_command(serve)


@click.command()
@config_option
@click.option("--host", help="Address to listen on (default: [serve] host).")
@click.option("--port", type=int, help="Port to listen on (default: [serve] port).")
@click.option("--no-scheduler", is_flag=True, help="Serve the web pages only; deliver nothing.")
def serve(
    config: Path | None, strict: bool, host: str | None, port: int | None, no_scheduler: bool
) -> None:
    """Run the service: scheduled editions, private feeds, unsubscribe, feedback, archive."""
    import uvicorn

    from digest.application import Application
    from digest.web.serve import build_app

    with Application.from_path(config, strict=strict) as application:
        settings = application.settings
        app = build_app(application, scheduler=settings.serve.scheduler and not no_scheduler)
        if settings.digest.secret_key == "change-me":
            click.echo(
                "Warning: [digest] secret_key is the default; links can be forged.", err=True
            )
        # Scheduled runs log one summary line each (digest.scheduler) next to uvicorn's own.
        log_config = copy.deepcopy(uvicorn.config.LOGGING_CONFIG)
        log_config["loggers"]["digest"] = {
            "handlers": ["default"],
            "level": "DEBUG" if verbosity() > 1 else "INFO",
            "propagate": False,
        }
        uvicorn.run(
            app,
            host=host or settings.serve.host,
            port=settings.serve.port if port is None else port,
            log_level="info",
            log_config=log_config,
            proxy_headers=True,
        )
