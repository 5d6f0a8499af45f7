"""``digest doctor``: is the sending setup ready for the first edition?

Each check is a function returning one :class:`Check` — ``ok``, ``warning``, ``failure`` or
``skipped`` — with what it found and, when something is not ok, the fix. The DNS checks take
a :class:`dns.resolver.Resolver` (see :func:`make_resolver`), so tests can point them at their
own server; :func:`run_checks` runs them all for a :class:`Setup` read from the config::

    resolver = make_resolver("127.0.0.1:5353")
    for check in run_checks(Setup.from_application(app), resolver):
        print(check.line())

The checks: SPF of the From domain (and of the envelope domain when it differs), the DKIM key
record against ``dkim_key_file``, DMARC, the MX of ``[bounces] domain``, the List-Unsubscribe
URL, the SMTP login and, on request, a test message. See ``docs/doctor.md``.

One module a concern: :mod:`.model` (:class:`Check`, statuses, shared helpers),
:mod:`.setup` (:class:`Setup`), :mod:`.resolver` (DNS), :mod:`.spf`, :mod:`.dkim`,
:mod:`.dmarc`, :mod:`.mx` (bounces), :mod:`.unsubscribe` (List-Unsubscribe),
:mod:`.smtp`, :mod:`.message` (the test message) and :mod:`.runner`
(:func:`run_checks`); this module re-exports their public names.
"""

from __future__ import annotations

from digest.doctor.dkim import check_dkim, dkim_public_key
from digest.doctor.dmarc import check_dmarc
from digest.doctor.message import send_test_message
from digest.doctor.model import Check, summary
from digest.doctor.mx import check_bounce_mx
from digest.doctor.resolver import DnsProblem, make_resolver
from digest.doctor.runner import run_checks
from digest.doctor.setup import Setup, SmtpInstance
from digest.doctor.smtp import check_smtp
from digest.doctor.spf import check_spf
from digest.doctor.unsubscribe import check_unsubscribe

__all__ = [
    "Check",
    "DnsProblem",
    "Setup",
    "SmtpInstance",
    "check_bounce_mx",
    "check_dkim",
    "check_dmarc",
    "check_smtp",
    "check_spf",
    "check_unsubscribe",
    "dkim_public_key",
    "make_resolver",
    "run_checks",
    "send_test_message",
    "summary",
]
