"""What the checks look at: :class:`Setup` (sender, base_url, bounces, smtp deliverers), read
from an application's configuration, and :class:`SmtpInstance`, one ``smtp`` deliverer."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from digest.doctor.model import domain_of
from digest.errors import ConfigError

if TYPE_CHECKING:
    from digest.application import Application
    from digest_smtp.deliverer import SmtpConfig


@dataclass(frozen=True)
class SmtpInstance:
    """One configured ``smtp`` deliverer: its ``[deliverers.<name>]`` and its options."""

    name: str
    config: SmtpConfig


@dataclass(frozen=True)
class Setup:
    """What the checks need from the configuration."""

    sender: str
    base_url: str
    bounce_domain: str | None = None
    bounce_local_part: str = "bounces"
    smtp: tuple[SmtpInstance, ...] = ()
    #: the config file's folder: relative ``dkim_key_file`` and ``ca_file`` are relative to it
    base_dir: Path = field(default_factory=Path.cwd)

    @property
    def from_domain(self) -> str:
        return domain_of(self.sender)

    @classmethod
    def from_application(cls, app: Application) -> Setup:
        """The setup of ``app``'s configuration; raises :class:`ConfigError` when an ``smtp``
        deliverer's options are invalid."""
        from pydantic import ValidationError

        from digest.config import validation_problems
        from digest_smtp.deliverer import SmtpConfig

        settings = app.settings
        registered = app.host.components("deliverers")
        instances: list[SmtpInstance] = []
        for name, table in settings.deliverers.items():
            entry = registered.get(table.component)
            if entry is None:
                continue
            config_class = entry.cls.Config
            if not (isinstance(config_class, type) and issubclass(config_class, SmtpConfig)):
                continue
            try:
                config = config_class.model_validate(table.options())
            except ValidationError as error:
                source = app.loaded.source
                where = ("deliverers", name)
                raise ConfigError(
                    validation_problems(source, error, where, model=config_class)
                ) from None
            instances.append(SmtpInstance(name, config))
        bounces = getattr(settings, "bounces", None)
        return cls(
            sender=settings.digest.sender,
            base_url=settings.digest.base_url,
            bounce_domain=getattr(bounces, "domain", None),
            bounce_local_part=getattr(bounces, "local_part", "bounces"),
            smtp=tuple(instances),
            base_dir=app.loaded.base_dir,
        )
