"""`digest doctor` against real servers on 127.0.0.1: a DNS server (dnslib) serving a good zone
and broken ones, the aiosmtpd sink, and the web service under uvicorn."""

from __future__ import annotations

import http.server
import re
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import dns.resolver
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from dnslib import AAAA, MX, QTYPE, RCODE, RR, TXT, A
from dnslib.server import BaseResolver, DNSLogger, DNSServer

from conftest import CliResult
from digest.application import Application
from digest.doctor import (
    Check,
    Setup,
    SmtpInstance,
    check_bounce_mx,
    check_dkim,
    check_dmarc,
    check_smtp,
    check_spf,
    check_unsubscribe,
    dkim_public_key,
    make_resolver,
    run_checks,
    send_test_message,
    summary,
)
from digest.web.serve import build_app
from digest_smtp.deliverer import SmtpConfig
from smtpsink import SmtpSink
from webserver import ServerThread, reserve_port

PASSWORD_ENV = "DIGEST_DOCTOR_TEST_PASSWORD"
Record = tuple[str, Any]

# -- a DNS server ---------------------------------------------------------------------------------


class Zone(BaseResolver):  # type: ignore[misc]
    """Answers from ``records``: name → [(type, value)]; a name not there is NXDOMAIN."""

    def __init__(self, records: dict[str, list[Record]]) -> None:
        self.records = records
        self.asked: list[tuple[str, str]] = []

    def resolve(self, request: Any, handler: Any) -> Any:
        reply = request.reply()
        qname = request.q.qname
        name = str(qname).rstrip(".").lower()
        qtype = QTYPE[request.q.qtype]
        self.asked.append((name, qtype))
        entries = self.records.get(name)
        if entries is None:
            reply.header.rcode = RCODE.NXDOMAIN
            return reply
        for rtype, value in entries:
            if rtype == qtype:
                reply.add_answer(RR(qname, getattr(QTYPE, rtype), rdata=_rdata(rtype, value)))
        return reply


def _rdata(rtype: str, value: Any) -> Any:
    if rtype == "TXT":  # strings of at most 255 bytes, as a DNS host would split them
        data = value.encode()
        return TXT([data[i : i + 255] for i in range(0, len(data), 255)] or [b""])
    if rtype == "MX":
        preference, exchange = value
        return MX(exchange, preference)
    return {"A": A, "AAAA": AAAA}[rtype](value)


def _spf(value: str) -> list[Record]:
    return [("TXT", value)]


def records(good: str, other: str) -> dict[str, list[Record]]:
    """The zones: ``good.example`` is right in every way; the others each break one thing."""
    includes = {f"i{n}.good.example": _spf("v=spf1 -all") for n in range(9)}
    many = " ".join(f"include:i{n}.good.example" for n in range(9))
    return {
        "good.example": [
            ("TXT", "v=spf1 ip4:127.0.0.1 include:provider.example -all"),
            ("TXT", "google-site-verification=abc"),
            ("MX", (10, "mx.good.example")),
        ],
        "mx.good.example": [("A", "127.0.0.1")],
        "provider.example": _spf("v=spf1 ip4:192.0.2.0/24 -all"),
        "sel1._domainkey.good.example": [("TXT", f"v=DKIM1; k=rsa; p={good}")],
        "revoked._domainkey.good.example": [("TXT", "v=DKIM1; k=rsa; p=")],
        "_dmarc.good.example": [("TXT", "v=DMARC1; p=quarantine; rua=mailto:d@good.example")],
        "bounces.good.example": [
            ("MX", (10, "mx.good.example")),
            ("TXT", "v=spf1 ip4:127.0.0.1 -all"),
        ],
        # a subdomain without its own DMARC record: the organisational domain's applies
        "news.good.example": _spf("v=spf1 ip4:127.0.0.1 -all"),
        "nospf.example": [("TXT", "google-site-verification=abc")],
        "twospf.example": [("TXT", "v=spf1 -all"), ("TXT", "v=spf1 mx -all")],
        "plusall.example": _spf("v=spf1 +all"),
        "softfail.example": _spf("v=spf1 ip4:127.0.0.1 ~all"),
        "neutral.example": _spf("v=spf1 ?all"),
        "noall.example": _spf("v=spf1 ip4:127.0.0.1"),
        "many.example": _spf(f"v=spf1 a mx {many} -all"),
        **includes,
        "elsewhere.example": _spf("v=spf1 ip4:192.0.2.10 -all"),
        "viaprovider.example": _spf("v=spf1 include:loopback-provider.example -all"),
        "loopback-provider.example": _spf("v=spf1 ip4:127.0.0.0/8 -all"),
        "other.example": _spf("v=spf1 ip4:127.0.0.1 -all"),
        "sel1._domainkey.other.example": [("TXT", f"v=DKIM1; k=rsa; p={other}")],
        "_dmarc.other.example": [("TXT", "v=DMARC1; p=none")],
        "_dmarc.nopolicy.example": [("TXT", "v=DMARC1; rua=mailto:d@nopolicy.example")],
        "_dmarc.twodmarc.example": [("TXT", "v=DMARC1; p=reject"), ("TXT", "v=DMARC1; p=none")],
        "nodmarc.example": _spf("v=spf1 -all"),
        "implicit.example": [("A", "192.0.2.25")],
        "nullmx.example": [("MX", (0, "."))],
    }


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two RSA private keys as PEM files: ``good`` (published) and ``other``."""
    folder = tmp_path_factory.mktemp("dkim")
    paths = {}
    for name in ("good", "other"):
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        path = folder / f"{name}.pem"
        path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        paths[name] = path
    return paths


def public(path: Path) -> str:
    return dkim_public_key(path.read_bytes())[0]


@pytest.fixture(scope="module")
def dns_port(keys: dict[str, Path]) -> Iterator[int]:
    """A DNS server on 127.0.0.1 (UDP and TCP on the same free port) serving :func:`records`."""
    zone = Zone(records(public(keys["good"]), public(keys["other"])))
    logger = DNSLogger(logf=lambda _: None)
    for _ in range(20):
        udp = DNSServer(zone, address="127.0.0.1", port=0, logger=logger)
        port = udp.server.server_address[1]
        try:
            tcp = DNSServer(zone, address="127.0.0.1", port=port, tcp=True, logger=logger)
        except OSError:  # the port is taken for TCP: try another
            udp.server.server_close()
            continue
        break
    else:
        pytest.fail("no free port for UDP and TCP")
    udp.start_thread()
    tcp.start_thread()
    yield port
    for server in (udp, tcp):
        server.stop()
        server.server.server_close()


@pytest.fixture
def resolver(dns_port: int) -> dns.resolver.Resolver:
    return make_resolver(f"127.0.0.1:{dns_port}")


def smtp(name: str = "mail", **options: Any) -> SmtpInstance:
    options.setdefault("host", "127.0.0.1")
    options.setdefault("local_hostname", "doctor.test")
    options.setdefault("timeout", 5)
    return SmtpInstance(name, SmtpConfig.model_validate(options))


def dkim(key: Path, *, selector: str = "sel1", domain: str = "good.example") -> SmtpInstance:
    return smtp(dkim_selector=selector, dkim_domain=domain, dkim_key_file=key)


# -- SPF ------------------------------------------------------------------------------------------


def test_a_good_spf_record_covering_the_smtp_host_is_ok(resolver: dns.resolver.Resolver) -> None:
    check = check_spf(resolver, "good.example", smtp_host="127.0.0.1")
    assert check.status == "ok", check
    assert '"v=spf1 ip4:127.0.0.1 include:provider.example -all"' in check.message
    assert "covers the smtp host 127.0.0.1" in check.message
    assert "1 DNS lookup" in check.message
    assert not check.fix


def test_the_smtp_host_is_found_through_an_include(resolver: dns.resolver.Resolver) -> None:
    check = check_spf(resolver, "viaprovider.example", smtp_host="127.0.0.1")
    assert check.status == "ok" and "covers the smtp host" in check.message, check


def test_no_spf_record_is_a_failure_naming_what_to_publish(
    resolver: dns.resolver.Resolver,
) -> None:
    check = check_spf(resolver, "nospf.example", smtp_host="192.0.2.7")
    assert check.status == "failure"
    assert "publishes no SPF record" in check.message
    assert 'publish a TXT record at nospf.example: "v=spf1 ip4:192.0.2.7 -all"' in check.fix


def test_two_spf_records_are_a_failure(resolver: dns.resolver.Resolver) -> None:
    check = check_spf(resolver, "twospf.example")
    assert check.status == "failure"
    assert "2 SPF records" in check.message and "merge them into one" in check.fix


def test_plus_all_is_a_failure(resolver: dns.resolver.Resolver) -> None:
    check = check_spf(resolver, "plusall.example")
    assert check.status == "failure"
    assert "+all lets anyone send as plusall.example" in check.message
    assert "replace +all with -all" in check.fix


@pytest.mark.parametrize(
    ("domain", "found"),
    [
        ("softfail.example", "~all (softfail)"),
        ("neutral.example", "?all (neutral)"),
        ("noall.example", "no all mechanism"),
    ],
)
def test_an_spf_record_without_minus_all_is_a_warning(
    resolver: dns.resolver.Resolver, domain: str, found: str
) -> None:
    check = check_spf(resolver, domain)
    assert check.status == "warning" and found in check.message, check
    assert "end the record with -all" in check.fix


def test_more_than_ten_lookups_is_a_failure(resolver: dns.resolver.Resolver) -> None:
    check = check_spf(resolver, "many.example")
    assert check.status == "failure"
    assert "11 DNS lookups (more than 10: permerror)" in check.message
    assert "ip4:" in check.fix


def test_an_spf_record_not_covering_the_smtp_host_is_a_warning(
    resolver: dns.resolver.Resolver,
) -> None:
    check = check_spf(resolver, "elsewhere.example", smtp_host="198.51.100.9")
    assert check.status == "warning"
    assert "does not mention the smtp host 198.51.100.9" in check.message
    assert "include:" in check.fix


def test_a_from_domain_that_does_not_exist_is_a_failure(resolver: dns.resolver.Resolver) -> None:
    check = check_spf(resolver, "missing.example")
    assert check.status == "failure" and "NXDOMAIN" in check.message
    assert "publish a TXT record at missing.example" in check.fix


def test_localhost_as_the_from_domain_is_a_failure(resolver: dns.resolver.Resolver) -> None:
    check = check_spf(resolver, "localhost")
    assert check.status == "failure" and "set [digest] sender" in check.fix


def test_a_dns_server_that_does_not_answer_is_a_failure_not_a_traceback() -> None:
    sock = reserve_port()  # TCP only: nothing answers UDP on this port
    port = sock.getsockname()[1]
    try:
        resolver = make_resolver(f"127.0.0.1:{port}", timeout=1.0)
        check = check_spf(resolver, "good.example")
    finally:
        sock.close()
    assert check.status == "failure"
    assert "TXT good.example" in check.message and "--nameserver" in check.fix


def test_make_resolver_reads_host_and_port() -> None:
    resolver = make_resolver("127.0.0.1:5353")
    assert resolver.nameservers == ["127.0.0.1"] and resolver.port == 5353
    resolver = make_resolver("[::1]:5300")
    assert resolver.nameservers == ["::1"] and resolver.port == 5300
    assert make_resolver("127.0.0.1").port == 53
    for bad in ("127.0.0.1:x", "127.0.0.1:70000", "a:b:c", ""):
        with pytest.raises(ValueError):
            make_resolver(bad)


# -- DKIM -----------------------------------------------------------------------------------------


def test_the_published_dkim_key_matching_the_key_file_is_ok(
    resolver: dns.resolver.Resolver, keys: dict[str, Path]
) -> None:
    check = check_dkim(resolver, "Lab <digest@good.example>", dkim(keys["good"]), Path("/"))
    assert check.status == "ok", check
    assert "sel1._domainkey.good.example publishes the key of good.pem (2048-bit RSA)" in (
        check.message
    )
    assert "aligns with the From domain (strict)" in check.message


def test_another_published_key_is_a_failure_with_the_record_to_publish(
    resolver: dns.resolver.Resolver, keys: dict[str, Path]
) -> None:
    # other.example publishes the other key; the deliverer signs with the good one
    instance = dkim(keys["good"], domain="other.example")
    check = check_dkim(resolver, "digest@other.example", instance, Path("/"))
    assert check.status == "failure"
    assert "sel1._domainkey.other.example publishes a different key than dkim_key_file" in (
        check.message
    )
    assert check.fix == f'publish: "v=DKIM1; k=rsa; p={public(keys["good"])}"'


def test_a_missing_dkim_record_is_a_failure_with_the_record_to_publish(
    resolver: dns.resolver.Resolver, keys: dict[str, Path]
) -> None:
    check = check_dkim(
        resolver, "digest@good.example", dkim(keys["good"], selector="s2024"), Path("/")
    )
    assert check.status == "failure"
    assert "s2024._domainkey.good.example has no TXT record" in check.message
    assert check.fix == (
        f'publish: "v=DKIM1; k=rsa; p={public(keys["good"])}" at s2024._domainkey.good.example'
    )


def test_a_revoked_dkim_key_is_a_failure(
    resolver: dns.resolver.Resolver, keys: dict[str, Path]
) -> None:
    instance = dkim(keys["good"], selector="revoked")
    check = check_dkim(resolver, "digest@good.example", instance, Path("/"))
    assert check.status == "failure" and "revoked key (empty p=)" in check.message
    assert public(keys["good"]) in check.fix


def test_a_dkim_domain_not_aligned_with_the_from_domain_is_a_warning(
    resolver: dns.resolver.Resolver, keys: dict[str, Path]
) -> None:
    check = check_dkim(resolver, "digest@elsewhere.example", dkim(keys["good"]), Path("/"))
    assert check.status == "warning"
    assert "d=good.example does not align with the From domain elsewhere.example" in (check.message)
    assert 'set dkim_domain = "elsewhere.example"' in check.fix


def test_a_subdomain_aligns_relaxed(resolver: dns.resolver.Resolver, keys: dict[str, Path]) -> None:
    check = check_dkim(resolver, "digest@news.good.example", dkim(keys["good"]), Path("/"))
    assert check.status == "ok" and "(relaxed)" in check.message, check


def test_an_unreadable_or_wrong_key_file_is_a_failure(
    resolver: dns.resolver.Resolver, tmp_path: Path
) -> None:
    missing = check_dkim(resolver, "d@good.example", dkim(Path("nope.pem")), tmp_path)
    assert missing.status == "failure" and "cannot read dkim_key_file" in missing.message
    junk = tmp_path / "junk.pem"
    junk.write_text("not a key\n")
    check = check_dkim(resolver, "d@good.example", dkim(junk), tmp_path)
    assert check.status == "failure" and "openssl genrsa" in check.fix


def test_dkim_is_skipped_without_dkim_settings(resolver: dns.resolver.Resolver) -> None:
    check = check_dkim(resolver, "digest@good.example", smtp(), Path("/"))
    assert check.status == "skipped"
    assert check.message.startswith("because [deliverers.mail] sets no dkim_selector")


# -- DMARC ----------------------------------------------------------------------------------------


def test_dmarc_quarantine_is_ok(resolver: dns.resolver.Resolver) -> None:
    check = check_dmarc(resolver, "good.example")
    assert check.status == "ok" and "policy quarantine" in check.message, check


def test_a_subdomain_falls_back_to_the_organisational_domain(
    resolver: dns.resolver.Resolver,
) -> None:
    check = check_dmarc(resolver, "news.good.example")
    assert check.status == "ok", check
    assert "_dmarc.good.example" in check.message and "inherited" in check.message


def test_no_dmarc_record_is_a_failure_naming_what_to_publish(
    resolver: dns.resolver.Resolver,
) -> None:
    check = check_dmarc(resolver, "nodmarc.example")
    assert (
        check.status == "failure" and "no DMARC record at _dmarc.nodmarc.example" in check.message
    )
    assert check.fix == 'publish a TXT record at _dmarc.nodmarc.example: "v=DMARC1; p=quarantine"'


def test_dmarc_p_none_is_a_warning(resolver: dns.resolver.Resolver) -> None:
    check = check_dmarc(resolver, "other.example")
    assert check.status == "warning" and "p=none" in check.message
    assert "p=quarantine" in check.fix


def test_a_dmarc_record_without_policy_or_twice_is_a_failure(
    resolver: dns.resolver.Resolver,
) -> None:
    check = check_dmarc(resolver, "nopolicy.example")
    assert check.status == "failure" and "no p= policy" in check.message
    check = check_dmarc(resolver, "twodmarc.example")
    assert check.status == "failure" and "2 DMARC records" in check.message


# -- the bounce domain ----------------------------------------------------------------------------


def test_a_bounce_domain_with_mx_is_ok(resolver: dns.resolver.Resolver) -> None:
    check = check_bounce_mx(resolver, "bounces.good.example")
    assert check.status == "ok"
    assert check.message == (
        "bounces.good.example receives mail for bounces+…@bounces.good.example at "
        "mx.good.example (10)"
    )


def test_a_bounce_domain_that_does_not_exist_is_a_failure(
    resolver: dns.resolver.Resolver,
) -> None:
    check = check_bounce_mx(resolver, "gone.example")
    assert check.status == "failure" and "NXDOMAIN" in check.message
    assert check.fix.startswith("publish an MX record for gone.example")


def test_an_address_record_only_is_an_implicit_mx_warning(
    resolver: dns.resolver.Resolver,
) -> None:
    check = check_bounce_mx(resolver, "implicit.example")
    assert check.status == "warning" and "implicit MX" in check.message
    assert "publish an MX record" in check.fix


def test_a_null_mx_is_a_failure(resolver: dns.resolver.Resolver) -> None:
    check = check_bounce_mx(resolver, "nullmx.example")
    assert check.status == "failure" and "null MX" in check.message


def test_mx_is_skipped_without_a_bounce_domain(resolver: dns.resolver.Resolver) -> None:
    check = check_bounce_mx(resolver, None)
    assert check.status == "skipped" and "[bounces] domain is not set" in check.message


# -- List-Unsubscribe -----------------------------------------------------------------------------


@pytest.fixture
def site(write_config: Callable[..., Path]) -> Iterator[str]:
    """The real web service under uvicorn on 127.0.0.1; yields its base URL."""
    sock = reserve_port()
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    application = Application.from_path(write_config(digest={"base_url": url}))
    with application, ServerThread(build_app(application, scheduler=False), sock):
        yield url


def test_the_unsubscribe_url_of_the_running_service_is_ok(site: str) -> None:
    check = check_unsubscribe(site, loopback_ok=True)
    assert check.status == "ok", check
    assert f"GET {site}/unsubscribe/digest-doctor-probe answered 404" in check.message


def test_a_base_url_on_this_machine_is_a_warning_even_when_reachable(site: str) -> None:
    check = check_unsubscribe(site + "/")
    assert check.status == "warning"
    assert "answered 404" in check.message and "subscribers cannot reach it" in check.message
    assert "public https:// address" in check.fix


def test_a_closed_port_is_a_failure() -> None:
    sock = reserve_port()
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    sock.close()
    check = check_unsubscribe(url, timeout=2.0, loopback_ok=True)
    assert check.status == "failure" and "failed" in check.message
    assert "start digest serve" in check.fix


def test_a_server_error_is_a_failure() -> None:
    class Broken(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(502)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Broken)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        check = check_unsubscribe(url, loopback_ok=True)
    finally:
        server.shutdown()
        server.server_close()
    assert check.status == "failure" and "answered 502" in check.message


# -- SMTP -----------------------------------------------------------------------------------------


@pytest.fixture
def password(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv(PASSWORD_ENV, SmtpSink.password)
    return SmtpSink.password


def test_starttls_and_login_are_ok(password: str) -> None:
    with SmtpSink(security="starttls", auth=True) as sink:
        instance = smtp(
            port=sink.port, security="starttls", username=sink.user,
            password_env=PASSWORD_ENV, ca_file=sink.ca_file,
        )  # fmt: skip
        check = check_smtp(instance, Path("/"))
    assert check.status == "ok", check
    assert check.message.startswith(f"127.0.0.1:{sink.port} answers EHLO as sink.localhost;")
    assert "STARTTLS TLSv1." in check.message and "logged in as digest" in check.message
    assert sink.logins == [("digest", True)]


def test_a_rejected_password_is_a_failure_with_the_reply(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PASSWORD_ENV, "wrong")
    with SmtpSink(security="starttls", auth=True) as sink:
        instance = smtp(
            port=sink.port, security="starttls", username=sink.user,
            password_env=PASSWORD_ENV, ca_file=sink.ca_file,
        )  # fmt: skip
        check = check_smtp(instance, Path("/"))
    assert check.status == "failure"
    assert "login as 'digest' refused: 535 5.7.8 Authentication credentials invalid" in (
        check.message
    )
    assert PASSWORD_ENV in check.fix


def test_a_server_without_starttls_is_a_failure_when_starttls_is_required() -> None:
    with SmtpSink() as sink:
        check = check_smtp(smtp(port=sink.port, security="starttls"), Path("/"))
    assert check.status == "failure"
    assert f"127.0.0.1:{sink.port} does not offer STARTTLS" in check.message
    assert 'security = "tls"' in check.fix


def test_an_untrusted_certificate_is_a_failure() -> None:
    with SmtpSink(security="starttls") as sink:
        check = check_smtp(smtp(port=sink.port, security="starttls"), Path("/"))
    assert check.status == "failure" and "certificate not trusted" in check.message
    assert "ca_file" in check.fix


def test_a_missing_password_variable_is_a_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(PASSWORD_ENV, raising=False)
    check = check_smtp(smtp(port=2525, username="u", password_env=PASSWORD_ENV), Path("/"))
    assert check.status == "failure" and f"{PASSWORD_ENV} is not set" in check.message


def test_nothing_listening_is_a_failure() -> None:
    sock = reserve_port()
    port = sock.getsockname()[1]
    sock.close()
    check = check_smtp(smtp(port=port, security="none"), Path("/"))
    assert check.status == "failure" and f"cannot connect to 127.0.0.1:{port}" in check.message


def test_the_test_message_arrives_signed(keys: dict[str, Path]) -> None:
    with SmtpSink() as sink:
        instance = smtp(
            port=sink.port, security="none", envelope_from="bounces@good.example",
            dkim_selector="sel1", dkim_domain="good.example", dkim_key_file=keys["good"],
        )  # fmt: skip
        check = send_test_message(instance, Path("/"), "Lab <digest@good.example>", "me@lab.test")
        sink.wait_for(1)
    assert check.status == "ok", check
    assert "sent to me@lab.test from bounces@good.example (DKIM-signed as d=good.example)" in (
        check.message
    )
    assert "250 2.0.0 Ok: queued as M1" in check.message
    received = sink.received[0]
    assert received.mail_from == "bounces@good.example"
    assert received.rcpt_tos == ("me@lab.test",)
    assert received.data.startswith(b"DKIM-Signature:")
    assert b"From: Lab <digest@good.example>\r\n" in received.data


# -- all together and the command line ------------------------------------------------------------


def test_summary_counts_every_status() -> None:
    checks = [
        Check("A", "ok", "x"),
        Check("B", "warning", "x", "y"),
        Check("C", "failure", "x", "y"),
        Check("D", "skipped", "because z"),
    ]
    assert summary(checks) == "4 checks: 1 ok, 1 warning, 1 failure, 1 skipped"
    assert summary(checks[:1]) == "1 check: 1 ok, 0 warnings, 0 failures"
    assert checks[2].line() == "failure  C  x; y"
    assert checks[0].line() == "ok       A  x"


def test_the_test_message_is_skipped_when_smtp_failed(resolver: dns.resolver.Resolver) -> None:
    sock = reserve_port()
    port = sock.getsockname()[1]
    sock.close()
    setup = Setup(
        sender="digest@good.example", base_url=f"http://127.0.0.1:{port}",
        smtp=(smtp(port=port, security="none"),),
    )  # fmt: skip
    checks = list(run_checks(setup, resolver, send_test="me@lab.test", http_timeout=1.0))
    assert [(c.name, c.status) for c in checks][-2:] == [
        ("SMTP", "failure"),
        ("Test message", "skipped"),
    ]


def doctor_config(
    write_config: Callable[..., Path], *, url: str, port: int, key: Path, sender: str
) -> Path:
    mail = {
        "component": "smtp", "host": "127.0.0.1", "port": port, "security": "none",
        "local_hostname": "doctor.test", "timeout": 5, "dkim_selector": "sel1",
        "dkim_domain": "good.example", "dkim_key_file": str(key),
    }  # fmt: skip
    return write_config(
        digest={"base_url": url, "sender": sender},
        deliverers={"files": {"component": "files", "channels": ["feed"]}, "mail": mail},
        bounces={"domain": "bounces.good.example"},
    )


def statuses(result: CliResult) -> list[tuple[str, str]]:
    """``(status, name)`` of each check line (the summary left out)."""
    found = [re.match(r"(\S+) +(.+?)  ", line) for line in result.out.splitlines()[:-1]]
    return [(m[1], m[2]) if m else ("?", "?") for m in found]


def test_digest_doctor_on_a_good_setup(
    cli: Callable[..., CliResult],
    write_config: Callable[..., Path],
    dns_port: int,
    keys: dict[str, Path],
) -> None:
    sock = reserve_port()
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    with SmtpSink() as sink:
        config = doctor_config(
            write_config, url=url, port=sink.port, key=keys["good"],
            sender="Lab Digest <digest@good.example>",
        )  # fmt: skip
        application = Application.from_path(config)
        with application, ServerThread(build_app(application, scheduler=False), sock):
            args = ("doctor", "--config", str(config), "--nameserver", f"127.0.0.1:{dns_port}")
            result = cli(*args)
            sent = cli(*args, "--send-test", "me@lab.test")
            sink.wait_for(1)
    assert result.exit_code == 0, result.out + result.err
    assert statuses(result) == [
        ("ok", "SPF"),
        ("ok", "SPF (envelope)"),
        ("ok", "DKIM"),
        ("ok", "DMARC"),
        ("ok", "MX"),
        ("warning", "List-Unsubscribe"),  # 127.0.0.1: subscribers cannot reach it
        ("ok", "SMTP"),
    ]
    assert result.out.splitlines()[-1] == "7 checks: 6 ok, 1 warning, 0 failures"
    assert result.err == ""
    assert sent.exit_code == 0, sent.out
    assert statuses(sent)[-1] == ("ok", "Test message")
    assert sent.out.splitlines()[-1] == "8 checks: 7 ok, 1 warning, 0 failures"
    assert sink.received[0].rcpt_tos == ("me@lab.test",)


def test_digest_doctor_on_a_broken_setup_exits_1(
    cli: Callable[..., CliResult],
    write_config: Callable[..., Path],
    dns_port: int,
    keys: dict[str, Path],
) -> None:
    closed = reserve_port()
    port = closed.getsockname()[1]
    closed.close()
    config = doctor_config(
        write_config, url=f"http://127.0.0.1:{port}", port=port, key=keys["other"],
        sender="digest@nospf.example",
    )  # fmt: skip
    result = cli("doctor", "--config", str(config), "--nameserver", f"127.0.0.1:{dns_port}")
    assert result.exit_code == 1
    assert statuses(result) == [
        ("failure", "SPF"),
        ("ok", "SPF (envelope)"),
        ("failure", "DKIM"),
        ("failure", "DMARC"),
        ("ok", "MX"),
        ("failure", "List-Unsubscribe"),
        ("failure", "SMTP"),
    ]
    lines = result.out.splitlines()
    assert 'publish a TXT record at nospf.example: "v=spf1' in lines[0]
    assert f'publish: "v=DKIM1; k=rsa; p={public(keys["other"])}"' in lines[2]
    assert "publish a TXT record at _dmarc.nospf.example" in lines[3]
    assert lines[-1] == "7 checks: 2 ok, 0 warnings, 5 failures"
    assert "Traceback" not in result.out + result.err


def test_digest_doctor_skips_what_the_config_does_not_use(
    cli: Callable[..., CliResult], write_config: Callable[..., Path], dns_port: int
) -> None:
    closed = reserve_port()
    url = f"http://127.0.0.1:{closed.getsockname()[1]}"
    closed.close()
    config = write_config(digest={"sender": "digest@good.example", "base_url": url})
    result = cli(
        "doctor", "--config", str(config), "--nameserver", f"127.0.0.1:{dns_port}",
        "--send-test", "me@lab.test",
    )  # fmt: skip
    out = result.out.splitlines()
    assert "skipped  DKIM  because no smtp deliverer is configured" in out
    assert "skipped  SMTP  because no smtp deliverer is configured" in out
    assert any(line.startswith("skipped  MX  because [bounces] domain is not set") for line in out)
    assert any(line.startswith("failure  Test message  no smtp deliverer") for line in out)
    assert result.exit_code == 1  # nothing serves base_url, and no deliverer for the test


def test_a_bad_nameserver_is_a_one_line_usage_error(
    cli: Callable[..., CliResult], write_config: Callable[..., Path]
) -> None:
    result = cli("doctor", "--config", str(write_config()), "--nameserver", "127.0.0.1:x")
    assert result.exit_code == 2
    assert "Invalid value for --nameserver: '127.0.0.1:x' is not HOST[:PORT]" in result.err
    assert "Traceback" not in result.err


def test_an_invalid_smtp_table_is_a_config_error(
    cli: Callable[..., CliResult], write_config: Callable[..., Path]
) -> None:
    config = write_config(deliverers={"mail": {"component": "smtp", "port": 0}})
    result = cli("doctor", "--config", str(config), "--nameserver", "127.0.0.1:9")
    assert result.exit_code == 1
    assert result.err.startswith("Error: ") and "[deliverers.mail] port" in result.err
    assert "Traceback" not in result.err
