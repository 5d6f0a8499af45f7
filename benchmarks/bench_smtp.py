"""End-to-end email throughput into a local SMTP sink, next to the sink's own rate.

1. Starts the aiosmtpd sink (tests/smtpsink.py) in its own process.
2. Measures the sink's rate for pre-built messages of the same size, sent with a bare smtplib
   loop over the same number of connections as the deliverer uses (one per worker process).
3. Runs one real `digest run` cycle — select, render, MIME, SMTP, ledger — for S subscribers
   over P real papers with the smtp deliverer, and reports messages/second and the ratio::

       python benchmarks/bench_smtp.py --subscribers 10000 --papers 2000
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import smtplib
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_digests import load_papers, subscribers  # noqa: E402

from digest.application import Application  # noqa: E402
from digest.pipeline import Pipeline, RunOptions  # noqa: E402
from digest.pipeline.recorder import DryRunRecorder  # noqa: E402
from digest.store import utcnow  # noqa: E402

CONFIG = """
[digest]
state_dir = "state"
base_url = "https://digest.example.org"
sender = "Bench Digest <digest@example.org>"
secret_key = "bench"
workers = {workers}

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

[deliverers.smtp]
component = "smtp"
host = "127.0.0.1"
port = {port}
security = "none"
connections = {connections}
"""


def _send(port: int, messages: list[bytes]) -> None:
    with smtplib.SMTP("127.0.0.1", port) as smtp:
        for i, message in enumerate(messages):
            smtp.sendmail("digest@example.org", [f"r{i}@example.org"], message)


def sink_rate(port: int, message: bytes, count: int, connections: int) -> float:
    """Messages/second the sink accepts for pre-built bytes over ``connections`` processes."""
    per = count // connections
    ctx = mp.get_context("fork")
    procs = [ctx.Process(target=_send, args=(port, [message] * per)) for _ in range(connections)]
    start = time.perf_counter()
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    return per * connections / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", "-s", type=int, default=10_000)
    parser.add_argument("--papers", "-p", type=int, default=2_000)
    parser.add_argument("--workers", "-w", type=int, default=2)
    parser.add_argument("--connections", "-c", type=int, default=1, help="per worker")
    args = parser.parse_args()

    sink = subprocess.Popen(
        [sys.executable, str(ROOT / "tests" / "smtpsink.py")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert sink.stdout is not None and sink.stdin is not None
    port = int(sink.stdout.readline().split()[1])
    work = Path(tempfile.mkdtemp(prefix="digest-bench-smtp-"))
    (work / "config.toml").write_text(
        CONFIG.format(port=port, workers=args.workers, connections=args.connections)
    )
    app = Application.from_path(work / "config.toml")
    pipeline = app.pipeline
    store = app.store
    now = utcnow()
    papers = load_papers(args.papers)
    store.upsert_papers(papers, source="bench", now=now)
    email_only = [replace(s, channels=("email",)) for s in subscribers(args.subscribers)]
    store.save_subscribers(email_only, origin="import", now=now)

    # One real message of the size the run will send, for the sink's own rate.
    captured: list[bytes] = []
    # (a pipeline of its own, so that the timed run's phase clock starts at zero)
    sample = Pipeline(
        loaded=app.loaded,
        host=app.host,
        store=store,
        components=pipeline.c,
        runtime=pipeline.runtime,
    )
    build = sample._delivery(DryRunRecorder(), None)._message  # as the run builds its messages
    for person in email_only:  # the first subscriber with something new gets one
        sample.run(
            RunOptions(
                now=now,
                dry_run=True,
                subscriber=person.name,
                on_rendered=lambda sel, ch, arts: captured.append(
                    build(sel, arts, "<bench@example.org>")
                ),
            )
        )
        if captured:
            break
    message = captured[0]
    connections = args.workers * args.connections
    prebuilt = sink_rate(port, message, 2_000, connections)

    start = time.perf_counter()
    report = pipeline.run(RunOptions(now=now))
    elapsed = time.perf_counter() - start
    sink.stdin.close()
    received = int(sink.stdout.readline().split()[1])
    sink.wait(30)
    rate = report.delivered / elapsed
    print(
        f"message size: {len(message):,} bytes; workers={args.workers}, "
        f"connections per worker={args.connections}"
    )
    print(f"sink, pre-built messages:  {prebuilt:7.0f} msg/s over {connections} connection(s)")
    print(
        f"digest run end to end:     {rate:7.0f} msg/s ({report.delivered} in {elapsed:.1f} s,"
        f" sink received {received - 2_000 // connections * connections})"
    )
    print(
        f"ratio: {rate / prebuilt:.2f}x; failed {len(report.failed)}, "
        f"deferred {len(report.deferred)}"
    )
    for line in pipeline.timings():
        print(f"  {line}")


if __name__ == "__main__":
    main()
