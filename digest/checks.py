"""What plugins return, checked: the core runs these on every result it uses, and
:mod:`digest.testing`'s contract checks run the same ones, so a plugin author's test fails on
exactly what would make the core drop the component.

Each check returns the value in the form the core uses (a float64 score array, a bool mask, a
tuple of records) or raises :class:`ContractError` with a message that reads after the
component's name: ``rankers.tfidf: returned 1 score for 300 papers``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from digest.batch import Mask, Scores
from digest.errors import PluginError
from digest.models import Artifact, Outcome, Paper, Reason
from digest.text import plural


class ContractError(PluginError):
    """A component returned something the core cannot use; the message says what."""


def _kind(value: object) -> str:
    return "None" if value is None else f"a {type(value).__name__}"


def _array(value: object, what: str, n: int) -> np.ndarray:
    if value is None or isinstance(value, str | bytes | dict):
        raise ContractError(f"returned {_kind(value)}, not an array of {what}")
    try:
        array = np.asarray(value)
    except Exception as error:  # ragged nested sequences and the like
        raise ContractError(f"returned {_kind(value)} that is not an array: {error}") from None
    if array.ndim != 1:
        raise ContractError(f"returned an array of shape {array.shape}, want ({n},)")
    return array


def scores(value: object, n: int) -> Scores:
    """A ranker's ``score()``: ``n`` finite numbers in [0, 1]."""
    array = _array(value, "scores", n)
    if len(array) != n:
        raise ContractError(f"returned {plural(len(array), 'score')} for {plural(n, 'paper')}")
    if array.dtype == np.bool_ or not np.issubdtype(array.dtype, np.number):
        raise ContractError(f"returned scores of dtype {array.dtype}, want floats")
    if np.iscomplexobj(array):
        raise ContractError("returned complex scores, want floats")
    out = array.astype(np.float64, copy=False)
    bad = ~np.isfinite(out)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise ContractError(
            f"returned {plural(int(bad.sum()), 'score')} that are NaN or infinite "
            f"(the first for paper {first} of {n})"
        )
    if n and (out.min() < 0.0 or out.max() > 1.0):
        raise ContractError(
            f"returned scores outside [0, 1] (from {out.min():.3g} to {out.max():.3g})"
        )
    return out


def mask(value: object, n: int) -> Mask | None:
    """A filter's ``keep()``: ``None`` (keep all) or ``n`` booleans."""
    if value is None:
        return None
    array = _array(value, "booleans", n)
    if len(array) != n:
        raise ContractError(f"returned a mask of {plural(len(array), 'value')} for {n} papers")
    if array.dtype != np.bool_:
        raise ContractError(f"returned a mask of dtype {array.dtype}, want bool")
    return array


def vectors(value: Any, n: int) -> Any:
    """A ranker's ``vectors()``: ``None``, or a 2-D array / SciPy sparse matrix of ``n`` rows
    of finite numbers."""
    if value is None:
        return None
    shape = getattr(value, "shape", None)
    if shape is None or not hasattr(value, "tocsr"):
        value = np.asarray(value)
        shape = value.shape
    if len(shape) != 2 or shape[0] != n:
        raise ContractError(f"returned vectors of shape {tuple(shape)}, want ({n}, d)")
    data = value.data if hasattr(value, "tocsr") else value
    if not np.issubdtype(np.asarray(data).dtype, np.number) or not np.isfinite(data).all():
        raise ContractError("returned vectors that are not all finite numbers")
    return value


def reasons(value: object) -> tuple[Reason, ...]:
    """A ranker's ``explain()``: Reasons with one-line texts."""
    found = _records(value, Reason, "explain() result")
    for reason in found:
        if not isinstance(reason.text, str) or not reason.text.strip():
            raise ContractError("returned a Reason with an empty text")
        if "\n" in reason.text or "\r" in reason.text:
            raise ContractError(f"returned a Reason text of several lines: {reason.text[:60]!r}")
    return found


def artifacts(value: object) -> tuple[Artifact, ...]:
    """A renderer's ``render()``: Artifacts whose content is text."""
    found = _records(value, Artifact, "render() result")
    for artifact in found:
        if not isinstance(artifact.content, str):
            raise ContractError(
                f"returned artifact {artifact.role!r} with {_kind(artifact.content)} content, "
                "want str"
            )
    return found


def outcome(value: object) -> Outcome:
    """A deliverer's answer for one parcel."""
    if not isinstance(value, Outcome):
        raise ContractError(f"returned {_kind(value)}, not a digest.models.Outcome")
    return value


def paper(value: object) -> Paper:
    """One item a source's ``collect()`` yielded."""
    if not isinstance(value, Paper):
        raise ContractError(f"collect() yielded {_kind(value)}, not a Paper")
    return value


def _records(value: object, cls: type[Any], what: str) -> tuple[Any, ...]:
    if value is None:
        return ()
    if isinstance(value, str | bytes | dict) or not isinstance(value, Iterable):
        raise ContractError(f"returned {_kind(value)}, want a sequence of {cls.__name__}")
    items = tuple(value)
    wrong = next((item for item in items if not isinstance(item, cls)), None)
    if wrong is not None:
        article = "an" if cls.__name__[0] in "AEIOU" else "a"
        raise ContractError(f"returned {_kind(wrong)} in its {what}, not {article} {cls.__name__}")
    return items
