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
    assert "2 liked papers" in result.out and "1 entries without" in result.out
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
