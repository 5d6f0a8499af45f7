"""Ranking quality on real daily arXiv batches (the protocol in shared/fixtures/README.md).

For an interest category X and a day D: the subscriber liked 20 X-tagged papers from the 60
days before D; the candidates are day D's batch with categories hidden; relevant = tagged X.
Reports P@10 and nDCG@10, macro-averaged over X and days, for each ranker, the default
combination and a TF-IDF centroid baseline computed here, in the same run; then the same on a
small-candidate case (about 10 candidates per subscriber)::

    python benchmarks/bench_ranking.py [--days 32] [--rankers tfidf svm ...]

Days differ a lot (a day's ratio to the baseline ranges from about 0.8 to 1.6: a category
with one or two relevant papers that day decides its nDCG alone), so the ratio of a few days
says little; "90% over days" resamples the sampled days to show how far it could move.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import random
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import cast

import numpy as np
from corpus import corpus_papers

from digest.batch import Batch
from digest.components import Ranker
from digest.config import load_settings
from digest.models import Paper, Profile
from digest.plugins import PluginHost
from digest.select import Selector
from digest.testing import make_runtime

CATEGORIES = ["cs.RO", "cs.LG", "cs.IR", "cs.HC", "cs.SD", "cs.CR", "eess.IV", "cs.CL", "cs.CV"]
K = 10

Scorer = Callable[[Profile, Batch], np.ndarray]


def load() -> dict[dt.date, list[Paper]]:
    days: dict[dt.date, list[Paper]] = defaultdict(list)
    for paper in corpus_papers():
        assert paper.announced is not None
        days[paper.announced].append(paper)
    return days


def ndcg(relevant: Sequence[bool], total_relevant: int) -> float:
    dcg = sum(1 / math.log2(i + 2) for i, rel in enumerate(relevant[:K]) if rel)
    ideal = sum(1 / math.log2(i + 2) for i in range(min(K, total_relevant)))
    return dcg / ideal if ideal else 0.0


def tfidf_centroid(profile: Profile, batch: Batch) -> np.ndarray:
    """The baseline: cosine of each candidate to the centroid of the liked papers (TF-IDF)."""
    from sklearn.feature_extraction.text import TfidfVectorizer  # type: ignore[import-untyped]

    liked = [p for ref in profile.liked if (p := batch.reference(ref)) is not None]
    texts = [f"{p.title} {p.abstract}" for p in (*batch.papers, *liked)]
    matrix = TfidfVectorizer(stop_words="english", sublinear_tf=True).fit_transform(texts)
    candidates, liked_rows = matrix[: len(batch)], matrix[len(batch) :]
    centroid = np.asarray(liked_rows.mean(axis=0)).ravel()
    return np.asarray(candidates @ centroid).ravel()


def cases(
    days: dict[dt.date, list[Paper]], count: int, small: bool, seed: int = 7
) -> Iterator[tuple[str, dt.date, Profile, Batch, set[str]]]:
    rng = random.Random(seed)
    ordered = sorted(days)
    usable = [d for d in ordered if d - ordered[0] >= dt.timedelta(days=60) and len(days[d]) > 50]
    chosen = usable[:: max(1, len(usable) // count)][:count]
    for day in chosen:
        history = [p for d in ordered if day - dt.timedelta(days=60) <= d < day for p in days[d]]
        for category in CATEGORIES:
            pool = [p for p in history if category in p.categories]
            if len(pool) < 20:
                continue
            liked = rng.sample(pool, 20)
            candidates = list(days[day])
            if small:
                relevant = [p for p in candidates if category in p.categories]
                others = [p for p in candidates if category not in p.categories]
                if not relevant:
                    continue
                picked = rng.sample(relevant, min(3, len(relevant)))
                candidates = picked + rng.sample(others, min(7, len(others)))
                rng.shuffle(candidates)
            relevant_ids = {str(p.id) for p in candidates if category in p.categories}
            hidden = [replace(p, categories=()) for p in candidates]
            profile = Profile(liked=tuple(str(p.id) for p in liked))
            batch = Batch(
                hidden,
                now=dt.datetime.combine(day, dt.time(12), dt.UTC),
                references={str(p.id): replace(p, categories=()) for p in liked},
            )
            yield category, day, profile, batch, relevant_ids


def evaluate(
    scorers: dict[str, Scorer], days: dict[dt.date, list[Paper]], count: int, small: bool
) -> dict[str, tuple[float, float, float, np.ndarray]]:
    """Per scorer: P@10, nDCG@10, seconds per query, and the nDCG@10 sum of each day."""
    results: dict[str, list[tuple[float, float]]] = defaultdict(list)
    per_day: dict[str, dict[dt.date, float]] = defaultdict(lambda: defaultdict(float))
    seconds: dict[str, float] = defaultdict(float)
    for _category, day, profile, batch, relevant in cases(days, count, small):
        for name, scorer in scorers.items():
            start = time.perf_counter()
            scores = scorer(profile, batch)
            seconds[name] += time.perf_counter() - start
            order = np.argsort(-scores, kind="stable")[:K]
            hits = [str(batch[int(i)].id) in relevant for i in order]
            results[name].append((sum(hits) / K, ndcg(hits, len(relevant))))
            per_day[name][day] += results[name][-1][1]
    return {
        name: (
            float(np.mean([r[0] for r in rows])),
            float(np.mean([r[1] for r in rows])),
            seconds[name] / len(rows),
            np.array([per_day[name][d] for d in sorted(per_day[name])]),
        )
        for name, rows in results.items()
    }


def ratio_interval(days: np.ndarray, base: np.ndarray, draws: int = 2000) -> tuple[float, float]:
    """A 90% interval of nDCG@10 / the baseline's, resampling the days (per-day ratios range
    from about 0.8 to 1.6: which days are sampled moves the ratio more than most changes do)."""
    rng = np.random.default_rng(0)
    picks = rng.integers(0, len(days), size=(draws, len(days)))
    ratios = days[picks].sum(axis=1) / np.maximum(base[picks].sum(axis=1), 1e-12)
    low, high = np.percentile(ratios, [5, 95])
    return float(low), float(high)


def component_scorers(names: Sequence[str], weights: dict[str, float]) -> dict[str, Scorer]:
    host = PluginHost()
    registered = host.components("rankers")
    runtime = make_runtime(Path("/tmp/digest-bench-ranking"))
    rankers = {}
    for name in names:
        if name not in registered:
            print(f"(ranker {name!r} is not installed; skipped)", file=sys.stderr)
            continue
        cls = registered[name].cls
        rankers[name] = cast(Ranker, cls(cls.Config(), instance=name, runtime=runtime))

    def single(ranker: Ranker) -> Scorer:
        def score(profile: Profile, batch: Batch) -> np.ndarray:
            ranker.prepare(batch)
            return np.asarray(ranker.score(profile, batch))

        return score

    scorers: dict[str, Scorer] = {name: single(r) for name, r in rankers.items()}
    used = {n: w for n, w in weights.items() if n in rankers and w > 0}
    if used:
        selector = Selector({}, {n: rankers[n] for n in used}, used, on_error=print)

        def combined(profile: Profile, batch: Batch) -> np.ndarray:
            selector.prepare(batch)
            total = batch.zeros()
            for n, ranker in selector.rankers.items():
                total += selector.weights[n] * np.asarray(ranker.score(profile, batch))
            return total

        scorers["default (" + ", ".join(f"{n}={w:g}" for n, w in used.items()) + ")"] = combined
    return scorers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--days",
        type=int,
        default=32,
        help="days sampled, evenly over the corpus (default 32: per-day ratios to the baseline "
        "vary from about 0.8 to 1.6, so 6 days leave the ratio uncertain by about ±0.13, 32 "
        "days by about ±0.05; see the 90%% interval column)",
    )
    parser.add_argument(
        "--rankers",
        nargs="*",
        default=None,
        help="rankers to score alone (default: those of the default combination)",
    )
    parser.add_argument(
        "--weights",
        nargs="*",
        default=None,
        metavar="NAME=WEIGHT",
        help="the combination to test (default: the embedded default config's)",
    )
    args = parser.parse_args()
    defaults = dict(load_settings(None).settings.selection.rankers)
    if args.weights:
        defaults = {n: float(w) for n, _, w in (item.partition("=") for item in args.weights)}
    if args.rankers is None:
        args.rankers = list(defaults)
    days = load()
    scorers = {
        "baseline: TF-IDF centroid": tfidf_centroid,
        **component_scorers(args.rankers, dict(defaults)),
    }
    for small in (False, True):
        title = "small candidate sets (~10 per subscriber)" if small else "daily batches"
        results = evaluate(scorers, days, args.days, small)
        _, base, _, base_days = results["baseline: TF-IDF centroid"]
        print(
            f"\n{title}: P@10 / nDCG@10 macro over {len(CATEGORIES)} categories x {args.days} days"
        )
        print(
            f"{'ranker':<52}{'P@10':>7}{'nDCG@10':>9}{'x base':>8}{'90% over days':>15}"
            f"{'ms/query':>10}"
        )
        for name, (p, n, secs, by_day) in results.items():
            low, high = ratio_interval(by_day, base_days)
            interval = f"{low:.2f}-{high:.2f}"
            print(f"{name:<52}{p:7.3f}{n:9.3f}{n / base:8.2f}{interval:>15}{secs * 1e3:10.1f}")


if __name__ == "__main__":
    main()
