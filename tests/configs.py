"""The tests' one configuration: a keyword-filtered, keyword+recency-ranked digest rendered
to email and feed and written to files, for ada (robots) and grace (language models).

A test states only how its configuration differs — ``config_text(digest={"workers": 2},
sources={"main": {"component": "jsonl", "file": "papers.jsonl"}})`` — and a ``None`` value
removes a key or table: ``config_text(renderers={"feed": None})``. ``subscribers``, when
given, replace the base's (ada and grace) rather than merge into them.
"""

from __future__ import annotations

import copy
from typing import Any

import tomli_w

BASE: dict[str, Any] = {
    "digest": {
        "state_dir": "state",
        "output_dir": "out",
        "title": "Test digest",
        "base_url": "https://digest.example.org",
        "sender": "Test Digest <digest@example.org>",
        "secret_key": "test-secret",
    },
    "selection": {"filters": ["keywords"], "rankers": {"keywords": 1.0, "recency": 0.2}},
    "sources": {"sample": {"component": "sample"}},
    "filters": {"keywords": {"component": "keywords"}},
    "rankers": {"keywords": {"component": "keywords"}, "recency": {"component": "recency"}},
    "renderers": {"email": {"component": "email"}, "feed": {"component": "feed"}},
    "deliverers": {"files": {"component": "files"}},
    "subscribers": {
        "ada": {
            "email": "ada@example.org",
            "keywords": ["robot", "manipulation"],
            "categories": ["cs.RO"],
            "max_items": 5,
        },
        "grace": {
            "email": "grace@example.org",
            "keywords": ["language model", "reasoning"],
            "categories": ["cs.CL"],
        },
    },
}

#: the source most tests read: a JSON Lines file of papers the test writes (helpers.write_papers)
JSONL_SOURCE = {"main": {"component": "jsonl", "file": "papers.jsonl"}}


def merged(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """``base`` with ``changes`` merged in, table by table; ``None`` removes."""
    out = copy.deepcopy(base)
    for key, value in changes.items():
        if value is None:
            out.pop(key, None)
        elif isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merged(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def config_data(**changes: Any) -> dict[str, Any]:
    """The base configuration with ``changes`` (one keyword per top-level table)."""
    base = BASE if "subscribers" not in changes else {**BASE, "subscribers": None}
    return merged(base, changes)


def config_text(extra: str = "", **changes: Any) -> str:
    """The configuration as TOML; ``extra`` (TOML text) is appended as it is."""
    return tomli_w.dumps(config_data(**changes)) + extra
