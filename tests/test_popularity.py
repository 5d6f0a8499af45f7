"""The popularity ranker: community signals, normalised per batch, explained."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from digest.batch import Batch
from digest.models import Profile
from digest.testing import NOW, check_ranker, make_paper, make_runtime
from digest_popularity.ranker import PopularityRanker


def test_more_upvotes_rank_higher_and_say_so(tmp_path: Path) -> None:
    batch = Batch(
        [
            make_paper("2406.00001", signals={"hf.upvotes": 3}),
            make_paper("2406.00002", signals={"hf.upvotes": 120, "hf.github_stars": 900}),
            make_paper("2406.00003"),
        ],
        now=NOW,
    )
    ranker = PopularityRanker(
        PopularityRanker.Config(), instance="popularity", runtime=make_runtime(tmp_path)
    )
    check_ranker(ranker, batch)
    scores = ranker.score(Profile(), batch)
    assert np.argsort(-scores).tolist() == [1, 0, 2]
    assert scores[1] == 1.0 and scores[2] == 0.0
    (reason,) = ranker.explain(Profile(), batch, 1)
    assert reason.text == "popular on Hugging Face (120 upvotes)"
    assert ranker.explain(Profile(), batch, 2) == ()
