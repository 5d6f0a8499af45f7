"""What parts of a run produce, and how a component's error becomes a reported problem."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from digest.checks import ContractError
from digest.errors import DigestError, PluginError, describe
from digest.models import DeliveryStatus, Problem, SourceReport
from digest.plugins import PluginFailure, PluginHost

log = logging.getLogger("digest.pipeline")

#: a ledger outcome: (subscriber id, channel, status, detail)
Row = tuple[int, str, DeliveryStatus, str]
#: most output locations (files written) kept in a report
MAX_OUTPUTS = 1000


@dataclass(slots=True)
class ChunkResult:
    """What selecting, rendering and delivering a chunk produced; picklable (it comes back
    from worker processes)."""

    outcomes: list[Row] = field(default_factory=list)
    delivered: int = 0
    skipped: dict[str, str] = field(default_factory=dict)
    deferred: dict[str, str] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)

    def absorb(self, other: ChunkResult) -> None:
        """Add ``other``'s counts and notes to this one (outcomes are not carried over)."""
        self.delivered += other.delivered
        self.skipped.update(other.skipped)
        self.failed.update(other.failed)
        self.deferred.update(other.deferred)
        known = {(p.where, p.message) for p in self.problems}
        # The same component failing the same way in every chunk or process is one problem.
        self.problems.extend(p for p in other.problems if (p.where, p.message) not in known)
        room = MAX_OUTPUTS - len(self.outputs)
        self.outputs.extend(other.outputs[: max(room, 0)])


@dataclass(slots=True)
class Tally(ChunkResult):
    """The whole run so far: every chunk's result plus the sources and resumptions."""

    sources: list[SourceReport] = field(default_factory=list)
    resumed: int = 0
    queued: int = 0


class Reporter:
    """Turns a component's exception into a :class:`Problem`: logged (with the traceback at
    debug level), told to ``on_component_error`` and, in strict mode, fatal for plugin bugs."""

    def __init__(self, host: PluginHost) -> None:
        self.host = host

    def problem(self, where: str, error: BaseException) -> Problem:
        log.debug("%s failed", where, exc_info=error)
        self.host.notify_error(where, error)
        # Strict mode stops the run on plugin bugs (an exception of their own, or garbage
        # returned); expected failures (a source's HTTP error, a refused recipient:
        # DigestError) are reported either way.
        bug = not isinstance(error, DigestError) or isinstance(error, ContractError)
        if self.host.strict and bug:
            raise PluginError(f"{where}: {describe(error)}") from error
        return Problem(where=where, message=describe(error))


def plugin_problem(failure: PluginFailure) -> Problem:
    where = f"plugin {failure.plugin}" + (f" ({failure.hook})" if failure.hook else "")
    return Problem(where=where, message=failure.message)
