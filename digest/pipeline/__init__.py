"""One run: collect → dedupe/store → per subscriber select → render → deliver → record.

Per-paper work happens once per run (components' ``prepare``); per-subscriber work is only
selecting, rendering and delivering. One failing source, component or recipient is reported
and the rest of the run goes on. The parts:

* :mod:`~digest.pipeline.run` — :class:`Pipeline`: one cycle from start to report, and the
  resumption of editions a crash left behind;
* :mod:`~digest.pipeline.collect` — the sources and their health;
* :mod:`~digest.pipeline.chunks` — select, claim, render, deliver and record one chunk of
  subscribers: the unit of work any process (or, later, any task queue) may run;
* :mod:`~digest.pipeline.deliver` — planning, rendering and delivery of claimed parcels;
* :mod:`~digest.pipeline.recorder` — what a run writes: the ledger, or nothing (dry runs);
* :mod:`~digest.pipeline.fanout` — chunks to forked worker processes;
* :mod:`~digest.pipeline.report` — results, the run's tally and how errors become problems.
"""

from digest.pipeline.chunks import is_due, with_feedback
from digest.pipeline.run import Pipeline, RunOptions

__all__ = ["Pipeline", "RunOptions", "is_due", "with_feedback"]
