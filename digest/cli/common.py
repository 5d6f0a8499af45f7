"""What the commands share: the ``--config``/``--strict`` options, the run summary and the
progress bar."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from digest.text import plural

if TYPE_CHECKING:
    from digest.config import LoadedConfig
    from digest.models import RunReport

F = TypeVar("F", bound=Callable[..., Any])

CONFIG_HELP = "TOML configuration file (default: the embedded demo configuration)."
#: the environment variable ``--config`` falls back to
CONFIG_ENV = "DIGEST_CONFIG"

config_only = click.option(
    "--config",
    "-c",
    "config",
    type=click.Path(path_type=Path, dir_okay=False),
    envvar=CONFIG_ENV,
    help=CONFIG_HELP,
)


def config_option(f: F) -> F:
    """``--config`` and ``--strict``, shared by the commands that build a pipeline."""
    return config_only(click.option("--strict", is_flag=True, help="Make plugin errors fatal.")(f))


def verbosity() -> int:
    """How many ``-v`` the command line has."""
    return int(click.get_current_context().find_root().params.get("verbose") or 0)


@contextmanager
def progress(enabled: bool) -> Iterator[Callable[[str, int, int], None] | None]:
    """A delivery progress bar on stderr, or ``None`` when ``enabled`` is false."""
    if not enabled:
        yield None
        return
    bar: Any = None

    def advance(phase: str, step: int, total: int) -> None:
        nonlocal bar
        if bar is None:
            bar = click.progressbar(
                length=total, label="Delivering", file=sys.stderr, show_pos=True, show_eta=True
            )
            bar.__enter__()
        bar.update(step)

    try:
        yield advance
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)


def summary(report: RunReport, loaded: LoadedConfig, default: bool, seconds: float) -> None:
    """What ``digest run`` prints: per source, per subscriber left out, and the totals."""
    echo = click.echo
    for warning in report.warnings:
        echo(f"Warning: {warning}")
    for s in report.sources:
        if s.error:
            echo(f"Source {s.name}: FAILED — {s.error}")
        else:
            echo(
                f"Source {s.name}: {plural(s.collected, 'paper')} collected ({s.new} new, "
                f"{s.updated} updated)"
            )
            if s.flag:
                echo(f"Warning: source {s.name}: {s.flag}")
    if report.resumed:
        resumed = plural(report.resumed, "interrupted delivery")
        echo(f"Resumed {resumed} from earlier editions")
    if report.queued and report.edition:
        echo(
            f"Queued {plural(report.queued, 'subscriber')} of edition {report.edition.id} for "
            "digest worker (digest queue status shows the progress)"
        )
    verb = "Would deliver" if report.dry_run else "Delivered"
    edition = f" in edition {report.edition.id}" if report.edition else ""
    echo(f"{verb} {plural(report.delivered, 'digest')}{edition}")
    for name, reason in sorted(report.skipped.items()):
        echo(f"Skipped {name}: {reason}")
    for name, reason in sorted(report.failed.items()):
        echo(f"Failed {name}: {reason}")
    for name, reason in sorted(report.deferred.items()):
        echo(f"Deferred {name}: {reason} (retried on the next run)")
    if report.paused and report.edition:
        echo(f"Edition {report.edition.id} is PAUSED; the next run resumes it")
    for problem in report.problems:
        echo(f"Problem in {problem.where}: {problem.message}")
    for line in report.list_health:
        echo(line)
    files = any(t.component == "files" for t in loaded.settings.deliverers.values())
    if report.delivered and not report.dry_run and files:
        where = loaded.output_dir
        note = " (embedded default: the current folder)" if default else ""
        echo(f"Files are under {where}{note}")
    echo(
        f"Done in {seconds:.1f} s: {report.delivered} delivered, {len(report.skipped)} skipped, "
        f"{len(report.failed)} failed, {plural(len(report.problems), 'problem')}"
    )
