"""From settings and the plugin host to configured component instances.

Every ``[sources.<instance>]`` … table names a registered ``component``; its remaining keys are
validated by that component's ``Config`` before anything runs, and problems are reported with
file, table and key. :func:`check` returns every problem at once (``digest check``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from digest.components import (
    Component,
    ComponentConfig,
    Deliverer,
    Enricher,
    FeatureStore,
    Filter,
    Ranker,
    Renderer,
    Runtime,
    SharedRates,
    Site,
    Source,
)
from digest.config import LoadedConfig, validation_problems
from digest.errors import did_you_mean
from digest.plugins import PluginHost, unavailable
from digest.rendering import make_environment


@dataclass(slots=True, kw_only=True)
class Components:
    """Configured instances, by instance name."""

    sources: dict[str, Source] = field(default_factory=dict)
    filters: dict[str, Filter] = field(default_factory=dict)
    rankers: dict[str, Ranker] = field(default_factory=dict)
    weights: dict[str, float] = field(default_factory=dict)
    enrichers: dict[str, Enricher] = field(default_factory=dict)
    renderers: dict[str, Renderer] = field(default_factory=dict)
    deliverers: dict[str, Deliverer] = field(default_factory=dict)
    #: channel → the deliverer instance serving it
    routes: dict[str, Deliverer] = field(default_factory=dict)
    #: what works but deserves the operator's attention (an unused table, an old name)
    warnings: list[str] = field(default_factory=list)
    #: what is fine as it is but worth knowing (an optional component off, and how to turn
    #: it on)
    notes: list[str] = field(default_factory=list)


def make_runtime(
    loaded: LoadedConfig,
    host: PluginHost,
    *,
    features: FeatureStore | None = None,
    rates: SharedRates | None = None,
) -> Runtime:
    d = loaded.settings.digest
    domain = d.sender.rpartition("@")[2].rstrip(">").strip() or "localhost"
    site = Site(
        title=d.title,
        base_url=d.base_url.rstrip("/"),
        sender=d.sender,
        reply_to=d.reply_to,
        list_id=d.list_id or f"papers-digest.{domain}",
        unsubscribe_mailto=d.unsubscribe_mailto,
    )
    env = make_environment([loaded.path(p) for p in d.template_dirs])
    host.call_each("prepare_jinja_env", env=env)
    return Runtime(
        site=site,
        templates=env,
        state_dir=loaded.state_dir,
        output_dir=loaded.output_dir,
        timezone=d.timezone,
        config_dir=loaded.base_dir,
        features=features,
        rates=rates,
    )


def _used(loaded: LoadedConfig, kind: str) -> set[str] | None:
    """The instances of ``kind`` the run uses, ``None`` when every configured one is."""
    selection = loaded.settings.selection
    if kind == "filters":
        return set(selection.filters)
    if kind == "rankers":
        return set(selection.rankers)
    return None


def _configure(
    loaded: LoadedConfig,
    host: PluginHost,
    kind: str,
    runtime: Runtime | None,
    problems: list[str],
    warnings: list[str],
    notes: list[str],
) -> dict[str, Any]:
    instances: dict[str, Any] = {}
    registered = host.components(kind)
    used = _used(loaded, kind)
    for instance, table in getattr(loaded.settings, kind).items():
        where = f"{loaded.source}: [{kind}.{instance}]"
        entry = registered.get(table.component)
        if entry is None:
            current = sorted(n for n, e in registered.items() if e.alias_of is None)
            known = ", ".join(current) or "none registered"
            hint = did_you_mean(table.component, registered)
            problems.append(
                f"{where} component: unknown {kind[:-1]} {table.component!r}{hint} (known: {known})"
            )
            continue
        if entry.alias_of is not None:
            warnings.append(
                f"{where} component: {table.component!r} is the old name of {kind[:-1]} "
                f"{entry.alias_of!r} (plugin {entry.plugin!r}); write "
                f'component = "{entry.alias_of}"'
            )
        if used is not None and instance not in used:
            warnings.append(_unused(where, kind, instance))
        cls: type[Component] = entry.cls
        try:
            config: ComponentConfig = cls.Config.model_validate(table.options())
        except ValidationError as error:
            problems.extend(
                validation_problems(loaded.source, error, (kind, instance), model=cls.Config)
            )
            continue
        missing = unavailable(cls)
        if missing is not None:
            note = f"{where} component {table.component!r} cannot run here: {missing}"
            if table.optional:
                notes.append(f"{where} is optional and off here: {missing}")
            elif used is None or instance in used:
                problems.append(note)
            else:
                warnings.append(note)
            continue
        if runtime is None:
            continue
        try:
            instances[instance] = cls(config, instance=instance, runtime=runtime)
        except Exception as error:  # a plugin's constructor is plugin code
            problems.append(
                f"{loaded.source}: [{kind}.{instance}] component {table.component!r} "
                f"(plugin {entry.plugin!r}) failed to start: {error}"
            )
    return instances


def build(
    loaded: LoadedConfig, host: PluginHost, runtime: Runtime | None
) -> tuple[Components, list[str]]:
    """Instantiate every configured component; with ``runtime=None`` only validate."""
    problems: list[str] = []
    warnings: list[str] = list(host.warnings)
    s = loaded.settings
    kinds = ("sources", "filters", "rankers", "enrichers", "renderers", "deliverers")
    notes: list[str] = []
    configured = {k: _configure(loaded, host, k, runtime, problems, warnings, notes) for k in kinds}
    c = Components(**configured, warnings=warnings, notes=notes)
    for name in s.selection.filters:
        if name not in s.filters:
            problems.append(
                f"{loaded.source}: [selection] filters: no [filters.{name}] table"
                f"{did_you_mean(name, s.filters)}"
            )
    for name, weight in s.selection.rankers.items():
        if name not in s.rankers:
            problems.append(
                f"{loaded.source}: [selection] rankers: no [rankers.{name}] table"
                f"{did_you_mean(name, s.rankers)}"
            )
        else:
            c.weights[name] = weight
    if runtime is not None:
        c.filters = {n: c.filters[n] for n in s.selection.filters if n in c.filters}
        c.rankers = {n: c.rankers[n] for n in s.selection.rankers if n in c.rankers}
        c.weights = {n: w for n, w in c.weights.items() if n in c.rankers}
    channels: dict[str, str] = {}
    for instance, table in s.deliverers.items():
        entry = host.components("deliverers").get(table.component)
        serves = table.options().get("channels") or (entry.cls.channels if entry else ())  # type: ignore[attr-defined]
        for channel in serves:
            if channel in channels:
                problems.append(
                    f"{loaded.source}: [deliverers.{instance}] channels: channel {channel!r} is "
                    f"already served by [deliverers.{channels[channel]}]"
                )
            channels[channel] = instance
            if instance in c.deliverers:
                c.routes[channel] = c.deliverers[instance]
    rendered = {
        getattr(host.components("renderers").get(t.component), "cls", None)
        for t in s.renderers.values()
    }
    rendered_channels = {cls.channel for cls in rendered if cls is not None}
    for name, sub in s.subscribers.items():
        for channel in sub.channels:
            if channel not in channels:
                problems.append(
                    f"{loaded.source}: [subscribers.{name}] channels: no deliverer serves "
                    f"channel {channel!r}"
                )
            elif channel not in rendered_channels and rendered_channels:
                problems.append(
                    f"{loaded.source}: [subscribers.{name}] channels: no renderer renders "
                    f"channel {channel!r}"
                )
        if "email" in sub.channels and not sub.email:
            problems.append(
                f"{loaded.source}: [subscribers.{name}] email: required for the email channel"
            )
    return c, problems


def _unused(where: str, kind: str, instance: str) -> str:
    if kind == "filters":
        fix = f"add {instance!r} to [selection] filters"
    else:
        fix = f"add {instance} = <weight> to [selection] rankers ({instance} = 0 keeps it off)"
    return f"{where} is configured but never used: {fix}"


def review(loaded: LoadedConfig, host: PluginHost) -> tuple[list[str], list[str]]:
    """``(problems, warnings)`` of the configuration and the plugins, starting nothing."""
    components, problems = build(loaded, host, None)
    return [*(str(f) for f in host.failures), *loaded.problems, *problems], components.warnings


def notes(loaded: LoadedConfig, host: PluginHost) -> list[str]:
    """What is worth knowing about the configuration (optional components that are off)."""
    return build(loaded, host, None)[0].notes


def check(loaded: LoadedConfig, host: PluginHost) -> list[str]:
    """Every problem in the configuration and the plugins, without starting anything."""
    return review(loaded, host)[0]


def open_pipeline(loaded: LoadedConfig, host: PluginHost, store: Any) -> Any:
    """A ready :class:`~digest.pipeline.Pipeline` over ``store``.

    Raises :class:`~digest.errors.ConfigError` listing every component problem, and stops on
    plugin failures when the host is strict.
    """
    from digest.errors import ConfigError
    from digest.pipeline import Pipeline

    runtime = make_runtime(loaded, host, features=store, rates=store)
    components, problems = build(loaded, host, runtime)
    if problems:
        raise ConfigError(problems)
    host.raise_if_strict()
    return Pipeline(loaded=loaded, host=host, store=store, components=components, runtime=runtime)
