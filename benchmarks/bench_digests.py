"""Per-subscriber throughput: select + render (HTML, text, RSS, Atom) + write files + ledger.

Generates S synthetic subscribers and takes P real papers from the arXiv corpus (or the
bundled sample when the corpus is absent), stores them, then times one ``digest run`` cycle
that delivers every subscriber through the ``files`` deliverer::

    python benchmarks/bench_digests.py --subscribers 10000 --papers 2000

Reports digests/second for the delivery part (everything after collection), a breakdown,
and peak memory (this process and, with --workers, its worker processes).
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

from corpus import CORPUS, corpus_papers

from digest.application import Application
from digest.models import Paper, Profile, Subscriber
from digest.pipeline import RunOptions
from digest.store import utcnow

CONFIG = """
[digest]
state_dir = "state"
output_dir = "out"
base_url = "https://digest.example.org"
sender = "Bench Digest <digest@example.org>"
secret_key = "bench"
{workers}

[selection]
filters = ["keywords"]
rankers = {{ keywords = 1.0, tfidf = 1.0, recency = 0.1, popularity = 0.1 }}

[filters.keywords]
component = "keywords"

[rankers.keywords]
component = "keywords"

[rankers.recency]
component = "recency"

[rankers.tfidf]
component = "tfidf"

[rankers.popularity]
component = "popularity"

[renderers.email]
component = "email"

[renderers.feed]
component = "feed"

[deliverers.files]
component = "files"
"""

VOCABULARY = [
    "reinforcement learning", "diffusion", "transformer", "robot", "manipulation", "language model",
    "reasoning", "benchmark", "graph neural network", "federated learning", "privacy", "attack",
    "segmentation", "3D", "video", "speech", "retrieval", "recommendation", "alignment",
    "quantization", "pruning", "agent", "planning", "navigation", "medical", "protein", "causal",
    "optimization", "generative", "contrastive", "representation learning", "uncertainty",
    "explainability", "fairness", "robustness", "adversarial", "multimodal", "vision-language",
    "point cloud", "LiDAR", "autonomous driving", "time series", "forecasting", "anomaly detection",
    "knowledge graph", "question answering", "summarization", "translation", "code generation",
    "mathematical reasoning", "in-context learning", "fine-tuning", "LoRA", "mixture of experts",
    "sparse", "efficient", "hardware", "compiler", "security", "malware", "blockchain", "energy",
]  # fmt: skip
CATEGORIES = ["cs.LG", "cs.CV", "cs.CL", "cs.RO", "cs.AI", "cs.CR", "cs.IR", "cs.HC", "stat.ML"]


def load_papers(count: int) -> list[Paper]:
    papers: list[Paper] = []
    if CORPUS.exists():
        papers = list(corpus_papers(count, announced=dt.date.today()))
    else:  # pragma: no cover - fall back to the bundled demo papers, repeated as new works
        print("corpus not found; using the bundled demo papers", file=sys.stderr)
        from digest_sample.source import load_records, to_paper

        records = load_records()
        today = dt.date.today()
        for n in range(count):
            record = dict(records[n % len(records)])
            # each repeat is another work: its own demo DOI, so the store keeps them all
            record["id"] = f"{record['id']}.{n // len(records)}"
            papers.append(to_paper(record, today))
    return papers


def subscribers(count: int, seed: int = 7) -> list[Subscriber]:
    rng = random.Random(seed)
    return [
        Subscriber(
            name=f"sub{i:06d}",
            email=f"sub{i:06d}@example.org",
            profile=Profile(
                keywords=tuple(rng.sample(VOCABULARY, rng.randint(2, 5))),
                categories=tuple(rng.sample(CATEGORIES, rng.randint(0, 2))),
            ),
            max_items=10,
        )
        for i in range(count)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", "-s", type=int, default=10_000)
    parser.add_argument("--papers", "-p", type=int, default=2_000)
    parser.add_argument(
        "--workers",
        "-w",
        type=int,
        default=None,
        help="delivery worker processes (default: the config default)",
    )
    parser.add_argument("--dir", type=Path, default=None, help="work directory (default: temp)")
    args = parser.parse_args()

    work = args.dir or Path(tempfile.mkdtemp(prefix="digest-bench-"))
    workers = f"workers = {args.workers}" if args.workers is not None else ""
    (work / "config.toml").write_text(CONFIG.format(workers=workers), "utf-8")
    app = Application.from_path(work / "config.toml")
    pipeline = app.pipeline
    store = app.store

    t0 = time.perf_counter()
    papers = load_papers(args.papers)
    now = utcnow()
    store.upsert_papers(papers, source="bench", now=now - dt.timedelta(minutes=1))
    store.save_subscribers(subscribers(args.subscribers), origin="import", now=now)
    setup = time.perf_counter() - t0

    t1 = time.perf_counter()
    report = pipeline.run(RunOptions(now=now))
    elapsed = time.perf_counter() - t1
    files = sum(1 for _ in (work / "out").rglob("*") if _.is_file())
    rss_self = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rss_children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(
        f"papers={len(papers)} subscribers={args.subscribers} workers={args.workers or 'default'}"
    )
    print(f"setup (store papers + subscribers): {setup:.2f} s")
    print(
        f"delivered {report.delivered} digests in {elapsed:.2f} s "
        f"= {report.delivered / elapsed:,.0f} digests/s; {files} files written"
    )
    print(
        f"skipped {len(report.skipped)}, failed {len(report.failed)}, "
        f"problems {len(report.problems)}"
    )
    print(f"peak RSS: main {rss_self:,.0f} MiB, largest worker {rss_children:,.0f} MiB")
    for line in pipeline.timings():
        print(f"  {line}")
    print(f"work dir: {work}")


if __name__ == "__main__":
    main()
