"""The schema: the ``Table`` objects of every table, the ledger's included.

Alembic migrations (``digest/migrations/versions``) create and upgrade the database; these
objects mirror them for queries, and ``metadata`` is what ``digest/migrations/env.py`` compares
against. A change here needs a migration.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

#: the source under which papers from a subscriber's library (``digest subscribers like``) are
#: stored: references for the rankers, never candidates for a digest
LIBRARY_SOURCE = "library"

papers = sa.Table(
    "papers",
    metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("paper_id", sa.String(300), nullable=False, unique=True),
    sa.Column("data", sa.Text, nullable=False),
    sa.Column("version", sa.Integer),
    sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False, index=True),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    #: set when this paper turned out to be another stored paper's version (its journal DOI
    #: and arXiv id were linked later): never a candidate again, its aliases moved over
    sa.Column("merged_into", sa.Integer),
)

#: every canonical id a paper is known by (its arXiv id, each DOI, its fingerprint) → the
#: paper: a preprint and its journal version are one paper whichever arrived first
paper_aliases = sa.Table(
    "paper_aliases",
    metadata,
    sa.Column("alias", sa.String(300), primary_key=True),
    sa.Column("paper_seq", sa.Integer, sa.ForeignKey("papers.seq"), nullable=False, index=True),
)

paper_sources = sa.Table(
    "paper_sources",
    metadata,
    sa.Column("paper_seq", sa.Integer, sa.ForeignKey("papers.seq"), primary_key=True),
    sa.Column("source", sa.String(200), primary_key=True),
    sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
)

subscribers = sa.Table(
    "subscribers",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(200), nullable=False, unique=True),
    sa.Column("data", sa.Text, nullable=False),
    sa.Column("origin", sa.String(20), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("unsubscribed_at", sa.DateTime(timezone=True)),
    sa.Column("watermark", sa.Integer, nullable=False, server_default="0"),
    sa.Column("last_edition_at", sa.DateTime(timezone=True)),
    #: pending (signed up, not confirmed: never gets a digest), active, unsubscribed, deleted
    sa.Column("status", sa.String(20), nullable=False, server_default="active"),
    #: the email address folded for lookups (sign-up: one subscription per address)
    sa.Column("email_key", sa.String(320)),
    sa.Column("confirmed_at", sa.DateTime(timezone=True)),
    #: set by a hard bounce (or too many soft ones): never mailed again until they confirm
    #: again; their private feeds keep working (feeds do not bounce)
    sa.Column("bounced_at", sa.DateTime(timezone=True)),
    sa.Index("ix_subscribers_email_key", "email_key"),
    sa.Index("ix_subscribers_status", "status"),
)

#: subscriber statuses: ``pending`` sign-ups never get a digest and expire
SUBSCRIBER_STATUSES = ("pending", "active", "unsubscribed", "deleted")

#: what happened at the front door, without secrets: no address, only its domain
signup_log = sa.Table(
    "signup_log",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False, index=True),
    sa.Column("event", sa.String(40), nullable=False),
    sa.Column("subscriber", sa.String(200)),
    sa.Column("domain", sa.String(255)),
    sa.Column("detail", sa.String(500), nullable=False, server_default=""),
)

#: settings the operator changes at run time (the sign-up mode), over the config file's
site_settings = sa.Table(
    "site_settings",
    metadata,
    sa.Column("key", sa.String(100), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

#: where a subscriber's liked papers come from (a Zotero library, an ORCID iD …), kept so
#: they can be synced again; ``options`` is JSON (e.g. a Zotero collection), never shown
profile_imports = sa.Table(
    "profile_imports",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("subscriber_id", sa.Integer, sa.ForeignKey("subscribers.id"), nullable=False),
    sa.Column("importer", sa.String(50), nullable=False),
    sa.Column("ref", sa.String(500), nullable=False),
    sa.Column("options", sa.Text, nullable=False, server_default="{}"),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("synced_at", sa.DateTime(timezone=True)),
    sa.Column("error", sa.Text),
    sa.UniqueConstraint("subscriber_id", "importer", "ref", name="uq_profile_imports"),
)

editions = sa.Table(
    "editions",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("completed_at", sa.DateTime(timezone=True)),
)

selections = sa.Table(
    "selections",
    metadata,
    sa.Column("edition_id", sa.String(40), sa.ForeignKey("editions.id"), primary_key=True),
    sa.Column("subscriber_id", sa.Integer, sa.ForeignKey("subscribers.id"), primary_key=True),
    sa.Column("rank", sa.Integer, primary_key=True),
    sa.Column("paper_seq", sa.Integer, sa.ForeignKey("papers.seq"), nullable=False),
    sa.Column("score", sa.Float, nullable=False),
    sa.Column("reasons", sa.Text, nullable=False),
    sa.Index("ix_selections_subscriber_paper", "subscriber_id", "paper_seq"),
    sa.Index("ix_selections_paper", "paper_seq"),
)

deliveries = sa.Table(
    "deliveries",
    metadata,
    sa.Column("edition_id", sa.String(40), sa.ForeignKey("editions.id"), primary_key=True),
    sa.Column("subscriber_id", sa.Integer, sa.ForeignKey("subscribers.id"), primary_key=True),
    sa.Column("channel", sa.String(50), primary_key=True),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("message_id", sa.String(300), nullable=False),
    sa.Column("detail", sa.Text, nullable=False, server_default=""),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_deliveries_status", "edition_id", "status"),
    #: a subscriber's deliveries (bounce matching, removal): no scan of the whole ledger
    sa.Index("ix_deliveries_subscriber", "subscriber_id", "edition_id"),
)

source_state = sa.Table(
    "source_state",
    metadata,
    sa.Column("source", sa.String(200), primary_key=True),
    sa.Column("key", sa.String(200), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

source_runs = sa.Table(
    "source_runs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("source", sa.String(200), nullable=False, index=True),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("collected", sa.Integer, nullable=False),
    sa.Column("new", sa.Integer, nullable=False),
    sa.Column("error", sa.Text),
    sa.Column("flag", sa.Text),
)

paper_features = sa.Table(
    "paper_features",
    metadata,
    sa.Column("paper_id", sa.String(300), primary_key=True),
    sa.Column("namespace", sa.String(100), primary_key=True),
    sa.Column("data", sa.LargeBinary, nullable=False),
)

feedback = sa.Table(
    "feedback",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("subscriber_id", sa.Integer, sa.ForeignKey("subscribers.id"), nullable=False),
    sa.Column("paper_id", sa.String(300), nullable=False),
    sa.Column("kind", sa.String(40), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("detail", sa.String(300), nullable=False, server_default=""),
    sa.Index("ix_feedback_subscriber", "subscriber_id"),
)

#: every bounce, complaint and auto-reply read, once each (``key``), and what it did
bounce_events = sa.Table(
    "bounce_events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("key", sa.String(400), nullable=False, unique=True),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False, index=True),
    sa.Column("origin", sa.String(20), nullable=False),
    #: hard, soft, complaint, auto-reply, unknown
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("subscriber_id", sa.Integer, sa.ForeignKey("subscribers.id")),
    sa.Column("edition_id", sa.String(40)),
    #: the recipient's domain (counts per domain; the address itself is not kept)
    sa.Column("domain", sa.String(255)),
    sa.Column("status", sa.String(20)),
    #: bounced, counted, unsubscribed, or why it was ignored
    sa.Column("outcome", sa.String(60), nullable=False),
    sa.Column("detail", sa.String(500), nullable=False, server_default=""),
    sa.Index("ix_bounce_events_subscriber", "subscriber_id", "kind", "at"),
    sa.Index("ix_bounce_events_edition", "edition_id"),
)

#: addresses not to mail: bounced hard, complained or unsubscribed; kept across re-imports
#: and re-sign-ups until the person confirms again
suppressions = sa.Table(
    "suppressions",
    metadata,
    sa.Column("email_key", sa.String(320), primary_key=True),
    #: bounced, complaint, unsubscribed
    sa.Column("reason", sa.String(20), nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("detail", sa.String(500), nullable=False, server_default=""),
)

#: one sequence of start times per shared rate limit (``SharedRate``): every process and
#: machine takes its send slots from here
rate_limits = sa.Table(
    "rate_limits",
    metadata,
    sa.Column("name", sa.String(100), primary_key=True),
    sa.Column("next_at", sa.Float, nullable=False),
)

#: feedback kinds: a paper to rank like (``more``) or unlike (``less``), an author to mute
FEEDBACK_KINDS = ("more", "less", "mute")

#: the per-paper work of an edition whose chunks run in ``digest worker`` processes (the
#: pickled batch with every component's prepared data); removed when the edition closes
edition_work = sa.Table(
    "edition_work",
    metadata,
    sa.Column("edition_id", sa.String(40), primary_key=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("payload", sa.LargeBinary, nullable=False),
)

#: the chunks of a queued edition: subscriber id ranges, their state and result
edition_chunks = sa.Table(
    "edition_chunks",
    metadata,
    sa.Column("edition_id", sa.String(40), primary_key=True),
    sa.Column("first_id", sa.Integer, primary_key=True),
    sa.Column("last_id", sa.Integer, nullable=False),
    sa.Column("size", sa.Integer, nullable=False),
    #: queued, running, done, failed
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("worker", sa.String(200), nullable=False, server_default=""),
    sa.Column("error", sa.Text, nullable=False, server_default=""),
    #: the chunk's result (counts, skipped, failed, problems) as JSON
    sa.Column("result", sa.Text, nullable=False, server_default=""),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)
