"""MJML compiled once per template, and the stylesheet inlined once (ARCHITECTURE §9).

The email's MJML source keeps its Jinja tags; MRML (mjml-python) leaves them in place, so the
compiled HTML is a Jinja template and per-subscriber work is only the Jinja render.
"""

from __future__ import annotations

import functools

import jinja2


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
