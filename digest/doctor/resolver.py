"""DNS for the checks: :func:`make_resolver` (the ``--nameserver`` value or the system's),
the lookups (:func:`lookup`, :func:`txt_records`, :func:`addresses`, :func:`mx_hosts`) and
:class:`DnsProblem` with the check it turns into (:func:`dns_failure`)."""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from typing import Any

import dns.exception
import dns.resolver

from digest.doctor.model import Check, parse_ip
from digest.errors import DigestError

DNS_FIX = "check the DNS server (--nameserver HOST[:PORT]) and run digest doctor again"


class DnsProblem(DigestError):
    """A lookup got no usable answer (timeout, SERVFAIL): the check cannot decide."""


def make_resolver(nameserver: str | None = None, *, timeout: float = 5.0) -> dns.resolver.Resolver:
    """A resolver asking ``nameserver`` (``HOST``, ``HOST:PORT``, ``[IPv6]:PORT``), else the
    system's; raises :class:`ValueError` for a value that is not one."""
    if nameserver is None:
        try:
            resolver = dns.resolver.Resolver()
        except dns.resolver.NoResolverConfiguration:
            raise DigestError(
                "no DNS resolver is configured on this machine; pass --nameserver HOST[:PORT]"
            ) from None
    else:
        host, port = _host_port(nameserver)
        resolver = dns.resolver.Resolver(configure=False)
        resolver.nameservers = [_address_of(host)]
        resolver.port = port
    resolver.lifetime = timeout
    resolver.timeout = min(timeout, 2.0)
    return resolver


def _host_port(value: str) -> tuple[str, int]:
    value = value.strip()
    port = "53"
    if value.startswith("["):
        host, _, rest = value[1:].partition("]")
        if rest:
            if not rest.startswith(":"):
                raise ValueError(f"{value!r} is not HOST[:PORT]")
            port = rest[1:]
    elif value.count(":") == 1:
        host, _, port = value.partition(":")
    else:
        host = value  # a name, an IPv4 address or a bare IPv6 address
        if ":" in host and parse_ip(host) is None:
            raise ValueError(f"{value!r} is not HOST[:PORT]")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{value!r} is not HOST[:PORT]")
    return host, int(port)


def _address_of(host: str) -> str:
    if parse_ip(host) is not None:
        return host
    try:
        return str(socket.getaddrinfo(host, 53, proto=socket.IPPROTO_UDP)[0][4][0])
    except (OSError, IndexError):
        raise ValueError(f"cannot resolve the name server {host!r}") from None


@dataclass(frozen=True)
class _Answer:
    #: ``False`` when the name does not exist (NXDOMAIN)
    exists: bool
    rdata: tuple[Any, ...] = ()


def lookup(resolver: dns.resolver.Resolver, name: str, rdtype: str) -> _Answer:
    try:
        answer = resolver.resolve(name, rdtype, search=False)
    except dns.resolver.NXDOMAIN:
        return _Answer(False)
    except dns.resolver.NoAnswer:
        return _Answer(True)
    except dns.exception.Timeout:
        raise DnsProblem(f"looking up {rdtype} {name} timed out") from None
    except dns.resolver.NoNameservers:
        raise DnsProblem(
            f"no DNS server answered {rdtype} {name} (SERVFAIL, refused or unreachable)"
        ) from None
    except dns.exception.DNSException as error:
        raise DnsProblem(f"cannot look up {rdtype} {name}: {error}") from None
    return _Answer(True, tuple(answer))


def txt_records(resolver: dns.resolver.Resolver, name: str) -> list[str] | None:
    """The TXT records at ``name``, each one string; ``None`` when the name does not exist."""
    answer = lookup(resolver, name, "TXT")
    if not answer.exists:
        return None
    return [b"".join(r.strings).decode("utf-8", "replace") for r in answer.rdata]


def addresses(
    resolver: dns.resolver.Resolver, name: str
) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    found = []
    for rdtype in ("A", "AAAA"):
        for r in lookup(resolver, name, rdtype).rdata:
            ip = parse_ip(r.address)
            if ip is not None:
                found.append(ip)
    return found


def mx_hosts(resolver: dns.resolver.Resolver, name: str) -> list[tuple[int, str]]:
    return sorted(
        (int(r.preference), r.exchange.to_text(omit_final_dot=True).lower())
        for r in lookup(resolver, name, "MX").rdata
    )


def dns_failure(name: str, error: DnsProblem) -> Check:
    return Check(name, "failure", str(error), DNS_FIX)
