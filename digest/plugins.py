"""The plugin host: loads the ``digest`` entry points in isolation and calls hooks safely.

A plugin that fails to import, implements a hook that does not exist, or raises inside a hook
is recorded as a :class:`PluginFailure` naming it; every other plugin keeps working. With
``strict=True`` any such failure raises :class:`digest.errors.PluginError` instead.

Implementations are called one by one, in pluggy's own order (the last registered first;
``tryfirst`` / ``trylast`` honoured), each in isolation. Hook wrappers (``wrapper=True``,
``hookwrapper=True``) would wrap the whole call, which the host never makes; a plugin that
declares one is refused at registration, with a problem that says so.
"""

from __future__ import annotations

import importlib.metadata
import logging
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pluggy

from digest import hookspecs
from digest.components import COMPONENT_KINDS, Component
from digest.errors import PluginError, describe, did_you_mean

if TYPE_CHECKING:
    from digest.importers import ProfileImporter

log = logging.getLogger("digest.plugins")

ENTRY_POINT_GROUP = "digest"
#: the distribution whose entry points are the built-in plugins
DISTRIBUTION = "papers-digest"
#: comma-separated plugin (entry point) names to load, ignoring the others; empty: none
PLUGINS_ENV = "DIGEST_PLUGINS"
#: plugin (entry point) names of earlier versions → today's, for ``[plugins] disable``
RENAMED_PLUGINS = {"feeds": "rss"}


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
class Registered:
    """A component class and the plugin that registered it.

    ``alias_of`` is set when the entry is reached by an old name (``Component.aliases``): it
    is the component's current name, which configs should use instead.
    """

    cls: type[Component]
    plugin: str
    alias_of: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ComponentInfo:
    """One component a plugin registers, as ``digest plugins`` lists it."""

    kind: str
    name: str
    aliases: tuple[str, ...]
    #: why it cannot run here (``Component.unavailable()``), ``None`` when it can
    unavailable: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class PluginInfo:
    """One row of ``digest plugins``."""

    name: str
    version: str | None
    module: str | None
    hooks: tuple[str, ...]
    error: str | None = None
    distribution: str | None = None
    components: tuple[ComponentInfo, ...] = ()

    @property
    def builtin(self) -> bool:
        """Whether papers-digest itself ships this plugin."""
        return self.distribution == DISTRIBUTION


def builtin_plugins() -> dict[str, str]:
    """The built-in plugins, entry point name → module, from this distribution's metadata:
    the one list of built-ins (``pyproject.toml``'s ``[project.entry-points.digest]``)."""
    try:
        dist = importlib.metadata.distribution(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover - not installed
        return {}
    return {ep.name: ep.value for ep in dist.entry_points if ep.group == ENTRY_POINT_GROUP}


def unavailable(cls: type[Component]) -> str | None:
    """``cls.unavailable()``, which is plugin code: an exception is an answer too."""
    try:
        return cls.unavailable()
    except Exception as error:
        return f"unavailable() raised {describe(error)}"


class PluginHost:
    """A fresh plugin manager; build one per process or per test, never share a global."""

    def __init__(
        self,
        *,
        load_entrypoints: bool = True,
        extra: Iterable[tuple[str, object]] = (),
        disabled: Iterable[str] = (),
        only: Iterable[str] | None = None,
        strict: bool = False,
    ) -> None:
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self.strict = strict
        self.failures: list[PluginFailure] = []
        #: notes about the plugin selection itself (a disabled name that names nothing)
        self.warnings: list[str] = []
        self._versions: dict[str, str | None] = {}
        self._dists: dict[str, str | None] = {}
        self._load_errors: dict[str, str] = {}
        self.only = None if only is None else frozenset(only)
        self.disabled = self._blocked_names(disabled)
        for name in self.disabled:
            self.pm.set_blocked(name)
        if load_entrypoints:
            self._load_entrypoints()
        for name, plugin in extra:
            self.register(plugin, name=name)
        self._components: dict[str, dict[str, Registered]] | None = None
        self._importers: dict[str, type[ProfileImporter]] | None = None
        self.raise_if_strict()

    @classmethod
    def from_settings(
        cls,
        *,
        disabled: Iterable[str] = (),
        strict: bool = False,
        environ: Mapping[str, str] | None = None,
    ) -> PluginHost:
        """The host a command uses: ``[plugins] disable`` honoured, and only the plugins named
        in ``$DIGEST_PLUGINS`` loaded when it is set (``DIGEST_PLUGINS=""``: none at all)."""
        env = os.environ if environ is None else environ
        named = env.get(PLUGINS_ENV)
        only = None if named is None else [n.strip() for n in named.split(",") if n.strip()]
        return cls(disabled=disabled, only=only, strict=strict)

    def _blocked_names(self, disabled: Iterable[str]) -> list[str]:
        names = list(dict.fromkeys(disabled))
        for name in list(names):
            new = RENAMED_PLUGINS.get(name)
            if new is not None:
                self.warnings.append(
                    f"[plugins] disable: plugin {name!r} is now called {new!r}; use that name"
                )
                names.append(new)
        return names

    # -- loading ---------------------------------------------------------------------------

    def _load_entrypoints(self) -> None:
        found = importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)
        known = {ep.name for ep in found} | set(RENAMED_PLUGINS)
        for name in self.disabled:
            if name not in known:
                self.warnings.append(
                    f"[plugins] disable: no plugin is called {name!r}{did_you_mean(name, known)}"
                )
        for ep in found:
            if self.pm.is_blocked(ep.name) or self.pm.has_plugin(ep.name):
                continue
            if self.only is not None and ep.name not in self.only:
                continue
            self._versions[ep.name] = ep.dist.version if ep.dist else None
            self._dists[ep.name] = ep.dist.name if ep.dist else None
            try:
                plugin = ep.load()
            except Exception as error:  # a broken plugin must not take the others down
                message = f"failed to load {ep.value}: {describe(error)}"
                self._load_errors[ep.name] = message
                self._fail(PluginFailure(plugin=ep.name, message=message), error)
                continue
            self.register(plugin, name=ep.name)

    def register(self, plugin: object, *, name: str) -> bool:
        """Register one plugin object (module or instance); report and skip it if invalid."""
        try:
            self.pm.register(plugin, name=name)
        except Exception as error:  # pluggy.PluginValidationError and friends
            return self._refuse(name, describe(error), None, error)
        callers = list(self.pm.get_hookcallers(plugin) or ())
        wrapping = [
            caller.name
            for caller in callers
            for impl in caller.get_hookimpls()
            if impl.plugin is plugin and (impl.hookwrapper or impl.wrapper)
        ]
        if wrapping:
            self.pm.unregister(plugin)
            message = (
                "hook wrappers (wrapper=True / hookwrapper=True) are not supported: the host "
                "calls each implementation on its own, so that one failing plugin cannot stop "
                "the others; implement the hook without the wrapper flag"
            )
            return self._refuse(name, message, wrapping[0], None)
        for caller in callers:
            if caller.spec is None:
                message = f"implements unknown hook {caller.name!r}"
                self._load_errors.setdefault(name, message)
                self._fail(PluginFailure(plugin=name, hook=caller.name, message=message), None)
        self._components = None
        self._importers = None
        return True

    def _refuse(
        self, name: str, message: str, hook: str | None, error: BaseException | None
    ) -> bool:
        self._load_errors[name] = message
        self._fail(PluginFailure(plugin=name, hook=hook, message=message), error)
        return False

    def _fail(self, failure: PluginFailure, error: BaseException | None) -> None:
        self.failures.append(failure)
        log.warning("%s", failure, exc_info=error if log.isEnabledFor(logging.DEBUG) else None)

    def raise_if_strict(self) -> None:
        if self.strict and self.failures:
            raise PluginError("; ".join(str(f) for f in self.failures))

    # -- calling ---------------------------------------------------------------------------

    def call_each(self, hook: str, **kwargs: Any) -> list[tuple[str, Any]]:
        """Call every implementation of ``hook`` in isolation; return ``(plugin, result)``.

        The order is pluggy's: the plugin registered last first, ``tryfirst`` ones before
        and ``trylast`` ones after the rest. An implementation that raises is reported (and
        passed to ``on_component_error``), the others still run. Implementations receive only
        the arguments they ask for.
        """
        caller = getattr(self.pm.hook, hook)
        results: list[tuple[str, Any]] = []
        # get_hookimpls() lists them in the reverse of the calling order (pluggy calls from
        # the end of that list).
        for impl in reversed(caller.get_hookimpls()):
            args = {name: kwargs[name] for name in impl.argnames if name in kwargs}
            try:
                result = impl.function(**args)
            except Exception as error:
                self._fail(
                    PluginFailure(plugin=impl.plugin_name, hook=hook, message=describe(error)),
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
        for impl in reversed(self.pm.hook.on_component_error.get_hookimpls()):
            args = {"component": component, "error": error}
            try:
                impl.function(**{k: args[k] for k in impl.argnames})
            except Exception:
                log.exception("on_component_error in plugin %r raised", impl.plugin_name)

    # -- components ------------------------------------------------------------------------

    def components(self, kind: str) -> dict[str, Registered]:
        """Registered component classes of ``kind`` (``sources``, ``rankers`` …) by name,
        old names (aliases) included."""
        if self._components is None:
            self._components = self._collect_components()
        return self._components[kind]

    def _collect_components(self) -> dict[str, dict[str, Registered]]:
        found: dict[str, dict[str, Registered]] = {kind: {} for kind in COMPONENT_KINDS}
        for kind, base in COMPONENT_KINDS.items():
            for plugin, cls in self._registered_classes(f"register_{kind}"):
                problem = self._check_component(cls, base, found[kind])
                if problem:
                    self._fail(
                        PluginFailure(plugin=plugin, hook=f"register_{kind}", message=problem),
                        None,
                    )
                    continue
                found[kind][cls.name] = Registered(cls=cls, plugin=plugin)
            # Old names last: a current name always wins over another component's old one.
            for entry in list(found[kind].values()):
                for alias in entry.cls.aliases:
                    found[kind].setdefault(
                        alias,
                        Registered(cls=entry.cls, plugin=entry.plugin, alias_of=entry.cls.name),
                    )
        self.raise_if_strict()
        return found

    def _registered_classes(self, hook: str) -> list[tuple[str, Any]]:
        """``(plugin, class)`` for every class a ``register_*`` hook returned, in precedence
        order; a reply that is not a list is reported and skipped.

        A name taken twice goes to a built-in plugin, else to the plugin registered first
        (not to the one pluggy happens to call first): callers keep the first they see.
        """
        order = {name: i for i, (name, _) in enumerate(self.pm.list_name_plugin())}

        def precedence(item: tuple[str, Any]) -> tuple[bool, int]:
            plugin = item[0]
            return self._dists.get(plugin) != DISTRIBUTION, order.get(plugin, len(order))

        found: list[tuple[str, Any]] = []
        for plugin, classes in sorted(self.call_each(hook), key=precedence):
            if classes is None:
                continue
            if not isinstance(classes, list | tuple):
                message = f"returned {type(classes).__name__}, want a list of classes"
                self._fail(PluginFailure(plugin=plugin, hook=hook, message=message), None)
                continue
            found.extend((plugin, cls) for cls in classes)
        return found

    def profile_importers(self) -> dict[str, type[ProfileImporter]]:
        """Registered profile importer classes by name (``register_profile_importers``).

        Importers are not configured components: there is no ``[importers.x]`` table. A
        plugin whose hook raises or returns something else than importer classes is recorded
        in :attr:`failures`, like a broken component; a name taken twice goes to the
        built-in plugin, else to the plugin registered first.
        """
        if self._importers is None:
            from digest.importers import ProfileImporter

            hook = "register_profile_importers"
            found: dict[str, type[ProfileImporter]] = {}
            owners: dict[str, str] = {}
            for plugin, cls in self._registered_classes(hook):
                name = getattr(cls, "name", None)
                if not (isinstance(cls, type) and issubclass(cls, ProfileImporter)):
                    problem = f"{cls!r} is not a subclass of digest.importers.ProfileImporter"
                elif not isinstance(name, str) or not name:
                    problem = f"{cls.__qualname__} has no 'name'"
                elif name in found:
                    problem = (
                        f"profile importer name {name!r} is already registered by plugin "
                        f"{owners[name]!r}"
                    )
                else:
                    found[name], owners[name] = cls, plugin
                    continue
                self._fail(PluginFailure(plugin=plugin, hook=hook, message=problem), None)
            self.raise_if_strict()
            self._importers = found
        return dict(self._importers)

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
        aliases = getattr(cls, "aliases", ())
        if not isinstance(aliases, tuple) or not all(isinstance(a, str) for a in aliases):
            return f"{cls.__qualname__}.aliases must be a tuple of names"
        return None

    # -- listing ---------------------------------------------------------------------------

    def plugin_infos(self, *, include_errors: bool = True) -> list[PluginInfo]:
        """Every plugin with version, hooks, components and any load error, sorted by name."""
        registered: dict[str, list[ComponentInfo]] = {}
        for kind in COMPONENT_KINDS:
            for name, entry in self.components(kind).items():
                if entry.alias_of is None:
                    registered.setdefault(entry.plugin, []).append(
                        ComponentInfo(
                            kind=kind,
                            name=name,
                            aliases=entry.cls.aliases,
                            unavailable=unavailable(entry.cls),
                        )
                    )
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
                components=tuple(registered.get(name, ())),
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
