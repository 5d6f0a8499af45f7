"""arXiv feed parsing: the lxml fast path against the feedparser fallback.

Builds realistic large documents from the recorded fixtures — arXiv's daily RSS 2.0 and Atom
listings (up to 2,000 items, arXiv's limit) by repeating the 40 recorded items with distinct
ids, and an API Atom page by repeating the 100-result page — then times, per 1,000 entries
(median of several runs): ``parse_listing``/``parse_api_page`` with lxml, the same with
feedparser (what a malformed document costs), and bare ``feedparser.parse`` for reference::

    python benchmarks/bench_arxiv_parse.py --entries 2000 --runs 5
"""

from __future__ import annotations

import argparse
import functools
import re
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import feedparser

from digest_arxiv import parse_api_page, parse_listing
from digest_arxiv.common import Engine

FIXTURES = Path(__file__).resolve().parent.parent.parent / "shared" / "fixtures"
_ID = re.compile(r"\d{4}\.\d{4,5}|[a-z-]+(?:\.[A-Z]{2})?/\d{7}")


def _repeat(text: str, tag: str, entries: int) -> str:
    """``text`` with its ``<tag>`` elements repeated to ``entries``, each with a distinct id."""
    pattern = re.compile(rf"<{tag}>.*?</{tag}>\s*", re.S)
    items = pattern.findall(text)
    assert items, f"no <{tag}> in the fixture"
    head = text[: text.find(items[0])]
    tail = text[text.rfind(items[-1]) + len(items[-1]) :]
    out = []
    for n in range(entries):
        item = items[n % len(items)]
        original = _ID.search(item)
        assert original is not None
        out.append(item.replace(original.group(0), f"2599.{n:05d}"))
    return head + "".join(out) + tail


def documents(entries: int) -> dict[str, tuple[bytes, Callable[[bytes, Engine], int]]]:
    def listing(content: bytes, engine: Engine) -> int:
        return len(parse_listing(content, url="bench", source="arxiv", engine=engine).papers)

    def api(content: bytes, engine: Engine) -> int:
        return len(parse_api_page(content, url="bench", source="arxiv", engine=engine).papers)

    rss = (FIXTURES / "arxiv_rss" / "rss_cs.LG_2025-06-11.xml").read_text("utf-8")
    atom = (FIXTURES / "arxiv_rss" / "atom_cs.LG_2025-06-11.xml").read_text("utf-8")
    page = (FIXTURES / "arxiv_api" / "query_testing_100_results.xml").read_text("utf-8")
    return {
        "daily RSS 2.0": (_repeat(rss, "item", entries).encode(), listing),
        "daily Atom": (_repeat(atom, "entry", entries).encode(), listing),
        "API Atom": (_repeat(page, "entry", entries).encode(), api),
    }


def median_seconds(work: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--entries", type=int, default=2000, help="entries per document")
    parser.add_argument("--runs", type=int, default=5, help="runs per measurement (median)")
    args = parser.parse_args()
    per = 1000 / args.entries
    print(f"{args.entries} entries per document, median of {args.runs} runs, ms per 1,000 entries")
    print(
        f"{'document':<15} {'size':>8} {'lxml':>8} {'feedparser':>11} {'bare fp':>8} {'ratio':>6}"
    )
    for name, (content, parse) in documents(args.entries).items():
        assert parse(content, "lxml") == parse(content, "feedparser") == args.entries
        fast = median_seconds(functools.partial(parse, content, "lxml"), args.runs) * per
        slow = median_seconds(functools.partial(parse, content, "feedparser"), args.runs) * per
        bare = median_seconds(functools.partial(feedparser.parse, content), args.runs) * per
        print(
            f"{name:<15} {len(content) / 1e6:>6.1f}MB {fast * 1e3:>8.1f} {slow * 1e3:>11.1f} "
            f"{bare * 1e3:>8.1f} {slow / fast:>5.1f}x"
        )


if __name__ == "__main__":
    main()
