"""Per-paper enrichment (the ``register_enrichers`` hook) and the built-in ``tldr`` enricher.

Enrichers run once per paper *version*: results are kept in the real store under the paper id
and a hash of its text, a changed abstract is enriched again, what an enricher returns is
checked, and a failing enricher is a problem in the run report while the digest still goes
out. The TL;DR reaches the email's HTML and text parts, escaped.
"""

from __future__ import annotations

import email
import email.policy
from collections.abc import Mapping, Sequence
from dataclasses import replace
from email.message import EmailMessage
from pathlib import Path
from typing import Any, ClassVar

import pytest
from pydantic import Field

from digest import ComponentConfig, Enricher, hookimpl
from digest.enrich import enrich, feature_key, text_hash
from digest.models import Paper, SignalValue
from digest.store import Store
from digest.testing import make_paper, make_runtime
from digest_tldr.enricher import TldrConfig, TldrEnricher, sentences, summarize
from helpers import ONE_SUBSCRIBER, build_pipeline, write_papers

FOLDING = make_paper(
    "2412.00001",
    title="TinyFold: protein folding on a laptop",
    abstract=(
        "Recent advances in protein structure prediction have attracted wide attention. "
        "However, e.g. AlphaFold (Jumper et al. 2021) needs 3.5 times more memory than a "
        "laptop has. We propose TinyFold, a distilled protein folding model that runs on a "
        "laptop and stays within 2 points of AlphaFold. Code is released."
    ),
)
HOSTILE = make_paper(
    "2412.00002",
    title="Attacks on {{ templates }} & <b>markup</b>",
    abstract=(
        "Short intro here. We show that <script>alert(1)</script> payloads in abstracts and "
        "{{ curly }} braces survive rendering when summaries are not escaped."
    ),
)


class CountingConfig(ComponentConfig):
    mode: str = Field("ok", description="what to return")


class CountingEnricher(Enricher[CountingConfig]):
    """Adds the title's length; counts the papers it was asked about."""

    name = "counting"
    signals = ("count.title", "count.note")
    asked: ClassVar[list[str]] = []

    def enrich(self, papers: Sequence[Paper]) -> Mapping[str, Mapping[str, SignalValue]]:
        type(self).asked += [str(p.id) for p in papers]
        mode = self.config.mode
        if mode == "raise":
            raise RuntimeError("enrichment service exploded")
        reply: dict[str, Any] = {str(p.id): {"count.title": len(p.title)} for p in papers}
        if mode == "partial":
            return dict(list(reply.items())[:1])
        if mode == "list":
            return [1, 2]  # type: ignore[return-value]
        if mode == "stranger":
            reply["arxiv:9999.99999"] = {}
        if mode == "undeclared":
            reply[str(papers[0].id)] = {"secret": "x"}
        if mode == "nan":
            reply[str(papers[0].id)] = {"count.title": float("nan")}
        if mode == "object":
            reply[str(papers[0].id)] = {"count.note": object()}
        return reply


class CountingPlugin:
    @hookimpl
    def register_enrichers(self) -> list[type[Enricher]]:
        return [CountingEnricher]


@pytest.fixture(autouse=True)
def _forget() -> None:
    CountingEnricher.asked = []


def counting(tmp_path: Path, mode: str = "ok") -> CountingEnricher:
    return CountingEnricher(CountingConfig(mode=mode), instance="c", runtime=make_runtime(tmp_path))


def fail(where: str, error: BaseException) -> None:
    raise AssertionError(f"{where}: {error}")


# -- the core ---------------------------------------------------------------------------------


def test_each_paper_is_enriched_once_per_version(tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'digest.db'}")
    enricher = {"c": counting(tmp_path)}
    first = enrich([FOLDING, HOSTILE], enricher, store, fail)
    assert [p.signals["count.title"] for p in first] == [len(FOLDING.title), len(HOSTILE.title)]
    assert CountingEnricher.asked == [str(FOLDING.id), str(HOSTILE.id)]
    # the next run (a new process) reads them back
    again = enrich([HOSTILE, FOLDING], {"c": counting(tmp_path)}, store, fail)
    assert CountingEnricher.asked == [str(FOLDING.id), str(HOSTILE.id)]
    assert again[1].signals["count.title"] == len(FOLDING.title)
    # v2 with a new title: same id, another text hash, enriched again
    v2 = replace(FOLDING, title="TinyFold 2: faster protein folding on a laptop", version=2)
    assert feature_key(v2) != feature_key(FOLDING) and text_hash(v2) != text_hash(FOLDING)
    (renewed,) = enrich([v2], {"c": counting(tmp_path)}, store, fail)
    assert CountingEnricher.asked[-1] == str(FOLDING.id)
    assert renewed.signals["count.title"] == len(v2.title)


def test_papers_left_out_are_asked_again_next_time(tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'digest.db'}")
    enrich([FOLDING, HOSTILE], {"c": counting(tmp_path, "partial")}, store, fail)
    enrich([FOLDING, HOSTILE], {"c": counting(tmp_path)}, store, fail)
    assert CountingEnricher.asked == [str(FOLDING.id), str(HOSTILE.id), str(HOSTILE.id)]


@pytest.mark.parametrize(
    ("mode", "message"),
    [
        ("raise", "enrichment service exploded"),
        ("list", "returned list, want a mapping of paper ids"),
        ("stranger", "a paper it was not given"),
        ("undeclared", "set signal 'secret', not one it declares (count.title, count.note)"),
        ("nan", "want a finite number"),
        ("object", "want str, number or bool"),
    ],
)
def test_a_misbehaving_enricher_is_reported_and_nothing_is_added(
    tmp_path: Path, mode: str, message: str
) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'digest.db'}")
    seen: list[tuple[str, str]] = []
    out = enrich(
        [FOLDING, HOSTILE],
        {"c": counting(tmp_path, mode)},
        store,
        lambda where, error: seen.append((where, str(error))),
    )
    assert out == [FOLDING, HOSTILE] and all("count.title" not in p.signals for p in out)
    assert seen and seen[0][0] == "enrichers.c" and message in seen[0][1], seen
    assert store.features(counting(tmp_path).namespace, [feature_key(FOLDING)]) == {}


def test_a_damaged_stored_result_is_made_again(tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'digest.db'}")
    enricher = counting(tmp_path)
    store.save_features(enricher.namespace, {feature_key(FOLDING): b"{not json"})
    (paper,) = enrich([FOLDING], {"c": enricher}, store, fail)
    assert paper.signals["count.title"] == len(FOLDING.title)
    assert CountingEnricher.asked == [str(FOLDING.id)]


# -- in a run ---------------------------------------------------------------------------------


def run_config(tmp_path: Path, extra: str) -> Path:
    write_papers(tmp_path / "papers.jsonl", [FOLDING, HOSTILE])
    config = tmp_path / "config.toml"
    config.write_text(ONE_SUBSCRIBER + extra, "utf-8")
    return config


def delivered(tmp_path: Path) -> tuple[str, str]:
    raw = next((tmp_path / "out" / "victim").glob("*/digest.eml")).read_bytes()
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    html, text = message.get_body(("html",)), message.get_body(("plain",))
    assert html is not None and text is not None
    return str(html.get_content()), str(text.get_content())


def test_the_tldr_reaches_both_parts_of_the_email_escaped(tmp_path: Path) -> None:
    config = run_config(tmp_path, '\n[enrichers.tldr]\ncomponent = "tldr"\n')
    report = build_pipeline(config).run()
    assert report.delivered == 1 and not report.problems, report.problems
    html, text = delivered(tmp_path)
    assert "TL;DR" in html and "We propose TinyFold, a distilled protein folding model" in html
    assert "TL;DR: We propose TinyFold" in " ".join(text.split())
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "{{ curly }}" in html  # shown as written, never evaluated


def test_a_failing_enricher_is_a_problem_and_the_digest_still_goes_out(tmp_path: Path) -> None:
    config = run_config(tmp_path, '\n[enrichers.c]\ncomponent = "counting"\nmode = "raise"\n')
    report = build_pipeline(config, CountingPlugin()).run()
    assert report.delivered == 1
    assert [p.where for p in report.problems] == ["enrichers.c"]
    assert "enrichment service exploded" in report.problems[0].message


def test_an_unknown_enricher_is_a_config_problem(tmp_path: Path) -> None:
    from digest.errors import ConfigError

    config = run_config(tmp_path, '\n[enrichers.x]\ncomponent = "tdlr"\n')
    with pytest.raises(ConfigError) as caught:
        build_pipeline(config)
    assert "[enrichers.x] component: unknown enricher 'tdlr'" in str(caught.value)
    assert "did you mean 'tldr'" in str(caught.value)


# -- tldr -------------------------------------------------------------------------------------


def test_sentences_do_not_end_at_abbreviations_or_decimals() -> None:
    found = sentences(FOLDING.abstract)
    assert len(found) == 4
    assert found[1].startswith("However, e.g. AlphaFold (Jumper et al. 2021) needs 3.5 times")


def test_the_contribution_sentence_is_the_tldr() -> None:
    assert summarize(FOLDING.title, FOLDING.abstract).startswith("We propose TinyFold")


@pytest.mark.parametrize(
    ("abstract", "expected"),
    [
        ("", ""),
        ("Too short. Also short.", ""),
        (
            r"We bound the $\alpha$-divergence of \emph{sparse} mixtures by $O(\sqrt{n})$ terms.",
            "We bound the α-divergence of sparse mixtures by O(√(n)) terms.",
        ),
    ],
)
def test_tldr_edge_cases(abstract: str, expected: str) -> None:
    assert summarize("Sparse mixtures", abstract) == expected


def test_tldr_is_capped_and_its_namespace_follows_the_config(tmp_path: Path) -> None:
    long = "We propose " + " ".join(["a very long and winding method"] * 40) + "."
    assert len(summarize("Methods", long, max_chars=80)) <= 80
    runtime = make_runtime(tmp_path)
    short = TldrEnricher(TldrConfig(max_chars=80), instance="t", runtime=runtime)
    default = TldrEnricher(TldrConfig(), instance="t", runtime=runtime)
    assert short.namespace != default.namespace
    assert short.enrich([make_paper("2412.00009", abstract="")]) == {"arxiv:2412.00009": {}}
