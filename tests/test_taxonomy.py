"""The arXiv taxonomy written down in digest/taxonomy.py: complete, searchable, helpful."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from digest import taxonomy
from digest.taxonomy import CATEGORIES, GROUPS, by_code, is_known, problem, search, suggest


def codes(found: list[taxonomy.Category]) -> list[str]:
    return [c.code for c in found]


def test_every_group_and_the_well_known_categories_are_there() -> None:
    assert 150 <= len(CATEGORIES) <= 160
    assert set(GROUPS) == {
        "Computer Science",
        "Economics",
        "Electrical Engineering and Systems Science",
        "Mathematics",
        "Physics",
        "Quantitative Biology",
        "Quantitative Finance",
        "Statistics",
    }
    for code, name, group in [
        ("cs.LG", "Machine Learning", "Computer Science"),
        ("cs.RO", "Robotics", "Computer Science"),
        ("cs.CL", "Computation and Language", "Computer Science"),
        ("stat.ML", "Machine Learning", "Statistics"),
        ("math.OC", "Optimization and Control", "Mathematics"),
        ("hep-th", "High Energy Physics - Theory", "Physics"),
        ("quant-ph", "Quantum Physics", "Physics"),
        ("astro-ph.CO", "Cosmology and Nongalactic Astrophysics", "Physics"),
        ("cond-mat.stat-mech", "Statistical Mechanics", "Physics"),
        ("physics.optics", "Optics", "Physics"),
        ("q-bio.NC", "Neurons and Cognition", "Quantitative Biology"),
        ("q-fin.ST", "Statistical Finance", "Quantitative Finance"),
        ("eess.SP", "Signal Processing", "Electrical Engineering and Systems Science"),
        ("econ.EM", "Econometrics", "Economics"),
    ]:
        found = by_code(code)
        assert found is not None, code
        assert (found.code, found.name, found.group) == (code, name, group)
    assert by_code("cond-mat.stat-mech") is not None
    assert by_code("hep-th") is not None and by_code("hep-th").archive == "hep-th"  # type: ignore[union-attr]
    assert by_code("cs.LG").archive == "cs"  # type: ignore[union-attr]


def test_no_duplicates_and_codes_are_well_formed() -> None:
    all_codes = codes(list(CATEGORIES))
    assert len(all_codes) == len(set(all_codes))
    assert len({c.casefold() for c in all_codes}) == len(all_codes)
    for c in CATEGORIES:
        assert re.fullmatch(r"[a-z-]+(\.[A-Za-z-]+)?", c.code), c.code
        assert c.name and c.name == c.name.strip() and c.group in GROUPS


def test_lookup_is_exact_for_is_known_and_any_case_for_by_code() -> None:
    assert is_known("cs.LG") and not is_known("cs.lg") and not is_known("cs.XX")
    assert by_code("cs.lg") == by_code(" CS.LG ") == by_code("cs.LG")
    assert by_code("cs.XX") is None and by_code("") is None


def test_search_puts_code_prefixes_first_then_names() -> None:
    assert codes(search("robot")) == ["cs.RO"]
    assert codes(search("cs.l")) == ["cs.LG", "cs.LO"]
    assert codes(search("CS.LG")) == ["cs.LG"]
    assert codes(search("machine learning")) == ["cs.LG", "stat.ML"]
    assert codes(search("learning machine")) == ["cs.LG", "stat.ML"]
    # a code prefix beats a name that merely contains the text
    assert codes(search("stat"))[:6] == [
        "stat.AP",
        "stat.CO",
        "stat.ME",
        "stat.ML",
        "stat.OT",
        "stat.TH",
    ]
    assert "cond-mat.stat-mech" in codes(search("stat", limit=None))
    assert codes(search("hep")) == ["hep-ex", "hep-lat", "hep-ph", "hep-th"]
    assert search("no such subject at all") == []


def test_search_limits_and_lists_everything_for_empty_text() -> None:
    assert len(search("cs", limit=5)) == 5
    everything = search("cs", limit=None)
    assert [c.archive for c in everything[:40]] == ["cs"] * 40
    assert "physics.optics" in codes(everything[40:])  # "physics" contains "cs"
    assert len(search("", limit=None)) == len(CATEGORIES)
    assert len(search("")) == 20


@pytest.mark.parametrize(
    ("typed", "nearest"),
    [
        ("cs.LGG", "cs.LG"),
        ("cs.lg", "cs.LG"),
        ("CS.ro", "cs.RO"),
        ("hep-tj", "hep-th"),
        ("cond-mat.Soft", "cond-mat.soft"),
        ("robotics", "cs.RO"),
    ],
)
def test_unknown_codes_get_the_nearest_as_a_suggestion(typed: str, nearest: str) -> None:
    assert suggest(typed) == f" (did you mean {nearest!r}?)"
    assert problem(typed) == f"unknown arXiv category {typed!r} (did you mean {nearest!r}?)"


def test_known_codes_have_no_problem_and_far_ones_no_suggestion() -> None:
    assert problem("cs.LG") is None
    assert problem("zzz") == "unknown arXiv category 'zzz'"


def test_importing_the_taxonomy_is_cheap() -> None:
    code = (
        "import sys, digest.taxonomy; "
        "print(sorted(m for m in ('pydantic', 'sqlalchemy', 'click', 'numpy') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"
