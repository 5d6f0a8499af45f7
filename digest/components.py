"""Base classes for the components plugins register: sources, filters, rankers, renderers and
deliverers.

A component class has a registered ``name``, a pydantic ``Config`` (``extra="forbid"``) that is
validated before anything runs, and is instantiated once per configured instance
(``[sources.<instance>]`` …) with its validated config and the :class:`Runtime`.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Generic, Protocol, get_args, get_origin

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from typing_extensions import TypeVar

from digest.models import (
    Artifact,
    Outcome,
    Paper,
    Parcel,
    Profile,
    Reason,
    Selection,
    SignalValue,
)

if TYPE_CHECKING:
    import jinja2

    from digest.batch import Batch, Mask, Scores
    from digest.fetch import SourceHTTP


def _http_url(value: str) -> str:
    from digest.text import safe_url

    url = safe_url(value)
    if url is None:
        raise ValueError(f"not an http(s) URL: {value!r}")
    return url


#: A config field holding an absolute http(s) URL (surrounding spaces removed).
HttpUrl = Annotated[str, AfterValidator(_http_url)]


class ComponentConfig(BaseModel):
    """Base of every component's ``Config``: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass(frozen=True, slots=True, kw_only=True)
class Site:
    """Deployment-wide facts renderers and deliverers need."""

    title: str
    base_url: str
    sender: str
    reply_to: str | None = None
    list_id: str = "papers-digest.localhost"
    unsubscribe_mailto: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Runtime:
    """What the core hands every component instance."""

    site: Site
    templates: jinja2.Environment
    state_dir: Path
    output_dir: Path
    timezone: str = "UTC"
    #: the config file's folder; relative paths in component options are relative to it
    config_dir: Path = field(default_factory=Path.cwd)
    #: per-paper features kept across runs (embeddings…); ``None`` outside a pipeline
    features: FeatureStore | None = None
    extra: Mapping[str, object] = field(default_factory=dict)
    #: rate limits shared across processes and machines (the store); ``None`` outside a
    #: pipeline: a component falls back to a limit of its own process
    rates: SharedRates | None = None

    def path(self, value: Path) -> Path:
        """Resolve a path option the way the config file means it."""
        return value if value.is_absolute() else self.config_dir / value


class FeatureStore(Protocol):
    """Per-paper data a component computes once and keeps across runs, by namespace.

    Keys are canonical paper ids (``str(paper.id)``); values are bytes the component encodes
    (e.g. ``numpy_array.tobytes()``). Use a namespace naming the component and model.
    """

    def features(self, namespace: str, ids: Iterable[str]) -> dict[str, bytes]: ...

    def save_features(self, namespace: str, items: Mapping[str, bytes]) -> None: ...


class RateGate(Protocol):
    """A rate limit: :meth:`wait` returns at most the configured number of times a second."""

    def wait(self) -> None: ...


class SharedRates(Protocol):
    """Rate limits shared by every process and machine using the same store."""

    def rate_limiter(self, name: str, per_second: float) -> RateGate: ...


#: the type of a component's validated config (``self.config``)
C = TypeVar("C", bound=ComponentConfig, default=ComponentConfig, covariant=True)


class Component(Generic[C]):
    """Common base: a registered name, a typed config, a logger named after the instance.

    The config model is the class's type argument, as in ``class MyRanker(Ranker[MyConfig])``:
    ``self.config`` is then a ``MyConfig`` for type checkers, and ``MyRanker.Config`` is set to
    ``MyConfig`` for the core, which validates the ``[rankers.<instance>]`` table with it. (A
    nested ``class Config(ComponentConfig)`` works too; it wins over the type argument.)
    """

    name: ClassVar[str]
    description: ClassVar[str] = ""
    #: earlier names of the component that configs may still use (with a deprecation warning)
    aliases: ClassVar[tuple[str, ...]] = ()
    Config: ClassVar[type[ComponentConfig]] = ComponentConfig
    kind: ClassVar[str] = "component"
    config: C

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "Config" not in cls.__dict__:
            found = _config_argument(cls)
            if found is not None:
                cls.Config = found

    def __init__(self, config: C, *, instance: str, runtime: Runtime) -> None:
        self.config = config
        self.instance = instance
        self.runtime = runtime
        self.log = logging.getLogger(f"digest.{self.kind}.{instance}")

    @classmethod
    def unavailable(cls) -> str | None:
        """Why this component cannot run here (an optional dependency is missing), else
        ``None``. Checked by ``digest check`` and before a run starts; keep it cheap (e.g.
        ``importlib.util.find_spec``), and say how to fix it."""
        return None


def _config_argument(cls: type) -> type[ComponentConfig] | None:
    """The ``ComponentConfig`` a class passes to a generic component base, if any."""
    for base in getattr(cls, "__orig_bases__", ()):
        origin = get_origin(base)
        if isinstance(origin, type) and issubclass(origin, Component):
            for argument in get_args(base):
                if isinstance(argument, type) and issubclass(argument, ComponentConfig):
                    return argument
    return None


@dataclass(slots=True, kw_only=True)
class CollectContext:
    """Handed to :meth:`Source.collect`.

    ``state`` is what the source saved last time (ETags, watermarks). Changes go through
    :meth:`save`; the core persists them only after the collected papers are stored, so a crash
    never advances a source past papers it did not keep (invariant I3).
    """

    now: dt.datetime
    state: Mapping[str, str]
    pending_state: dict[str, str] = field(default_factory=dict)
    #: the HTTP client for this source (:class:`digest.fetch.SourceHTTP`): conditional GET,
    #: retries, rate limits and the SSRF guard included
    http: SourceHTTP = field(default=None)  # type: ignore[assignment]
    #: what :meth:`warn` was told this run
    warnings: list[str] = field(default_factory=list)

    def save(self, key: str, value: str) -> None:
        self.pending_state[key] = value

    def warn(self, message: str) -> None:
        """Report something that did not fail the run but that an operator should see in
        ``digest sources`` and the run summary, e.g. "ill-formed feed: 58 items recovered by a
        lenient parser" or "stopped paging at 2,000 results"; one line, naming the URL."""
        if message not in self.warnings:
            self.warnings.append(message)


class Source(Component[C]):
    """Produces papers. Raise :class:`digest.SourceError` with a one-line message on failure."""

    kind = "source"

    def collect(self, context: CollectContext) -> Iterable[Paper]:
        raise NotImplementedError

    def expects_papers(self, now: dt.datetime) -> bool | None:
        """Whether an empty result at ``now`` would be suspicious.

        ``True``: papers are expected (an empty or stale result is flagged); ``False``: an
        empty result is normal (arXiv on a weekend or holiday); ``None`` (the default): judge
        by this source's recent history.
        """
        return None


class Filter(Component[C]):
    """Keeps or drops candidates for a subscriber; all filters must keep a paper (AND)."""

    kind = "filter"

    def prepare(self, batch: Batch) -> None:
        """Per-paper work, once per run, shared by every subscriber."""

    def keep(self, profile: Profile, batch: Batch) -> Mask | None:
        """A boolean mask over ``batch``; ``None`` keeps everything."""
        raise NotImplementedError


class Ranker(Component[C]):
    """Scores candidates for a subscriber in [0, 1]; the core combines rankers by weight."""

    kind = "ranker"
    #: Whether scores depend on the subscriber. ``False`` for rankers that score every
    #: subscriber alike (``recency``, ``popularity``): they order what is relevant but never
    #: make a paper relevant, so a paper one of them alone scores is not picked when the
    #: personal rankers find anything for the subscriber.
    personal: ClassVar[bool] = True

    def prepare(self, batch: Batch) -> None:
        """Per-paper work, once per run, shared by every subscriber."""

    def score(self, profile: Profile, batch: Batch) -> Scores:
        """One score per paper in ``batch``, vectorised over the batch."""
        raise NotImplementedError

    def explain(self, profile: Profile, batch: Batch, position: int) -> Sequence[Reason]:
        """Reasons for a selected paper; only called for the few papers picked."""
        return ()

    def vectors(self, batch: Batch) -> Any:
        """Optional: one L2-normalised row per paper (NumPy or SciPy sparse), used to keep
        the picks diverse (``[selection] diversity``). ``None`` when the ranker has none."""
        return None


class Enricher(Component[C]):
    """Adds data to papers once per paper version: a TL;DR, code links, a thumbnail …

    :meth:`enrich` gets papers not enriched yet (new ones, or ones whose title or abstract
    changed) and returns, per canonical paper id (``str(paper.id)``), the signals to add
    (``{"tldr": "…"}``; str, int, float or bool values, keys namespaced by convention). The
    core keeps them in the feature store under the paper id **and a hash of its text**, so a
    paper is enriched once per version, and adds them to ``paper.signals`` before selection,
    for rankers and renderers. Return an empty mapping for a paper with nothing to add; a
    paper left out of the result is asked again next run (a budget ran out, a service was
    down). Enrichers run in the order configured; each sees what earlier ones added.
    """

    kind = "enricher"
    #: the signal keys this enricher sets (others it returns are refused)
    signals: ClassVar[tuple[str, ...]] = ()
    #: most papers per call to :meth:`enrich`
    batch_size: ClassVar[int] = 500

    @property
    def namespace(self) -> str:
        """Where results are stored; include whatever changes them (a model name) so a
        config change enriches again."""
        return f"enricher.{self.name}"

    def enrich(self, papers: Sequence[Paper]) -> Mapping[str, Mapping[str, SignalValue]]:
        raise NotImplementedError

    def note(self, message: str) -> None:
        """Tell the run report something that did not fail the enricher but that an operator
        should know ("12 papers over the budget of 50 got the extractive TL;DR")."""
        self.__dict__.setdefault("_notes", []).append(message)

    def take_notes(self) -> list[str]:
        """The notes since the last call (the core reports them after each run)."""
        notes: list[str] = self.__dict__.pop("_notes", [])
        return notes


class Renderer(Component[C]):
    """Turns a selection into artifacts for one channel (``email``, ``feed``, …)."""

    kind = "renderer"
    channel: ClassVar[str]

    def prepare(self, batch: Batch) -> None:
        """Per-paper work (escaped fragments, readable LaTeX), once per run."""

    def render(self, selection: Selection) -> Sequence[Artifact]:
        raise NotImplementedError

    def render_page(self, selection: Selection) -> Artifact | None:
        """The selection as a web page (the web version ``digest serve`` shows), or ``None``
        when this renderer has none (the web version then shows its ``html`` artifact)."""
        return None


class DelivererConfig(ComponentConfig):
    """Base of deliverer configs: ``channels`` overrides the channels the class serves."""

    channels: tuple[str, ...] = Field(
        (), description="channels this instance serves; default: all the component serves"
    )


#: the config type of a deliverer: always a :class:`DelivererConfig` (``channels``)
D = TypeVar("D", bound=DelivererConfig, default=DelivererConfig, covariant=True)


class Deliverer(Component[D]):
    """Delivers parcels on the channels it serves. Must be idempotent per parcel."""

    kind = "deliverer"
    Config: ClassVar[type[ComponentConfig]] = DelivererConfig
    channels: ClassVar[tuple[str, ...]] = ()
    #: True when delivering the same parcel twice has no visible effect (files). The core then
    #: records outcomes in batches; otherwise it records each one as soon as it is known, so
    #: that a crash re-sends at most the message in flight.
    idempotent: ClassVar[bool] = False

    def open(self) -> None:
        """Acquire resources (connections) before the first parcel."""

    def close(self) -> None:
        """Release resources; called even when delivery failed."""

    def deliver(self, parcel: Parcel) -> Outcome:
        raise NotImplementedError

    def deliver_many(self, parcels: Iterator[Parcel]) -> Iterator[tuple[Parcel, Outcome]]:
        """Deliver a stream of parcels; yield each with its outcome as soon as it is known.

        The core renders a parcel only when this pulls it from ``parcels``, so an override
        can send one message while the next is rendered (at most a few in flight: a crash
        re-sends exactly those). The default delivers one at a time through :meth:`deliver`.
        An exception here leaves the parcels not yet yielded for the next run.
        """
        for parcel in parcels:
            yield parcel, self.deliver(parcel)


COMPONENT_KINDS: dict[str, type[Component]] = {
    "sources": Source,
    "filters": Filter,
    "rankers": Ranker,
    "enrichers": Enricher,
    "renderers": Renderer,
    "deliverers": Deliverer,
}
