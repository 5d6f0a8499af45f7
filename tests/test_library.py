"""Liked papers from BibTeX and Zotero exports, stored and added to a subscriber."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from conftest import CliResult
from digest.library import read_library

BIBTEX = r"""
@article{lovelace2024,
  title = {Robot {G}rasping with Diffusion Policies},
  author = {Lovelace, Ada and Turing, Alan},
  eprint = {2406.01234v2}, archivePrefix = {arXiv},
  abstract = {We teach robots to grasp.}
}
@inproceedings{hopper2023,
  title = {Compilers for Robots}, author = {Hopper, Grace},
  doi = {https://doi.org/10.1145/3404835.3462891}
}
@book{nothing, title = {A Book Without Identifiers}, author = {Nobody}}
"""

ZOTERO_CSV = (
    '"Key","Item Type","Author","Title","Abstract Note","DOI","Url","Extra"\n'
    '"K1","preprint","Lovelace, Ada; Turing, Alan","Robot Grasping","We grasp.","",'
    '"https://arxiv.org/abs/2406.01234","arXiv: 2406.01234"\n'
    '"K2","journalArticle","Hopper, Grace","Compilers","","10.1145/3404835.3462891","",""\n'
    '"K3","book","Nobody","No identifiers","","","",""\n'
)

ZOTERO_RDF = """<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"
 xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/"
 xmlns:bib="http://purl.org/net/biblio#" xmlns:foaf="http://xmlns.com/foaf/0.1/">
  <bib:Article rdf:about="https://arxiv.org/abs/2406.01234">
    <dc:title>Robot Grasping</dc:title>
    <dcterms:abstract>We grasp.</dcterms:abstract>
    <bib:authors><rdf:Seq><rdf:li><foaf:Person>
      <foaf:surname>Lovelace</foaf:surname><foaf:givenName>Ada</foaf:givenName>
    </foaf:Person></rdf:li></rdf:Seq></bib:authors>
  </bib:Article>
  <bib:Article rdf:about="#item_2">
    <dc:title>Compilers</dc:title>
    <dc:identifier>DOI 10.1145/3404835.3462891</dc:identifier>
  </bib:Article>
</rdf:RDF>"""


@pytest.mark.parametrize(
    ("name", "text"),
    [("lib.bib", BIBTEX), ("lib.csv", ZOTERO_CSV), ("lib.rdf", ZOTERO_RDF)],
)
def test_each_format_gives_arxiv_and_doi_papers(tmp_path: Path, name: str, text: str) -> None:
    path = tmp_path / name
    path.write_text(text)
    library = read_library(path)
    ids = [str(p.id) for p in library.papers]
    assert ids == ["arxiv:2406.01234", "doi:10.1145/3404835.3462891"]
    assert library.papers[0].title.startswith("Robot Grasping")
    assert "Lovelace" in library.papers[0].authors[0].name


def test_bibtex_latex_becomes_readable_text(tmp_path: Path) -> None:
    path = tmp_path / "accents.bib"
    path.write_text(
        r"""@article{a,
  title = {{S}im-to-{R}eal Grasping \& Folding at 50\% Less Cost in $O(n)$},
  author = {Sch{\"o}lkopf, Bernhard AND Ko{\v{c}}isk{\'y}, Tom{\'a}{\v{s}} and
            \L{}ukasz Kaiser},
  abstract = {We show that \emph{touch} helps.},
  eprint = {2406.01234}
}""",
        "utf-8",
    )
    (paper,) = read_library(path).papers
    assert paper.title == "Sim-to-Real Grasping & Folding at 50% Less Cost in O(n)"
    assert [a.name for a in paper.authors] == [
        "Bernhard Schölkopf",
        "Tomáš Kočiský",
        "Łukasz Kaiser",
    ]
    assert paper.abstract == "We show that touch helps."


def test_like_adds_papers_to_an_imported_subscriber(
    cli: Callable[..., CliResult], write_config: Callable[..., Path], tmp_path: Path
) -> None:
    config = str(write_config())
    people = tmp_path / "people.jsonl"
    people.write_text(
        json.dumps({"name": "hopper", "email": "h@example.org", "liked": ["2301.00001"]}) + "\n"
    )
    assert cli("subscribers", "import", "--config", config, str(people)).exit_code == 0
    library = tmp_path / "lib.bib"
    library.write_text(BIBTEX)
    result = cli("subscribers", "like", "--config", config, "hopper", str(library))
    assert result.exit_code == 0, result.err
    assert "2 liked papers" in result.out and "1 entry without" in result.out
    assert "3 liked in all" in result.out

    from digest.config import load_settings
    from digest.store import Store

    store = Store.open(load_settings(Path(config)).database_url)
    (hopper,) = [s for s in store.subscribers() if s.subscriber.name == "hopper"]
    assert hopper.subscriber.profile.liked == (
        "2301.00001",
        "arxiv:2406.01234",
        "doi:10.1145/3404835.3462891",
    )
    assert set(store.papers_by_id(["arxiv:2406.01234"])) == {"arxiv:2406.01234"}


def test_a_config_subscriber_or_a_bad_file_is_one_line(
    cli: Callable[..., CliResult], write_config: Callable[..., Path], tmp_path: Path
) -> None:
    config = str(write_config())
    library = tmp_path / "lib.bib"
    library.write_text(BIBTEX)
    result = cli("subscribers", "like", "--config", config, "ada", str(library))
    assert result.exit_code == 1 and "defined in" in result.err
    garbage = tmp_path / "lib.txt"
    garbage.write_text("hello")
    result = cli("subscribers", "like", "--config", config, "ada", str(garbage))
    assert result.exit_code == 1 and result.err.count("\n") == 1


GRASPING = r"""
@article{lovelace2024,
  title = {Learning Dexterous Robot Grasping and Manipulation Policies},
  author = {Lovelace, Ada},
  eprint = {2406.01234v2}, archivePrefix = {arXiv},
  abstract = {A robot arm with a dexterous hand learns grasping and manipulation policies from
    demonstrations; the policy transfers from simulation to the real robot and grasps
    unseen objects.}
}
"""


def test_a_digest_says_which_liked_paper_each_pick_is_close_to(
    cli: Callable[..., CliResult], write_config: Callable[..., Path], tmp_path: Path
) -> None:
    """Import a library, run: the email's text part and the feed name the liked paper a pick
    is close to, in words (and its id, for feed readers that link it)."""
    config = write_config(
        rankers={"tfidf": {"component": "tfidf"}},
        selection={"rankers": {"keywords": 1.0, "tfidf": 1.0, "recency": 0.2}},
    )
    people = tmp_path / "people.jsonl"
    people.write_text(json.dumps({"name": "hopper", "email": "h@example.org"}) + "\n")
    assert cli("subscribers", "import", "--config", str(config), str(people)).exit_code == 0
    library = tmp_path / "grasping.bib"
    library.write_text(GRASPING)
    liked = cli("subscribers", "like", "--config", str(config), "hopper", str(library))
    assert liked.exit_code == 0, liked.err

    result = cli("run", "--config", str(config))
    assert result.exit_code == 0, result.err
    title = "Learning Dexterous Robot Grasping and Manipulation Policies"
    (text,) = (tmp_path / "out" / "hopper").glob("*/digest.txt")
    # the library's papers are references, not news: neither hopper nor anyone gets them
    assert "arxiv.org/abs/2406.01234" not in text.read_text()
    for other in (tmp_path / "out").glob("*/*/digest.txt"):
        assert "abs/2406.01234" not in other.read_text()
    said = " ".join(text.read_text().split())  # the "Why" sentences are wrapped
    assert said.count(f"Why: Close to “{title}”, which you liked") >= 3, said[:2000]
    assert "similarity" not in said
    feed = (tmp_path / "out" / "hopper" / "rss.xml").read_text()
    assert 'ref="arxiv:2406.01234"' in feed
