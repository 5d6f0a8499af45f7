"""Per-paper enrichment, once per paper version (the ``register_enrichers`` hook).

Each configured enricher is asked only for papers whose results are not stored under their
id **and** a hash of their text (:func:`text_hash`): a new arXiv version with a changed
abstract is enriched again, an unchanged paper never. Results are checked (a mapping of known
paper ids to mappings of the enricher's declared signal keys to plain values) before they are
stored or used; an enricher that raises or returns garbage is reported and skipped, and the
papers it did not answer for are asked again next run.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from digest.checks import ContractError
from digest.components import Enricher, FeatureStore
from digest.errors import EnricherNote
from digest.models import Paper, SignalValue
from digest.text import strip_invalid

#: longest text value an enricher may add (a TL;DR is a sentence, a URL a line)
MAX_TEXT = 2000
OnError = Callable[[str, BaseException], None]


def text_hash(paper: Paper) -> str:
    """A short hash of what a paper says (title and abstract): the version key of stored
    per-paper results."""
    digest = hashlib.sha1(f"{paper.title}\0{paper.abstract}".encode()).hexdigest()
    return digest[:16]


def feature_key(paper: Paper) -> str:
    """The feature-store key of ``paper``'s current version: ``<id>@<text hash>``."""
    return f"{paper.id}@{text_hash(paper)}"


def enrich(
    papers: Sequence[Paper],
    enrichers: Mapping[str, Enricher],
    store: FeatureStore | None,
    on_error: OnError,
) -> list[Paper]:
    """``papers`` with every enricher's signals added (stored ones read, missing ones made)."""
    if not enrichers or not papers:
        return list(papers)
    added: dict[str, dict[str, SignalValue]] = {}
    current = list(papers)
    for instance, enricher in enrichers.items():
        found = _enrich_one(
            current, enricher, store, functools.partial(on_error, f"enrichers.{instance}")
        )
        for paper_id, signals in found.items():
            added.setdefault(paper_id, {}).update(signals)
        current = _with(current, added)
    return current


def _with(papers: Sequence[Paper], added: Mapping[str, Mapping[str, SignalValue]]) -> list[Paper]:
    out = []
    for paper in papers:
        extra = added.get(str(paper.id))
        out.append(replace(paper, signals={**paper.signals, **extra}) if extra else paper)
    return out


def _enrich_one(
    papers: Sequence[Paper],
    enricher: Enricher,
    store: FeatureStore | None,
    on_error: Callable[[BaseException], None],
) -> dict[str, dict[str, SignalValue]]:
    keys = {str(p.id): feature_key(p) for p in papers}
    stored: dict[str, bytes] = {}
    if store is not None:
        try:
            stored = store.features(enricher.namespace, keys.values())
        except Exception as error:  # a cache: a broken store costs time, not the run
            enricher.log.warning("could not read stored results: %s", error)
    results: dict[str, dict[str, SignalValue]] = {}
    for paper_id, key in keys.items():
        # damaged, or from an older version of the enricher: made again
        with contextlib.suppress(KeyError, ValueError, ContractError):
            results[paper_id] = _checked_signals(enricher, json.loads(stored[key]))
    missing = [p for p in papers if str(p.id) not in results]
    size = max(1, int(enricher.batch_size))
    for start in range(0, len(missing), size):
        chunk = missing[start : start + size]
        try:
            reply = enricher.enrich(chunk)
            made = _checked(enricher, reply, {str(p.id) for p in chunk})
        except Exception as error:
            on_error(error)
            break
        results.update(made)
        if store is not None and made:
            items = {keys[i]: json.dumps(s, ensure_ascii=False).encode() for i, s in made.items()}
            try:
                store.save_features(enricher.namespace, items)
            except Exception as error:
                enricher.log.warning("could not store %d results: %s", len(items), error)
    for message in enricher.take_notes():
        on_error(EnricherNote(message))
    return results


def _checked(enricher: Enricher, reply: Any, asked: set[str]) -> dict[str, dict[str, SignalValue]]:
    """``reply`` as results for papers in ``asked``, or a :class:`ContractError` saying why."""
    if not isinstance(reply, Mapping):
        raise ContractError(f"returned {type(reply).__name__}, want a mapping of paper ids")
    out: dict[str, dict[str, SignalValue]] = {}
    for paper_id, signals in reply.items():
        if paper_id not in asked:
            raise ContractError(f"returned results for {paper_id!r}, a paper it was not given")
        out[paper_id] = _checked_signals(enricher, signals)
    return out


def _checked_signals(enricher: Enricher, signals: Any) -> dict[str, SignalValue]:
    if not isinstance(signals, Mapping):
        raise ContractError(f"returned {type(signals).__name__} for a paper, want a mapping")
    out: dict[str, SignalValue] = {}
    for key, value in signals.items():
        if key not in enricher.signals:
            declared = ", ".join(enricher.signals) or "none"
            raise ContractError(f"set signal {key!r}, not one it declares ({declared})")
        if isinstance(value, str):
            value = strip_invalid(value)[:MAX_TEXT]
            if not value.strip():
                continue
        elif isinstance(value, float) and not math.isfinite(value):
            raise ContractError(f"set {key!r} to {value!r}, want a finite number")
        elif not isinstance(value, int | float | bool):
            raise ContractError(f"set {key!r} to {type(value).__name__}, want str, number or bool")
        out[key] = value
    return out
