"""``digest doctor``: check the sending setup (DNS, unsubscribe link, SMTP) before mailing."""

from __future__ import annotations

from pathlib import Path

import click

from digest.cli.common import config_only


def register(cli: click.Group) -> None:
    cli.add_command(doctor)


@click.command()
@config_only
@click.option(
    "--send-test",
    "send_test",
    metavar="ADDRESS",
    help="Also send a short test message to ADDRESS through the smtp deliverer.",
)
@click.option(
    "--nameserver",
    metavar="HOST[:PORT]",
    help="DNS server to ask (default: this machine's resolver).",
)
def doctor(config: Path | None, send_test: str | None, nameserver: str | None) -> None:
    """Check SPF, DKIM, DMARC, the bounce MX, the unsubscribe link and SMTP: one line per
    check, with the fix for anything not ok. Exits 1 when a check failed."""
    from digest.application import Application
    from digest.doctor import Setup, make_resolver, run_checks, summary

    try:
        resolver = make_resolver(nameserver)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--nameserver") from None
    setup = Setup.from_application(Application.from_path(config))
    checks = []
    for check in run_checks(setup, resolver, send_test=send_test):
        click.echo(check.line())
        checks.append(check)
    click.echo(summary(checks))
    if any(check.status == "failure" for check in checks):
        raise SystemExit(1)
