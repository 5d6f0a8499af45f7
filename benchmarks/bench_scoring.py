"""Per-subscriber ranking cost: the default rankers + MMR selection for S subscribers x P papers.

Takes P real papers from the arXiv corpus as the day's batch and gives each of S synthetic
subscribers 20 liked papers (other corpus papers, outside the batch, as ``batch.references``
like a run loads them), 2-5 keywords and an interests line; then times the per-paper work
(``prepare``, once per run) and ``Selector.select`` for every subscriber (scores of each
ranker, weighted sum, top 10 with MMR diversity, reasons), in one process and in W forked
processes splitting the subscribers as ``digest run`` does::

    python benchmarks/bench_scoring.py [--subscribers 10000] [--papers 2000] [--workers 2]
        [--weights NAME=WEIGHT ...]

Without ``--weights`` it uses the embedded default configuration's rankers and diversity.
"""

from __future__ import annotations

import argparse
import datetime as dt
import multiprocessing
import os
import random
import resource
import sys
import time
from pathlib import Path
from typing import cast

from corpus import CORPUS, corpus_papers

from digest.batch import Batch
from digest.components import Ranker
from digest.config import load_settings
from digest.models import Paper, Profile
from digest.plugins import PluginHost
from digest.select import Selector
from digest.testing import make_runtime

KEYWORDS = [
    "reinforcement learning", "diffusion", "transformer", "robot", "language model", "reasoning",
    "graph neural network", "federated learning", "privacy", "segmentation", "video", "speech",
    "retrieval", "alignment", "quantization", "agent", "planning", "protein", "causal",
    "uncertainty", "multimodal", "point cloud", "time series", "knowledge graph", "code generation",
]  # fmt: skip


def profiles(count: int, pool: list[Paper], seed: int = 7) -> list[Profile]:
    rng = random.Random(seed)
    result = []
    for _ in range(count):
        keywords = tuple(rng.sample(KEYWORDS, rng.randint(2, 5)))
        result.append(
            Profile(
                interests=f"I work on {keywords[0]} and {keywords[-1]}.",
                keywords=keywords,
                liked=tuple(str(p.id) for p in rng.sample(pool, 20)),
            )
        )
    return result


def build_selector(weights: dict[str, float], diversity: float) -> Selector:
    host = PluginHost()
    registered = host.components("rankers")
    runtime = make_runtime(Path("/tmp/digest-bench-scoring"))
    rankers: dict[str, Ranker] = {}
    for name in weights:
        cls = registered[name].cls
        rankers[name] = cast(Ranker, cls(cls.Config(), instance=name, runtime=runtime))

    def on_error(where: str, error: BaseException) -> None:
        print(f"{where}: {error}", file=sys.stderr)

    return Selector({}, rankers, weights, on_error, diversity=diversity)


def select_all(selector: Selector, batch: Batch, chunk: list[Profile]) -> int:
    candidates = batch.ones()
    picked = 0
    for profile in chunk:
        picked += len(selector.select(profile, 10, batch, candidates).picks)
    return picked


def in_workers(selector: Selector, batch: Batch, subs: list[Profile], workers: int) -> int:
    """Split the subscribers over forked processes (the prepared batch is shared by fork)."""
    global _FORKED
    _FORKED = (selector, batch, subs)
    size = -(-len(subs) // workers)
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        counts = pool.map(_chunk, [(i, i + size) for i in range(0, len(subs), size)])
    return sum(counts)


_FORKED: tuple[Selector, Batch, list[Profile]] | None = None


def _chunk(bounds: tuple[int, int]) -> int:
    assert _FORKED is not None
    selector, batch, subs = _FORKED
    return select_all(selector, batch, subs[bounds[0] : bounds[1]])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", "-s", type=int, default=10_000)
    parser.add_argument("--papers", "-p", type=int, default=2_000)
    parser.add_argument("--workers", "-w", type=int, default=2)
    parser.add_argument("--weights", nargs="*", default=None, metavar="NAME=WEIGHT")
    args = parser.parse_args()
    if not CORPUS.exists():
        sys.exit(f"corpus not found: {CORPUS}")
    # One BLAS thread per process, as digest run's workers have.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    selection = load_settings(None).settings.selection
    weights = dict(selection.rankers)
    if args.weights:
        weights = {n: float(w) for n, _, w in (item.partition("=") for item in args.weights)}
    papers = list(corpus_papers(args.papers + 5_000, announced=dt.date.today()))
    day, pool = papers[: args.papers], papers[args.papers :]
    subs = profiles(args.subscribers, pool)
    references = {str(p.id): p for p in pool}
    combination = ", ".join(f"{n}={w:g}" for n, w in weights.items())
    print(
        f"{len(subs)} subscribers x {len(day)} papers; rankers {combination}; "
        f"diversity {selection.diversity:g}"
    )

    batch = Batch(day, now=dt.datetime.now(dt.UTC), references=references)
    selector = build_selector(weights, selection.diversity)
    start = time.perf_counter()
    selector.prepare(batch)
    prepared = time.perf_counter() - start
    print(f"per-paper work (prepare, once per run): {prepared:.2f} s")

    sample = subs[: min(len(subs), 1_000)]
    start = time.perf_counter()
    for profile in sample:
        for ranker in selector.rankers.values():
            ranker.score(profile, batch)
    scoring = (time.perf_counter() - start) / len(sample)
    start = time.perf_counter()
    select_all(selector, batch, sample)
    one = (time.perf_counter() - start) / len(sample)
    print(
        f"1 process, first {len(sample)} subscribers: scores of every ranker "
        f"{scoring * 1e3:.2f} ms per subscriber; whole selection (scores, top 10, MMR, reasons) "
        f"{one * 1e3:.2f} ms -> {one * len(subs):.1f} s for {len(subs)}"
    )

    fresh = Batch(day, now=dt.datetime.now(dt.UTC), references=references)
    selector = build_selector(weights, selection.diversity)
    selector.prepare(fresh)
    start = time.perf_counter()
    picked = in_workers(selector, fresh, subs, args.workers)
    wall = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(
        f"{args.workers} processes: {len(subs)} subscribers selected in {wall:.2f} s "
        f"({len(subs) / wall:,.0f}/s, {picked / len(subs):.1f} picks each); "
        f"with prepare {wall + prepared:.2f} s; peak worker RSS {peak:.0f} MiB"
    )


if __name__ == "__main__":
    main()
