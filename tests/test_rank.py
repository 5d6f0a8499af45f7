"""`digest rank --batch`: every candidate ranked, best first, with reasons; bad lines named."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from conftest import CliResult


def paper(pid: str, title: str, abstract: str = "", **extra: object) -> dict[str, object]:
    return {"id": pid, "title": title, "abstract": abstract, "authors": ["A B"], **extra}


QUERY = {
    "query": "robots",
    "liked": [paper("2406.00001", "Robot grasping with diffusion policies")],
    "interests": "robot manipulation",
    "candidates": [
        paper("2406.10001", "Grasping robots", published="2026-11-01"),
        paper("10.1000/xyz", "A journal paper", published="2026-11-21"),
        paper("2406.10003", "Language models", published="2026-11-15"),
    ],
}


def test_every_candidate_ranked_best_first(cli: Callable[..., CliResult], tmp_path: Path) -> None:
    queries = tmp_path / "q.jsonl"
    queries.write_text(json.dumps(QUERY) + "\n" + json.dumps({**QUERY, "query": "again"}) + "\n")
    result = cli("rank", "--batch", str(queries), "--ranker", "recency", "--format", "jsonl")
    assert result.exit_code == 0, result.err
    first, second = (json.loads(line) for line in result.out.splitlines())
    assert first["query"] == "robots" and second["query"] == "again"
    ranking = first["ranking"]
    assert [r["id"] for r in ranking] == ["10.1000/xyz", "2406.10003", "2406.10001"]
    scores = [r["score"] for r in ranking]
    assert scores == sorted(scores, reverse=True)
    assert ranking[0]["reasons"][0]["kind"] == "recency"


def test_bad_lines_are_named_and_the_rest_still_ranked(
    cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    queries = tmp_path / "q.jsonl"
    queries.write_text(
        "not json\n"
        + json.dumps({"query": "x", "candidates": [{"id": "1"}]})
        + "\n"
        + json.dumps(QUERY)
        + "\n"
    )
    result = cli("rank", "--batch", str(queries), "--ranker", "recency")
    assert result.exit_code == 1
    assert f"Error: {queries}:1: invalid JSON" in result.err
    assert f"Error: {queries}:2: candidates.0.title: Field required" in result.err
    assert len(result.out.splitlines()) == 1


def test_an_unknown_ranker_is_one_line(cli: Callable[..., CliResult], tmp_path: Path) -> None:
    queries = tmp_path / "q.jsonl"
    queries.write_text(json.dumps(QUERY) + "\n")
    result = cli("rank", "--batch", str(queries), "--ranker", "nope")
    assert result.exit_code == 1 and result.err.startswith("Error: unknown ranker 'nope'")


def test_the_default_rankers_are_the_runs(cli: Callable[..., CliResult], tmp_path: Path) -> None:
    queries = tmp_path / "q.jsonl"
    queries.write_text(json.dumps(QUERY) + "\n")
    result = cli("rank", "--batch", str(queries))
    assert result.exit_code == 0, result.err
    assert len(json.loads(result.out)["ranking"]) == 3


def test_tfidf_ranks_a_handful_by_the_liked_papers(
    cli: Callable[..., CliResult], tmp_path: Path
) -> None:
    """Three candidates: the one close to the liked paper comes first, and says which paper."""
    query = {
        **QUERY,
        "interests": "",
        "liked": [
            paper("2406.00001", "Robot grasping with diffusion policies", "Robots grasp objects."),
            paper("2406.00002", "Legged robot locomotion", "A quadruped robot learns to walk."),
        ],
        "candidates": [
            paper("2406.10003", "Language models", "Large language models answer questions."),
            paper("2406.10001", "Grasping robots", "A policy for robot grasping of objects."),
            paper("2406.10004", "Graph neural networks", "Message passing on molecules."),
        ],
    }
    queries = tmp_path / "q.jsonl"
    queries.write_text(json.dumps(query) + "\n")
    result = cli("rank", "--batch", str(queries), "--ranker", "tfidf", "--format", "jsonl")
    assert result.exit_code == 0, result.err
    first, *rest = json.loads(result.out)["ranking"]
    assert first["id"] == "2406.10001"
    assert all(r["score"] < first["score"] for r in rest)
    texts = [r["text"] for r in first["reasons"]]
    assert any(t.startswith(("mentions “", "shares “")) and "robot" in t for t in texts), texts
    assert "close to “Robot grasping with diffusion policies”, which you liked" in texts
