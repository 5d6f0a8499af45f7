"""Every check in order (:func:`run_checks`): what ``digest doctor`` runs for a
:class:`Setup`."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import dns.resolver

from digest.doctor.dkim import check_dkim
from digest.doctor.dmarc import check_dmarc
from digest.doctor.message import send_test_message
from digest.doctor.model import Check, domain_of
from digest.doctor.mx import check_bounce_mx
from digest.doctor.setup import Setup, SmtpInstance
from digest.doctor.smtp import check_smtp
from digest.doctor.spf import check_spf
from digest.doctor.unsubscribe import check_unsubscribe


def run_checks(
    setup: Setup,
    resolver: dns.resolver.Resolver,
    *,
    send_test: str | None = None,
    http_timeout: float = 5.0,
) -> Iterator[Check]:
    """Every check for ``setup``, in order, each as soon as it is done."""
    smtp = setup.smtp
    first = smtp[0] if smtp else None
    host = first.config.host if first else None
    from_domain = setup.from_domain
    yield check_spf(resolver, from_domain, smtp_host=host)
    envelope = ""
    if setup.bounce_domain:
        envelope = setup.bounce_domain.rstrip(".").lower()
    elif first is not None and first.config.envelope_from:
        envelope = domain_of(first.config.envelope_from)
    if envelope and envelope != from_domain:
        yield check_spf(
            resolver, envelope, smtp_host=host, name="SPF (envelope)", role="envelope domain"
        )
    if not smtp:
        yield Check("DKIM", "skipped", "because no smtp deliverer is configured")
    for instance in smtp:
        yield check_dkim(
            resolver, setup.sender, instance, setup.base_dir, name=_named("DKIM", instance, smtp)
        )
    yield check_dmarc(resolver, from_domain)
    yield check_bounce_mx(resolver, setup.bounce_domain, local_part=setup.bounce_local_part)
    yield check_unsubscribe(setup.base_url, timeout=http_timeout)
    if not smtp:
        yield Check("SMTP", "skipped", "because no smtp deliverer is configured")
    results = []
    for instance in smtp:
        result = check_smtp(instance, setup.base_dir, name=_named("SMTP", instance, smtp))
        results.append(result)
        yield result
    if send_test is None:
        return
    if first is None:
        yield Check(
            "Test message",
            "failure",
            "no smtp deliverer is configured to send it with",
            'add a [deliverers.<name>] table with component = "smtp"',
        )
    elif results[0].status == "failure":
        yield Check(
            "Test message", "skipped", f"because the SMTP check of [deliverers.{first.name}] failed"
        )
    else:
        yield send_test_message(first, setup.base_dir, setup.sender, send_test)


def _named(name: str, instance: SmtpInstance, every: Sequence[SmtpInstance]) -> str:
    return f"{name} ({instance.name})" if len(every) > 1 else name
