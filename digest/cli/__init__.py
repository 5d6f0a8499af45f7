"""The ``digest`` command line, built in a factory (no import-time side effects)."""

from __future__ import annotations

import copy
import json
import logging
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path
from typing import Any

import click

from digest.errors import DigestError

CONFIG_HELP = "TOML configuration file (default: the embedded demo configuration)."


class _Context:
    """Lazily built host, settings and store for one command."""

    def __init__(self, config: Path | None, strict: bool, *, lenient: bool = False) -> None:
        self.config_path = config
        self.strict = strict
        self.lenient = lenient

    @cached_property
    def loaded(self) -> Any:
        from digest.config import load_settings

        return load_settings(self.config_path, lenient=self.lenient)

    @cached_property
    def host(self) -> Any:
        from digest.plugins import PluginHost

        plugins = self.loaded.settings.plugins
        return PluginHost(disabled=plugins.disable, strict=self.strict or plugins.strict)

    @cached_property
    def store(self) -> Any:
        from digest.store import Store

        return Store.open(self.loaded.database_url)

    def runtime(self) -> Any:
        from digest.wiring import make_runtime

        return make_runtime(self.loaded, self.host, features=self.store)

    def pipeline(self) -> Any:
        from digest.wiring import open_pipeline

        return open_pipeline(self.loaded, self.host, self.store)


_config = click.option(
    "--config",
    "-c",
    "config",
    type=click.Path(path_type=Path, dir_okay=False),
    envvar="DIGEST_CONFIG",
    help=CONFIG_HELP,
)


def config_option(f: Callable[..., Any]) -> Callable[..., Any]:
    """``--config`` and ``--strict``, shared by the commands that build a pipeline."""
    return _config(click.option("--strict", is_flag=True, help="Make plugin errors fatal.")(f))


@contextmanager
def _progress(enabled: bool) -> Iterator[Callable[[str, int, int], None] | None]:
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


def _summary(report: Any, loaded: Any, default: bool, seconds: float) -> None:
    echo = click.echo
    for s in report.sources:
        if s.error:
            echo(f"Source {s.name}: FAILED — {s.error}")
        else:
            echo(
                f"Source {s.name}: {s.collected} papers collected ({s.new} new, "
                f"{s.updated} updated)"
            )
            if s.flag:
                echo(f"Warning: source {s.name}: {s.flag}")
    if report.resumed:
        echo(f"Resumed {report.resumed} interrupted deliveries from earlier editions")
    verb = "Would deliver" if report.dry_run else "Delivered"
    edition = f" in edition {report.edition.id}" if report.edition else ""
    echo(f"{verb} {report.delivered} digest{'s' if report.delivered != 1 else ''}{edition}")
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
    files = any(t.component == "files" for t in loaded.settings.deliverers.values())
    if report.delivered and not report.dry_run and files:
        where = loaded.output_dir
        note = " (embedded default: the current folder)" if default else ""
        echo(f"Files are under {where}{note}")
    echo(
        f"Done in {seconds:.1f} s: {report.delivered} delivered, {len(report.skipped)} skipped, "
        f"{len(report.failed)} failed, {_count(len(report.problems), 'problem')}"
    )


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def make_cli() -> click.Group:
    """Build the ``digest`` command group; plugins add commands via ``register_commands``."""

    @click.group(context_settings={"help_option_names": ["-h", "--help"]})
    @click.version_option(package_name="papers-digest")
    @click.option("-v", "--verbose", count=True, help="More logging (-vv for debug).")
    def cli(verbose: int) -> None:
        """papers-digest: new research papers, picked for each subscriber, by email and RSS."""
        level = {0: logging.ERROR, 1: logging.INFO}.get(verbose, logging.DEBUG)
        logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")

    @cli.command()
    @config_option
    @click.option("--subscriber", "-s", help="Only this subscriber.")
    @click.option(
        "--dry-run", is_flag=True, help="Select and render, but deliver and record nothing."
    )
    @click.option(
        "--due", is_flag=True, help="Only subscribers whose schedule fired since their last digest."
    )
    def run(
        config: Path | None, strict: bool, subscriber: str | None, dry_run: bool, due: bool
    ) -> None:
        """Collect new papers and deliver one edition (cron-friendly, idempotent)."""
        from digest.pipeline import RunOptions

        ctx = _Context(config, strict)
        pipeline = ctx.pipeline()
        _known_subscriber(ctx, subscriber)
        started = time.perf_counter()
        with _progress(sys.stderr.isatty()) as progress:
            report = pipeline.run(
                RunOptions(subscriber=subscriber, dry_run=dry_run, due_only=due, progress=progress)
            )
        _summary(report, ctx.loaded, config is None, time.perf_counter() - started)
        if click.get_current_context().find_root().params.get("verbose"):
            for line in pipeline.timings():
                click.echo(f"  {line}", err=True)

    @cli.command()
    @config_option
    def check(config: Path | None, strict: bool) -> None:
        """Validate the configuration and plugins; print every problem found."""
        from digest.wiring import check as check_config

        ctx = _Context(config, False, lenient=True)
        problems = check_config(ctx.loaded, ctx.host)
        if problems:
            for line in problems:
                click.echo(line, err=True)
            raise SystemExit(1)
        s = ctx.loaded.settings
        click.echo(
            f"{ctx.loaded.source}: OK — {len(s.sources)} sources, "
            f"{len(s.subscribers)} subscribers in the file"
        )

    @cli.command()
    @config_option
    @click.option("--host", help="Address to listen on (default: [serve] host).")
    @click.option("--port", type=int, help="Port to listen on (default: [serve] port).")
    @click.option("--no-scheduler", is_flag=True, help="Serve the web pages only; deliver nothing.")
    def serve(
        config: Path | None, strict: bool, host: str | None, port: int | None, no_scheduler: bool
    ) -> None:
        """Run the service: scheduled editions, private feeds, unsubscribe, feedback, archive."""
        import uvicorn

        from digest.web.serve import build_app

        ctx = _Context(config, strict)
        settings = ctx.loaded.settings
        app = build_app(
            ctx.pipeline(),
            config_path=config.resolve() if config else None,
            database_url=ctx.loaded.database_url,
            scheduler=settings.serve.scheduler and not no_scheduler,
        )
        if settings.digest.secret_key == "change-me":
            click.echo(
                "Warning: [digest] secret_key is the default; links can be forged.", err=True
            )
        # Scheduled runs log one summary line each (digest.scheduler) next to uvicorn's own lines.
        log_config = copy.deepcopy(uvicorn.config.LOGGING_CONFIG)
        verbose = click.get_current_context().find_root().params.get("verbose") or 0
        log_config["loggers"]["digest"] = {
            "handlers": ["default"],
            "level": "DEBUG" if verbose > 1 else "INFO",
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

    @cli.command()
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
        from digest.pipeline import RunOptions

        ctx = _Context(config, strict)
        pipeline = ctx.pipeline()
        _known_subscriber(ctx, subscriber)
        captured: dict[str, str] = {}

        def keep(selection: Any, channel: str, artifacts: Sequence[Any]) -> None:
            captured.update({a.role: a.content for a in artifacts if a.role == "html"})

        report = pipeline.run(RunOptions(subscriber=subscriber, dry_run=True, on_rendered=keep))
        if "html" not in captured:
            reason = report.skipped.get(subscriber) or report.failed.get(f"{subscriber} (email)")
            raise DigestError(f"nothing to preview for {subscriber!r}: {reason or 'no email'}")
        target = output or Path(f"preview-{subscriber}.html")
        target.write_text(captured["html"], "utf-8")
        click.echo(str(target.resolve()))

    @cli.command()
    @config_option
    @click.option(
        "--batch",
        "batch_file",
        type=click.File("r"),
        required=True,
        help="JSON Lines of queries ('-' for standard input).",
    )
    @click.option(
        "--ranker",
        "ranker_names",
        multiple=True,
        help="Registered ranker to use (repeatable; equal weights). "
        "Default: the [selection] rankers and weights of the config.",
    )
    @click.option(
        "--format", "fmt", type=click.Choice(["jsonl"]), default="jsonl", show_default=True
    )
    def rank(
        config: Path | None, strict: bool, batch_file: Any, ranker_names: tuple[str, ...], fmt: str
    ) -> None:
        """Rank the candidates of each query line for its liked papers and interests."""
        from digest.cli.rank import BadLine, rank_lines

        ctx = _Context(config, strict)
        if ranker_names:
            registered = ctx.host.components("rankers")
            unknown = [n for n in ranker_names if n not in registered]
            if unknown:
                known = ", ".join(sorted(registered))
                raise DigestError(f"unknown ranker {unknown[0]!r} (known: {known})")
            runtime = ctx.runtime()
            rankers = {
                n: registered[n].cls(registered[n].cls.Config(), instance=n, runtime=runtime)
                for n in ranker_names
            }
            weights = dict.fromkeys(ranker_names, 1.0)
        else:
            pipeline = ctx.pipeline()
            rankers, weights = pipeline.c.rankers, pipeline.c.weights
        bad = 0
        for item in rank_lines(batch_file, rankers, weights):
            if isinstance(item, BadLine):
                bad += 1
                click.echo(f"Error: {batch_file.name}:{item.number}: {item.message}", err=True)
            else:
                click.echo(json.dumps(item, ensure_ascii=False))
        if bad:
            raise SystemExit(1)

    @cli.command()
    @click.option("--all", "show_all", is_flag=True, help="Include the built-in plugins.")
    @click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
    @_config
    def plugins(show_all: bool, as_json: bool, config: Path | None) -> None:
        """List installed plugins with version, hooks and any load error."""
        ctx = _Context(config, False)
        infos = ctx.host.plugin_infos()
        if not show_all:
            infos = [i for i in infos if not _builtin(i)]
        rows = [
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

    @cli.group()
    def subscribers() -> None:
        """Import, list and remove subscribers."""

    @subscribers.command("import")
    @config_option
    @click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
    def import_(config: Path | None, strict: bool, file: Path) -> None:
        """Import subscribers from a JSON Lines FILE (all or nothing)."""
        from digest.store import utcnow
        from digest.subscribers import parse_subscribers_file

        ctx = _Context(config, strict)
        reserved = frozenset(ctx.loaded.settings.subscribers)
        found = parse_subscribers_file(file, reserved=reserved)
        ctx.store.save_subscribers(found, origin="import", now=utcnow())
        click.echo(f"Imported {len(found)} subscriber{'s' if len(found) != 1 else ''} from {file}")

    @subscribers.command("list")
    @config_option
    @click.option("--json", "as_json", is_flag=True)
    def list_(config: Path | None, strict: bool, as_json: bool) -> None:
        """List subscribers known to the store and the config file."""
        from digest.store import utcnow

        ctx = _Context(config, strict)
        ctx.pipeline().sync_config_subscribers(utcnow())
        rows = ctx.store.subscribers()
        if as_json:
            click.echo(
                json.dumps(
                    [
                        {
                            "name": r.subscriber.name,
                            "email": r.subscriber.email,
                            "origin": r.origin,
                            "unsubscribed": r.unsubscribed,
                            "channels": list(r.subscriber.channels),
                        }
                        for r in rows
                    ],
                    indent=2,
                )
            )
            return
        for r in rows:
            sub = r.subscriber
            state = (
                "unsubscribed" if r.unsubscribed else ("inactive" if not sub.active else "active")
            )
            click.echo(
                f"{sub.name}\t{sub.email or '-'}\t{r.origin}\t{state}\t"
                f"{','.join(sub.channels)}\t{sub.schedule} {sub.timezone}"
            )

    @subscribers.command("like")
    @config_option
    @click.argument("name")
    @click.argument("library", type=click.Path(path_type=Path, dir_okay=False))
    @click.option(
        "--format",
        "fmt",
        type=click.Choice(["bibtex", "zotero-csv", "zotero-rdf"]),
        help="Library format (default: from the file).",
    )
    def like(config: Path | None, strict: bool, name: str, library: Path, fmt: str | None) -> None:
        """Add the papers of a BibTeX or Zotero export to NAME's liked papers."""
        from dataclasses import replace

        from digest.library import merge_liked, read_library
        from digest.store import LIBRARY_SOURCE, utcnow

        ctx = _Context(config, strict)
        if name in ctx.loaded.settings.subscribers:
            raise DigestError(
                f"subscriber {name!r} is defined in {ctx.loaded.source}; "
                "add liked papers there (liked = [...])"
            )
        stored = next((s for s in ctx.store.subscribers() if s.subscriber.name == name), None)
        if stored is None:
            raise DigestError(f"no subscriber named {name!r}")
        found = read_library(library, fmt)
        now = utcnow()
        ctx.store.upsert_papers(found.papers, source=LIBRARY_SOURCE, now=now)
        sub = stored.subscriber
        liked = merge_liked(sub.profile.liked, found.papers)
        updated = replace(sub, profile=replace(sub.profile, liked=liked))
        ctx.store.save_subscribers([updated], origin=stored.origin, now=now)
        click.echo(
            f"{name}: {len(found.papers)} liked papers from {library} "
            f"({found.skipped} entries without an arXiv id or DOI skipped); "
            f"{len(liked)} liked in all"
        )

    @subscribers.command("remove")
    @config_option
    @click.argument("name")
    def remove(config: Path | None, strict: bool, name: str) -> None:
        """Remove an imported subscriber."""
        ctx = _Context(config, strict)
        if name in ctx.loaded.settings.subscribers:
            raise DigestError(
                f"subscriber {name!r} is defined in {ctx.loaded.source}; remove it there"
            )
        if ctx.store.remove_subscriber(name) is None:
            raise DigestError(f"no subscriber named {name!r}")
        click.echo(f"Removed {name}")

    @cli.command()
    @config_option
    def sources(config: Path | None, strict: bool) -> None:
        """Show each source's health: last success and error, papers per run, warnings."""
        ctx = _Context(config, strict)
        health = {h.source: h for h in ctx.store.source_health()}
        for name in ctx.loaded.settings.sources:
            h = health.get(name)
            if h is None:
                click.echo(f"{name}: never run")
                continue
            state = "FAILING" if h.failing else ("WARNING" if h.flag else "ok")
            ok = f"{h.last_success:%Y-%m-%d %H:%M} UTC" if h.last_success else "never"
            recent = ", ".join(map(str, h.recent[:5])) or "-"
            click.echo(
                f"{name}: {state}; last success {ok}; papers per run (newest first): {recent}"
            )
            if h.last_error:
                click.echo(f"  last error {h.last_error_at:%Y-%m-%d %H:%M} UTC: {h.last_error}")
            if h.flag:
                click.echo(f"  warning: {h.flag}")

    try:
        from digest.plugins import PluginHost

        PluginHost().call_each("register_commands", cli=cli)
    except DigestError:
        pass
    return cli


def _known_subscriber(ctx: _Context, name: str | None) -> None:
    if name is None:
        return
    names = set(ctx.loaded.settings.subscribers)
    names.update(r.subscriber.name for r in ctx.store.subscribers())
    if name not in names:
        raise DigestError(f"no subscriber named {name!r}")


def _builtin(info: Any) -> bool:
    return bool(info.distribution == "papers-digest")


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point: expected errors become one line on stderr and a non-zero exit."""
    # Until -v configures logging, plugin warnings surface in the run summary, not as
    # stray stderr lines.
    logging.getLogger("digest").addHandler(logging.NullHandler())
    cli = make_cli()
    try:
        cli.main(args=list(argv) if argv is not None else None, standalone_mode=False)
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
