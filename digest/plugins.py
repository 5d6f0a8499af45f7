"""The plugin host: loads the ``digest`` entry points in isolation and calls hooks safely.

A plugin that fails to import, implements a hook that does not exist, or raises inside a hook
is recorded as a :class:`PluginFailure` naming it; every other plugin keeps working. With
``strict=True`` any such failure raises :class:`digest.errors.PluginError` instead.
"""

from __future__ import annotations

import importlib.metadata
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import pluggy

from digest import hookspecs
from digest.components import COMPONENT_KINDS, Component
from digest.errors import PluginError

log = logging.getLogger("digest.plugins")

ENTRY_POINT_GROUP = "digest"


@dataclass(frozen=True, slots=True, kw_only=True)
class PluginFailure:
    """A plugin problem: ``plugin`` names it, ``hook`` is set when a hook was involved."""

    plugin: str
    message: str
    hook: str | None = None

    def __str__(self) -> str:
        where = f"plugin {self.plugin!r}" + (f" (hook {self.hook})" if self.hook else "")
        return f"{where}: {self.message}"


@dataclass(frozen=True, slots=True, kw_only=True)
class PluginInfo:
    """One row of ``digest plugins``."""

    name: str
    version: str | None
    module: str | None
    hooks: tuple[str, ...]
    error: str | None = None
    distribution: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Registered:
    """A component class and the plugin that registered it."""

    cls: type[Component]
    plugin: str


def _describe(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0]}" if text else type(error).__name__


class PluginHost:
    """A fresh plugin manager; build one per process or per test, never share a global."""

    def __init__(
        self,
        *,
        load_entrypoints: bool = True,
        extra: Iterable[tuple[str, object]] = (),
        disabled: Iterable[str] = (),
        strict: bool = False,
    ) -> None:
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self.strict = strict
        self.failures: list[PluginFailure] = []
        self._versions: dict[str, str | None] = {}
        self._dists: dict[str, str | None] = {}
        self._load_errors: dict[str, str] = {}
        for name in disabled:
            self.pm.set_blocked(name)
        if load_entrypoints:
            self._load_entrypoints()
        for name, plugin in extra:
            self.register(plugin, name=name)
        self._components: dict[str, dict[str, Registered]] | None = None
        self.raise_if_strict()

    # -- loading ---------------------------------------------------------------------------

    def _load_entrypoints(self) -> None:
        for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
            if self.pm.is_blocked(ep.name) or self.pm.has_plugin(ep.name):
                continue
            self._versions[ep.name] = ep.dist.version if ep.dist else None
            self._dists[ep.name] = ep.dist.name if ep.dist else None
            try:
                plugin = ep.load()
            except Exception as error:  # a broken plugin must not take the others down
                message = f"failed to load {ep.value}: {_describe(error)}"
                self._load_errors[ep.name] = message
                self._fail(PluginFailure(plugin=ep.name, message=message), error)
                continue
            self.register(plugin, name=ep.name)

    def register(self, plugin: object, *, name: str) -> bool:
        """Register one plugin object (module or instance); report and skip it if invalid."""
        try:
            self.pm.register(plugin, name=name)
        except Exception as error:  # pluggy.PluginValidationError and friends
            message = _describe(error)
            self._load_errors[name] = message
            self._fail(PluginFailure(plugin=name, message=message), error)
            return False
        for caller in self.pm.get_hookcallers(plugin) or ():
            if caller.spec is None:
                message = f"implements unknown hook {caller.name!r}"
                self._load_errors.setdefault(name, message)
                self._fail(PluginFailure(plugin=name, hook=caller.name, message=message), None)
        self._components = None
        return True

    def _fail(self, failure: PluginFailure, error: BaseException | None) -> None:
        self.failures.append(failure)
        log.warning("%s", failure, exc_info=error if log.isEnabledFor(logging.DEBUG) else None)

    def raise_if_strict(self) -> None:
        if self.strict and self.failures:
            raise PluginError("; ".join(str(f) for f in self.failures))

    # -- calling ---------------------------------------------------------------------------

    def call_each(self, hook: str, **kwargs: Any) -> list[tuple[str, Any]]:
        """Call every implementation of ``hook`` in isolation; return ``(plugin, result)``.

        An implementation that raises is reported (and passed to ``on_component_error``), the
        others still run. Implementations receive only the arguments they ask for.
        """
        caller = getattr(self.pm.hook, hook)
        results: list[tuple[str, Any]] = []
        for impl in caller.get_hookimpls():  # registration order: first come, first named
            args = {name: kwargs[name] for name in impl.argnames if name in kwargs}
            try:
                result = impl.function(**args)
            except Exception as error:
                self._fail(
                    PluginFailure(plugin=impl.plugin_name, hook=hook, message=_describe(error)),
                    error,
                )
                if hook != "on_component_error":
                    self.notify_error(f"plugin.{impl.plugin_name}", error)
                if self.strict:
                    raise PluginError(str(self.failures[-1])) from error
                continue
            results.append((impl.plugin_name, result))
        return results

    def notify_error(self, component: str, error: BaseException) -> None:
        """Tell ``on_component_error`` implementations; their own errors are only logged."""
        for impl in self.pm.hook.on_component_error.get_hookimpls():
            args = {"component": component, "error": error}
            try:
                impl.function(**{k: args[k] for k in impl.argnames})
            except Exception:
                log.exception("on_component_error in plugin %r raised", impl.plugin_name)

    # -- components ------------------------------------------------------------------------

    def components(self, kind: str) -> dict[str, Registered]:
        """Registered component classes of ``kind`` (``sources``, ``rankers`` …) by name."""
        if self._components is None:
            self._components = self._collect_components()
        return self._components[kind]

    def _collect_components(self) -> dict[str, dict[str, Registered]]:
        found: dict[str, dict[str, Registered]] = {kind: {} for kind in COMPONENT_KINDS}
        for kind, base in COMPONENT_KINDS.items():
            for plugin, classes in self.call_each(f"register_{kind}"):
                for cls in classes or ():
                    problem = self._check_component(cls, base, found[kind])
                    if problem:
                        self._fail(
                            PluginFailure(plugin=plugin, hook=f"register_{kind}", message=problem),
                            None,
                        )
                        continue
                    found[kind][cls.name] = Registered(cls=cls, plugin=plugin)
        self.raise_if_strict()
        return found

    @staticmethod
    def _check_component(
        cls: object, base: type[Component], seen: dict[str, Registered]
    ) -> str | None:
        if not (isinstance(cls, type) and issubclass(cls, base)):
            return f"{cls!r} is not a subclass of digest.{base.__name__}"
        name = getattr(cls, "name", None)
        if not isinstance(name, str) or not name:
            return f"{cls.__qualname__} has no 'name'"
        if name in seen:
            return (
                f"{base.kind} name {name!r} is already registered by plugin {seen[name].plugin!r}"
            )
        return None

    # -- listing ---------------------------------------------------------------------------

    def plugin_infos(self, *, include_errors: bool = True) -> list[PluginInfo]:
        """Every plugin with version, hooks and any load error, sorted by name."""
        infos: dict[str, PluginInfo] = {}
        for name, plugin in self.pm.list_name_plugin():
            if plugin is None:
                continue
            hooks = sorted(c.name for c in self.pm.get_hookcallers(plugin) or ())
            infos[name] = PluginInfo(
                name=name,
                version=self._versions.get(name) or _version_of(plugin),
                module=getattr(plugin, "__name__", type(plugin).__module__),
                hooks=tuple(hooks),
                error=self._load_errors.get(name),
                distribution=self._dists.get(name),
            )
        if include_errors:
            for name, message in self._load_errors.items():
                infos.setdefault(
                    name,
                    PluginInfo(
                        name=name,
                        version=self._versions.get(name),
                        module=None,
                        hooks=(),
                        error=message,
                        distribution=self._dists.get(name),
                    ),
                )
        return [infos[name] for name in sorted(infos)]


def _version_of(plugin: object) -> str | None:
    module = getattr(plugin, "__name__", None) or type(plugin).__module__
    dists = importlib.metadata.packages_distributions().get(module.split(".")[0], [])
    try:
        return importlib.metadata.version(dists[0]) if dists else None
    except importlib.metadata.PackageNotFoundError:
        return None
