"""The profile form shared by sign-up (``/subscribe``) and the preferences page: what a reader
types, checked field by field, as a :class:`~digest.models.Subscriber`.

Every field is bounded (no 10k-character keyword reaches the store), single-line fields refuse
line breaks (no header injection into the confirmation email), addresses go through
email-validator (IDN domains included) and the schedule is built from words — daily, on
weekdays, or weekly on a day, at an hour, in a timezone — never typed as cron.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from zoneinfo import available_timezones

from digest.models import Profile, Subscriber

LIMITS = {
    "email": 254,
    "interests": 2000,
    "keywords": 1000,
    "authors": 1000,
    "liked": 20000,
}
MAX_ITEMS = (3, 5, 10, 15, 20, 30)
MAX_LIST = 50  # keywords, categories, authors each
MAX_LIKED = 500
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_NAMES = dict(zip(DAYS, ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday",
                            "Sunday"), strict=True))  # fmt: skip
FREQUENCIES = {"daily": "every day", "weekdays": "on weekdays", "weekly": "once a week"}
CHANNELS = {"email": "Email", "feed": "A private RSS/Atom feed"}
CATEGORY = re.compile(r"^[a-z-]{2,12}(\.[A-Za-z-]{2,6})?$")
_CRON = re.compile(r"^0 (\d{1,2}) \* \* (\*|1-5|[0-6])$")


@dataclass(frozen=True, slots=True, kw_only=True)
class ProfileForm:
    """The form's values as typed (strings), for showing it again."""

    email: str = ""
    interests: str = ""
    keywords: str = ""
    categories: tuple[str, ...] = ()
    authors: str = ""
    liked: str = ""
    frequency: str = "weekdays"
    day: str = "mon"
    hour: int = 7
    timezone: str = "UTC"
    max_items: int = 10
    channels: tuple[str, ...] = ("email",)

    @classmethod
    def of(cls, subscriber: Subscriber) -> ProfileForm:
        """The form showing ``subscriber``'s settings."""
        frequency, day, hour = schedule_parts(subscriber.schedule)
        p = subscriber.profile
        return cls(
            email=subscriber.email or "",
            interests=p.interests,
            keywords=", ".join(p.keywords),
            categories=p.categories,
            authors="\n".join(p.authors),
            liked="\n".join(p.liked),
            frequency=frequency,
            day=day,
            hour=hour,
            timezone=subscriber.timezone,
            max_items=subscriber.max_items,
            channels=subscriber.channels,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Checked:
    """A checked form: the subscriber it describes, or the errors by field."""

    form: ProfileForm
    errors: dict[str, str] = field(default_factory=dict)
    subscriber: Subscriber | None = None


def schedule_parts(cron: str) -> tuple[str, str, int]:
    """``(frequency, day, hour)`` of a schedule the form wrote (others show as daily at 7)."""
    match = _CRON.match(cron)
    if not match:
        return "daily", "mon", 7
    hour, days = int(match.group(1)), match.group(2)
    if days == "*":
        return "daily", "mon", hour
    if days == "1-5":
        return "weekdays", "mon", hour
    return "weekly", DAYS[(int(days) - 1) % 7], hour


def schedule_cron(frequency: str, day: str, hour: int) -> str:
    days = {"daily": "*", "weekdays": "1-5"}.get(frequency)
    if days is None:  # weekly: cron counts Sunday as 0
        days = str((DAYS.index(day) + 1) % 7)
    return f"0 {hour} * * {days}"


def schedule_words(cron: str, timezone: str) -> str:
    """The schedule as a reader says it: "At 07:00, Monday through Friday (Europe/Berlin)"."""
    from cron_descriptor import ExpressionDescriptor, Options

    options = Options()
    options.use_24hour_time_format = True
    try:
        words = str(ExpressionDescriptor(cron, options).get_description())
    except Exception:  # a config-written schedule cron-descriptor cannot read
        words = cron
    return f"{words} ({timezone})"


def _one_line(name: str, value: str, errors: dict[str, str]) -> str:
    if "\r" in value or "\n" in value or "\x00" in value:
        errors[name] = "must be one line"
    if len(value) > LIMITS.get(name, 200):
        errors[name] = f"at most {LIMITS.get(name, 200)} characters"
    return value.strip()


def _items(name: str, value: str, errors: dict[str, str], *, sep: str) -> tuple[str, ...]:
    if "\x00" in value:
        errors[name] = "contains a NUL character"
        return ()
    if len(value) > LIMITS[name]:
        errors[name] = f"at most {LIMITS[name]} characters"
        return ()
    parts = [" ".join(p.split()) for p in re.split(sep, value)]
    items = tuple(dict.fromkeys(p for p in parts if p))
    if len(items) > MAX_LIST:
        errors[name] = f"at most {MAX_LIST} entries"
    elif any(len(i) > 100 for i in items):
        errors[name] = "each entry at most 100 characters"
    return items


def check(
    values: Mapping[str, str | Sequence[str]],
    *,
    name: str,
    known_categories: frozenset[str] | None = None,
    email_required: bool = True,
) -> Checked:
    """Check the submitted ``values`` (form fields; ``categories`` and ``channels`` are lists)
    into subscriber ``name``."""

    def text(key: str) -> str:
        value = values.get(key, "")
        return value if isinstance(value, str) else ""

    def many(key: str) -> tuple[str, ...]:
        value = values.get(key, ())
        listed = [value] if isinstance(value, str) else list(value)
        return tuple(dict.fromkeys(v.strip() for v in listed if v.strip()))[:100]

    errors: dict[str, str] = {}
    email = _one_line("email", text("email"), errors)
    interests = text("interests")
    if len(interests) > LIMITS["interests"] or "\x00" in interests:
        errors["interests"] = f"at most {LIMITS['interests']} characters"
        interests = ""
    keywords = _items("keywords", text("keywords"), errors, sep=r"[,\n]")
    authors = _items("authors", text("authors"), errors, sep=r"[\n;]")
    categories = many("categories")
    bad = [c for c in categories if not CATEGORY.match(c) or len(c) > 20]
    if known_categories is not None:
        bad += [c for c in categories if c not in known_categories and c not in bad]
    if bad:
        errors["categories"] = f"unknown arXiv categor{'y' if len(bad) == 1 else 'ies'}: " + (
            ", ".join(repr(c[:20]) for c in bad[:5])
        )
    if len(categories) > MAX_LIST:
        errors["categories"] = f"at most {MAX_LIST} categories"
    liked_text = text("liked")
    liked: tuple[str, ...] = ()
    if len(liked_text) > LIMITS["liked"]:
        errors["liked"] = f"at most {LIMITS['liked']} characters"
    else:
        from digest.importers import parse_liked_lines

        refs, problems = parse_liked_lines(liked_text)
        liked = tuple(refs)
        if problems:
            errors["liked"] = "; ".join(problems[:3]) + (" …" if len(problems) > 3 else "")
        elif len(liked) > MAX_LIKED:
            errors["liked"] = f"at most {MAX_LIKED} papers"
    frequency = text("frequency") if text("frequency") in FREQUENCIES else "daily"
    day = text("day") if text("day") in DAYS else "mon"
    hour = _int(text("hour"), 7)
    if not 0 <= hour <= 23:
        errors["hour"] = "an hour from 0 to 23"
        hour = 7
    timezone = _one_line("timezone", text("timezone") or "UTC", errors)
    if timezone not in _zones():
        errors["timezone"] = f"unknown timezone {timezone[:60]!r} (e.g. Europe/Berlin)"
    max_items = _int(text("max_items"), 10)
    if max_items not in MAX_ITEMS:
        errors["max_items"] = f"one of {', '.join(map(str, MAX_ITEMS))}"
        max_items = 10
    channels = tuple(c for c in many("channels") if c in CHANNELS)
    if not channels:
        errors["channels"] = "choose email, a feed, or both"
    form = ProfileForm(
        email=email,
        interests=interests,
        keywords=text("keywords")[: LIMITS["keywords"]],
        categories=categories[:MAX_LIST],
        authors=text("authors")[: LIMITS["authors"]],
        liked=liked_text[: LIMITS["liked"]],
        frequency=frequency,
        day=day,
        hour=hour,
        timezone=timezone if "timezone" not in errors else "UTC",
        max_items=max_items,
        channels=channels or ("email",),
    )
    if email or email_required:
        normalised = _address(email, errors)
        email = normalised or email
    if not (interests.strip() or keywords or categories or authors or liked):
        errors.setdefault(
            "interests", "say what you want to read: interests, keywords, categories or papers"
        )
    if errors:
        return Checked(form=form, errors=errors)
    subscriber = Subscriber(
        name=name,
        email=email or None,
        profile=Profile(
            interests=interests.strip(),
            keywords=keywords,
            categories=categories,
            authors=authors,
            liked=liked,
        ),
        schedule=schedule_cron(frequency, day, hour),
        timezone=timezone,
        max_items=max_items,
        channels=channels,
    )
    return Checked(form=form, subscriber=subscriber)


def _address(email: str, errors: dict[str, str]) -> str | None:
    from email_validator import EmailNotValidError, validate_email

    if "email" in errors:
        return None
    if not email:
        errors["email"] = "your email address"
        return None
    try:
        checked = validate_email(email, check_deliverability=False)
    except EmailNotValidError as error:
        errors["email"] = str(error)
        return None
    return str(checked.normalized)


def _int(text: str, default: int) -> int:
    try:
        return int(text)
    except ValueError:
        return default if not text else -1


_ZONES: frozenset[str] | None = None


def _zones() -> frozenset[str]:
    global _ZONES
    if _ZONES is None:
        _ZONES = frozenset(available_timezones()) | {"UTC"}
    return _ZONES
