"""The tables. Alembic migrations in ``migrations/`` create exactly these (a test checks)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, _dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        result: datetime = value
        return result.replace(tzinfo=UTC) if result.tzinfo is None else result.astimezone(UTC)


# Stored instead of NULL for "never presented": NULLs sort differently per backend.
NEVER = datetime(1970, 1, 1, tzinfo=UTC)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

orgs = Table(
    "orgs", metadata,
    Column("id", Integer, primary_key=True),
    Column("slug", String(64), nullable=False, unique=True),
    Column("default_country", String(2), nullable=False),
    Column("timezone", String(64), nullable=False),
    Column("principal_number", String(16), nullable=False),
    Column("forwarding_number", String(16)),
    Column("agent_leg_number", String(16)),
    Column("local_presence", Boolean, nullable=False),
    Column("local_presence_fallback", String(8), nullable=False),
    Column("restrict_caller_ids", Boolean, nullable=False),
    Column("calling_hours_start", String(5)),
    Column("calling_hours_end", String(5)),
    Column("call_path", JSON, nullable=False),
    Column("last_caller_days", Integer, nullable=False),
    # Twilio: the account only. Its auth token is bound by the server's operator (see
    # callsign.config) and never stored or printed.
    Column("twilio_account_sid", String(64)),
    # The number-health policy (SPEC 9) as the document's ``health:`` mapping; NULL: the
    # defaults (domain.health_policy).
    Column("health", JSON),
    # The compliance settings (SPEC 10) as the document's ``compliance:`` mapping; NULL: none.
    Column("compliance", JSON),
    # The proximity steps of local presence (SPEC 3.3) as the document's ``proximity:``
    # mapping; NULL: all off.
    Column("proximity", JSON),
    # A number presented within these days is released only with force (domain.release).
    Column("release_guard_days", Integer, nullable=False, server_default="30"),
)

numbers = Table(
    "numbers", metadata,
    Column("id", Integer, primary_key=True),
    Column("org_id", ForeignKey("orgs.id", ondelete="CASCADE"), nullable=False),
    Column("e164", String(16), nullable=False),
    Column("label", String(200), nullable=False, server_default=""),
    Column("group_name", String(200), nullable=False, server_default=""),
    Column("status", String(10), nullable=False),
    Column("area_code", String(8)),  # its own geographic area code
    Column("region", String(100)),
    Column("daily_cap", Integer),
    Column("provider", String(32), nullable=False, server_default="manual"),
    Column("provider_sid", String(64)),  # the provider's id of the number (Twilio PN...)
    Column("call_path", JSON),  # a per-number inbound call path, else the org's
    Column("last_presented_at", UTCDateTime(), nullable=False),  # NEVER if never presented
    # Its last presentations, newest first, for the per-minute and per-hour limits: each
    # 16 digits of microseconds since the epoch (store.calls; migration 0013).
    Column("recent_presentations", Text, nullable=False, server_default=""),
    # When the number was added (a new number warms up, SPEC 9); NULL: held before
    # added times were kept, an old number.
    Column("added_at", UTCDateTime()),
    # Its last presentation whose call has no result yet (one live call per number,
    # SPEC 9): set by the claim, cleared by the call's result; NULL: none.
    Column("live_since", UTCDateTime()),
    Index("ix_numbers_org_id_region_status_last_presented_at",
          "org_id", "region", "status", "last_presented_at"),
    # One owner at a time: a released number may later belong to someone else.
    Index("uq_numbers_e164_held", "e164", unique=True,
          sqlite_where=text("status != 'released'"),
          postgresql_where=text("status != 'released'")),
    Index("ix_numbers_org_id_e164", "org_id", "e164"),
)

number_area_codes = Table(
    "number_area_codes", metadata,
    Column("number_id", ForeignKey("numbers.id", ondelete="CASCADE"), primary_key=True),
    Column("area_code", String(8), primary_key=True),
    Column("org_id", ForeignKey("orgs.id", ondelete="CASCADE"), nullable=False),
    Column("mapped", Boolean, nullable=False),  # False: the number's own area code
    # Copies of the number's status and last presentation, so that "the least recently
    # presented active numbers serving area code X" is one short index range, whatever
    # the size of the inventory.
    Column("active", Boolean, nullable=False),
    Column("last_presented_at", UTCDateTime(), nullable=False),
    Index("ix_number_area_codes_org_id_area_code_active_last_presented_at",
          "org_id", "area_code", "active", "last_presented_at"),
)

# Presentations per number and calendar day (in the org's time zone), counted against the
# daily cap by one conditional upsert. One row per day: a decision dated another day (a
# clock ahead at midnight, a replay with --at) counts on its own day's row and never
# resets today's.
number_usage = Table(
    "number_usage", metadata,
    Column("number_id", ForeignKey("numbers.id", ondelete="CASCADE"), primary_key=True),
    Column("day", String(10), primary_key=True),
    Column("used", Integer, nullable=False),
)

users = Table(
    "users", metadata,
    Column("id", Integer, primary_key=True),
    Column("org_id", ForeignKey("orgs.id", ondelete="CASCADE"), nullable=False),
    Column("key", String(64), nullable=False),
    Column("name", String(200), nullable=False, server_default=""),
    Column("work_phone", String(16)),
    Column("caller_id", String(16)),
    Column("direct_number", String(16)),
    Column("allowed_caller_ids", JSON, nullable=False),
    Column("active", Boolean, nullable=False),
    UniqueConstraint("org_id", "key"),
    Index("ix_users_org_id_direct_number", "org_id", "direct_number"),
)

contacts = Table(
    "contacts", metadata,
    Column("id", Integer, primary_key=True),
    Column("org_id", ForeignKey("orgs.id", ondelete="CASCADE"), nullable=False),
    Column("phone", String(16), nullable=False),
    Column("owner", String(64)),  # a user key
    Column("line_type", String(10), nullable=False),
    # Where the person lives, for the compliance rules (SPEC 10); each optional.
    Column("timezone", String(64)),
    Column("state", String(2)),
    Column("postal_code", String(10)),
    # When the person consented to be called: the date a reassigned-numbers lookup asks
    # about (SPEC 10, 47 C.F.R. § 64.1200(m)); optional.
    Column("consented_on", Date),
    UniqueConstraint("org_id", "phone"),
)

projects = Table(
    "projects", metadata,
    Column("id", Integer, primary_key=True),
    Column("org_id", ForeignKey("orgs.id", ondelete="CASCADE"), nullable=False),
    Column("key", String(64), nullable=False),
    Column("name", String(200), nullable=False, server_default=""),
    Column("first_call", String(32), nullable=False),
    Column("keep_previous_number", Boolean, nullable=False),
    Column("next_calls", String(32), nullable=False),
    Column("outcome_numbers", JSON, nullable=False),
    Column("agent_number", String(16), nullable=False),
    Column("compliance", JSON),  # the project's compliance settings (SPEC 10); NULL: none
    Column("proximity", JSON),  # the project's proximity steps (SPEC 3.3); NULL: the org's
    Column("local_only", String(10), nullable=False, server_default="off"),
    UniqueConstraint("org_id", "key"),
)

# The organization's do-not-call list (SPEC 10): a number here is refused by every
# decision, whatever the consent; one point lookup in the primary key per decision.
do_not_call = Table(
    "do_not_call", metadata,
    Column("org_id", ForeignKey("orgs.id", ondelete="CASCADE"), primary_key=True),
    Column("number", String(16), primary_key=True),
    Column("source", String(200), nullable=False, server_default=""),
    Column("added_at", UTCDateTime(), nullable=False),
    Column("note", String(500), nullable=False, server_default=""),
)

# The national do-not-call registry's numbers, as the organization's scrub files list them
# (one file per area code; importing a file replaces that area code's numbers).
dnc_registry = Table(
    "dnc_registry", metadata,
    Column("org_id", ForeignKey("orgs.id", ondelete="CASCADE"), primary_key=True),
    Column("number", String(16), primary_key=True),
    Column("area_code", String(3), nullable=False),
    Column("source", String(200), nullable=False, server_default=""),
    Column("listed_on", Date, nullable=False),  # the registry download's date
    Column("imported_at", UTCDateTime(), nullable=False),
    Index("ix_dnc_registry_org_id_area_code", "org_id", "area_code"),
)

# The reassigned-numbers lookups' answers (SPEC 10): was the number permanently
# disconnected since ``since``? Stored by the scrub step, read by each decision with the
# contact; asked again after a while (``domain.compliance.reassigned.needs_check``).
reassigned_checks = Table(
    "reassigned_checks", metadata,
    Column("org_id", ForeignKey("orgs.id", ondelete="CASCADE"), primary_key=True),
    Column("number", String(16), primary_key=True),
    Column("since", Date, nullable=False),
    Column("answer", String(8), nullable=False),  # yes, no, no_data
    Column("checked_at", UTCDateTime(), nullable=False),
    Column("source", String(200), nullable=False, server_default=""),
)

project_numbers = Table(
    "project_numbers", metadata,
    Column("project_id", ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True),
    Column("number_id", ForeignKey("numbers.id", ondelete="CASCADE"), primary_key=True),
    Column("position", Integer, nullable=False),
)

# Call history keeps user and project keys as text, so it outlives their removal.
calls = Table(
    "calls", metadata,
    Column("id", String(32), primary_key=True),
    Column("org_id", ForeignKey("orgs.id", ondelete="CASCADE"), nullable=False),
    Column("at", UTCDateTime(), nullable=False),
    Column("user_key", String(64), nullable=False),
    Column("to_number", String(16), nullable=False),
    Column("caller_id", String(16), nullable=False),
    Column("rule", String(32), nullable=False),
    Column("project_key", String(64)),
    Column("channel", String(16), nullable=False),
    Column("trace", JSON, nullable=False),
    Column("outcome", String(64)),
    Column("outcome_at", UTCDateTime()),
    # What the carrier reported (Twilio status callbacks).
    Column("telephony_status", String(32)),
    Column("duration_s", Integer),
    Column("answered_by", String(32)),
    Column("provider_call_sid", String(64)),
    # The call's result, from whichever path reported it last (domain.results): whether a
    # person answered (NULL: not known), the final SIP code, the failure class.
    Column("answered", Boolean),
    Column("sip_code", Integer),
    Column("failure_class", String(24)),
    Column("result_at", UTCDateTime()),
    Column("result_source", String(16)),  # twilio | kamailio | api | agent
    # What the call was about (a debt, a campaign), if the request said: caps per subject.
    Column("subject", String(200)),
    # A contact's history (store.calls._HISTORY), every column it reads in the index: one
    # short index range per decision, not a table page per past call (migrations 0015, 0019).
    Index("ix_calls_history", "org_id", "to_number", "at", "id", "caller_id", "user_key",
          "project_key", "outcome", "subject"),
    Index("ix_calls_org_id_user_key_at", "org_id", "user_key", "at"),
    # A caller ID's calls in a time window: number health's rolling windows.
    Index("ix_calls_org_id_caller_id_at", "org_id", "caller_id", "at"),
)

# An agent's report that a call showed as spam on the callee's phone ("Spam Likely"). One
# per call: a replayed or repeated report does not count twice. ``number`` is the caller
# ID the call presented, copied so that a number's reports are one index range.
spam_reports = Table(
    "spam_reports", metadata,
    Column("id", Integer, primary_key=True),
    Column("org_id", ForeignKey("orgs.id", ondelete="CASCADE"), nullable=False),
    Column("call_id", ForeignKey("calls.id", ondelete="CASCADE"), nullable=False,
           unique=True),
    Column("number", String(16), nullable=False),
    Column("reported_by", String(64), nullable=False),
    Column("note", String(500), nullable=False, server_default=""),
    Column("at", UTCDateTime(), nullable=False),
    Index("ix_spam_reports_org_id_number_at", "org_id", "number", "at"),
)

# Each number's health (SPEC 9): its state since when, its last score and the reasons in
# words; ``window_since`` is where its window starts (a number back from rest starts
# afresh), ``rest_until`` when a resting number may warm up again. No row: never judged.
number_health = Table(
    "number_health", metadata,
    Column("number_id", ForeignKey("numbers.id", ondelete="CASCADE"), primary_key=True),
    Column("org_id", ForeignKey("orgs.id", ondelete="CASCADE"), nullable=False),
    Column("state", String(10), nullable=False),  # healthy | watch | resting | warming
    Column("score", Integer),
    Column("reasons", JSON, nullable=False),
    Column("since", UTCDateTime(), nullable=False),
    Column("window_since", UTCDateTime()),
    Column("rest_until", UTCDateTime()),
    Column("updated_at", UTCDateTime(), nullable=False),
    Index("ix_number_health_org_id_state", "org_id", "state"),
)

# Every change of a number's health state, with its reason: automatic (a result, a spam
# report or a sweep), manual, or a reputation feed.
number_health_events = Table(
    "number_health_events", metadata,
    Column("id", Integer, primary_key=True),
    Column("org_id", ForeignKey("orgs.id", ondelete="CASCADE"), nullable=False),
    Column("number_id", ForeignKey("numbers.id", ondelete="CASCADE"), nullable=False),
    Column("from_state", String(10)),  # NULL: the number had no health yet
    Column("to_state", String(10), nullable=False),
    Column("reason", String(1000), nullable=False),
    Column("at", UTCDateTime(), nullable=False),
    Column("source", String(16), nullable=False),  # automatic | manual | feed
    Index("ix_number_health_events_number_id_at", "number_id", "at"),
)

# Reputation labels (SPEC 9): every reading of a number's label by an analytics engine
# (Hiya, TNS, First Orion, or any engine named), kept with its history; the latest reading
# of each engine (``engine_key``: its name folded) is its current label. One reading per
# number, engine and time: importing the same scan again changes nothing.
number_labels = Table(
    "number_labels", metadata,
    Column("id", Integer, primary_key=True),
    Column("org_id", ForeignKey("orgs.id", ondelete="CASCADE"), nullable=False),
    Column("number_id", ForeignKey("numbers.id", ondelete="CASCADE"), nullable=False),
    Column("engine", String(64), nullable=False),
    Column("engine_key", String(64), nullable=False),
    Column("carrier", String(64)),
    Column("label", String(16), nullable=False),  # clean | spam_likely | scam_likely | ...
    Column("raw", String(64), nullable=False),  # the engine's own words
    Column("checked_at", UTCDateTime(), nullable=False),
    Column("source", String(64), nullable=False),  # csv | api | feed:NAME
    Column("recorded_at", UTCDateTime(), nullable=False),
    UniqueConstraint("number_id", "engine_key", "checked_at"),
    Index("ix_number_labels_org_id_number_id_checked_at", "org_id", "number_id",
          "checked_at"),
)

inbound_calls = Table(
    "inbound_calls", metadata,
    Column("id", String(32), primary_key=True),
    Column("org_id", ForeignKey("orgs.id", ondelete="CASCADE"), nullable=False),
    Column("at", UTCDateTime(), nullable=False),
    Column("to_number", String(16), nullable=False),
    Column("from_number", String(16), nullable=False),
    Column("destination", String(16), nullable=False),
    Column("rule", String(32), nullable=False),
    Column("user_key", String(64)),
    Column("trace", JSON, nullable=False),
    Index("ix_inbound_calls_org_id_at", "org_id", "at"),
)

api_keys = Table(
    "api_keys", metadata,
    Column("id", String(16), primary_key=True),  # the key's public prefix
    Column("org_id", ForeignKey("orgs.id", ondelete="CASCADE"), nullable=False),
    Column("secret_hash", String(64), nullable=False),  # SHA-256 of the secret part
    Column("name", String(200), nullable=False, server_default=""),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("revoked_at", UTCDateTime()),
    # Space-separated scopes (domain/roles.py); keys made before scopes existed: admin.
    Column("scopes", String(100), nullable=False, server_default="admin"),
    Index("ix_api_keys_org_id", "org_id"),
)

# A POST /v1/calls retried with the same Idempotency-Key returns the first decision.
idempotency_keys = Table(
    "idempotency_keys", metadata,
    Column("org_id", ForeignKey("orgs.id", ondelete="CASCADE"), primary_key=True),
    Column("key", String(200), primary_key=True),
    Column("request_hash", String(64), nullable=False),
    Column("call_id", String(32), nullable=False),
    Column("response", JSON, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
)

# An Idempotency-Key on a request that changes things (a purchase, a connect, a config
# write) and a Twilio webhook's CallSid: the first request reserves the key (response
# NULL), does its work, then stores its answer; a retry gets that answer.
idempotent_requests = Table(
    "idempotent_requests", metadata,
    Column("org_id", ForeignKey("orgs.id", ondelete="CASCADE"), primary_key=True),
    Column("route", String(64), primary_key=True),
    Column("key", String(200), primary_key=True),
    Column("request_hash", String(64), nullable=False),
    Column("status_code", Integer),
    Column("response", JSON),
    Column("created_at", UTCDateTime(), nullable=False),
)

# A purchase is written down before the provider is asked, so a crash between the
# provider's yes and our commit leaves a record naming the bought number.
purchases = Table(
    "purchases", metadata,
    Column("id", Integer, primary_key=True),
    Column("org_id", ForeignKey("orgs.id", ondelete="CASCADE"), nullable=False),
    Column("provider", String(32), nullable=False),
    Column("area_code", String(8), nullable=False),
    Column("e164", String(16), nullable=False),
    # pending | bought | failed; a release: released, or forced (past the release guard or
    # the settings naming the number; its detail says which)
    Column("state", String(10), nullable=False),
    Column("detail", String(500), nullable=False, server_default=""),
    Column("created_at", UTCDateTime(), nullable=False),
    Index("ix_purchases_org_id_state", "org_id", "state"),
)

# Signed-in admin sessions: the cookie holds only the random id; the CSRF token that
# every admin form must echo lives here.
admin_sessions = Table(
    "admin_sessions", metadata,
    Column("id", String(64), primary_key=True),
    Column("org_id", ForeignKey("orgs.id", ondelete="CASCADE"), nullable=False),
    Column("key_id", String(16), nullable=False),
    Column("csrf", String(64), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False),
)

# Leases on periodic work that one process at a time may do (SPEC 9: the health sweep of
# `callsign serve`): ``holder`` has it until ``expires_at``; ``done_at``: when the last
# run ended (the next one waits its interval from then, whichever process runs it).
leases = Table(
    "leases", metadata,
    Column("name", String(32), primary_key=True),
    Column("holder", String(64), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False),
    Column("done_at", UTCDateTime()),
)

# One counter per kind of change, bumped in the transaction that makes the change, so that
# every worker of every server can ask cheaply whether its copy in memory is still current.
# "api_keys": every key created or revoked.
change_markers = Table(
    "change_markers", metadata,
    Column("name", String(32), primary_key=True),
    Column("version", Integer, nullable=False, server_default="0"),
)
