"""Private-feed serving: requests/second and latency of `digest serve` (what RSS readers poll).

Sets up S subscribers with three editions each over real papers, starts `digest serve
--no-scheduler` (one uvicorn process), then polls random subscribers' feeds from C client
threads in this process: full RSS, JSON Feed, conditional GETs answered 304, and the archive::

    python benchmarks/bench_web.py --subscribers 2000 --requests 2000 --clients 8
"""

from __future__ import annotations

import argparse
import contextlib
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_digests import load_papers, subscribers  # noqa: E402

from digest.application import Application  # noqa: E402
from digest.pipeline import RunOptions  # noqa: E402
from digest.store import utcnow  # noqa: E402
from digest.tokens import Tokens  # noqa: E402

CONFIG = """
[digest]
state_dir = "state"
output_dir = "out"
base_url = "http://127.0.0.1:{port}"
secret_key = "bench"
workers = 2

[serve]
port = {port}

[selection]
filters = ["keywords"]
rankers = {{ keywords = 1.0, recency = 0.25 }}

[filters.keywords]
component = "keywords"

[rankers.keywords]
component = "keywords"

[rankers.recency]
component = "recency"

[renderers.email]
component = "email"

[renderers.feed]
component = "feed"

[deliverers.files]
component = "files"
"""


@contextlib.contextmanager
def served(config: Path, base: str) -> Iterator[None]:
    """``digest serve --no-scheduler -c config`` in its own process, until /healthz answers."""
    server = subprocess.Popen(
        [sys.executable, "-m", "digest", "serve", "--no-scheduler", "-c", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
            if time.monotonic() > deadline:
                raise SystemExit("digest serve did not start")
        yield
    finally:
        server.terminate()
        server.wait(30)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def poll(
    urls: list[str], clients: int, headers: dict[str, str] | None = None
) -> tuple[float, list[float], dict[int, int]]:
    latencies: list[float] = []
    statuses: dict[int, int] = {}

    def one(client: httpx.Client, url: str) -> None:
        start = time.perf_counter()
        response = client.get(url, headers=headers)
        latencies.append(time.perf_counter() - start)
        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1

    with httpx.Client(timeout=60, limits=httpx.Limits(max_connections=clients)) as client:
        start = time.perf_counter()
        with ThreadPoolExecutor(clients) as pool:
            list(pool.map(lambda u: one(client, u), urls))
        seconds = time.perf_counter() - start
    return len(urls) / seconds, latencies, statuses


def report(name: str, rate: float, latencies: list[float], statuses: dict[int, int]) -> None:
    q = statistics.quantiles(latencies, n=100)
    print(
        f"{name:<26}{rate:8.0f} req/s   p50 {q[49] * 1e3:6.1f} ms   p95 {q[94] * 1e3:6.1f} ms"
        f"   {statuses}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", "-s", type=int, default=2000)
    parser.add_argument("--papers", "-p", type=int, default=1500)
    parser.add_argument("--requests", "-n", type=int, default=2000)
    parser.add_argument("--clients", "-c", type=int, default=8)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="digest-bench-web-"))
    port = free_port()
    (work / "config.toml").write_text(CONFIG.format(port=port))
    app = Application.from_path(work / "config.toml")
    store = app.store
    people = [replace(s, channels=("email",)) for s in subscribers(args.subscribers)]
    store.save_subscribers(people, origin="import", now=utcnow())
    pipeline = app.pipeline
    papers = load_papers(args.papers)
    third = len(papers) // 3
    for i in range(3):  # three editions, so feeds carry history
        store.upsert_papers(papers[i * third : (i + 1) * third], source="bench", now=utcnow())
        pipeline.run(RunOptions())
    tokens = Tokens("bench")
    ids = [s.id for s in store.subscribers()]
    rng = random.Random(7)
    base = f"http://127.0.0.1:{port}"
    with served(work / "config.toml", base):
        picks = [rng.choice(ids) for _ in range(args.requests)]
        rss = [f"{base}/feeds/{tokens.make('read', i)}/rss.xml" for i in picks]
        print(f"{args.subscribers} subscribers, 3 editions, {args.clients} client threads")
        report("RSS (200)", *poll(rss, args.clients))
        report(
            "JSON Feed (200)", *poll([u.replace("rss.xml", "feed.json") for u in rss], args.clients)
        )
        etag = httpx.get(rss[0]).headers["etag"]
        report(
            "RSS, If-None-Match (304)",
            *poll([rss[0]] * args.requests, args.clients, {"If-None-Match": etag}),
        )
        editions = [e.id for e, _, _ in pipeline.ledger.recent_editions(limit=1)]
        archive = [
            f"{base}/archive/{editions[0]}/{tokens.make('read', i)}"
            for i in picks[: args.requests // 2]
        ]
        report("archive page (200)", *poll(archive, args.clients))


if __name__ == "__main__":
    main()
