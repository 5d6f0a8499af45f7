"""The path an operator runs, measured through the CLI: ``digest run`` as a subprocess.

What issue 16 asks to measure before the fan-out moves to many machines, and what
``bench_smtp.py`` (which calls the pipeline in-process on pre-stored papers) cannot show:

* a ``rss`` source fetching P real papers (``../shared/corpora``) from a local HTTP server;
* S subscribers imported with ``digest subscribers import``, each with keywords, categories,
  an interests sentence and L liked papers (stored as library references);
* the ``smtp`` deliverer into the aiosmtpd sink running in its own process;
* the default rankers; SQLite in the work directory or, with ``--postgres URL``, a fresh schema
  of that PostgreSQL.

With ``--backend procrastinate`` the chunks run in ``digest worker --concurrency WORKERS``
started beside ``digest run``. It reports wall time, digests/s, the sink's own rate for
pre-built messages of the run's average size over the same number of connections (measured
right after the run, in the same sink), and the peak RSS of every process::

    python benchmarks/bench_cli.py --subscribers 10000 --papers 2000 --postgres \\
        postgresql+psycopg://postgres@127.0.0.1:5432/test
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.server
import json
import random
import secrets
import signal
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
from bench_smtp import sink_rate  # noqa: E402

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

[queue]
backend = "{backend}"

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


def prebuilt(size: int) -> bytes:
    """A multipart message of about ``size`` bytes, as the sink's own-rate yardstick."""
    import email.policy
    from email.message import EmailMessage

    message = EmailMessage()
    message["From"] = "Bench Digest <digest@example.org>"
    message["To"] = "reader@example.org"
    message["Subject"] = "Your papers"
    # Lines of ~70 characters, as in a real digest (the sink's cost is per line, too).
    line = "papers " * 10
    message.set_content((line + "\n") * (size // 3 // 72), cte="quoted-printable")
    html = f"<p>{line}</p>\n" * (size * 2 // 3 // 79)
    message.add_alternative(html, subtype="html", cte="quoted-printable")
    return message.as_bytes(policy=email.policy.SMTP)  # CRLF, as SMTP wants it


class PeakMemory:
    """Peak RSS (VmHWM) of every process under the given ones, sampled from /proc (Linux)."""

    def __init__(self, roots: list[int]) -> None:
        self.roots = roots
        self.peaks: dict[int, tuple[str, int]] = {}  # pid → (role, kB)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    @staticmethod
    def _children(pid: int) -> list[int]:
        try:
            tasks = Path(f"/proc/{pid}/task").iterdir()
            return [int(c) for t in tasks for c in (t / "children").read_text().split()]
        except OSError:
            return []

    def _sample(self) -> None:
        while not self._stop.wait(0.2):
            todo = list(self.roots)
            while todo:
                pid = todo.pop()
                todo.extend(self._children(pid))
                try:
                    status = Path(f"/proc/{pid}/status").read_text()
                    argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
                except OSError:
                    continue
                hwm = next(
                    (int(x.split()[1]) for x in status.splitlines() if x.startswith("VmHWM")), 0
                )
                role = "worker" if b"worker" in argv else "run"
                role += "" if pid in self.roots else " (forked)"
                self.peaks[pid] = (role, max(hwm, self.peaks.get(pid, ("", 0))[1]))

    def stop(self) -> str:
        self._stop.set()
        self._thread.join()
        parts = sorted(self.peaks.values(), key=lambda p: -p[1])
        return ", ".join(f"{role} {kb / 1024:.0f}" for role, kb in parts)


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
    parser.add_argument(
        "--backend",
        choices=("local", "procrastinate"),
        default="local",
        help="procrastinate: digest worker --concurrency WORKERS runs the chunks",
    )
    args = parser.parse_args()
    if args.backend == "procrastinate" and not args.postgres:
        parser.error("--backend procrastinate needs --postgres")

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
            backend=args.backend,
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

    worker = None
    if args.backend == "procrastinate":
        worker = subprocess.Popen(
            [*digest, "worker", "--concurrency", str(args.workers), "--config", str(config)],
            cwd=work,
            stderr=subprocess.DEVNULL,
        )
    t = time.perf_counter()
    started = subprocess.Popen(
        [*digest, "-v", "run", "--config", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=work,
    )
    memory = PeakMemory([started.pid, *([worker.pid] if worker else [])])
    out, err = started.communicate()
    run = subprocess.CompletedProcess(started.args, started.returncode, out, err)
    wall = time.perf_counter() - t
    if worker is not None:
        worker.send_signal(signal.SIGTERM)
        worker.wait(60)
    peaks = memory.stop()
    sink.stdin.write("STATS\n")
    sink.stdin.flush()
    _, count, size = sink.stdout.readline().split()
    received = int(count)
    message = prebuilt(int(size) // max(received, 1))
    connections = args.workers * args.connections
    own = sink_rate(port, message, 2_000, connections)
    sink.stdin.close()
    sink.stdout.readline()
    sink.wait(30)
    http_server.shutdown()
    summary = [line for line in run.stdout.splitlines() if line.startswith(("Delivered", "Done"))]
    print("\n".join(summary) or run.stderr[-2000:])
    timings = [line.strip() for line in run.stderr.splitlines() if line.endswith(" s")]
    print("phases: " + "; ".join(" ".join(t.split()) for t in timings))
    store_kind = "PostgreSQL" if args.postgres else "SQLite"
    print(
        f"{args.subscribers} subscribers x {args.papers} papers, {store_kind}, "
        f"{args.backend} backend, {args.workers} workers x {args.connections} SMTP connections, "
        f"{args.liked} liked each"
    )
    rate = received / wall
    print(f"import: {imported:.1f} s; digest run: {wall:.1f} s wall = {rate:.0f} digests/s")
    print(
        f"sink's own rate, pre-built {len(message):,}-byte messages over {connections} "
        f"connections: {own:.0f}/s; ratio {rate / own:.2f}x"
    )
    print(f"sink received {received}; peak RSS per process (MiB): {peaks}")
    print(f"work dir: {work}")
    if args.postgres:
        with sa.create_engine(args.postgres).begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))


if __name__ == "__main__":
    main()
