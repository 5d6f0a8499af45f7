"""The DKIM check (:func:`check_dkim`): the key record at ``<selector>._domainkey.<domain>``
against the configured ``dkim_key_file``, and the signing domain's alignment with the From
domain; also the ``tag=value;`` parsing DKIM and DMARC records share (:func:`dkim_tags`)."""

from __future__ import annotations

import base64
import binascii
from pathlib import Path
from typing import Literal

import dns.resolver

from digest.doctor.model import Check, Findings, domain_of, not_public, org_domain
from digest.doctor.resolver import DnsProblem, dns_failure, txt_records
from digest.doctor.setup import SmtpInstance


def dkim_tags(record: str) -> dict[str, str]:
    """``v=DKIM1; k=rsa; p=MIIB…`` → ``{"v": "DKIM1", "k": "rsa", "p": "MIIB…"}`` (white space
    removed from values, as base64 may be folded)."""
    tags = {}
    for part in record.split(";"):
        key, sep, value = part.partition("=")
        if sep:
            tags[key.strip().lower()] = "".join(value.split())
    return tags


def dkim_public_key(pem: bytes) -> tuple[str, int]:
    """The base64 SubjectPublicKeyInfo of the RSA private key ``pem`` and its size in bits;
    raises :class:`ValueError` for anything else."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as error:
        raise ValueError(f"not an unencrypted PEM private key ({error})") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError(f"a {type(key).__name__.removeprefix('_')} key, not RSA")
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(der).decode("ascii"), key.key_size


def _same_key(published: str, expected: str) -> bool | None:
    """Whether ``p=`` values hold the same RSA key (SubjectPublicKeyInfo or PKCS#1 DER);
    ``None`` when ``published`` is not a key."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    if published == expected:
        return True
    try:
        theirs = serialization.load_der_public_key(base64.b64decode(published, validate=True))
    except (ValueError, binascii.Error, TypeError):
        return None
    ours = serialization.load_der_public_key(base64.b64decode(expected))
    if not isinstance(theirs, rsa.RSAPublicKey) or not isinstance(ours, rsa.RSAPublicKey):
        return False
    return theirs.public_numbers() == ours.public_numbers()


def aligned(domain: str, from_domain: str) -> Literal["strict", "relaxed", "no"]:
    """DMARC identifier alignment of ``domain`` with the From domain."""
    if domain == from_domain:
        return "strict"
    return "relaxed" if org_domain(domain) == org_domain(from_domain) else "no"


def check_dkim(
    resolver: dns.resolver.Resolver,
    sender: str,
    smtp: SmtpInstance,
    base_dir: Path,
    *,
    name: str = "DKIM",
) -> Check:
    """The key record at ``<selector>._domainkey.<domain>`` against ``dkim_key_file``, and the
    signing domain's alignment with the From domain."""
    c = smtp.config
    if not (c.dkim_selector and c.dkim_domain and c.dkim_key_file):
        return Check(
            name,
            "skipped",
            f"because [deliverers.{smtp.name}] sets no dkim_selector, "
            "dkim_domain and dkim_key_file (messages go out unsigned)",
        )
    path = c.dkim_key_file if c.dkim_key_file.is_absolute() else base_dir / c.dkim_key_file
    try:
        expected, bits = dkim_public_key(path.read_bytes())
    except OSError as error:
        return Check(
            name,
            "failure",
            f"cannot read dkim_key_file {path}: {error.strerror or error}",
            "point dkim_key_file at the PEM file of the RSA private key",
        )
    except ValueError as error:
        return Check(
            name,
            "failure",
            f"dkim_key_file {path} is {error}",
            "make one with: openssl genrsa -out dkim.pem 2048",
        )
    record_name = f"{c.dkim_selector}._domainkey.{c.dkim_domain}".lower()
    publish = f'publish: "v=DKIM1; k=rsa; p={expected}"'
    try:
        records = txt_records(resolver, record_name)
    except DnsProblem as error:
        return dns_failure(name, error)
    keys = [r for r in records or [] if "p" in dkim_tags(r) or r.lower().startswith("v=dkim1")]
    if not keys:
        what = "no TXT record" if not records else "no DKIM key record (only other TXT)"
        return Check(name, "failure", f"{record_name} has {what}", f"{publish} at {record_name}")
    found = Findings(name)
    matching = [r for r in keys if _same_key(dkim_tags(r).get("p", ""), expected)]
    if len(keys) > 1:
        found.add(
            "warning",
            f"{len(keys)} key records: receivers may use any of them",
            "keep only one TXT record there",
        )
    if not matching:
        tags = dkim_tags(keys[0])
        published = tags.get("p", "")
        if not published:
            what = "a revoked key (empty p=)"
        elif _same_key(published, expected) is None:
            what = "a p= value that is not a public key"
        else:
            what = f"a different key than dkim_key_file (…{published[-12:]} vs …{expected[-12:]})"
        found.add("failure", f"{record_name} publishes {what}", publish)
        head = f"{record_name} does not match {path.name}"
    else:
        tags = dkim_tags(matching[0])
        head = f"{record_name} publishes the key of {path.name} ({bits}-bit RSA)"
    if tags.get("v", "DKIM1") != "DKIM1":
        found.add("failure", f"v={tags['v']} (must be DKIM1)", publish)
    if tags.get("k", "rsa").lower() != "rsa":
        found.add("failure", f"k={tags['k']} but dkim_key_file holds an RSA key", publish)
    if "y" in tags.get("t", "").lower().split(":"):
        found.add("warning", "t=y: receivers treat signatures as a test", "remove t=y")
    if bits < 1024:
        found.add("failure", f"a {bits}-bit key is refused by receivers", "use a 2048-bit key")
    elif bits < 2048:
        found.add("warning", f"a {bits}-bit key is weak", "use a 2048-bit key")
    from_domain = domain_of(sender)
    domain = c.dkim_domain.lower()
    alignment = aligned(domain, from_domain)
    if not_public(from_domain) is None:
        if alignment == "no":
            found.add(
                "warning",
                f"d={domain} does not align with the From domain {from_domain} "
                "(DMARC cannot pass on DKIM)",
                f'set dkim_domain = "{from_domain}" and publish the key there',
            )
        else:
            found.add("ok", f"d={domain} aligns with the From domain ({alignment})")
    return found.check(head)
