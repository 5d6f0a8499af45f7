"""The result of a check and what every check shares: :class:`Check` and its statuses,
:func:`summary`, :class:`Findings` (many findings → one check, the worst status wins) and
the helpers about domains and hosts (:func:`domain_of`, :func:`not_public`, …)."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass, field
from email.utils import parseaddr
from typing import Literal

from digest.text import plural

Status = Literal["ok", "warning", "failure", "skipped"]
_SEVERITY: dict[str, int] = {"skipped": -1, "ok": 0, "warning": 1, "failure": 2}


@dataclass(frozen=True)
class Check:
    """The result of one check; ``fix`` says what to do when ``status`` is not ``ok``."""

    name: str
    status: Status
    message: str
    fix: str = ""

    def line(self) -> str:
        """``failure  DKIM  … found …; publish: …`` — what ``digest doctor`` prints."""
        text = f"{self.status:<7}  {self.name}  {self.message}"
        return f"{text}; {self.fix}" if self.fix else text


def summary(checks: Sequence[Check]) -> str:
    """``7 checks: 5 ok, 1 warning, 1 failure`` (``, 1 skipped`` when some were)."""
    count = {status: sum(c.status == status for c in checks) for status in _SEVERITY}
    parts = [
        f"{count['ok']} ok",
        plural(count["warning"], "warning"),
        plural(count["failure"], "failure"),
    ]
    if count["skipped"]:
        parts.append(f"{count['skipped']} skipped")
    return f"{plural(len(checks), 'check')}: {', '.join(parts)}"


@dataclass
class Findings:
    """What one check found, each finding with its status and fix; the worst one wins."""

    name: str
    notes: list[tuple[Status, str, str]] = field(default_factory=list)

    def add(self, status: Status, note: str, fix: str = "") -> None:
        self.notes.append((status, note, fix))

    def check(self, head: str) -> Check:
        status: Status = "ok"
        for s, _, _ in self.notes:
            if _SEVERITY[s] > _SEVERITY[status]:
                status = s
        ordered = sorted(self.notes, key=lambda n: -_SEVERITY[n[0]])
        message = "; ".join([head, *(note for _, note, _ in ordered if note)])
        fix = "; ".join(fix for s, _, fix in ordered if fix and s != "ok")
        return Check(self.name, status, message, fix)


# -- domains and hosts -----------------------------------------------------------------------------


def domain_of(address: str) -> str:
    """The domain of an address (``Lab <digest@Example.org>`` → ``example.org``)."""
    return parseaddr(address)[1].rpartition("@")[2].strip().rstrip(".").lower()


def org_domain(domain: str) -> str:
    """The organisational domain, best effort: the last two labels (wrong for ``co.uk``)."""
    return ".".join(domain.split(".")[-2:])


def not_public(domain: str) -> str | None:
    """Why ``domain`` cannot have public DNS records, or ``None``."""
    if not domain:
        return "there is no domain"
    if domain.startswith("["):
        return f"{domain} is an address literal"
    if domain == "localhost" or domain.endswith(".localhost") or "." not in domain:
        return f"{domain} is not a public domain"
    return None


def is_loopback(host: str) -> bool:
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def parse_ip(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(value.strip("[]"))
    except ValueError:
        return None
