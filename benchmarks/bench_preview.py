"""Sign-up live preview: latency of "Preview my digest" over the newest stored papers.

Stores P papers (the arXiv corpus, or the bundled demo papers repeated as distinct works when
the corpus is absent), starts `digest serve --no-scheduler` (one uvicorn process) with open
sign-up, and times POST /subscribe action=preview from one client: the first request (cold:
the server prepares the batch for every ranker) and N warm ones (median, p95). The same is
timed for the direct call, ``WebService(pipeline).signup.preview(subscriber)``, in this
process. A second fresh server times the first preview as a reader meets it: opening the form
starts preparing the papers in the background, and the preview follows ``--typing`` seconds
later (the time to fill in a form)::

    python benchmarks/bench_preview.py --papers 2000 --requests 100

The target is "well under a second" for a warm preview.
"""

from __future__ import annotations

import argparse
import re
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_digests import load_papers, subscribers  # noqa: E402
from bench_web import served  # noqa: E402

from digest.application import Application  # noqa: E402
from digest.models import Subscriber  # noqa: E402
from digest.store import utcnow  # noqa: E402

CONFIG = """
[digest]
state_dir = "state"
output_dir = "out"
base_url = "http://127.0.0.1:{port}"
sender = "Bench Digest <digest@example.org>"
secret_key = "bench"

[serve]
port = {port}

[signup]
mode = "open"

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

TARGET = 1.0  # seconds: "well under a second"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def form(subscriber: Subscriber, csrf: str) -> dict[str, str | list[str]]:
    """The sign-up form as a browser posts it for ``subscriber``'s profile."""
    p = subscriber.profile
    return {
        "csrf": csrf,
        "email": "",
        "keywords": ", ".join(p.keywords),
        "categories": list(p.categories),
        "frequency": "weekdays",
        "hour": "7",
        "timezone": "UTC",
        "max_items": "10",
        "channels": ["email"],
        "action": "preview",
    }


def row(name: str, first: float, warm: list[float]) -> None:
    q = statistics.quantiles(warm, n=100)
    verdict = "ok" if q[94] < TARGET else "SLOW"
    print(
        f"{name:<30}{first * 1e3:9.1f} ms{statistics.median(warm) * 1e3:11.1f} ms"
        f"{q[94] * 1e3:10.1f} ms   {len(warm):>5}   {verdict}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--papers", "-p", type=int, default=2000)
    parser.add_argument("--requests", "-n", type=int, default=100)
    parser.add_argument("--typing", type=float, default=5.0, help="seconds from form to preview")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="digest-bench-preview-"))
    port = free_port()
    (work / "config.toml").write_text(CONFIG.format(port=port))
    app = Application.from_path(work / "config.toml")
    papers = load_papers(args.papers)
    start = time.perf_counter()
    app.store.upsert_papers(papers, source="bench", now=utcnow())
    stored = time.perf_counter() - start
    profiles = subscribers(args.requests + 1, seed=11)

    # The direct call, in this process.
    from digest.web.service import WebService

    service = WebService(app.pipeline)
    start = time.perf_counter()
    shown = service.signup.preview(profiles[0])
    direct_first = time.perf_counter() - start
    assert shown.considered == min(args.papers, len(papers)), shown.considered
    direct_warm = []
    picked = 0
    for subscriber in profiles[1:]:
        start = time.perf_counter()
        shown = service.signup.preview(subscriber)
        direct_warm.append(time.perf_counter() - start)
        picked += len(shown.items)

    # Through `digest serve`: a fresh process, so its first preview is cold too.
    base = f"http://127.0.0.1:{port}"
    with served(work / "config.toml", base), httpx.Client(base_url=base, timeout=60) as client:
        page = client.get("/subscribe")
        page.raise_for_status()
        found = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert found is not None, "the sign-up form has no CSRF token"
        csrf = found.group(1)
        http: list[float] = []
        shown_papers = 0
        for n, subscriber in enumerate(profiles):
            # its own client address each (uvicorn trusts X-Forwarded-For from 127.0.0.1),
            # so the 120/minute preview limit does not cut a longer run short
            headers = {"X-Forwarded-For": f"10.0.{n // 250}.{n % 250 + 1}"}
            start = time.perf_counter()
            answer = client.post("/subscribe", data=form(subscriber, csrf), headers=headers)
            http.append(time.perf_counter() - start)
            if answer.status_code != 200:
                raise SystemExit(f"preview answered {answer.status_code}: {answer.text[:300]}")
            shown_papers += answer.text.count('class="paper"')

    # A fresh server again: the form is opened, the reader types, then previews.
    with served(work / "config.toml", base), httpx.Client(base_url=base, timeout=60) as client:
        page = client.get("/subscribe")
        page.raise_for_status()
        found = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert found is not None
        time.sleep(args.typing)
        start = time.perf_counter()
        answer = client.post("/subscribe", data=form(profiles[0], found.group(1)))
        after_form = time.perf_counter() - start
        answer.raise_for_status()

    source = "arXiv corpus" if "corpus" in papers[0].sources else "bundled demo papers"
    print(
        f"{len(papers)} stored papers ({source}; stored in {stored:.1f} s), "
        f"{len(profiles)} profiles of 2-5 keywords and 0-2 categories"
    )
    print(f"{'':<30}{'first':>12}{'warm p50':>14}{'warm p95':>13}{'n':>8}")
    row("direct: signup.preview()", direct_first, direct_warm)
    row("HTTP: POST /subscribe preview", http[0], http[1:])
    print(f"{f'HTTP: first, {args.typing:g} s after the form':<30}{after_form * 1e3:9.1f} ms")
    print(
        f"papers shown per preview: {picked / len(direct_warm):.1f} (direct), "
        f"{shown_papers / len(http):.1f} (HTTP); target: warm p95 < {TARGET * 1e3:.0f} ms"
    )


if __name__ == "__main__":
    main()
