"""The SPF check (:func:`check_spf`): the record of a domain parsed (:func:`parse_spf`), its
DNS lookups counted against the limit of 10 (includes and redirects followed) and, best
effort, whether it covers the smtp host."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass

import dns.resolver

from digest.doctor.model import Check, Findings, is_loopback, not_public, parse_ip
from digest.doctor.resolver import DnsProblem, addresses, dns_failure, mx_hosts, txt_records
from digest.text import plural

#: the most DNS lookups an SPF evaluation may cost (RFC 7208 section 4.6.4)
SPF_LOOKUP_LIMIT = 10

_MODIFIER = re.compile(r"^([A-Za-z][A-Za-z0-9_.-]*)=(.*)$")
_MECHANISMS = frozenset({"all", "include", "a", "mx", "ptr", "ip4", "ip6", "exists"})
#: mechanisms that cost a DNS lookup (``redirect=`` does too)
_LOOKUP_MECHANISMS = frozenset({"include", "a", "mx", "ptr", "exists"})


@dataclass(frozen=True)
class SpfTerm:
    """``-all`` → ``("-", "all", "")``; ``ip4:192.0.2.0/24`` → ``("+", "ip4", "192.0.2.0/24")``;
    modifiers (``redirect=x``) have ``modifier`` set and no qualifier."""

    qualifier: str
    name: str
    value: str
    modifier: bool = False


def is_spf(record: str) -> bool:
    text = record.strip().lower()
    return text == "v=spf1" or text.startswith("v=spf1 ")


def parse_spf(record: str) -> list[SpfTerm]:
    """The terms after ``v=spf1``."""
    terms = []
    for token in record.split()[1:]:
        modifier = _MODIFIER.match(token)
        if modifier:
            terms.append(SpfTerm("", modifier[1].lower(), modifier[2], modifier=True))
            continue
        qualifier = "+"
        if token[0] in "+-~?":
            qualifier, token = token[0], token[1:]
        name = re.match(r"[A-Za-z0-9]*", token)
        mechanism = name[0] if name else ""
        rest = token[len(mechanism) :]
        terms.append(SpfTerm(qualifier, mechanism.lower(), rest[1:] if rest[:1] == ":" else rest))
    return terms


def _spf_of(resolver: dns.resolver.Resolver, domain: str) -> list[str]:
    return [r for r in txt_records(resolver, domain) or [] if is_spf(r)]


def _target(term: SpfTerm, domain: str) -> tuple[str, int | None, int | None]:
    """The domain of an ``a``/``mx`` term and its IPv4/IPv6 prefix lengths."""
    spec, _, cidrs = term.value.partition("/")
    v4, v6 = None, None
    if cidrs:
        first, _, second = cidrs.partition("//")
        v4 = int(first) if first.isdigit() else None
        v6 = int(second) if second.isdigit() else None
    elif "//" in term.value:
        v6_text = term.value.partition("//")[2]
        v6 = int(v6_text) if v6_text.isdigit() else None
    return (spec or domain).rstrip(".").lower(), v4, v6


def _in(
    ips: Iterable[ipaddress.IPv4Address | ipaddress.IPv6Address],
    found: Iterable[ipaddress.IPv4Address | ipaddress.IPv6Address],
    v4: int | None,
    v6: int | None,
) -> bool:
    for address in found:
        prefix = v4 if address.version == 4 else v6
        network = ipaddress.ip_network(
            f"{address}/{prefix if prefix is not None else address.max_prefixlen}", strict=False
        )
        if any(ip.version == address.version and ip in network for ip in ips):
            return True
    return False


def _lookups(
    resolver: dns.resolver.Resolver,
    terms: list[SpfTerm],
    ancestors: frozenset[str],
    problems: list[str],
) -> int:
    """The DNS lookups evaluating ``terms`` costs, includes and redirects followed."""
    count = 0
    for term in terms:
        follow = None
        if term.modifier:
            if term.name != "redirect":
                continue
            follow = term.value
        elif term.name not in _LOOKUP_MECHANISMS:
            continue
        elif term.name == "include":
            follow = term.value
        count += 1
        if follow is None or "%" in follow:
            continue
        target = follow.rstrip(".").lower()
        if target in ancestors or len(ancestors) > SPF_LOOKUP_LIMIT:
            problems.append(f"{term.name} {target} loops back")
            continue
        try:
            records = _spf_of(resolver, target)
        except DnsProblem as error:
            problems.append(str(error))
            continue
        if len(records) != 1:
            how = "no" if not records else str(len(records))
            problems.append(f"{term.name} {target} has {how} SPF records (permerror)")
            continue
        count += _lookups(resolver, parse_spf(records[0]), ancestors | {target}, problems)
    return count


def _covers(
    resolver: dns.resolver.Resolver,
    domain: str,
    terms: list[SpfTerm],
    host: str,
    ips: list[ipaddress.IPv4Address | ipaddress.IPv6Address],
    ancestors: frozenset[str],
) -> bool | None:
    """Whether ``terms`` authorise ``host`` (one of ``ips``, or by name); ``None``: cannot tell
    (``ptr``, ``exists``, macros, lookups that failed)."""
    unsure = False
    for term in terms:
        if term.modifier:
            continue
        if term.name == "all":
            if term.qualifier == "+":
                return True
            break  # -all ~all ?all: nothing after them is evaluated
        if term.qualifier != "+":
            continue
        try:
            hit = _term_covers(resolver, domain, term, host, ips, ancestors)
        except DnsProblem:
            hit = None
        if hit:
            return True
        unsure = unsure or hit is None
    else:
        redirect = next((t.value for t in terms if t.modifier and t.name == "redirect"), None)
        if redirect and "%" not in redirect:
            target = redirect.rstrip(".").lower()
            try:
                records = _spf_of(resolver, target)
            except DnsProblem:
                return None
            if len(records) != 1 or target in ancestors:
                return None
            found = _covers(resolver, target, parse_spf(records[0]), host, ips, ancestors)
            return found if found or not unsure else None
    return None if unsure else False


def _term_covers(
    resolver: dns.resolver.Resolver,
    domain: str,
    term: SpfTerm,
    host: str,
    ips: list[ipaddress.IPv4Address | ipaddress.IPv6Address],
    ancestors: frozenset[str],
) -> bool | None:
    if "%" in term.value or term.name in ("ptr", "exists") or term.name not in _MECHANISMS:
        return None
    if term.name in ("ip4", "ip6"):
        try:
            network = ipaddress.ip_network(term.value, strict=False)
        except ValueError:
            return None
        return any(ip.version == network.version and ip in network for ip in ips)
    if term.name == "include":
        target = term.value.rstrip(".").lower()
        if host == target or host.endswith("." + target):
            return True  # the provider's own SPF domain
        records = _spf_of(resolver, target)
        if len(records) != 1 or target in ancestors or len(ancestors) > SPF_LOOKUP_LIMIT:
            return None
        return _covers(resolver, target, parse_spf(records[0]), host, ips, ancestors | {target})
    target, v4, v6 = _target(term, domain)
    if term.name == "a":
        return host == target or _in(ips, addresses(resolver, target), v4, v6)
    for _, exchange in mx_hosts(resolver, target)[:SPF_LOOKUP_LIMIT]:  # mx
        if host == exchange or _in(ips, addresses(resolver, exchange), v4, v6):
            return True
    return False


def _spf_suggestion(domain: str, host: str | None) -> str:
    mechanism = "mx"
    if host and not is_loopback(host):
        ip = parse_ip(host)
        mechanism = f"ip{ip.version}:{ip}" if ip else f"a:{host}"
    return (
        f'publish a TXT record at {domain}: "v=spf1 {mechanism} -all" (with a mail provider: '
        "its include: instead)"
    )


def check_spf(
    resolver: dns.resolver.Resolver,
    domain: str,
    *,
    smtp_host: str | None = None,
    name: str = "SPF",
    role: str = "From domain",
) -> Check:
    """The SPF record of ``domain``: exactly one, not ``+all``, ideally ``-all``, at most 10
    lookups, and (best effort) covering ``smtp_host``."""
    reason = not_public(domain)
    if reason is not None:
        return Check(
            name,
            "failure",
            f"the {role}: {reason}",
            "set [digest] sender to an address at a domain you control",
        )
    try:
        return _spf(resolver, domain, smtp_host=smtp_host, name=name)
    except DnsProblem as error:
        return dns_failure(name, error)


def _spf(
    resolver: dns.resolver.Resolver, domain: str, *, smtp_host: str | None, name: str
) -> Check:
    records = txt_records(resolver, domain)
    if records is None:
        return Check(
            name,
            "failure",
            f"{domain} does not exist in DNS (NXDOMAIN)",
            _spf_suggestion(domain, smtp_host),
        )
    spf = [r for r in records if is_spf(r)]
    if not spf:
        return Check(
            name,
            "failure",
            f"{domain} publishes no SPF record (TXT v=spf1)",
            _spf_suggestion(domain, smtp_host),
        )
    if len(spf) > 1:
        quoted = " and ".join(f'"{r}"' for r in spf)
        return Check(
            name,
            "failure",
            f"{domain} publishes {len(spf)} SPF records ({quoted}): receivers "
            "then fail SPF (permerror)",
            "merge them into one TXT record",
        )
    record = spf[0]
    terms = parse_spf(record)
    found = Findings(name)
    unknown = [t.name or "?" for t in terms if not t.modifier and t.name not in _MECHANISMS]
    if unknown:
        found.add(
            "failure",
            f"unknown mechanism {', '.join(unknown)} (permerror)",
            "remove or correct it",
        )
    ending = next((t for t in terms if not t.modifier and t.name == "all"), None)
    redirect = next((t for t in terms if t.modifier and t.name == "redirect"), None)
    better = "end the record with -all once every server sending as you is listed"
    if ending is None and redirect is None:
        found.add("warning", "no all mechanism: other senders get a neutral result", better)
    elif ending is None and redirect is not None:
        found.add("ok", f"the policy is that of redirect={redirect.value}")
    elif ending is not None and ending.qualifier == "+":
        found.add(
            "failure", f"+all lets anyone send as {domain}", "replace +all with -all (or ~all)"
        )
    elif ending is not None and ending.qualifier == "?":
        found.add("warning", "?all (neutral): SPF protects nothing", better)
    elif ending is not None and ending.qualifier == "~":
        found.add("warning", "~all (softfail): others' mail as you is only marked", better)
    problems: list[str] = []
    lookups = _lookups(resolver, terms, frozenset({domain}), problems)
    if lookups > SPF_LOOKUP_LIMIT:
        found.add(
            "failure",
            f"{lookups} DNS lookups (more than {SPF_LOOKUP_LIMIT}: permerror)",
            "drop unused include:/a/mx/ptr mechanisms or replace some with ip4:/ip6:",
        )
    else:
        found.add("ok", plural(lookups, "DNS lookup"))
    for problem in problems:
        found.add("warning", problem, "fix the record it points to")
    if smtp_host:
        _host_coverage(resolver, domain, terms, smtp_host, found)
    return found.check(f'{domain}: "{record}"')


def _host_coverage(
    resolver: dns.resolver.Resolver,
    domain: str,
    terms: list[SpfTerm],
    host: str,
    found: Findings,
) -> None:
    host = host.strip("[]").rstrip(".").lower()
    literal = parse_ip(host)
    if literal is None and is_loopback(host):
        found.add("ok", f"the smtp host {host} is a relay on this machine: list its public address")
        return
    ips: list[ipaddress.IPv4Address | ipaddress.IPv6Address] = []
    if literal is not None:
        ips = [literal]
    else:
        try:
            ips = addresses(resolver, host)
        except DnsProblem:
            ips = []
    covered = _covers(resolver, domain, terms, host, ips, frozenset({domain}))
    if covered:
        found.add("ok", f"covers the smtp host {host}")
    elif literal is not None and literal.is_loopback:
        found.add("ok", f"the smtp host {host} is a relay on this machine: list its public address")
    elif covered is None:
        found.add(
            "warning",
            f"cannot tell whether it covers the smtp host {host}",
            f"check that it lists the addresses {host} sends from",
        )
    else:
        found.add(
            "warning",
            f"does not mention the smtp host {host}",
            f"add {host}'s addresses (ip4:/ip6:, a:{host}) or your provider's include:",
        )
