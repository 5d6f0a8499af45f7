"""Rendering support: where templates live, the Jinja environment, and the per-paper cache.

Templates ship inside the package (``templates/`` in the source tree, ``digest/_templates`` in
the wheel); directories named in ``[digest] template_dirs`` come first, so an operator overrides
a template by putting a file of the same path there.

:class:`PaperCache` keeps what a renderer makes of each paper (escaped fragments, readable
LaTeX) once per run, for every subscriber's render to look up.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Generic, TypeVar

import jinja2

from digest.models import Paper
from digest.text import one_line, plural, readable, truncate

V = TypeVar("V")


def bundled_templates_dir() -> Path:
    """The packaged template directory, for wheel and editable installs alike."""
    package = Path(__file__).resolve().parent
    for candidate in (package / "_templates", package.parent / "templates"):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"papers-digest templates not found next to {package}")


def make_environment(extra_dirs: Sequence[Path] = ()) -> jinja2.Environment:
    """An autoescaping, ``StrictUndefined`` environment over user dirs, then bundled ones."""
    loader = jinja2.FileSystemLoader([*map(str, extra_dirs), str(bundled_templates_dir())])
    env = jinja2.Environment(
        loader=loader,
        autoescape=jinja2.select_autoescape(
            enabled_extensions=("html", "xml", "xsl", "mjml", "j2"), default_for_string=True
        ),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        auto_reload=False,
    )
    env.filters["one_line"] = one_line
    env.filters["readable"] = readable
    env.filters["plural"] = plural
    env.filters["truncate_words"] = truncate
    return env


class PaperCache(Generic[V]):
    """What a renderer makes of each paper, built once and shared by every subscriber.

    ``build(paper)`` does the per-paper work; :meth:`prepare` builds it for a run's batch,
    and :meth:`get` answers for any paper: a prepared one at once, another (a paper of an
    earlier edition, in a feed's history) built on first use and kept too, up to ``limit``
    of them. A paper whose record differs from the one built (a new version) is built again.
    """

    def __init__(self, build: Callable[[Paper], V], *, limit: int = 20_000) -> None:
        self.build = build
        self.limit = limit
        self._prepared: dict[str, tuple[Paper, V]] = {}
        self._extra: dict[str, tuple[Paper, V]] = {}

    def prepare(self, papers: Iterable[Paper]) -> dict[str, V]:
        """Build every paper's value (replacing the previous run's); returns them by id."""
        self._prepared = {str(paper.id): (paper, self.build(paper)) for paper in papers}
        self._extra = {}
        return {key: value for key, (_, value) in self._prepared.items()}

    def get(self, paper: Paper) -> V:
        key = str(paper.id)
        found = self._prepared.get(key) or self._extra.get(key)
        if found is not None and (found[0] is paper or found[0] == paper):
            return found[1]
        value = self.build(paper)
        if len(self._extra) >= self.limit:
            self._extra.clear()
        self._extra[key] = (paper, value)
        return value
