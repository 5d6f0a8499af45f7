"""The DMARC check (:func:`check_dmarc`): the record at ``_dmarc.<domain>`` (else at the
organisational domain's) and its policy."""

from __future__ import annotations

import dns.resolver

from digest.doctor.dkim import dkim_tags
from digest.doctor.model import Check, Findings, not_public, org_domain
from digest.doctor.resolver import DnsProblem, dns_failure, txt_records


def check_dmarc(resolver: dns.resolver.Resolver, domain: str, *, name: str = "DMARC") -> Check:
    """The DMARC record of ``domain`` (else of its organisational domain): one, valid, with a
    policy; ``p=none`` is a warning."""
    reason = not_public(domain)
    if reason is not None:
        return Check(
            name,
            "failure",
            f"the From domain: {reason}",
            "set [digest] sender to an address at a domain you control",
        )
    try:
        return _dmarc(resolver, domain, name)
    except DnsProblem as error:
        return dns_failure(name, error)


def _dmarc(resolver: dns.resolver.Resolver, domain: str, name: str) -> Check:
    at = f"_dmarc.{domain}"
    records = [r for r in txt_records(resolver, at) or [] if r.lower().startswith("v=dmarc1")]
    organisation = org_domain(domain)
    inherited = False
    if not records and organisation != domain:
        parent = [
            r
            for r in txt_records(resolver, f"_dmarc.{organisation}") or []
            if r.lower().startswith("v=dmarc1")
        ]
        if parent:
            records, at, inherited = parent, f"_dmarc.{organisation}", True
    suggested = f'publish a TXT record at _dmarc.{domain}: "v=DMARC1; p=quarantine"'
    if not records:
        return Check(name, "failure", f"no DMARC record at _dmarc.{domain}", suggested)
    if len(records) > 1:
        return Check(
            name,
            "failure",
            f"{at} has {len(records)} DMARC records: receivers ignore them all",
            "keep only one",
        )
    record = records[0]
    tags = dkim_tags(record)
    found = Findings(name)
    first = record.split(";")[0].replace(" ", "")
    if first != "v=DMARC1":
        found.add("failure", "must start with v=DMARC1", suggested)
    policy = tags.get("p", "").lower()
    if inherited and "sp" in tags:
        policy = tags["sp"].lower()
    tag = "sp" if inherited and "sp" in tags else "p"
    via = f" (inherited from {organisation})" if inherited else ""
    if not policy:
        found.add("failure", "no p= policy: the record is invalid", "add p=quarantine")
    elif policy not in ("none", "quarantine", "reject"):
        found.add("failure", f"{tag}={policy} is not a policy", f"use {tag}=quarantine")
    elif policy == "none":
        found.add(
            "warning",
            f"{tag}=none{via}: receivers only report, they do not act",
            f"move to {tag}=quarantine (later reject) once SPF and DKIM pass",
        )
    else:
        found.add("ok", f"policy {policy}{via}")
    return found.check(f'{at}: "{record}"')
