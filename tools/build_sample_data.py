"""Build the bundled sample papers of the ``sample`` source from the shared corpora.

Run from the repository root::

    /work/venv/bin/python tools/build_sample_data.py \\
        --arxiv /work/shared/corpora/arxiv_daily_2025.jsonl.gz \\
        --hf /work/shared/corpora/hf_daily_papers_2024-05_to_2025-12.jsonl.gz \\
        --out plugins/digest_sample/papers.jsonl.gz

(the defaults are exactly these paths). It takes the last ``--days`` announcement days of the
arXiv corpus that have at least ``--per-day`` papers (a short holiday mailing is skipped) and
keeps ``--per-day`` papers of each. The corpus is dominated by cs.CV and cs.CL, so the pick is
weighted towards what the example subscribers (robotics, NLP/LLMs, security) and the demo need:

1. papers featured on Hugging Face daily papers (they carry upvotes and code links),
2. papers in the thinner categories cs.RO, cs.CR, cs.IR, cs.HC,
3. papers whose title or abstract is about robotics or security,
4. then an even stride over the remaining papers of the day (ordered by arXiv id), which keeps
   the day's natural mix of cs.CV / cs.CL / cs.LG / everything else.

Papers also in the HF corpus (same arXiv id) get ``upvotes`` and ``github_repo``. The output
is gzip JSON Lines ordered by (announced, id) with a zeroed gzip timestamp and no file name,
so the same inputs give byte-identical output on every run and machine.
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import re
import sys
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

CORPORA = Path("/work/shared/corpora")
DEFAULT_ARXIV = CORPORA / "arxiv_daily_2025.jsonl.gz"
DEFAULT_HF = CORPORA / "hf_daily_papers_2024-05_to_2025-12.jsonl.gz"
DEFAULT_OUT = Path(__file__).resolve().parent.parent / "plugins/digest_sample/papers.jsonl.gz"

THIN_CATEGORIES = frozenset({"cs.RO", "cs.CR", "cs.IR", "cs.HC"})
# Topics of the example subscribers that are thin in the corpus; NLP needs no help.
TOPICS = re.compile(
    r"\b(robot|manipulat|grasp|locomotion|embodied|humanoid|jailbreak|adversarial|privacy"
    r"|attack|backdoor|security|malware|vulnerab|poison)",
    re.IGNORECASE,
)

Record = dict[str, Any]


def read_jsonl(path: Path) -> Iterator[Record]:
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)


def priority(paper: Record, hf: dict[str, Record]) -> int:
    """Lower is picked first; see the module docstring."""
    if paper["id"] in hf:
        return 0
    if THIN_CATEGORIES.intersection(paper["categories"]):
        return 1
    if TOPICS.search(f"{paper['title']} {paper['abstract']}"):
        return 2
    return 3


def pick_day(papers: list[Record], hf: dict[str, Record], per_day: int) -> list[Record]:
    """Choose ``per_day`` papers of one day, deterministically."""
    papers = sorted(papers, key=lambda p: p["id"])
    picked: list[Record] = []
    for level in range(3):
        picked.extend(p for p in papers if priority(p, hf) == level)
    picked = picked[:per_day]
    rest = [p for p in papers if priority(p, hf) == 3]
    wanted = per_day - len(picked)
    if wanted > 0 and rest:
        # An even stride keeps the day's category mix instead of the lowest ids only.
        step = len(rest) / wanted
        picked.extend(rest[int(i * step)] for i in range(min(wanted, len(rest))))
    return sorted(picked, key=lambda p: p["id"])


def enrich(paper: Record, hf: dict[str, Record]) -> Record:
    out: Record = {
        "id": paper["id"],
        "title": " ".join(paper["title"].split()),
        "abstract": " ".join(paper["abstract"].split()),
        "authors": list(paper["authors"]),
        "categories": list(paper["categories"]),
        "announced": paper["announced"],
    }
    featured = hf.get(paper["id"])
    if featured is not None:
        if featured.get("upvotes") is not None:
            out["upvotes"] = int(featured["upvotes"])
        if featured.get("github_repo"):
            out["github_repo"] = featured["github_repo"]
    return out


def build(arxiv: Path, hf_path: Path, *, days: int, per_day: int) -> list[Record]:
    hf = {record["id"]: record for record in read_jsonl(hf_path)}
    by_day: dict[str, list[Record]] = defaultdict(list)
    for record in read_jsonl(arxiv):
        by_day[record["announced"]].append(record)
    full_days = [day for day in sorted(by_day) if len(by_day[day]) >= per_day]
    chosen = full_days[-days:]
    return [enrich(p, hf) for day in chosen for p in pick_day(by_day[day], hf, per_day)]


def write(records: list[Record], out: Path) -> bytes:
    text = "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in records)
    buffer = io.BytesIO()
    # mtime=0 and no file name in the header: byte-identical output on every run.
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, compresslevel=9, mtime=0) as gz:
        gz.write(text.encode("utf-8"))
    data = buffer.getvalue()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(data)
    return data


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arxiv", type=Path, default=DEFAULT_ARXIV)
    parser.add_argument("--hf", type=Path, default=DEFAULT_HF)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--days", type=int, default=3)
    parser.add_argument("--per-day", type=int, default=100)
    args = parser.parse_args(argv)
    records = build(args.arxiv, args.hf, days=args.days, per_day=args.per_day)
    data = write(records, args.out)
    days = sorted({r["announced"] for r in records})
    featured = sum(1 for r in records if "upvotes" in r)
    print(
        f"wrote {len(records)} papers over {len(days)} days ({', '.join(days)}), "
        f"{featured} with HF signals, {len(data):,} bytes → {args.out}",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
