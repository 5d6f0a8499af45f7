"""The ``tfidf`` and ``svm`` rankers (plugins/digest_tfidf)."""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

import digest_svm
import digest_tfidf
from digest import Batch, Ranker
from digest.models import Paper, Profile, Reason
from digest.testing import NOW, check_ranker, make_batch, make_paper, make_runtime
from digest_svm.ranker import SvmRanker
from digest_tfidf.index import canonical, singular, stop_words
from digest_tfidf.phrases import GENERIC, choose, own_words, paper_phrases
from digest_tfidf.rankers import TfidfRanker

ROBOTICS = [
    (
        "Diffusion policies for dexterous robot grasping",
        "We train diffusion policies for robot grasping with a dexterous hand. The robot "
        "learns manipulation skills from teleoperated demonstrations and grasps novel objects.",
    ),
    (
        "Sim-to-real transfer of robot manipulation policies",
        "Manipulation policies trained in simulation transfer to a real robot arm. We study "
        "domain randomisation for grasping and pick-and-place manipulation tasks.",
    ),
    (
        "Learning legged robot locomotion with reinforcement learning",
        "A quadruped robot learns locomotion policies with reinforcement learning in "
        "simulation; the controller transfers to the real robot on rough terrain.",
    ),
    (
        "Tactile sensing for robot manipulation of deformable objects",
        "Tactile sensors on a robot gripper improve manipulation of cloth and other "
        "deformable objects; the grasping policy uses touch feedback.",
    ),
]
NLP = [
    (
        "Large language models for machine translation",
        "We evaluate large language models on machine translation between low-resource "
        "languages; prompting improves translation quality over supervised baselines.",
    ),
    (
        "Instruction tuning improves reasoning in language models",
        "Instruction tuning on chain-of-thought data improves the reasoning of language "
        "models on math word problems and question answering benchmarks.",
    ),
    (
        "Retrieval-augmented generation for open-domain question answering",
        "A retriever selects passages and a language model generates answers; "
        "retrieval-augmented generation reduces hallucination in question answering.",
    ),
    (
        "Tokenisation effects on multilingual language model pretraining",
        "We compare tokenisers for multilingual pretraining of language models and measure "
        "downstream translation and classification quality.",
    ),
]
OTHER = [
    (
        "Backdoor attacks on federated learning",
        "Malicious clients implant backdoors into the global model of federated learning; "
        "we propose a robust aggregation defence.",
    ),
    (
        "Graph neural networks for molecule property prediction",
        "Message passing graph neural networks predict molecular properties; we add "
        "3D geometry to the node features.",
    ),
]


def _papers() -> list[Paper]:
    papers = []
    for number, (title, abstract) in enumerate(ROBOTICS + NLP + OTHER, start=1):
        papers.append(make_paper(f"2406.{number:05d}", title=title, abstract=abstract))
    return papers


# ids: robotics 2406.00001-4, NLP 2406.00005-8, other 2406.00009-10
ROBOT_CANDIDATE = 2  # position of "Learning legged robot locomotion …" (not liked)
NLP_CANDIDATE = 4  # position of "Large language models for machine translation"
LIKES_ROBOTS = Profile(liked=("2406.00001", "arxiv:2406.00002", "2406.00004v2"))


@pytest.fixture
def batch() -> Batch:
    return Batch(_papers(), now=NOW)


@pytest.fixture(params=[TfidfRanker, SvmRanker], ids=["tfidf", "svm"])
def ranker(request: pytest.FixtureRequest, tmp_path: Path) -> Ranker:
    if request.param is SvmRanker:
        return _svm(tmp_path)
    return _tfidf(tmp_path)


def _tfidf(tmp_path: Path, **options: object) -> TfidfRanker:
    config = TfidfRanker.Config(**options)
    return TfidfRanker(config, instance="tfidf", runtime=make_runtime(tmp_path))


def _svm(tmp_path: Path, **options: object) -> SvmRanker:
    # The test batches are a dozen papers: let the SVM train on them anyway.
    config = SvmRanker.Config(**{"min_candidates": 2, **options})
    return SvmRanker(config, instance="svm", runtime=make_runtime(tmp_path))


def test_registered() -> None:
    assert digest_tfidf.register_rankers() == [TfidfRanker]
    assert digest_svm.register_rankers() == [SvmRanker]


def test_contract_default_batch(ranker: Ranker) -> None:
    check_ranker(ranker)


def test_contract_real_batch(ranker: Ranker, batch: Batch) -> None:
    check_ranker(ranker, batch)
    ranker.prepare(batch)
    scores = ranker.score(LIKES_ROBOTS, batch)
    assert scores.shape == (len(batch),) and scores.min() >= 0 and scores.max() <= 1


def test_config_forbids_unknown_keys() -> None:
    with pytest.raises(ValidationError):
        TfidfRanker.Config(title_wieght=3)  # type: ignore[call-arg]
    with pytest.raises(ValidationError):
        SvmRanker.Config(C=0)


def test_liking_robotics_ranks_robotics_above_nlp(ranker: Ranker, batch: Batch) -> None:
    ranker.prepare(batch)
    scores = ranker.score(LIKES_ROBOTS, batch)
    assert scores[ROBOT_CANDIDATE] > scores[NLP_CANDIDATE]
    others = [p for p in range(len(batch)) if p not in (0, 1, 3)]
    # the best paper that is not itself liked is the robotics one
    assert max(others, key=lambda p: scores[p]) == ROBOT_CANDIDATE


def test_interests_alone_rank_with_tfidf(tmp_path: Path, batch: Batch) -> None:
    ranker = _tfidf(tmp_path)
    ranker.prepare(batch)
    scores = ranker.score(Profile(interests="language models", keywords=("translation",)), batch)
    assert scores[NLP_CANDIDATE] == scores.max() > 0
    assert scores[ROBOT_CANDIDATE] == 0


def test_tfidf_reason_names_shared_terms(tmp_path: Path, batch: Batch) -> None:
    ranker = _tfidf(tmp_path, min_reason_weight=0)
    ranker.prepare(batch)
    reason, _ = _split(ranker.explain(LIKES_ROBOTS, batch, ROBOT_CANDIDATE))
    assert reason.kind == "similar"
    # no interests text: the phrases come from the liked papers
    assert reason.text.startswith("shares “") and reason.text.endswith(" with papers you liked")
    phrases = _phrases(reason.text)
    assert 1 <= len(phrases) <= 3
    assert any("robot" in phrase for phrase in phrases)
    assert 0 < reason.weight <= 1


def test_tfidf_reason_names_the_nearest_liked_paper_in_a_small_batch(
    tmp_path: Path, batch: Batch
) -> None:
    """A dozen candidates: the liked papers nearest to a paper are half its score, and the
    reader is told which one it is close to."""
    ranker = _tfidf(tmp_path, min_reason_weight=0)
    ranker.prepare(batch)
    reasons = ranker.explain(LIKES_ROBOTS, batch, ROBOT_CANDIDATE)
    terms, nearest = _split(reasons)
    assert _phrases(terms.text)
    assert nearest.kind == "similar"
    title = _nearest_title(nearest.text)
    liked = {ROBOTICS[0][0]: "arxiv:2406.00001", ROBOTICS[1][0]: "arxiv:2406.00002"}
    liked[ROBOTICS[3][0]] = "arxiv:2406.00004"
    assert title in liked and nearest.ref == liked[title]
    assert 0 < nearest.weight <= 1
    # a liked paper is never "close to" itself
    own = ranker.explain(LIKES_ROBOTS, batch, 0)
    assert all(ROBOTICS[0][0] not in r.text for r in own)
    # without neighbours the profile alone scores; the reasons still name the nearest paper
    plain = _tfidf(tmp_path, neighbours=0, min_reason_weight=0)
    plain.prepare(batch)
    assert not np.allclose(plain.score(LIKES_ROBOTS, batch), ranker.score(LIKES_ROBOTS, batch))
    assert plain.explain(LIKES_ROBOTS, batch, ROBOT_CANDIDATE) == reasons


_NEAREST = re.compile(r"close to “(.+)”, which you liked")
_PHRASES = re.compile(
    r"(?:mentions|shares) (“[^”]+”(?:, “[^”]+”)*(?: and “[^”]+”)?) "
    r"(?:from your interests|with papers you liked)"
)


def _nearest_title(text: str) -> str:
    """The title in "close to “<title>”, which you liked"."""
    found = _NEAREST.fullmatch(text)
    assert found, text
    return found[1]


def _phrases(text: str) -> list[str]:
    """The phrases of "mentions “a”, “b” and “c” from your interests" (or "shares … with
    papers you liked")."""
    found = _PHRASES.fullmatch(text)
    assert found, text
    return re.findall(r"“([^”]+)”", found[1])


def _split(reasons: Sequence[Reason]) -> tuple[Reason, Reason]:
    """A tfidf pick's phrase reason and its nearest-liked one (strongest first, either may
    come first)."""
    phrases = [r for r in reasons if r.ref is None]
    nearest = [r for r in reasons if r.ref is not None]
    assert len(phrases) == 1 and len(nearest) == 1, reasons
    assert [r.weight for r in reasons] == sorted((r.weight for r in reasons), reverse=True)
    return phrases[0], nearest[0]


def _svm_title(text: str) -> str:
    """The title in the svm ranker's "close to “<title>” and the other papers you liked"."""
    found = re.fullmatch(r"close to “(.+)” and the other papers you liked", text)
    assert found, text
    return found[1]


def test_svm_reason_names_nearest_liked_paper(tmp_path: Path, batch: Batch) -> None:
    ranker = _svm(tmp_path)
    ranker.prepare(batch)
    # "Tactile sensing … manipulation" is nearest to the other manipulation/grasping papers
    (reason,) = ranker.explain(LIKES_ROBOTS, batch, ROBOT_CANDIDATE)
    assert reason.kind == "svm"
    liked_titles = {ROBOTICS[0][0], ROBOTICS[1][0], ROBOTICS[3][0]}
    assert _svm_title(reason.text) in liked_titles
    assert 0 < reason.weight <= 1
    # a liked paper is never "close to" itself
    (own,) = ranker.explain(LIKES_ROBOTS, batch, 0)
    assert ROBOTICS[0][0] not in own.text


@pytest.mark.parametrize(
    "profile",
    [
        Profile(),
        Profile(keywords=("robot",), categories=("cs.RO",)),
        Profile(liked=("9999.99999",)),
    ],
    ids=["empty", "keywords-only", "unknown-liked"],
)
def test_zeros_without_usable_profile(tmp_path: Path, batch: Batch, profile: Profile) -> None:
    svm = _svm(tmp_path)
    svm.prepare(batch)
    assert not svm.score(profile, batch).any()
    assert svm.explain(profile, batch, 0) == ()
    if not profile.keywords:
        tfidf = _tfidf(tmp_path)
        tfidf.prepare(batch)
        assert not tfidf.score(profile, batch).any()
        assert tfidf.explain(profile, batch, 0) == ()


def test_svm_needs_two_liked_papers(tmp_path: Path, batch: Batch) -> None:
    ranker = _svm(tmp_path)
    ranker.prepare(batch)
    one = Profile(liked=("2406.00001", "2406.00001v2", "9999.99999"))  # one paper, twice
    assert not ranker.score(one, batch).any()
    assert ranker.score(Profile(liked=("2406.00001", "2406.00002")), batch).any()


def test_empty_batch(ranker: Ranker) -> None:
    batch = Batch([], now=NOW)
    ranker.prepare(batch)
    assert ranker.score(LIKES_ROBOTS, batch).shape == (0,)


def test_batch_without_vocabulary(ranker: Ranker) -> None:
    batch = make_batch(
        [make_paper(f"2406.0000{i}", title="The and of", abstract="") for i in range(1, 4)]
    )
    ranker.prepare(batch)
    profile = Profile(interests="the", liked=("2406.00001", "2406.00002"))
    assert not ranker.score(profile, batch).any()
    assert ranker.explain(profile, batch, 2) == ()


def test_liked_papers_outside_the_batch(ranker: Ranker, batch: Batch) -> None:
    """Old liked papers count once the core provides them as batch references."""
    old = [
        make_paper("2301.00001", title=ROBOTICS[0][0], abstract=ROBOTICS[0][1]),
        make_paper("2301.00002", title=ROBOTICS[1][0], abstract=ROBOTICS[1][1]),
    ]
    candidates = Batch(batch.papers[2:], now=NOW)  # drop the two liked robotics papers
    profile = Profile(liked=("2301.00001", "arXiv:2301.00002v3"))
    ranker.prepare(candidates)
    assert not ranker.score(profile, candidates).any()  # texts unknown: nothing to go on
    candidates = Batch(batch.papers[2:], now=NOW, references={str(p.id): p for p in old})
    fresh = type(ranker)(ranker.config, instance="again", runtime=ranker.runtime)
    scores = fresh.score(profile, candidates)
    robot, nlp = ROBOT_CANDIDATE - 2, NLP_CANDIDATE - 2
    assert scores[robot] > scores[nlp]
    reasons = fresh.explain(profile, candidates, robot)
    assert reasons and all(r.text for r in reasons)
    if isinstance(fresh, SvmRanker):
        (reason,) = reasons
        assert _svm_title(reason.text) in {p.title for p in old}
    else:
        _, nearest = _split(reasons)
        assert _nearest_title(nearest.text) in {p.title for p in old}
        assert nearest.ref in {str(p.id) for p in old}


def test_references_vectorised_in_prepare_score_as_one_by_one(ranker: Ranker, batch: Batch) -> None:
    """prepare() vectorises every reference in one pass (before workers fork); the vectors
    must be the ones a lone subscriber's lookup makes."""
    old = [
        make_paper(f"2301.{n:05d}", title=title, abstract=abstract)
        for n, (title, abstract) in enumerate(ROBOTICS + NLP[:1], start=1)
    ]
    references = {str(p.id): p for p in old}
    profile = Profile(liked=tuple(references), disliked=("2301.00005",))
    if isinstance(ranker, SvmRanker):
        profile = Profile(liked=tuple(references)[:4])
    prepared = Batch(batch.papers[2:], now=NOW, references=references)
    ranker.prepare(prepared)
    lazy = Batch(batch.papers[2:], now=NOW, references=references)
    other = type(ranker)(ranker.config, instance="lazy", runtime=ranker.runtime)
    expected = np.asarray(other.score(profile, lazy))
    assert expected.any()
    np.testing.assert_allclose(ranker.score(profile, prepared), expected, rtol=1e-5, atol=1e-6)
    assert ranker.explain(profile, prepared, 0) == other.explain(profile, lazy, 0)


def test_disliked_lower_tfidf_scores(tmp_path: Path, batch: Batch) -> None:
    ranker = _tfidf(tmp_path)
    ranker.prepare(batch)
    liked = Profile(liked=("2406.00001", "2406.00005"))
    disliked = Profile(liked=liked.liked, disliked=("2406.00006", "2406.00007"))
    tokeniser = 7  # NLP, neither liked nor disliked
    assert ranker.score(disliked, batch)[tokeniser] < ranker.score(liked, batch)[tokeniser]


def test_rankers_share_one_index(tmp_path: Path, batch: Batch) -> None:
    tfidf, svm = _tfidf(tmp_path), _svm(tmp_path)
    tfidf.prepare(batch)
    svm.prepare(batch)
    assert batch.cache["rankers.tfidf"] is batch.cache["rankers.svm"]
    other = TfidfRanker(
        TfidfRanker.Config(title_weight=3), instance="titles", runtime=make_runtime(tmp_path)
    )
    other.prepare(batch)
    assert batch.cache["rankers.titles"] is not batch.cache["rankers.tfidf"]


def test_scores_are_fresh_arrays(ranker: Ranker, batch: Batch) -> None:
    ranker.prepare(batch)
    first = ranker.score(LIKES_ROBOTS, batch)
    first[:] = 0
    assert ranker.score(LIKES_ROBOTS, batch).any()


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("2406.01234", "arxiv:2406.01234"),
        ("arxiv:2406.01234", "arxiv:2406.01234"),
        ("arXiv:2406.01234v3", "arxiv:2406.01234"),
        ("https://arxiv.org/abs/2406.01234v2", "arxiv:2406.01234"),
        ("hep-th/9901001", "arxiv:hep-th/9901001"),
        ("doi:10.1000/XYZ", "doi:10.1000/xyz"),
        ("https://doi.org/10.1000/xyz", "doi:10.1000/xyz"),
        ("fp:3f2a", "fp:3f2a"),
    ],
)
def test_canonical_ids(written: str, expected: str) -> None:
    assert canonical(written) == expected


def test_scores_in_unit_interval_on_many_profiles(ranker: Ranker, batch: Batch) -> None:
    ranker.prepare(batch)
    rng = np.random.default_rng(0)
    ids = [str(p.id) for p in batch.papers]
    for _ in range(20):
        liked = tuple(rng.choice(ids, size=int(rng.integers(0, 5)), replace=False))
        scores = ranker.score(Profile(liked=liked, interests="robot"), batch)
        assert np.isfinite(scores).all() and scores.min() >= 0 and scores.max() <= 1


def test_svm_abstains_on_a_handful_of_candidates(tmp_path: Path, batch: Batch) -> None:
    svm = SvmRanker(SvmRanker.Config(), instance="svm", runtime=make_runtime(tmp_path))
    assert len(batch) < svm.config.min_candidates
    assert not svm.score(Profile(liked=("2406.00001", "2406.00002")), batch).any()


# -- a day-sized batch: four topics, common words, a few rare ones ----------------------------

TOPICS = {
    "robotics": "robot manipulation grasping locomotion gripper policy legged arm quadruped "
    "teleoperation humanoid navigation",
    "language": "language translation reasoning prompt token instruction question answering "
    "multilingual dialogue summarisation corpus",
    "security": "attack adversarial privacy backdoor defence malware intrusion encryption "
    "threat vulnerability phishing firewall",
    "vision": "image segmentation detection pixel camera video depth scene visual "
    "recognition rendering lidar",
}
COMMON = ["learning", "method", "results", "propose", "performance", "approach", "data", "model"]


def _topic_paper(rng: np.random.Generator, pid: str, topic: str, extra: str = "") -> Paper:
    words = TOPICS[topic].split()
    title = " ".join(rng.choice(words, 3, replace=False))
    abstract = " ".join([*rng.choice(words, 12), *rng.choice(COMMON, 5)])
    return make_paper(pid, title=title.capitalize(), abstract=f"{abstract} {extra}".strip())


def _day(seed: int = 0, per_topic: int = 15) -> list[Paper]:
    rng = np.random.default_rng(seed)
    return [
        _topic_paper(rng, f"2407.{t * 100 + i:05d}", topic)
        for t, topic in enumerate(TOPICS)
        for i in range(per_topic)
    ]


def _liked(topic: str, count: int = 3, extra: str = "", first: int = 0) -> list[Paper]:
    rng = np.random.default_rng(99 + first)
    return [_topic_paper(rng, f"2301.{first + i:05d}", topic, extra) for i in range(count)]


def _with_references(papers: list[Paper], liked: list[Paper]) -> tuple[Batch, Profile]:
    batch = Batch(papers, now=NOW, references={str(p.id): p for p in liked})
    return batch, Profile(liked=tuple(str(p.id) for p in liked))


def test_day_sized_batch_ranks_the_liked_topic_first(ranker: Ranker) -> None:
    papers = _day()
    batch, profile = _with_references(papers, _liked("robotics"))
    assert len(batch) >= 50  # the batch centroid is contrasted against
    ranker.prepare(batch)
    scores = ranker.score(profile, batch)
    robotics = [i for i, p in enumerate(papers) if str(p.id).startswith("arxiv:2407.000")]
    top = np.argsort(-scores, kind="stable")[: len(robotics)]
    assert set(top.tolist()) == set(robotics)
    if isinstance(ranker, TfidfRanker):  # a day's batch: the reasons name the nearest paper too
        _, nearest = _split(ranker.explain(profile, batch, int(top[0])))
        assert _nearest_title(nearest.text) in {p.title for p in _liked("robotics")}
        assert nearest.ref in profile.liked


def test_a_rare_word_shared_with_liked_papers_counts(tmp_path: Path) -> None:
    """A word that a single new paper shares with the liked papers ("tactile") lifts it above
    its twin, which has a different rare word; neither word changes the papers' norms."""
    papers = _day()
    twin = papers[3]
    papers[3] = replace(twin, abstract=f"{twin.abstract} tactile")
    papers.append(make_paper("2407.09999", title=twin.title, abstract=f"{twin.abstract} sonar"))
    batch, profile = _with_references(papers, _liked("robotics", extra="tactile sensing tactile"))
    ranker = _tfidf(tmp_path)
    ranker.prepare(batch)
    scores = ranker.score(profile, batch)
    assert scores[3] > scores[len(papers) - 1]
    reason, _ = _split(ranker.explain(profile, batch, 3))
    assert "tactile" in reason.text
    rows = ranker.vectors(batch)
    norms = np.sqrt(np.asarray(rows.multiply(rows).sum(axis=1)).ravel())
    assert np.allclose(norms, 1.0, atol=1e-5)  # diversity still gets unit rows


def test_plurals_meet_singulars(tmp_path: Path, batch: Batch) -> None:
    """Interests in the plural find papers written in the singular, and the reverse."""
    ranker = _tfidf(tmp_path)
    ranker.prepare(batch)
    scores = ranker.score(Profile(interests="grasping policies for robots"), batch)
    assert scores[0] == scores.max() > 0  # "Diffusion policies for dexterous robot grasping"
    (reason,) = ranker.explain(Profile(interests="dexterous hands"), batch, 0)
    # their words, as the paper writes them ("a dexterous hand")
    assert reason.text == "mentions “dexterous hand” from your interests"


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("policies", "policy"),
        ("robots", "robot"),
        ("transformers", "transformer"),
        ("analysis", "analysis"),
        ("class", "class"),
        ("bias", "bias"),
        ("series", "series"),
        ("gas", "gas"),
        ("status", "status"),
    ],
)
def test_singular(word: str, expected: str) -> None:
    assert singular(word) == expected


def test_small_batch_with_broad_interests(tmp_path: Path) -> None:
    """Ten candidates, six liked papers on robotics and one on security: the papers on either
    topic still come first."""
    rng = np.random.default_rng(5)
    topics = ["robotics", "security", "language", "vision"] * 2 + ["language", "vision"]
    papers = [_topic_paper(rng, f"2407.{i:05d}", topic) for i, topic in enumerate(topics)]
    liked = _liked("robotics", count=6) + _liked("security", count=1, first=10)
    batch, profile = _with_references(papers, liked)
    ranker = _tfidf(tmp_path)
    ranker.prepare(batch)
    scores = ranker.score(profile, batch)
    wanted = {i for i, topic in enumerate(topics) if topic in ("robotics", "security")}
    assert set(np.argsort(-scores, kind="stable")[: len(wanted)].tolist()) == wanted


def test_small_batch_ignores_what_every_candidate_says(tmp_path: Path) -> None:
    """Among a handful of candidates a word they all use ("model") tells them apart no more
    than a stop word: sharing only it with the liked papers scores next to nothing."""
    filler = ["vision", "language", "security", "vision", "language", "security"]
    rng = np.random.default_rng(3)
    papers = [_topic_paper(rng, f"2407.{i:05d}", t, "model") for i, t in enumerate(filler)]
    papers.append(make_paper("2407.00100", title="A model", abstract="model model model"))
    papers.append(make_paper("2407.00101", title="Tactile model", abstract="tactile gripper"))
    liked = _liked("robotics", extra="model tactile")
    batch, profile = _with_references(papers, liked)
    ranker = _tfidf(tmp_path)
    ranker.prepare(batch)
    scores = ranker.score(profile, batch)
    assert scores[7] == scores.max()
    assert scores[6] < 0.2 * scores[7]


def test_svm_with_rare_words_in_outside_liked_papers(tmp_path: Path) -> None:
    papers = _day()
    batch, profile = _with_references(papers, _liked("security", extra="ransomware exploit"))
    svm = _svm(tmp_path)
    svm.prepare(batch)
    scores = svm.score(profile, batch)
    security = {i for i, p in enumerate(papers) if str(p.id).startswith("arxiv:2407.002")}
    assert int(np.argmax(scores)) in security
    (reason,) = svm.explain(profile, batch, int(np.argmax(scores)))
    assert _svm_title(reason.text)


def test_svm_abstains_when_every_liked_paper_is_also_disliked(tmp_path: Path, batch: Batch) -> None:
    svm = _svm(tmp_path)
    svm.prepare(batch)
    both = ("2406.00001", "2406.00002")
    assert not svm.score(Profile(liked=both, disliked=both), batch).any()


def test_svm_scores_the_same_twice(tmp_path: Path) -> None:
    """The same day and profile give the same ranking on every run (a re-run or a preview
    must not pick differently): the SVM's training is seeded."""
    papers = _day()
    batch, profile = _with_references(papers, _liked("robotics", count=5))
    runs = []
    for attempt in range(3):
        ranker = _svm(tmp_path, min_candidates=2)
        again = Batch(batch.papers, now=NOW, references=batch.references)
        ranker.prepare(again)
        runs.append(np.asarray(ranker.score(profile, again)))
        assert runs[-1].any(), attempt
    assert all(np.array_equal(runs[0], other) for other in runs[1:])


# -- reasons in real phrases -------------------------------------------------------------------

#: invented papers: two that run "… evaluation. Large language models …" across a sentence
#: end, two titled like "Attention Is All You Need", one with LaTeX in its title
LLM = [
    (
        "Agentic benchmarks for reliable evaluation",
        "We design agentic tasks for reliable evaluation. Large language models fail on long "
        "horizons, and tool use breaks when large language models plan several steps ahead.",
    ),
    (
        "Judging answers with careful evaluation",
        "Open-ended answers need careful evaluation. Large language models disagree with human "
        "raters, and a language model judge favours long answers.",
    ),
    (
        "Sparsity Is All You Need",
        "Sparse adapters need fewer parameters. We prune adapter weights and keep sparse "
        "adapters accurate on reading comprehension.",
    ),
    (
        "Adapters Are All You Need for Sparse Fine-tuning",
        "Sparse adapters need little memory; fine-tuning sparse adapters matches full fine-tuning.",
    ),
    (
        r"Dexterous grasping with $\alpha$-divergence \emph{diffusion} policies",
        r"Diffusion policies regularised with an $\alpha$-divergence grasp objects with a "
        r"dexterous hand.",
    ),
]
AGENTS, JUDGES, SPARSITY, ADAPTERS, LATEX = range(10, 15)  # positions in _llm_batch()


def _llm_batch() -> Batch:
    papers = _papers() + [
        make_paper(f"2406.{number:05d}", title=title, abstract=abstract)
        for number, (title, abstract) in enumerate(LLM, start=11)
    ]
    return Batch(papers, now=NOW)


def _gain(ranker: TfidfRanker, profile: Profile, batch: Batch, position: int, term: str) -> float:
    """What ``term`` adds to the paper's similarity to the profile."""
    index = ranker._index(batch)
    interest = ranker._interest(profile, batch)
    assert interest is not None
    column = index.vocabulary[term]
    row = index.row(position)
    where = np.flatnonzero(row.indices == column)
    return float(row.data[where].sum() * interest.vector[column])


def _all_phrases(reasons: Sequence[Reason]) -> list[str]:
    return [p for r in reasons if r.ref is None for p in _phrases(r.text)]


def test_no_phrase_crosses_a_sentence_end(tmp_path: Path) -> None:
    """ "… evaluation. Large language models …": the index has the pair "evaluation large" and
    it adds to the similarity, but a reason never says it."""
    batch = _llm_batch()
    ranker = _tfidf(tmp_path, min_reason_weight=0)
    ranker.prepare(batch)
    profile = Profile(liked=(str(batch[JUDGES].id),))
    assert _gain(ranker, profile, batch, AGENTS, "evaluation large") > 0
    reasons = ranker.explain(profile, batch, AGENTS)
    phrases = _all_phrases(reasons)
    assert "large language models" in phrases
    assert all("evaluation large" not in r.text.lower() for r in reasons)
    text = f"{LLM[0][0]}. {LLM[0][1]}"
    for phrase in phrases:  # words next to each other in one sentence of the paper
        assert re.search(rf"(?i)(^|[^\w.]){re.escape(phrase)}([^\w]|$)", text), phrase
        assert not re.search(r"[.,;:()]", phrase)


def test_no_stop_word_fragment_from_an_all_you_need_title(tmp_path: Path) -> None:
    """ "Sparsity Is All You Need" shares "need" with a liked "… All You Need …" paper: the
    reason names what they share, never "need"."""
    batch = _llm_batch()
    ranker = _tfidf(tmp_path, min_reason_weight=0)
    ranker.prepare(batch)
    profile = Profile(liked=(str(batch[ADAPTERS].id),))
    assert _gain(ranker, profile, batch, SPARSITY, "need") > 0
    reasons = ranker.explain(profile, batch, SPARSITY)
    phrases = _all_phrases(reasons)
    assert phrases == ["sparse adapters"]
    assert not any(re.search(r"\bneed\b", phrase, re.I) for phrase in phrases)
    assert paper_phrases(LLM[2][0], "").phrases == ((0, 1),)  # "sparsity" alone


def test_their_own_phrase_is_shown_whole(tmp_path: Path) -> None:
    """Interests "large language models" against a paper saying "large language models": one
    phrase, not "large language" and "language model"; their "tool use" too, though "use" on
    its own is a generic word."""
    batch = _llm_batch()
    ranker = _tfidf(tmp_path)
    ranker.prepare(batch)
    (reason,) = ranker.explain(Profile(interests="large language models"), batch, AGENTS)
    assert reason.text == "mentions “large language models” from your interests"
    assert 0.1 <= reason.weight <= 1
    profile = Profile(interests="I work on large language models", keywords=("tool use",))
    (reason,) = ranker.explain(profile, batch, AGENTS)
    assert set(_phrases(reason.text)) == {"large language models", "tool use"}
    assert reason.text.endswith("” from your interests") and " and “" in reason.text


def test_phrases_never_contain_or_overlap_each_other() -> None:
    text = paper_phrases(LLM[0][0], LLM[0][1])
    gains = {
        "evaluation large": 1.0,
        "large language": 0.5,
        "language model": 0.5,
        "large": 0.1,
        "language": 0.1,
        "model": 0.1,
        "reliable evaluation": 0.3,
        "evaluation": 0.2,
        "tool": 0.05,
    }
    shown = [s.text for s in choose(text, gains, None)]
    assert shown == ["large language models", "reliable evaluation"]


def test_their_words_make_the_longer_phrase() -> None:
    """ "large" adds next to nothing here, so the paper's phrase alone is "language models";
    the subscriber who wrote "large language models" reads it whole."""
    text = paper_phrases(LLM[0][0], LLM[0][1])
    gains = {"large language": 0.01, "language model": 0.5, "language": 0.1, "model": 0.1}
    assert [s.text for s in choose(text, gains, None)] == ["language models"]
    own = own_words("large language models", ())
    (shown,) = choose(text, gains, own)
    assert shown.text == "large language models" and shown.own


def test_a_phrase_is_a_run_of_content_words() -> None:
    text = paper_phrases(
        "Towards Novel Approaches: Using Diffusion Policies",
        "We propose a new method based on diffusion policies; results show robots can grasp.",
    )
    runs = [text.shown(a, b) for a, b in text.phrases]
    assert runs == ["diffusion policies", "diffusion policies", "robots", "grasp"]
    assert text.folded[text.phrases[0][0] : text.phrases[0][1]] == ("diffusion", "policy")


def test_nearest_liked_paper_clause_and_its_floor(tmp_path: Path, batch: Batch) -> None:
    ranker = _tfidf(tmp_path, min_reason_weight=0)
    ranker.prepare(batch)
    _, nearest = _split(ranker.explain(LIKES_ROBOTS, batch, ROBOT_CANDIDATE))
    assert nearest.text == f"close to “{ROBOTICS[1][0]}”, which you liked"
    assert nearest.ref == "arxiv:2406.00002" and 0 < nearest.weight < 1
    # just below the floor: left out; the phrases (stronger) stay
    above = _tfidf(tmp_path, min_reason_weight=nearest.weight + 0.01)
    above.prepare(batch)
    reasons = above.explain(LIKES_ROBOTS, batch, ROBOT_CANDIDATE)
    assert all(r.ref is None for r in reasons)
    assert all(r.weight >= nearest.weight + 0.01 for r in reasons)
    # everything weak: nothing said
    strict = _tfidf(tmp_path, min_reason_weight=1)
    strict.prepare(batch)
    assert strict.explain(LIKES_ROBOTS, batch, ROBOT_CANDIDATE) == ()
    # the default floor drops weak evidence
    assert TfidfRanker.Config().min_reason_weight == 0.1
    with pytest.raises(ValidationError):
        TfidfRanker.Config(min_reason_weight=1.5)


def test_latex_in_titles_is_readable(tmp_path: Path) -> None:
    batch = _llm_batch()
    ranker = _tfidf(tmp_path, min_reason_weight=0)
    ranker.prepare(batch)
    liked = Profile(interests="dexterous grasping", liked=(str(batch[LATEX].id),))
    reasons = ranker.explain(liked, batch, 0)  # "Diffusion policies for dexterous robot …"
    _, nearest = _split(reasons)
    assert (
        nearest.text
        == "close to “Dexterous grasping with α-divergence diffusion policies”, which you liked"
    )
    reasons = ranker.explain(Profile(liked=("2406.00001",)), batch, LATEX)
    assert _all_phrases(reasons)
    assert all("$" not in r.text and "\\" not in r.text and "emph" not in r.text for r in reasons)


@pytest.mark.parametrize("min_reason_weight", [0.0, 0.1])
def test_reason_texts_are_clauses(tmp_path: Path, min_reason_weight: float) -> None:
    """Every reason on a day-sized batch is a lower-case clause of one of the three shapes,
    with no similarity number; its phrases are real ones, none inside or overlapping another."""
    papers = _day()
    liked = _liked("robotics", count=3) + _liked("security", count=2, first=10)
    batch = Batch(papers, now=NOW, references={str(p.id): p for p in liked})
    ranker = _tfidf(tmp_path, min_reason_weight=min_reason_weight)
    ranker.prepare(batch)
    stop = stop_words() | GENERIC
    profiles = [
        Profile(liked=tuple(str(p.id) for p in liked)),
        Profile(interests="robot manipulation and grasping", keywords=("privacy attack",)),
        Profile(interests="adversarial attack", liked=tuple(str(p.id) for p in liked[:2])),
    ]
    said = 0
    for profile in profiles:
        scores = ranker.score(profile, batch)
        for position in np.argsort(-scores, kind="stable")[:10].tolist():
            for reason in ranker.explain(profile, batch, position):
                said += 1
                text = reason.text
                assert text[:1].islower() and not re.search(r"\d", text), text
                assert min_reason_weight <= reason.weight <= 1
                if reason.ref is not None:
                    assert _nearest_title(text)
                    continue
                phrases = _phrases(text)
                assert 1 <= len(phrases) <= 3
                for phrase in phrases:
                    words = phrase.split()
                    assert 1 <= len(words) <= 4
                    if len(words) == 1:
                        assert len(phrase) >= 4 and phrase.lower() not in stop, phrase
                for a, b in itertools.permutations(phrases, 2):
                    assert f" {a} " not in f" {b} ", (a, b)
    assert said >= 20
