"""Templates: where they live, the Jinja environment, and MJML compiled once per template.

Templates ship inside the package (``templates/`` in the source tree, ``digest/_templates`` in
the wheel); directories named in ``[digest] template_dirs`` come first, so an operator overrides
a template by putting a file of the same path there.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path

import jinja2

from digest.text import one_line, readable, truncate


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
            enabled_extensions=("html", "xml", "mjml", "j2"), default_for_string=True
        ),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        auto_reload=False,
    )
    env.filters["one_line"] = one_line
    env.filters["readable"] = readable
    env.filters["truncate_words"] = truncate
    return env


@functools.lru_cache(maxsize=32)
def _compile_mjml(source: str, css: str) -> str:
    import css_inline
    from mjml import mjml2html

    html: str = mjml2html(source)
    # Inline once on the compiled template; Jinja placeholders survive as text.
    inliner = css_inline.CSSInliner(keep_style_tags=True, extra_css=css or None)
    inlined: str = inliner.inline(html)
    return inlined


def _source(env: jinja2.Environment, name: str) -> str:
    loader = env.loader
    assert loader is not None
    source, _, _ = loader.get_source(env, name)
    return source


def compile_mjml_template(env: jinja2.Environment, name: str, *, css: str = "") -> jinja2.Template:
    """Compile the MJML template ``name`` to HTML once, then load it as a Jinja template.

    The MJML source keeps its Jinja tags; MRML leaves them in place, so per-subscriber work is
    only the Jinja render (ARCHITECTURE §9). ``css`` is inlined along with the MJML styles.
    """
    return env.from_string(_compile_mjml(_source(env, name), css))


def compile_html_fragment(env: jinja2.Environment, name: str, *, css: str) -> jinja2.Template:
    """Load the HTML template ``name`` with ``css`` inlined into its markup once.

    For pieces rendered once per paper and placed into every subscriber's email, so that they
    carry the same inline styles as the compiled MJML around them.
    """
    import css_inline

    return env.from_string(css_inline.inline_fragment(_source(env, name), css))


def template_text(env: jinja2.Environment, name: str) -> str:
    """The raw text of a template file (e.g. a stylesheet), found like any template."""
    return _source(env, name)
