"""The path an operator runs, measured through the CLI: ``digest run`` as a subprocess.

What issue 16 asks to measure before the fan-out moves to many machines, and what
``bench_smtp.py`` (which calls the pipeline in-process on pre-stored papers) cannot show:

* a ``rss`` source fetching P real papers (``../shared/corpora``) from a local HTTP server;
* S subscribers imported with ``digest subscribers import``, each with keywords, categories,
  an interests sentence and L liked papers (stored as library references);
* the ``smtp`` deliverer into the aiosmtpd sink running in its own process;
* the default rankers; SQLite in the work directory or, with ``--postgres URL``, a fresh schema
  of that PostgreSQL.

It reports wall time, digests/s and the peak RSS of the ``digest run`` process tree::

    python benchmarks/bench_cli.py --subscribers 10000 --papers 2000 --postgres \\
        postgresql+psycopg://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.server
import json
import random
import resource
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from xml.sax.saxutils import escape

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_digests import load_papers, subscribers  # noqa: E402

from digest.models import Paper  # noqa: E402
from digest.store import Store, utcnow  # noqa: E402
from digest.store.schema import LIBRARY_SOURCE  # noqa: E402

CONFIG = """
[digest]
state_dir = "state"
{database}
base_url = "https://digest.example.org"
sender = "Bench Digest <digest@example.org>"
secret_key = "bench"
workers = {workers}

[fetch]
allow = ["127.0.0.1/32"]

[sources.journal]
component = "rss"
url = "{feed}"
max_items = {papers}

[renderers.email]
component = "email"

[deliverers.smtp]
component = "smtp"
host = "127.0.0.1"
port = {port}
security = "none"
connections = {connections}
"""


def rss(papers: list[Paper]) -> str:
    items = []
    for p in papers:
        authors = ", ".join(a.name for a in p.authors)
        categories = "".join(f"<category>{escape(c)}</category>" for c in p.categories)
        items.append(
            f"<item><title>{escape(p.title)}</title><link>https://arxiv.org/abs/{p.id.value}</link>"
            f"<guid isPermaLink='false'>arXiv:{p.id.value}</guid>"
            f"<description>{escape(p.abstract)}</description>"
            f"<dc:creator>{escape(authors)}</dc:creator>{categories}</item>"
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/"><channel><title>Bench</title>'
        "<link>https://example.org</link><description>papers</description>"
        + "".join(items)
        + "</channel></rss>"
    )


def serve(folder: Path) -> tuple[str, http.server.ThreadingHTTPServer]:
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, directory=str(folder), **kwargs)  # type: ignore[arg-type]

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}/feed.xml", server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", "-s", type=int, default=10_000)
    parser.add_argument("--papers", "-p", type=int, default=2_000)
    parser.add_argument("--liked", type=int, default=20, help="liked papers per subscriber")
    parser.add_argument("--workers", "-w", type=int, default=2)
    parser.add_argument("--connections", "-c", type=int, default=2, help="SMTP, per worker")
    parser.add_argument("--postgres", default=None, help="a PostgreSQL URL (a fresh schema)")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="digest-bench-cli-"))
    everything = load_papers(args.papers + 500)
    news, library = everything[: args.papers], everything[args.papers :]
    (work / "feed.xml").write_text(rss(news), "utf-8")
    feed, http_server = serve(work)

    database = ""
    schema = f"bench_{secrets.token_hex(4)}"
    if args.postgres:
        with sa.create_engine(args.postgres).begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        sep = "&" if "?" in args.postgres else "?"
        database = f'database = "{args.postgres}{sep}options=-csearch_path%3D{schema}"'

    sink = subprocess.Popen(
        [sys.executable, str(ROOT / "tests" / "smtpsink.py")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert sink.stdout is not None and sink.stdin is not None
    port = int(sink.stdout.readline().split()[1])
    config = work / "config.toml"
    config.write_text(
        CONFIG.format(
            database=database,
            workers=args.workers,
            feed=feed,
            papers=args.papers,
            port=port,
            connections=args.connections,
        )
    )

    # Liked papers are library references (as `digest subscribers like` stores them).
    url = database.partition('"')[2].rstrip('"') or f"sqlite:///{work / 'state' / 'digest.sqlite3'}"
    store = Store.open(url)
    store.upsert_papers(library, source=LIBRARY_SOURCE, now=utcnow() - dt.timedelta(days=30))
    store.close()
    rng = random.Random(16)
    library_ids = [str(p.id) for p in library]
    with (work / "people.jsonl").open("w") as out:
        for s in subscribers(args.subscribers):
            line = {
                "name": s.name,
                "email": s.email,
                "channels": ["email"],
                "keywords": list(s.profile.keywords),
                "categories": list(s.profile.categories),
                "interests": " ".join(s.profile.keywords) + " and related methods",
                "liked": rng.sample(library_ids, min(args.liked, len(library_ids))),
            }
            out.write(json.dumps(line) + "\n")
    digest = [sys.executable, "-m", "digest"]
    t = time.perf_counter()
    subprocess.run(
        [*digest, "subscribers", "import", str(work / "people.jsonl"), "--config", str(config)],
        check=True,
        capture_output=True,
        cwd=work,
    )
    imported = time.perf_counter() - t

    t = time.perf_counter()
    run = subprocess.run(
        [*digest, "run", "--config", str(config)],
        capture_output=True,
        text=True,
        cwd=work,
        check=False,
    )
    wall = time.perf_counter() - t
    # The largest of the child processes waited for so far: the run's main process or a
    # worker it forked (the sink is still running, so not counted).
    rss_tree = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    sink.stdin.close()
    received = int(sink.stdout.readline().split()[1])
    sink.wait(30)
    http_server.shutdown()
    summary = [line for line in run.stdout.splitlines() if line.startswith(("Delivered", "Done"))]
    print("\n".join(summary) or run.stderr[-2000:])
    store_kind = "PostgreSQL" if args.postgres else "SQLite"
    print(
        f"{args.subscribers} subscribers x {args.papers} papers, {store_kind}, "
        f"{args.workers} workers x {args.connections} SMTP connections, {args.liked} liked each"
    )
    print(
        f"import: {imported:.1f} s; digest run: {wall:.1f} s wall = {received / wall:.0f} digests/s"
    )
    print(f"sink received {received}; peak RSS of the largest child process: {rss_tree:.0f} MiB")
    print(f"work dir: {work}")
    if args.postgres:
        with sa.create_engine(args.postgres).begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))


if __name__ == "__main__":
    main()
