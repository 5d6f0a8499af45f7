"""``digest init``: one researcher, no server — a few questions, then a commented, checked
``config.toml`` and the commands that deliver the first digest.

Every question has a flag; ``--no-input`` (or ``--yes``) takes the defaults and stops with one
line naming the flag a required answer needs. The file is built from the embedded default
configuration (its selection, filters, rankers and renderers) with an ``arxiv`` source for the
chosen categories (plus the bundled ``sample`` papers with ``--offline-demo``), the files
deliverer or SMTP, and the researcher's ``[subscribers.<name>]`` table. Liked papers from a
library export (or a Zotero library / ORCID record) are stored as references, as ``digest
subscribers like`` stores them, and their ids written to ``liked``.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shlex
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from digest.errors import DigestError

if TYPE_CHECKING:
    from digest.models import Paper

T = TypeVar("T")

SCHEDULES = ("daily", "weekdays", "weekly")
CHANNELS = ("files", "smtp")
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
SECURITY_PORTS = {"starttls": 587, "tls": 465, "none": 25}
CATEGORY_EXAMPLE = "--categories cs.LG,cs.RO"


def register(cli: click.Group) -> None:
    cli.add_command(init)


@dataclass
class Answers:
    """What the researcher answered (or the flags said)."""

    name: str = ""
    email: str = ""
    categories: list[str] = field(default_factory=list)
    interests: str = ""
    keywords: list[str] = field(default_factory=list)
    liked: list[str] = field(default_factory=list)
    #: (where from, papers) per library file or import, stored as references
    libraries: list[tuple[str, list[Paper]]] = field(default_factory=list)
    schedule: str = "weekdays"
    day: str = "mon"
    hour: int = 7
    timezone: str = "UTC"
    channel: str = "files"
    smtp: dict[str, Any] = field(default_factory=dict)
    offline_demo: bool = False

    @property
    def cron(self) -> str:
        """The schedule as the crontab line ``[subscribers.<name>] schedule`` takes."""
        weekday = {"daily": "*", "weekdays": "1-5"}.get(self.schedule)
        if weekday is None:
            weekday = str((DAYS.index(self.day) + 1) % 7)  # crontab: 0 = Sunday
        return f"0 {self.hour} * * {weekday}"

    @property
    def when(self) -> str:
        often = {"daily": "every day", "weekdays": "Monday to Friday"}.get(self.schedule)
        return f"{often or 'every ' + self.day.capitalize()} at {self.hour:02d}:00 {self.timezone}"


class Asker:
    """Asks a question, or takes its flag's value, or (``--no-input``) the default — and with
    no default stops with one line naming the flag."""

    def __init__(self, interactive: bool) -> None:
        self.interactive = interactive

    def ask(
        self,
        flag: str,
        given: Any,
        text: str,
        *,
        default: Any = None,
        check: Callable[[Any], T],
        required: bool = False,
        example: str = "",
        **prompt: Any,
    ) -> T:
        if given is not None:
            try:
                return check(given)
            except click.UsageError as error:
                raise DigestError(f"{flag}: {error.message}") from None
        if not self.interactive:
            if required and default is None:
                hint = f"; e.g. {example}" if example else ""
                raise DigestError(f"--no-input: pass {flag} ({text}: no default{hint})")
            return check(default)
        answer: T = click.prompt(text, default=default, value_proc=check, **prompt)
        return answer

    def optional(self, flag: str, given: Any, text: str, check: Callable[[Any], T]) -> T:
        """A question Enter skips (the empty answer goes through ``check`` too)."""
        return self.ask(
            flag, given, f"{text} (Enter to skip)", default="", show_default=False, check=check
        )

    def choose(self, flag: str, given: Any, text: str, options: Sequence[str], default: str) -> str:
        """One of ``options``, listed in the prompt."""
        choices = list(options)
        return self.ask(
            flag, given, text, default=default, type=click.Choice(choices), check=_choice(choices)
        )


def _bad(message: str) -> click.UsageError:
    return click.UsageError(message)


# -- answers checked ---------------------------------------------------------------------


def _name(value: str) -> str:
    from digest.config import SUBSCRIBER_NAME, SUBSCRIBER_NAME_RULE

    value = value.strip()
    if not SUBSCRIBER_NAME.match(value):
        raise _bad(f"{value!r} is not a subscriber name: use {SUBSCRIBER_NAME_RULE}")
    return value


def _default_name() -> str:
    import getpass

    from digest.config import SUBSCRIBER_NAME

    try:
        login = re.sub(r"[^A-Za-z0-9._@+-]", "", getpass.getuser())
    except Exception:  # no login name (a container without a passwd entry)
        login = ""
    return login if SUBSCRIBER_NAME.match(login) else "me"


def _email(value: str) -> str:
    value = value.strip()
    if "@" not in value or any(c in value for c in "\r\n <>,"):
        raise _bad(f"{value!r} is not an email address")
    return value


def _items(value: str | Sequence[str]) -> list[str]:
    """Comma-separated text (or several flag values) as a list without blanks or repeats."""
    texts = [value] if isinstance(value, str) else list(value)
    found = [item.strip() for text in texts for item in text.split(",")]
    return list(dict.fromkeys(item for item in found if item))


def _categories(value: str | Sequence[str]) -> list[str]:
    from digest import taxonomy

    codes: list[str] = []
    for token in (t for item in _items(value) for t in item.split()):
        found = taxonomy.by_code(token)
        if found is None:
            raise _bad(taxonomy.problem(token) or token)
        codes.append(found.code)
    if not codes:
        raise _bad("choose at least one arXiv category")
    return list(dict.fromkeys(codes))


def _timezone(value: str) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    value = value.strip()
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise _bad(f"unknown timezone {value!r} (an IANA name, e.g. Europe/London)") from None
    return value


def local_timezone() -> str:
    """This machine's IANA timezone: tzlocal's answer when it is installed, else where
    ``/etc/localtime`` points, else ``UTC``."""
    candidates: list[str] = []
    try:
        from tzlocal import get_localzone_name

        candidates.append(get_localzone_name() or "")
    except Exception:  # not installed, or no zone it can name
        pass
    try:
        target = os.path.realpath("/etc/localtime")
        candidates.append(target.partition("zoneinfo/")[2])
    except OSError:
        pass
    for name in candidates:
        try:
            return _timezone(name)
        except click.UsageError:
            continue
    return "UTC"


def _liked(pieces: Sequence[str]) -> tuple[list[str], list[tuple[str, list[Paper]]]]:
    """Ids, DOIs and URLs → canonical refs; existing file paths → their library's papers."""
    from digest.importers import parse_liked_lines
    from digest.library import read_library

    refs: list[str] = []
    libraries: list[tuple[str, list[Paper]]] = []
    for piece in pieces:
        path = Path(piece).expanduser()
        if path.is_file():
            try:
                libraries.append((piece, list(read_library(path).papers)))
            except DigestError as error:
                raise _bad(str(error)) from None
            continue
        for word in piece.split():
            found, problems = parse_liked_lines(word)
            if problems:
                raise _bad(
                    f"{word!r} is not an arXiv id, DOI, arXiv/DOI URL or a library file "
                    "(BibTeX, Zotero CSV or RDF)"
                )
            refs.extend(found)
    return list(dict.fromkeys(refs)), libraries


def _import_ref(text: str) -> tuple[str, str]:
    """``zotero:users/123456`` or ``orcid:…``; a bare ORCID iD (or its URL) or ``users/…`` is
    understood too."""
    from digest.importers import parse_from

    text = text.strip()
    if re.search(r"\b\d{4}-\d{4}-\d{4}-\d{3}[\dXx]\b", text) and not text.startswith("orcid:"):
        return "orcid", text
    if re.match(r"(users|groups)/\d+", text):
        return "zotero", text
    try:
        return parse_from(text)
    except DigestError as error:
        raise _bad(str(error).removeprefix(f"--from {text!r}: ")) from None


# -- the questions -----------------------------------------------------------------------


def ask_categories(asker: Asker, given: list[str] | None) -> list[str]:
    """Codes, numbers from the last list, or words to search the taxonomy with."""
    from digest import taxonomy

    if given is not None or not asker.interactive:
        return asker.ask(
            "--categories",
            given,
            "arXiv categories",
            check=_categories,
            required=True,
            example=CATEGORY_EXAMPLE,
        )
    click.echo(
        "Which arXiv categories do you follow? Type codes (cs.LG), a word to search the list "
        "(robot), or numbers from a list shown; Enter when done."
    )
    chosen: list[str] = []
    shown: list[taxonomy.Category] = []
    while True:
        label = f"Categories [{', '.join(chosen)}]" if chosen else "Categories"
        text = click.prompt(label, default="", show_default=False).strip()
        if not text:
            if chosen:
                return chosen
            click.echo("Choose at least one category.")
            continue
        for piece in _items(text):
            words = piece.split()
            if len(words) > 1 and not all(w.isdigit() or taxonomy.by_code(w) for w in words):
                words = [piece]  # several words: one search ("machine learning")
            for word in words:
                if word.isdigit():
                    if not 1 <= int(word) <= len(shown):
                        click.echo(f"No number {word} in the list.")
                        continue
                    picked = shown[int(word) - 1]
                elif (found := taxonomy.by_code(word)) is not None:
                    picked = found
                else:
                    shown = taxonomy.search(word)
                    if not shown:
                        click.echo(f"No category matches: {taxonomy.problem(word)}")
                    for number, c in enumerate(shown, start=1):
                        click.echo(f"  {number:2}. {c.code:<20} {c.name} ({c.group})")
                    continue
                if picked.code not in chosen:
                    chosen.append(picked.code)


def ask_liked(asker: Asker, given: list[str] | None, answers: Answers) -> None:
    text = "Papers you liked: arXiv ids, DOIs, their URLs, or a BibTeX / Zotero CSV / RDF file"
    pieces = asker.optional("--liked", given, text + ", comma-separated", check=_items)
    while True:
        try:
            answers.liked, answers.libraries = _liked(pieces)
            return
        except click.UsageError as error:
            if given is not None or not asker.interactive:
                raise DigestError(f"--liked: {error.message}") from None
            click.echo(f"Error: {error.message}")
            pieces = _items(click.prompt(text, default="", show_default=False))


def ask_imports(asker: Asker, given: list[str] | None) -> list[tuple[str, str]]:
    """Zotero libraries or ORCID records to take liked papers from (read later, online)."""
    from digest.importers import make_importer
    from digest.plugins import PluginHost

    importers = PluginHost().profile_importers()
    if not importers:
        if given:
            raise DigestError("--from: no profile importers are installed")
        return []

    def check(value: str | Sequence[str]) -> list[tuple[str, str]]:
        refs = []
        for item in _items(value):
            name, ref = _import_ref(item)
            try:
                refs.append((name, make_importer(importers, name).validate(ref)))
            except DigestError as error:
                raise _bad(str(error)) from None
        return refs

    found: list[tuple[str, str]] = asker.optional(
        "--from",
        given,
        "A Zotero user id or an ORCID iD to take liked papers from "
        "(zotero:users/123456, orcid:0000-0002-1825-0097)",
        check=check,
    )
    return found


def read_imports(refs: list[tuple[str, str]], fetch: Any) -> list[tuple[str, list[Paper]]]:
    """The papers each (importer, ref) lists, fetched through the project's HTTP client."""
    if not refs:
        return []
    from digest.importers import ImportHTTP, make_importer
    from digest.plugins import PluginHost

    importers = PluginHost().profile_importers()
    found = []
    with ImportHTTP.from_settings(fetch) as http:
        for name, ref in refs:
            click.echo(f"Reading {name}:{ref} ...")
            papers = make_importer(importers, name).read(ref, http, options={})
            found.append((f"{name}:{ref}", papers))
    return found


def ask_smtp(asker: Asker, flags: dict[str, Any]) -> dict[str, Any]:
    host = asker.ask(
        "--smtp-host",
        flags["smtp_host"],
        "SMTP server host name",
        check=lambda v: v.strip() or _fail("an SMTP host is required"),
        required=True,
        example="--smtp-host smtp.example.org",
    )
    security = asker.choose(
        "--smtp-security", flags["smtp_security"], "Security", list(SECURITY_PORTS), "starttls"
    )
    port = asker.ask(
        "--smtp-port",
        flags["smtp_port"],
        "Port",
        default=SECURITY_PORTS[security],
        check=_port,
    )
    user = asker.optional(
        "--smtp-user", flags["smtp_user"], "SMTP user name (none: no AUTH)", check=str.strip
    )
    smtp: dict[str, Any] = {"host": host, "port": port, "security": security}
    if user:
        smtp["username"] = user
        smtp["password_env"] = asker.ask(
            "--smtp-password-env",
            flags["smtp_password_env"],
            "Environment variable holding the SMTP password (never written to the file)",
            default="SMTP_PASSWORD",
            check=_env_name,
        )
    return smtp


def _fail(message: str) -> Any:
    raise _bad(message)


def _choice(options: Sequence[str]) -> Callable[[str], str]:
    def check(value: str) -> str:
        value = str(value).strip().lower()
        if value not in options:
            raise _bad(f"{value!r} is not one of {', '.join(options)}")
        return value

    return check


def _port(value: Any) -> int:
    try:
        port = int(value)
    except (TypeError, ValueError):
        raise _bad(f"{value!r} is not a port number") from None
    if not 1 <= port <= 65535:
        raise _bad(f"{port} is not a port number (1-65535)")
    return port


def _hour(value: Any) -> int:
    try:
        hour = int(str(value).strip().split(":")[0])
    except ValueError:
        raise _bad(f"{value!r} is not an hour (0-23)") from None
    if not 0 <= hour <= 23:
        raise _bad(f"{hour} is not an hour (0-23)")
    return hour


def _env_name(value: str) -> str:
    value = value.strip()
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", value):
        raise _bad(f"{value!r} is not an environment variable name")
    return value


# -- the file ----------------------------------------------------------------------------


def _toml(value: Any) -> str:
    """``value`` (str, bool, int, list of str) as a TOML value."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        # JSON's escapes are TOML's; DEL is the one control character JSON leaves alone.
        return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
    return "[" + ", ".join(_toml(item) for item in value) + "]"


def _array(values: Sequence[str], indent: str = "    ") -> str:
    """A list one item a line, for long lists (liked papers)."""
    if len(values) <= 3:
        return _toml(list(values))
    return "[\n" + "".join(f"{indent}{_toml(v)},\n" for v in values) + "]"


COMMENTS = {
    "filters": "Filters keep a paper only when it matches the subscriber's keywords, categories\n"
    "# or authors (minus their `exclude` phrases).",
    "rankers": "Rankers score what the filters kept; [selection] weighs them. tfidf compares new\n"
    "# papers with the ones you liked and your interests.",
    "enrichers": "Enrichers add data to each paper once per version: tldr picks a one-sentence\n"
    "# summary from the abstract.",
    "renderers": "Renderers turn the picks into an HTML email with a text part, and RSS/Atom/JSON "
    "feeds.",
}


def _contact(email: str) -> str:
    """``[fetch] contact``: the researcher's address, which arXiv asks crawlers to give."""
    return "" if email.endswith("@localhost") else f"mailto:{email}"


def config_text(answers: Answers, *, secret: str, path: str = "config.toml") -> str:
    """The commented ``config.toml`` for ``answers``, built on the embedded default config;
    ``path`` is how the commands in its header name it."""
    import tomllib
    from importlib import resources

    from digest.config import DEFAULT_CONFIG_NAME

    default = tomllib.loads(
        resources.files("digest").joinpath(DEFAULT_CONFIG_NAME).read_text("utf-8")
    )
    a = answers
    sender = a.email if a.channel == "smtp" else "digest@localhost"
    lines = [
        f"# papers-digest for {a.name}, written by `digest init`.",
        "# Every key is documented in config.example.toml; relative paths are relative to",
        "# this file's folder.",
        "#",
        f"#   digest check --config {path}         validate this file",
        f"#   digest preview {a.name} --config {path}   your next digest as HTML",
        f"#   digest run --config {path}           collect and deliver one edition",
        "",
        "[digest]",
        'state_dir = ".digest"            # the SQLite store: papers seen, digests delivered',
        'output_dir = "digests"           # where the digests are written as files',
        f"timezone = {_toml(a.timezone)}",
        f"title = {_toml(default['digest']['title'])}",
        f"sender = {_toml(f'Papers digest <{sender}>')}   # From: of the emails",
        "# Signs the links in your digests (unsubscribe, feedback): keep this file private.",
        f"secret_key = {_toml(secret)}",
        "",
        "# The HTTP client every source uses; arXiv asks for a contact in the User-Agent.",
        "[fetch]",
        f"contact = {_toml(_contact(a.email))}",
        "",
        "# How papers are picked: the filters every paper must pass and the rankers' weights.",
        "[selection]",
        f"filters = {_toml(default['selection']['filters'])}",
        "rankers = { "
        + ", ".join(f"{k} = {v}" for k, v in default["selection"]["rankers"].items())
        + " }",
        "",
        "# --- Sources: where new papers come from ---------------------------------------",
        "",
        "# arXiv's daily announcements (Sunday to Thursday evenings, US Eastern) of your",
        "# categories: rss.arxiv.org/rss/<cat1>+<cat2>.",
        "[sources.arxiv]",
        'component = "arxiv"',
        f"categories = {_toml(a.categories)}",
        'rss_url = "https://rss.arxiv.org"',
        'announce_types = ["new", "cross"]   # add "replace" to hear of new versions',
        "",
    ]
    if a.offline_demo:
        lines += [
            "# ~150 invented demo papers bundled with papers-digest, so that a digest arrives",
            "# with no network. Remove this table once arXiv is reachable.",
            "[sources.sample]",
            'component = "sample"',
            "",
        ]
    lines += [
        "# Hugging Face daily papers (upvotes, code links) -- uncomment to add them:",
        "# [sources.hf]",
        '# component = "huggingface"',
        "",
    ]
    for kind in ("filters", "rankers", "enrichers", "renderers"):
        lines += [f"# --- {kind.capitalize()} " + "-" * (72 - len(kind)), f"# {COMMENTS[kind]}"]
        for instance, table in default[kind].items():
            lines += [f"[{kind}.{instance}]"]
            lines += [f"{key} = {_toml(value)}" for key, value in table.items()]
            lines += [""]
    lines += ["# --- Delivery " + "-" * 66]
    if a.channel == "smtp":
        s = a.smtp
        lines += [
            "# Email over SMTP; the files deliverer keeps the feeds.",
            "[deliverers.smtp]",
            'component = "smtp"',
            'channels = ["email"]',
            f"host = {_toml(s['host'])}",
            f"port = {s['port']}",
            f"security = {_toml(s['security'])}   # starttls (587), tls (465) or none",
        ]
        if "username" in s:
            lines += [
                f"username = {_toml(s['username'])}",
                f"password_env = {_toml(s['password_env'])}   # the password is read from this "
                "environment variable",
            ]
        lines += [
            "",
            "[deliverers.files]",
            'component = "files"',
            'channels = ["feed"]              # rss.xml, atom.xml, feed.json under output_dir',
            "",
        ]
    else:
        lines += [
            "# Digests as files, no server: <output_dir>/<name>/<edition>/digest.html, .txt and",
            "# .eml, and a rolling rss.xml / atom.xml / feed.json per subscriber.",
            "[deliverers.files]",
            'component = "files"',
            "",
        ]
    lines += [
        "# --- You --------------------------------------------------------------------------",
        "# What you follow; the keywords filter keeps papers matching your categories or",
        "# keywords, and the rankers order them by your interests and liked papers.",
        f"[subscribers.{_key(a.name)}]",
        f"email = {_toml(a.email)}",
        f"interests = {_toml(a.interests)}",
        f"keywords = {_toml(a.keywords)}   # phrases; robot* matches a prefix",
        f"categories = {_toml(a.categories)}",
    ]
    if a.liked:
        sources = [where for where, _ in a.libraries]
        note = f"   # incl. {', '.join(sources)}" if sources else ""
        lines += [f"# papers you liked: ids, DOIs{note}", f"liked = {_array(a.liked)}"]
    lines += [
        f"schedule = {_toml(a.cron)}   # cron: {a.when} (used by `digest run --due`)",
        f"timezone = {_toml(a.timezone)}",
        "max_items = 10                   # papers per digest at most",
        "",
    ]
    return "\n".join(lines)


def _key(name: str) -> str:
    """A TOML table key: bare when it can be, quoted otherwise (``me@lab`` → ``"me@lab"``)."""
    return name if re.fullmatch(r"[A-Za-z0-9_-]+", name) else _toml(name)


def write_config(path: Path, text: str, *, force: bool) -> None:
    """Write ``text`` to ``path`` readable by its owner only (it holds the secret key)."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if force else os.O_EXCL)
    try:
        fd = os.open(path, flags, 0o600)
    except FileExistsError:
        raise DigestError(f"{path} exists; use --force to overwrite it") from None
    except OSError as error:
        raise DigestError(f"{path}: cannot write: {error.strerror or error}") from None
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        file.write(text)


# -- the command -------------------------------------------------------------------------


@click.command()
@click.option(
    "--config",
    "-c",
    "path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=Path("config.toml"),
    show_default=True,
    help="Where to write the configuration.",
)
@click.option("--force", is_flag=True, help="Overwrite an existing configuration file.")
@click.option(
    "--no-input",
    "--yes",
    "-y",
    "no_input",
    is_flag=True,
    help="Ask nothing: flags and defaults only; a missing required answer names its flag.",
)
@click.option("--name", help="Your subscriber name (default: your login name).")
@click.option("--email", help="Your email address.")
@click.option(
    "--categories", multiple=True, help="arXiv categories, comma-separated (cs.LG,cs.RO)."
)
@click.option("--interests", help="What you work on, in a sentence or two.")
@click.option("--keywords", multiple=True, help="Keywords, comma-separated.")
@click.option(
    "--liked",
    multiple=True,
    help="Papers you liked: an arXiv id, DOI, arXiv/DOI URL, or a BibTeX / Zotero CSV / "
    "Zotero RDF file; repeat or separate with commas.",
)
@click.option(
    "--from",
    "imports",
    multiple=True,
    metavar="IMPORTER:REF",
    help="Liked papers from a Zotero library or an ORCID record: zotero:users/123456, "
    "orcid:0000-0002-1825-0097 (read now, online).",
)
@click.option("--schedule", type=click.Choice(SCHEDULES), help="How often (default: weekdays).")
@click.option("--day", type=click.Choice(DAYS), help="With --schedule weekly: the day (mon).")
@click.option("--hour", type=click.IntRange(0, 23), help="At what hour, 0-23 (default: 7).")
@click.option("--timezone", help="Your IANA timezone (default: this machine's).")
@click.option(
    "--channel",
    type=click.Choice(CHANNELS),
    help="files: digests and feeds as files, no server (default); smtp: email.",
)
@click.option("--smtp-host", help="SMTP server host name.")
@click.option("--smtp-port", type=click.IntRange(1, 65535), help="SMTP port.")
@click.option("--smtp-security", type=click.Choice(list(SECURITY_PORTS)), help="starttls.")
@click.option("--smtp-user", help="SMTP user name (none: no AUTH).")
@click.option("--smtp-password-env", metavar="VAR", help="The variable holding the SMTP password.")
@click.option(
    "--offline-demo",
    is_flag=True,
    help="Add the bundled demo papers, so a first digest arrives with no network.",
)
def init(path: Path, force: bool, no_input: bool, **flags: Any) -> None:
    """Set up papers-digest for one researcher: a few questions, then a checked config.toml."""
    from digest.config import FetchSettings

    if path.exists() and not force:
        raise DigestError(f"{path} exists; use --force to overwrite it")
    asker = Asker(interactive=not no_input)

    def given(key: str) -> Any:
        value = flags[key]
        return (list(value) or None) if isinstance(value, tuple) else value

    a = Answers(offline_demo=flags["offline_demo"])
    a.name = asker.ask("--name", given("name"), "Your name", default=_default_name(), check=_name)
    a.categories = ask_categories(asker, given("categories"))
    a.interests = asker.optional(
        "--interests",
        given("interests"),
        "Your interests, in a sentence",
        check=lambda v: " ".join(str(v).split()),
    )
    a.keywords = asker.optional(
        "--keywords", given("keywords"), "Keywords, comma-separated", check=_items
    )
    ask_liked(asker, given("liked"), a)
    imports = ask_imports(asker, given("imports"))
    a.schedule = asker.choose("--schedule", given("schedule"), "How often", SCHEDULES, "weekdays")
    if a.schedule == "weekly":
        a.day = asker.choose("--day", given("day"), "On which day", DAYS, "mon")
    a.hour = asker.ask("--hour", given("hour"), "At what hour (0-23)", default=7, check=_hour)
    a.timezone = asker.ask(
        "--timezone", given("timezone"), "Timezone", default=local_timezone(), check=_timezone
    )
    text = "Deliver as files (no server) or by email over SMTP"
    a.channel = asker.choose("--channel", given("channel"), text, CHANNELS, "files")
    if a.channel == "smtp":
        a.smtp = ask_smtp(asker, flags)
        a.email = asker.ask(
            "--email",
            given("email"),
            "Your email address",
            check=_email,
            required=True,
            example="--email you@example.org",
        )
    else:
        a.email = asker.ask(
            "--email",
            given("email"),
            "Your email address (written into the .eml files)",
            default=f"{a.name}@localhost",
            check=_email,
        )
    a.libraries += read_imports(imports, FetchSettings(contact=_contact(a.email)))
    from digest.library import merge_liked

    for _, papers in a.libraries:
        a.liked = list(merge_liked(a.liked, papers))

    text = config_text(a, secret=secrets.token_urlsafe(32), path=shlex.quote(str(path)))
    write_config(path, text, force=force)
    finish(path, a)


def finish(path: Path, a: Answers) -> None:
    """Check the written file as ``digest check`` does, store the liked papers as references
    and say what to run next."""
    from digest.application import Application
    from digest.store import LIBRARY_SOURCE, utcnow

    with Application.from_path(path, lenient=True) as app:
        problems, warnings = app.review()
        for line in problems:
            click.echo(line, err=True)
        for line in warnings:
            click.echo(f"Warning: {line}", err=True)
        if problems:
            raise DigestError(
                f"{path} was written but does not pass `digest check`; fix it and run "
                f"digest check --config {shlex.quote(str(path))}"
            )
        click.echo(f"Wrote {path}: checked, OK")
        stored = [p for _, papers in a.libraries for p in papers]
        if stored:
            app.store.upsert_papers(stored, source=LIBRARY_SOURCE, now=utcnow())
        for where, papers in a.libraries:
            click.echo(f"{len(papers)} liked papers from {where}, stored as references")
        output = app.loaded.output_dir
    config = shlex.quote(str(path))
    name = shlex.quote(a.name)
    absolute = shlex.quote(str(path.resolve()))
    folder = output / a.name
    click.echo(
        "\nNext:\n"
        f"  digest preview {name} --config {config}   # your next digest as HTML, sent nowhere\n"
        f"  digest run --config {config}       # collect and deliver one edition\n"
        + (
            f"Digests are written under {folder}/ (digest.html per edition, rss.xml)\n"
            if a.channel == "files"
            else f"Digests are emailed to {a.email}; feeds are written under {folder}/\n"
        )
        + f"On your schedule ({a.when}), from cron every hour:\n"
        f"  0 * * * * digest run --config {absolute} --due"
    )
