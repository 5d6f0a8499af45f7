"""The application: one configuration turned into a running setup.

Every entry point (the command line, the scheduler's jobs, ``digest serve``, tests and
benchmarks) builds the same things in the same order — settings, plugin host, store, runtime,
pipeline — and does it here. Each part is built when first used and kept, so a command that
only needs the settings never opens the store or loads a plugin::

    with Application.from_path(Path("config.toml")) as app:
        app.pipeline.run()
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property, partial
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from types import TracebackType

    from digest.components import Runtime
    from digest.config import LoadedConfig, Settings
    from digest.pipeline import Pipeline
    from digest.plugins import PluginHost
    from digest.store import Store


def _load(path: Path | None, lenient: bool) -> LoadedConfig:
    from digest.config import load_settings

    return load_settings(path, lenient=lenient)


class Application:
    """Settings, plugin host, store, runtime and pipeline of one configuration, built lazily.

    ``host`` replaces the plugin host the settings would give (tests register their own
    plugins); ``strict`` makes plugin errors fatal even where ``[plugins] strict`` is off.
    """

    def __init__(
        self, loaded: LoadedConfig, *, host: PluginHost | None = None, strict: bool = False
    ) -> None:
        self._setup(lambda: loaded, path=None, host=host, strict=strict)

    @classmethod
    def from_path(
        cls,
        path: Path | None,
        *,
        strict: bool = False,
        lenient: bool = False,
        host: PluginHost | None = None,
    ) -> Application:
        """The application of the config file ``path`` (``None``: the embedded default), read
        when first needed; with ``lenient``, schema problems are kept in ``loaded.problems``."""
        app = cls.__new__(cls)
        app._setup(partial(_load, path, lenient), path=path, host=host, strict=strict)
        return app

    def _setup(
        self,
        load: Callable[[], LoadedConfig],
        *,
        path: Path | None,
        host: PluginHost | None,
        strict: bool,
    ) -> None:
        self._load = load
        self._host = host
        #: the config file, when the application was made from one
        self.path = path
        self.strict = strict

    @cached_property
    def loaded(self) -> LoadedConfig:
        return self._load()

    @cached_property
    def settings(self) -> Settings:
        return self.loaded.settings

    @cached_property
    def host(self) -> PluginHost:
        if self._host is not None:
            return self._host
        from digest.plugins import PluginHost

        plugins = self.settings.plugins
        return PluginHost.from_settings(
            disabled=plugins.disable, strict=self.strict or plugins.strict
        )

    @cached_property
    def store(self) -> Store:
        from digest.store import Store

        return Store.open(self.loaded.database_url)

    @cached_property
    def runtime(self) -> Runtime:
        """What components are handed, for those built outside the pipeline (``digest rank``)."""
        from digest.wiring import make_runtime

        return make_runtime(self.loaded, self.host, features=self.store, rates=self.store)

    @cached_property
    def pipeline(self) -> Pipeline:
        """Every configured component, started; raises :class:`~digest.errors.ConfigError`
        with every problem found."""
        from digest.wiring import open_pipeline

        pipeline: Pipeline = open_pipeline(self.loaded, self.host, self.store)
        return pipeline

    def check(self) -> list[str]:
        """Every problem in the configuration and the plugins, starting nothing."""
        return self.review()[0]

    def review(self) -> tuple[list[str], list[str]]:
        """``(problems, warnings)`` of the configuration and the plugins, starting nothing:
        warnings are what runs but is probably not what was meant (an unused
        ``[rankers.x]`` table, a deprecated component name)."""
        from digest.wiring import review

        return review(self.loaded, self.host)

    def notes(self) -> list[str]:
        """Optional components that are off here, with how to turn them on."""
        from digest.wiring import notes

        return notes(self.loaded, self.host)

    def close(self) -> None:
        """Close the store, if it was opened."""
        store = self.__dict__.pop("store", None)
        if store is not None:
            store.close()

    def __enter__(self) -> Application:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
