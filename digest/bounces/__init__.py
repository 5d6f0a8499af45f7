"""List health: VERP return paths, bounce and complaint intake, classification, suppression.

* :mod:`digest.bounces.notice` — the records every intake produces (:class:`BounceNotice`);
* :mod:`digest.bounces.verp` — return paths that identify (edition, subscriber) by HMAC;
* :mod:`digest.bounces.classify` — DSNs, non-standard bounces, ARF complaints, auto-replies;
* :mod:`digest.bounces.intake` — mbox, Maildir, ``.eml`` and stdin into the store;
* :mod:`digest.bounces.webhooks` — Amazon SES (SNS), SendGrid, Postmark and Mailgun events.
"""
