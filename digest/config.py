"""Configuration: one TOML file validated into pydantic models.

Every problem names the file, the table and the key (``config.toml: [subscribers.alice]
max_items: …``) and :func:`load_settings` reports all of them at once. Secrets may be given as
``{ env = "NAME" }`` and are read from the environment.
"""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
import typing
from collections.abc import Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from digest.errors import ConfigError, did_you_mean
from digest.models import Profile, Subscriber

DEFAULT_CONFIG_NAME = "default_config.toml"
SUBSCRIBER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,199}$")
SUBSCRIBER_NAME_RULE = (
    "letters, digits and . _ @ + - (starting with a letter or digit), at most 200"
)


def _env_secret(value: object) -> object:
    if isinstance(value, dict) and set(value) == {"env"}:
        name = value["env"]
        secret = os.environ.get(str(name))
        if secret is None:
            raise ValueError(f"environment variable {name} is not set")
        return secret
    return value


Secret = Annotated[str, BeforeValidator(_env_secret)]


def _check_timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown timezone {value!r}") from None
    return value


def _check_cron(value: str) -> str:
    from digest.cron import cron_trigger

    try:
        cron_trigger(value, "UTC")
    except ValueError as error:
        raise ValueError(f"invalid cron schedule {value!r}: {error}") from None
    # One spelling per schedule: runs of a schedule's slot find its subscribers by equality.
    return " ".join(value.split())


Timezone = Annotated[
    str, BeforeValidator(lambda v: _check_timezone(v) if isinstance(v, str) else v)
]
Cron = Annotated[str, BeforeValidator(lambda v: _check_cron(v) if isinstance(v, str) else v)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DigestSettings(_Strict):
    """``[digest]``: deployment-wide settings."""

    state_dir: Path = Field(Path(".digest"), description="SQLite store and run state")
    database: str | None = Field(None, description="SQLAlchemy URL; default SQLite in state_dir")
    output_dir: Path = Field(Path("digests"), description="where the files deliverer writes")
    timezone: Timezone = "UTC"
    title: str = "Papers digest"
    base_url: str = "http://localhost:8000"
    sender: str = "Papers Digest <digest@localhost>"
    reply_to: str | None = None
    list_id: str | None = None
    unsubscribe_mailto: str | None = None
    secret_key: Secret = "change-me"
    old_secret_keys: tuple[Secret, ...] = Field(
        (), description="earlier secret keys whose links still work (rotation grace period)"
    )
    lookback_days: int = Field(7, ge=1, le=365)
    workers: int = Field(0, ge=0, le=64, description="render/deliver processes; 0 = CPUs")
    pause_after: int = Field(
        20, ge=0, description="failed deliveries in a row that pause the edition; 0 = never"
    )
    template_dirs: tuple[Path, ...] = ()


class HostLimitSettings(_Strict):
    """``[fetch.hosts."<host>"]``: the politeness limit for one host."""

    interval: float = Field(0.0, ge=0, description="seconds between requests")
    connections: int = Field(4, ge=1, le=64, description="requests at once")


class FetchSettings(_Strict):
    """``[fetch]``: the one HTTP client every source uses."""

    connect_timeout: float = Field(10.0, gt=0)
    read_timeout: float = Field(30.0, gt=0)
    total_timeout: float = Field(120.0, gt=0)
    max_bytes: int = Field(50_000_000, ge=1024, description="per response, after decompression")
    max_redirects: int = Field(5, ge=0, le=20)
    retries: int = Field(3, ge=0, le=10, description="on 429/503, timeouts, dropped connections")
    backoff: float = Field(2.0, ge=0, description="wait backoff**attempt s without Retry-After")
    max_retry_wait: float = Field(300.0, ge=0)
    contact: str = Field("", description="put in the User-Agent: an email or URL to reach you")
    allow: tuple[str, ...] = Field(
        (), description="networks exempt from the private-address guard, e.g. 127.0.0.1/32"
    )
    hosts: dict[str, HostLimitSettings] = Field(default_factory=dict)

    @field_validator("allow")
    @classmethod
    def _networks(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        import ipaddress

        for item in value:
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ValueError(f"not a network or address: {item!r}") from None
        return value


class PluginSettings(_Strict):
    """``[plugins]``: which plugins to skip and whether plugin errors are fatal."""

    disable: tuple[str, ...] = ()
    strict: bool = False


class ServeSettings(_Strict):
    """``[serve]``: the long-running service (``digest serve``)."""

    host: str = Field("127.0.0.1", description="address to listen on")
    port: int = Field(8000, ge=0, le=65535, description="port to listen on")
    operator_token: Secret | None = Field(
        None,
        description=(
            "credential for the operator area (/operator: previews, editions, source health), "
            "sent as an HTTP Bearer token or as the Basic-auth password; unset: area disabled"
        ),
    )
    feed_editions: int = Field(
        10, ge=1, le=1000, description="editions a private feed (RSS/Atom/JSON) covers"
    )
    scheduler: bool = Field(
        True, description="deliver editions on subscribers' schedules; false: web only"
    )


class MailboxSettings(_Strict):
    """``[bounces.mailbox]``: the mailbox bounces arrive in, polled by ``digest serve``."""

    protocol: Literal["imap", "pop3"] = Field("imap", description="imap or pop3")
    host: str = Field(description="mail server host name")
    port: int | None = Field(None, ge=1, le=65535, description="default: 993 / 995 with TLS")
    security: Literal["tls", "starttls", "none"] = Field(
        "tls", description='"tls" (implicit), "starttls" or "none" (a local server only)'
    )
    username: str = Field(description="login name")
    password_env: str = Field(description="name of the environment variable with the password")
    folder: str = Field("INBOX", description="IMAP folder to read")
    after: Literal["delete", "flag"] = Field(
        "delete",
        description='what happens to a processed message once recorded: "delete", or "flag" '
        "it as seen (IMAP)",
    )
    every_minutes: int = Field(10, ge=1, le=1440, description="how often to poll")
    verify_tls: bool = Field(True, description="verify the server's certificate")

    @model_validator(mode="after")
    def _pop3_deletes(self) -> MailboxSettings:
        if self.protocol == "pop3" and self.after == "flag":
            raise ValueError('after = "flag" needs IMAP: POP3 can only delete what was read')
        return self


class WebhookSettings(_Strict):
    """``[bounces.webhooks]``: ESP bounce and complaint webhooks of ``digest serve``; each
    provider's endpoint (``POST /webhooks/<provider>``) answers only when configured here."""

    ses_topic_arns: tuple[str, ...] = Field(
        (),
        description="Amazon SES through SNS: the SNS topic ARNs whose signed messages are "
        "accepted at /webhooks/ses; empty: the endpoint is off",
    )
    sendgrid_public_key_env: str | None = Field(
        None,
        pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,127}$",
        description="SendGrid: name of the environment variable with the Signed Event "
        "Webhook's verification key (base64); unset: /webhooks/sendgrid is off",
    )
    postmark_username: str | None = Field(
        None,
        min_length=1,
        pattern=r"^[^:\x00-\x1f]+$",
        description="Postmark: the HTTP Basic user name in the webhook URL (with "
        "postmark_password_env); unset: /webhooks/postmark is off",
    )
    postmark_password_env: str | None = Field(
        None,
        pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,127}$",
        description="Postmark: name of the environment variable with the HTTP Basic password",
    )
    mailgun_signing_key_env: str | None = Field(
        None,
        pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,127}$",
        description="Mailgun: name of the environment variable with the HTTP webhook signing "
        "key; unset: /webhooks/mailgun is off",
    )

    @field_validator("ses_topic_arns")
    @classmethod
    def _topic_arns(cls, arns: tuple[str, ...]) -> tuple[str, ...]:
        for arn in arns:
            if not re.fullmatch(r"arn:aws(?:-[a-z]+)*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_.-]+", arn):
                raise ValueError(f"{arn!r} is not an SNS topic ARN (arn:aws:sns:region:id:name)")
        return arns

    @model_validator(mode="after")
    def _postmark_pair(self) -> WebhookSettings:
        if (self.postmark_username is None) != (self.postmark_password_env is None):
            raise ValueError("set both postmark_username and postmark_password_env, or neither")
        return self


class BouncesSettings(_Strict):
    """``[bounces]``: VERP return paths and what bounces and complaints do to a subscriber."""

    domain: str | None = Field(
        None,
        description="domain of the VERP return path (bounces+<token>@domain); unset: no VERP, "
        "bounces go to the smtp deliverer's envelope_from unidentified",
    )
    local_part: str = Field(
        "bounces", pattern=r"^[A-Za-z0-9._-]{1,30}$", description="local part before the '+'"
    )
    soft_limit: int = Field(
        3, ge=1, le=100, description="soft bounces within soft_days that make an address bounced"
    )
    soft_days: int = Field(14, ge=1, le=365, description="window for counting soft bounces")
    mailbox: MailboxSettings | None = Field(
        None, description="a mailbox to poll for bounces (digest serve); unset: none"
    )
    webhooks: WebhookSettings = Field(
        default_factory=WebhookSettings,
        description="ESP webhooks for bounces and complaints (SES, SendGrid, Postmark, Mailgun)",
    )


class QueueSettings(_Strict):
    """``[queue]``: where the per-subscriber fan-out runs (ARCHITECTURE §12)."""

    backend: Literal["local", "procrastinate"] = Field(
        "local",
        description="local: worker processes forked by digest run on this machine; "
        "procrastinate: chunk tasks in PostgreSQL, run by digest worker on any machine",
    )
    chunk_size: int = Field(256, ge=1, le=100_000, description="subscribers per chunk (task)")
    queue: str = Field("digest", pattern=r"^[a-z0-9_-]{1,40}$", description="procrastinate queue")
    retries: int = Field(5, ge=0, le=50, description="attempts after a chunk task fails")
    retry_wait_seconds: int = Field(
        5, ge=0, le=3600, description="wait before a failed chunk is retried, plus 2**attempt s"
    )
    heartbeat_seconds: float = Field(
        10.0, gt=0, description="how often a worker tells the database it is alive"
    )
    stalled_after_seconds: float = Field(
        60.0,
        gt=0,
        description="a worker silent this long is dead: its chunk in hand is run again",
    )


class RetentionSettings(_Strict):
    """``[retention]``: how long the ledger and the bounce log keep their rows."""

    ledger_days: int = Field(
        400,
        ge=0,
        description="selections and deliveries of complete editions older than this are "
        "pruned (digest prune; digest serve daily); 0 = keep for ever",
    )
    bounce_events_days: int = Field(
        180, ge=0, description="recorded bounces and complaints kept this long; 0 = for ever"
    )


SignupMode = Literal["closed", "open", "domains"]


class SignupSettings(_Strict):
    """``[signup]``: who may subscribe themselves at ``/subscribe`` (``digest serve``)."""

    mode: SignupMode = Field(
        "closed",
        description=(
            "closed: only the operator adds subscribers; open: anyone may sign up; domains: "
            "addresses under allowed_domains (the operator area can switch it at run time)"
        ),
    )
    allowed_domains: tuple[str, ...] = Field(
        (), description="for mode = 'domains': e.g. ['lab.example.org'] (subdomains included)"
    )
    confirm_within_days: int = Field(
        7, ge=1, le=90, description="unconfirmed sign-ups are purged after this many days"
    )
    per_ip: str = Field(
        "10/hour", description="sign-up attempts per client address (a 'limits' rate string)"
    )
    per_address: str = Field("3/day", description="confirmation or manage emails per email address")
    preview_per_ip: str = Field(
        "120/minute", description="live previews of the sign-up form per client address"
    )
    imports_per_subscriber: str = Field(
        "10/hour", description="Zotero/ORCID/... imports a subscriber may start from their page"
    )
    resync_imports_hours: float = Field(
        24,
        ge=0,
        description="digest serve imports every recorded Zotero/ORCID/... import again this "
        "often (0: never; 'digest subscribers sync' does it by hand)",
    )

    @field_validator("allowed_domains")
    @classmethod
    def _domains(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(d.strip().lstrip("@").casefold() for d in value if d.strip())

    @field_validator("per_ip", "per_address", "preview_per_ip", "imports_per_subscriber")
    @classmethod
    def _rate(cls, value: str) -> str:
        from limits import parse

        try:
            parse(value)
        except ValueError as error:
            raise ValueError(f"not a rate like '10/hour': {value!r}") from error
        return value

    @model_validator(mode="after")
    def _domains_needed(self) -> SignupSettings:
        if self.mode == "domains" and not self.allowed_domains:
            raise ValueError("mode = 'domains' needs allowed_domains")
        return self


class SelectionSettings(_Strict):
    """``[selection]``: filter and ranker instances applied to every subscriber."""

    filters: tuple[str, ...] = ()
    rankers: dict[str, float] = Field(default_factory=dict)
    diversity: float = Field(
        0.3, ge=0, le=0.9, description="trade score for variety among the picks (MMR); 0 = off"
    )
    relevant_only: bool = Field(
        True,
        description="pick only papers a personal ranker (keywords, tfidf, ...) scores above 0 "
        "when there are any; false: fill the digest up with the newest / most popular papers",
    )
    min_reason_strength: float = Field(
        0.1,
        ge=0,
        le=1,
        description="leave out of a pick's 'why' the evidence weaker than this (a reason's "
        "weight, 0-1); the strongest reason is always said",
    )

    @field_validator("rankers")
    @classmethod
    def _positive(cls, value: dict[str, float]) -> dict[str, float]:
        for name, weight in value.items():
            if weight < 0:
                raise ValueError(f"weight of ranker {name!r} must be ≥ 0")
        return value


def _record_default(key: str) -> Any:
    """The default of the :class:`Subscriber` or :class:`Profile` field ``key``."""
    for record in (Subscriber, Profile):
        for item in dataclasses.fields(record):
            if item.name == key and item.default is not dataclasses.MISSING:
                return item.default
    raise TypeError(f"no Subscriber or Profile field {key!r} with a default")


class SubscriberSettings(_Strict):
    """``[subscribers.<name>]`` or one line of a subscribers JSON Lines file.

    The keys are the fields of :class:`~digest.models.Subscriber` and of its
    :class:`~digest.models.Profile`, flat, less ``name`` (the table's or the line's) and what
    comes from feedback (``muted_authors``); a field added to one of the records is added here
    with its validation, and takes the record's default (``tests/test_store.py`` checks).
    """

    email: str | None = _record_default("email")
    interests: str = _record_default("interests")
    keywords: tuple[str, ...] = _record_default("keywords")
    exclude: tuple[str, ...] = _record_default("exclude")
    categories: tuple[str, ...] = _record_default("categories")
    authors: tuple[str, ...] = _record_default("authors")
    liked: tuple[str, ...] = _record_default("liked")
    disliked: tuple[str, ...] = _record_default("disliked")
    schedule: Cron = _record_default("schedule")
    timezone: Timezone = _record_default("timezone")
    max_items: int = Field(_record_default("max_items"), ge=1, le=100)
    channels: tuple[str, ...] = _record_default("channels")
    active: bool = _record_default("active")

    def to_subscriber(self, name: str) -> Subscriber:
        """The record plugins see: subscriber ``name`` with these settings."""
        values = self.model_dump()
        profile = {
            f.name: values.pop(f.name) for f in dataclasses.fields(Profile) if f.name in values
        }
        return Subscriber(name=name, profile=Profile(**profile), **values)

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is not None and ("@" not in value or any(c in value for c in "\r\n <>")):
            raise ValueError(f"not an email address: {value!r}")
        return value


class ComponentInstance(BaseModel):
    """``[sources.<instance>]`` etc.: ``component`` plus that component's own keys."""

    model_config = ConfigDict(extra="allow", frozen=True)
    component: str
    #: when the component cannot run here (an optional extra is not installed), leave it out
    #: with a note saying how to install it, instead of refusing to run
    optional: bool = False

    def options(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class Settings(_Strict):
    """The whole configuration file."""

    digest: DigestSettings = Field(default_factory=DigestSettings)
    plugins: PluginSettings = Field(default_factory=PluginSettings)
    fetch: FetchSettings = Field(default_factory=FetchSettings)
    selection: SelectionSettings = Field(default_factory=SelectionSettings)
    serve: ServeSettings = Field(default_factory=ServeSettings)
    signup: SignupSettings = Field(default_factory=SignupSettings)
    bounces: BouncesSettings = Field(default_factory=BouncesSettings)
    queue: QueueSettings = Field(default_factory=QueueSettings)
    retention: RetentionSettings = Field(default_factory=RetentionSettings)
    sources: dict[str, ComponentInstance] = Field(default_factory=dict)
    filters: dict[str, ComponentInstance] = Field(default_factory=dict)
    rankers: dict[str, ComponentInstance] = Field(default_factory=dict)
    enrichers: dict[str, ComponentInstance] = Field(default_factory=dict)
    renderers: dict[str, ComponentInstance] = Field(default_factory=dict)
    deliverers: dict[str, ComponentInstance] = Field(default_factory=dict)
    subscribers: dict[str, SubscriberSettings] = Field(default_factory=dict)

    @field_validator("subscribers")
    @classmethod
    def _names(cls, value: dict[str, SubscriberSettings]) -> dict[str, SubscriberSettings]:
        for name in value:
            if not SUBSCRIBER_NAME.match(name):
                raise ValueError(f"subscriber name {name!r}: use {SUBSCRIBER_NAME_RULE}")
        return value


class LoadedConfig(BaseModel):
    """Settings plus where they came from; relative paths are resolved against ``base_dir``."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)
    settings: Settings
    source: str
    base_dir: Path
    #: schema problems found by a lenient load (``digest check``); empty otherwise
    problems: list[str] = Field(default_factory=list)

    def path(self, value: Path) -> Path:
        return value if value.is_absolute() else (self.base_dir / value)

    @property
    def state_dir(self) -> Path:
        return self.path(self.settings.digest.state_dir)

    @property
    def output_dir(self) -> Path:
        return self.path(self.settings.digest.output_dir)

    @property
    def database_url(self) -> str:
        url = self.settings.digest.database
        return url or f"sqlite:///{self.state_dir / 'digest.sqlite3'}"


def format_location(source: str, loc: tuple[int | str, ...]) -> str:
    """``("subscribers", "alice", "max_items")`` → ``[subscribers.alice] max_items``."""
    parts = [str(p) for p in loc]
    if not parts:
        return source
    if len(parts) == 1:
        return f"{source}: [{parts[0]}]"
    if parts[0] in _ENTRY_TABLES:
        table, key = parts[:2], parts[2:]
    else:
        table, key = parts[:1], parts[1:]
    where = f"[{'.'.join(table)}]"
    return f"{source}: {where} {'.'.join(key)}".rstrip() if key else f"{source}: {where}"


def known_keys(model: type[BaseModel], loc: Sequence[int | str]) -> list[str]:
    """The keys allowed next to ``loc[-1]`` in ``model`` (``("digest", "stat_dir")`` → the
    fields of ``[digest]``), following nested models and tables of them; ``[]`` if unknown."""
    current: Any = model
    for part in loc[:-1]:
        if isinstance(current, type) and issubclass(current, BaseModel):
            info = current.model_fields.get(str(part))
            current = info.annotation if info is not None else None
        elif typing.get_origin(current) is dict:  # a table of tables: skip the instance name
            current = typing.get_args(current)[1]
        else:
            return []
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return []


def validation_problems(
    source: str,
    error: ValidationError,
    prefix: tuple[str, ...] = (),
    *,
    model: type[BaseModel] | None = None,
) -> list[str]:
    """One line per error, naming file, table and key; an unknown key gets the nearest known
    one of ``model`` (what was validated) as a suggestion."""
    problems = []
    for item in error.errors():
        loc = prefix + tuple(str(p) for p in item["loc"])
        message = item["msg"]
        if item["type"] == "extra_forbidden":
            keys = known_keys(model, item["loc"]) if model is not None else []
            message = "unknown key" + did_you_mean(str(item["loc"][-1]), keys)
        elif message.startswith("Value error, "):
            message = message.removeprefix("Value error, ")
        problems.append(f"{format_location(source, loc)}: {message}")
    return problems


_ENTRY_TABLES = (
    "sources",
    "filters",
    "rankers",
    "enrichers",
    "renderers",
    "deliverers",
    "subscribers",
)


def parse_settings(
    data: Mapping[str, Any], source: str, *, lenient: bool = False
) -> tuple[Settings, list[str]]:
    """Validate ``data``; raise :class:`ConfigError` with every problem.

    With ``lenient``, return the problems instead, together with settings in which each
    invalid entry (``[subscribers.bob]``) or table (``[digest]``) falls back to its default,
    so that ``digest check`` can go on to validate the rest.
    """
    try:
        return Settings.model_validate(data), []
    except ValidationError as error:
        problems = validation_problems(source, error, model=Settings)
        if not lenient:
            raise ConfigError(problems) from None
        pruned: dict[str, Any] = {k: dict(v) if isinstance(v, dict) else v for k, v in data.items()}
        for item in error.errors():
            loc = [str(part) for part in item["loc"]]
            if len(loc) >= 2 and loc[0] in _ENTRY_TABLES and isinstance(pruned.get(loc[0]), dict):
                pruned[loc[0]].pop(loc[1], None)
            elif loc:
                pruned.pop(loc[0], None)
        try:
            return Settings.model_validate(pruned), problems
        except ValidationError:
            return Settings(), problems


def load_settings(path: Path | None, *, lenient: bool = False) -> LoadedConfig:
    """Load ``path``, or the embedded default (paths relative to the current folder).

    With ``lenient``, schema problems are kept in ``LoadedConfig.problems`` instead of raised.
    """
    if path is None:
        text = resources.files("digest").joinpath(DEFAULT_CONFIG_NAME).read_text("utf-8")
        source = "<embedded default config>"
        settings, problems = parse_settings(tomllib.loads(text), source, lenient=lenient)
        return LoadedConfig(
            settings=settings, source=source, base_dir=Path.cwd(), problems=problems
        )
    name = str(path)
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise ConfigError([f"{name}: cannot read: {error.strerror or error}"]) from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as error:
        raise ConfigError(
            [f"{name}: not UTF-8 text ({error.reason} at byte {error.start})"]
        ) from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError([f"{name}: invalid TOML: {error}"]) from None
    settings, problems = parse_settings(data, name, lenient=lenient)
    return LoadedConfig(
        settings=settings, source=name, base_dir=path.resolve().parent, problems=problems
    )
