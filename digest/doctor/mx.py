"""The bounce MX check (:func:`check_bounce_mx`): ``[bounces] domain`` receives mail."""

from __future__ import annotations

import dns.resolver

from digest.doctor.model import Check
from digest.doctor.resolver import DnsProblem, addresses, dns_failure, lookup


def check_bounce_mx(
    resolver: dns.resolver.Resolver,
    domain: str | None,
    *,
    local_part: str = "bounces",
    name: str = "MX",
) -> Check:
    """``[bounces] domain`` receives mail: an MX (an address record alone is a warning)."""
    if not domain:
        return Check(name, "skipped", "because [bounces] domain is not set (no VERP return paths)")
    domain = domain.rstrip(".").lower()
    address = f"{local_part}+…@{domain}"
    publish = f"publish an MX record for {domain} naming the server that receives its mail"
    try:
        answer = lookup(resolver, domain, "MX")
        if not answer.exists:
            return Check(
                name,
                "failure",
                f"{domain} does not exist (NXDOMAIN): bounces to {address} are lost",
                publish,
            )
        hosts = sorted(
            (int(r.preference), r.exchange.to_text(omit_final_dot=True)) for r in answer.rdata
        )
        if hosts and all(host in ("", ".") for _, host in hosts):
            return Check(
                name,
                "failure",
                f"{domain} publishes a null MX: it accepts no mail, so "
                f"bounces to {address} are refused",
                publish,
            )
        if hosts:
            listed = ", ".join(f"{host} ({preference})" for preference, host in hosts)
            return Check(name, "ok", f"{domain} receives mail for {address} at {listed}")
        ips = addresses(resolver, domain)
    except DnsProblem as error:
        return dns_failure(name, error)
    if ips:
        return Check(
            name,
            "warning",
            f"{domain} has no MX, only an address ({ips[0]}) that senders use as an implicit MX",
            publish,
        )
    return Check(name, "failure", f"{domain} has no MX and no address record", publish)
