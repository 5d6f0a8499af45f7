"""``digest serve``: the web side of papers-digest.

Private feeds, the unsubscribe and feedback links, the web archive of each edition, the
subscriber's preferences page, the operator area and ``/healthz`` (:mod:`digest.web.app`), over
one :class:`~digest.web.service.WebService` that does the work.
"""
