"""Canonical paper identity: every arXiv spelling, DOI fallback, title fingerprint."""

from __future__ import annotations

import pytest

from digest.identity import canonical_id, find_arxiv, fingerprint, normalize_doi, parse_arxiv
from digest.models import PaperId


@pytest.mark.parametrize(
    ("text", "expected", "version"),
    [
        ("2406.01234", "2406.01234", None),
        ("2406.01234v2", "2406.01234", 2),
        ("0704.0001", "0704.0001", None),
        ("1501.00001v12", "1501.00001", 12),
        ("arXiv:2406.01234v3", "2406.01234", 3),
        ("arxiv:2406.01234", "2406.01234", None),
        ("ARXIV: 2406.01234", "2406.01234", None),
        ("oai:arXiv.org:2506.08473v1", "2506.08473", 1),
        ("hep-th/9901001", "hep-th/9901001", None),
        ("hep-th/9901001v2", "hep-th/9901001", 2),
        ("math.GT/0309136v1", "math.GT/0309136", 1),
        ("arXiv:astro-ph/0601001v1", "astro-ph/0601001", 1),
        ("https://arxiv.org/abs/2406.01234v2", "2406.01234", 2),
        ("http://arxiv.org/abs/2406.01234", "2406.01234", None),
        ("https://arxiv.org/pdf/2406.01234v2.pdf", "2406.01234", 2),
        ("https://arxiv.org/pdf/2406.01234", "2406.01234", None),
        ("http://export.arxiv.org/abs/hep-th/9901001v2", "hep-th/9901001", 2),
        ("https://arxiv.org/abs/2406.01234?context=cs", "2406.01234", None),
        ("10.48550/arXiv.2406.01234", "2406.01234", None),
    ],
)
def test_every_arxiv_spelling_gives_the_versionless_id(
    text: str, expected: str, version: int | None
) -> None:
    ref = parse_arxiv(text)
    assert ref is not None
    assert (ref.id, ref.version) == (expected, version)


@pytest.mark.parametrize(
    "text", ["", "hello", "2406.123", "12345.67890", "https://example.org/abs/2406.01234"]
)
def test_non_ids_are_not_mistaken_for_arxiv(text: str) -> None:
    assert parse_arxiv(text) is None


def test_arxiv_ids_are_found_inside_announcement_text() -> None:
    ref = find_arxiv("arXiv:2506.08473v2 Announce Type: replace \nAbstract: …")
    assert ref is not None and (ref.id, ref.version) == ("2506.08473", 2)


@pytest.mark.parametrize(
    ("text", "doi"),
    [
        ("10.1145/3404835.3462891", "10.1145/3404835.3462891"),
        ("https://doi.org/10.1038/S41586-020-2649-2", "10.1038/s41586-020-2649-2"),
        ("doi:10.1000/xyz123.", "10.1000/xyz123"),
        ("http://dx.doi.org/10.1000/ABC", "10.1000/abc"),
        ("https://pubs.acs.org/doi/10.1021/jacs.4c01234?af=R", "10.1021/jacs.4c01234"),
        ("https://doi.org/10.1000/a%2Fb#section", "10.1000/a/b"),
        ("not a doi", None),
    ],
)
def test_dois_are_normalised(text: str, doi: str | None) -> None:
    assert normalize_doi(text) == doi


def test_versions_and_spellings_of_one_paper_share_one_id() -> None:
    ids = {
        canonical_id(title="X", arxiv="2406.01234v1")[0],
        canonical_id(title="X (revised)", arxiv="arXiv:2406.01234v2")[0],
        canonical_id(title="X", links=("https://arxiv.org/abs/2406.01234v3",))[0],
        canonical_id(title="X", doi="10.48550/arXiv.2406.01234")[0],
    }
    assert ids == {PaperId(kind="arxiv", value="2406.01234")}


def test_doi_is_used_when_there_is_no_arxiv_id() -> None:
    paper_id, version = canonical_id(
        title="A journal paper", links=("https://doi.org/10.1145/3404835.3462891",)
    )
    assert str(paper_id) == "doi:10.1145/3404835.3462891" and version is None


def test_fingerprint_ignores_case_accents_punctuation_and_name_order() -> None:
    a = fingerprint("Schrödinger Bridges: A Survey!", "Erwin Schrödinger")
    b = fingerprint("schrodinger bridges -- a survey", "Schrodinger, Erwin")
    assert a == b
    assert a != fingerprint("Schrödinger Bridges: A Survey", "Someone Else")
    paper_id, _ = canonical_id(
        title="Schrödinger Bridges: A Survey!", first_author="E. Schrödinger"
    )
    assert paper_id.kind == "fp"


def test_canonical_ids_round_trip_through_text() -> None:
    for text in ("arxiv:2406.01234", "arxiv:hep-th/9901001", "doi:10.1/x", "fp:abc"):
        assert str(PaperId.parse(text)) == text
    with pytest.raises(ValueError):
        PaperId.parse("isbn:123")
