"""What a run writes: the delivery ledger for a real run, nothing at all for a dry run.

The run's code is the same either way; a dry run selects and renders exactly as a real one
would, and its :class:`DryRun` recorder and deliverer make sure nothing is claimed, sent or
recorded.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from typing import ClassVar, Protocol

from digest.components import Deliverer, DelivererConfig, Runtime
from digest.ledger import Claim, Ledger, Pending, StoredItem
from digest.models import Artifact, DeliveryStatus, Edition, Outcome, Parcel, Selection
from digest.pipeline.report import Row
from digest.store import Store

#: called with each rendered (selection, channel, artifacts) of a dry run
OnRendered = Callable[[Selection, str, Sequence[Artifact]], None]
History = dict[int, list[tuple[Edition, list[StoredItem]]]]


class Recorder(Protocol):
    """The writes (and the reads that only matter for writing) of one run."""

    #: whether nothing is written
    dry_run: bool

    def open_edition(self, now: dt.datetime) -> Edition: ...

    def close_edition(self, edition: Edition, *, paused: bool) -> Edition | None:
        """Complete, pause or discard the edition after its last chunk; the edition that
        stays (``None`` when nobody was selected in it)."""
        ...

    def claim(self, edition: Edition, claims: Sequence[Claim], *, now: dt.datetime) -> list[Claim]:
        """Claim what was selected; the claims that won (see :meth:`Ledger.claim`)."""
        ...

    def in_edition(self, edition: Edition, between: tuple[int, int]) -> dict[int, list[Pending]]:
        """Subscribers (ids in ``between``) the edition already has rows for, with the rows
        still claimed: a chunk run again resumes those and leaves the rest alone."""
        ...

    def selected(self, edition: Edition, ids: Sequence[int]) -> dict[int, list[StoredItem]]: ...

    def record(self, edition: Edition, rows: Iterable[Row], *, now: dt.datetime) -> None: ...

    def unsubscribed(self, ids: Sequence[int]) -> set[int]: ...

    def history(self, ids: Sequence[int], *, before: str, editions_back: int) -> History: ...

    def pending(self) -> list[Pending]:
        """Claimed deliveries of unfinished editions (what a resumption finishes)."""
        ...

    def finish_open(self, *, now: dt.datetime) -> None:
        """Mark editions complete that have nothing left claimed."""
        ...


class LedgerRecorder:
    """A real run: everything goes to the ledger."""

    dry_run = False

    def __init__(self, ledger: Ledger, store: Store) -> None:
        self.ledger = ledger
        self.store = store

    def open_edition(self, now: dt.datetime) -> Edition:
        return self.ledger.open_edition(now)

    def close_edition(self, edition: Edition, *, paused: bool) -> Edition | None:
        from digest.store import utcnow

        if self.ledger.discard_if_empty(edition):
            return None
        if paused:
            self.ledger.pause(edition)
        else:
            self.ledger.finish(edition, now=utcnow())
        return edition

    def claim(self, edition: Edition, claims: Sequence[Claim], *, now: dt.datetime) -> list[Claim]:
        return self.ledger.claim(edition, claims, now=now)

    def in_edition(self, edition: Edition, between: tuple[int, int]) -> dict[int, list[Pending]]:
        return self.ledger.in_edition(edition.id, between)

    def selected(self, edition: Edition, ids: Sequence[int]) -> dict[int, list[StoredItem]]:
        return self.ledger.selected(edition.id, ids)

    def record(self, edition: Edition, rows: Iterable[Row], *, now: dt.datetime) -> None:
        self.ledger.record(edition, rows, now=now)

    def unsubscribed(self, ids: Sequence[int]) -> set[int]:
        return self.store.unsubscribed_ids(ids)

    def history(self, ids: Sequence[int], *, before: str, editions_back: int) -> History:
        return self.ledger.history(ids, before=before, editions_back=editions_back)

    def pending(self) -> list[Pending]:
        return self.ledger.pending()

    def finish_open(self, *, now: dt.datetime) -> None:
        for edition in self.ledger.open_editions():
            self.ledger.finish(edition, now=now)


class DryRunRecorder:
    """A dry run: an edition that is never stored, and no writes."""

    dry_run = True

    def open_edition(self, now: dt.datetime) -> Edition:
        return Edition(id="dry-run", created=now)

    def close_edition(self, edition: Edition, *, paused: bool) -> Edition | None:
        return None

    def claim(self, edition: Edition, claims: Sequence[Claim], *, now: dt.datetime) -> list[Claim]:
        return list(claims)

    def in_edition(self, edition: Edition, between: tuple[int, int]) -> dict[int, list[Pending]]:
        return {}

    def selected(self, edition: Edition, ids: Sequence[int]) -> dict[int, list[StoredItem]]:
        return {}

    def record(self, edition: Edition, rows: Iterable[Row], *, now: dt.datetime) -> None:
        pass

    def unsubscribed(self, ids: Sequence[int]) -> set[int]:
        return set()

    def history(self, ids: Sequence[int], *, before: str, editions_back: int) -> History:
        return {}

    def pending(self) -> list[Pending]:
        return []

    def finish_open(self, *, now: dt.datetime) -> None:
        pass


class DryRunDeliverer(Deliverer):
    """Stands in for every channel's deliverer in a dry run: hands each rendered parcel to
    the run's ``on_rendered`` callback (previews) and reports it delivered."""

    name = "dry-run"
    idempotent: ClassVar[bool] = True

    def __init__(self, runtime: Runtime, on_rendered: OnRendered | None) -> None:
        super().__init__(DelivererConfig(), instance="dry-run", runtime=runtime)
        self.on_rendered = on_rendered

    def deliver(self, parcel: Parcel) -> Outcome:
        if self.on_rendered is not None:
            self.on_rendered(parcel.selection, parcel.channel, parcel.artifacts)
        return Outcome(status=DeliveryStatus.SENT, detail="dry run")


__all__ = [
    "DryRunDeliverer",
    "DryRunRecorder",
    "LedgerRecorder",
    "OnRendered",
    "Recorder",
]
