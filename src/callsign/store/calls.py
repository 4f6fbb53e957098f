"""Calls: the reads and writes of the call path (gather facts, claim a number, record a
call), and the call log with what the telephony reports of each call.

Each call-path function runs one indexed statement on the caller's connection (see
``sql.py`` for why at the driver level); the services compose them inside one transaction.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from psycopg import pq
from sqlalchemy import Connection, Engine, and_, exists, or_, select, update

from callsign.domain import phone
from callsign.domain.compliance.decision import DoNotCall
from callsign.domain.compliance.policy import policies_of
from callsign.domain.compliance.reassigned import Consent, ReassignedCheck
from callsign.domain.compliance.zones import ContactAddress
from callsign.domain.document import HealthDoc
from callsign.domain.errors import Conflict, InvalidInput, NotFound
from callsign.domain.health_policy import MAX_PER_HOUR, MAX_PER_MINUTE, HealthPolicy
from callsign.domain.health_states import Health, HealthState
from callsign.domain.model import (
    Agent,
    CallingHours,
    ClaimResult,
    Decision,
    InboundStep,
    Logic,
    NumberState,
    NumberStatus,
    OrgPolicy,
    OrgState,
    PastCall,
    ProjectPolicy,
    Proximity,
    Route,
    today,
)
from callsign.domain.org_copies import OrgCache
from callsign.domain.warmup import HOUR, MINUTE, Limits
from callsign.store.sql import Statement, json_param, json_value, time_param, time_value
from callsign.store.tables import NEVER, calls, spam_reports

HISTORY_LIMIT = 500  # a contact's calls read per decision; far more than any cadence uses
LRU_CANDIDATES = 8  # least recently presented active numbers read per area code or region
MAX_KEPT = max(MAX_PER_MINUTE, MAX_PER_HOUR)  # a number's last presentations kept at most

_ORG = """o.id, o.slug, o.default_country, o.timezone, o.principal_number, o.forwarding_number,
    o.agent_leg_number, o.local_presence, o.local_presence_fallback, o.restrict_caller_ids,
    o.calling_hours_start, o.calling_hours_end, o.call_path, o.last_caller_days, o.health,
    o.proximity"""
_ORG_WIDTH = 16
_USER = "u.key, u.name, u.work_phone, u.caller_id, u.direct_number, u.allowed_caller_ids, u.active"


_STATUSES = {status.value: status for status in NumberStatus}


def _time(text: str | None) -> time | None:
    return time.fromisoformat(text) if text else None


def org_policy(row: Any) -> OrgPolicy:
    """An OrgPolicy from the columns of ``_ORG``, in order."""
    (_, slug, country, zone, principal, forwarding, agent_leg, local_presence, fallback,
     restrict, start, end, call_path, last_caller_days, health, proximity) = row[:_ORG_WIDTH]
    begin, finish = _time(start), _time(end)
    return OrgPolicy(
        slug=slug, principal_number=principal, default_country=country, timezone=zone,
        forwarding_number=forwarding, agent_leg_number=agent_leg,
        local_presence=bool(local_presence), local_presence_fallback=fallback,
        restrict_caller_ids=bool(restrict),
        calling_hours=CallingHours(begin, finish) if begin and finish else None,
        call_path=tuple(InboundStep(step) for step in json_value(call_path)),
        last_caller_days=last_caller_days, health=_health_policy(json_value(health)),
        proximity=_proximity(json_value(proximity)) or Proximity(),
    )


def _proximity(stored: Any) -> Proximity | None:
    """The proximity steps stored as the document's mapping; None when none are stored."""
    if not stored:
        return None
    return Proximity(exchange=bool(stored.get("exchange")), overlay=bool(stored.get("overlay")),
                     adjacent=bool(stored.get("adjacent")),
                     radius_miles=stored.get("radius_miles"))


def _health_policy(stored: Any) -> HealthPolicy:
    """The organization's stored ``health:`` mapping as a policy (NULL: the defaults)."""
    return HealthDoc.model_validate(stored).policy() if stored else HealthPolicy()


def agent(row: Any) -> Agent:
    """An Agent from the columns of ``_USER``, in order."""
    key, name, work_phone, caller_id, direct_number, allowed, active = row
    return Agent(id=key, name=name, work_phone=work_phone, caller_id=caller_id,
                 direct_number=direct_number,
                 allowed_caller_ids=frozenset(json_value(allowed) or ()), active=bool(active))


_ORG_BY_SLUG = Statement(f"SELECT {_ORG} FROM orgs o WHERE o.slug = :org")
_ORG_AND_USER = Statement(f"""
    SELECT {_ORG}, {_USER}
    FROM orgs o LEFT JOIN users u ON u.org_id = o.id AND u.key = :user
    WHERE o.slug = :org""")
_PROJECT = Statement("""
    SELECT id, key, first_call, keep_previous_number, next_calls, outcome_numbers, agent_number,
        proximity, local_only
    FROM projects WHERE org_id = :org_id AND key = :key""")
# A correlated lookup per pool row, not a join: with stale statistics PostgreSQL planned
# the join as a walk of the whole numbers index (1M rows, 200 ms).
_POOL = Statement("""
    SELECT (SELECT n.e164 FROM numbers n WHERE n.id = p.number_id) FROM project_numbers p
    WHERE p.project_id = :project_id ORDER BY p.position""")
# With the contact, its consent date and the stored reassigned-numbers answer for its
# number (SPEC 10): a point lookup in that table's primary key.
_CONTACT_COLUMNS = """c.line_type, c.owner, c.timezone, c.state, c.postal_code,
    c.consented_on, r.since, r.answer, r.checked_at, r.source"""
_CONTACT_FROM = """contacts c LEFT JOIN reassigned_checks r
      ON r.org_id = c.org_id AND r.number = c.phone AND c.consented_on IS NOT NULL
    WHERE c.org_id = :org_id AND c.phone = :phone"""
_CONTACT = Statement(f"SELECT {_CONTACT_COLUMNS} FROM {_CONTACT_FROM}")
# The organization's do-not-call list: a point lookup in its primary key (SPEC 10).
_DO_NOT_CALL = Statement("""
    SELECT source, added_at FROM do_not_call WHERE org_id = :org_id AND number = :phone""")
# The national registry's numbers (the organization's scrub files): a point lookup too.
_REGISTRY = Statement("""
    SELECT source, listed_on FROM dnc_registry WHERE org_id = :org_id AND number = :phone""")
_COMPLIANCE = Statement("SELECT compliance FROM orgs WHERE id = :org_id")
_PROJECTS_COMPLIANCE = Statement(
    "SELECT key, compliance FROM projects WHERE org_id = :org_id")
_HISTORY = Statement(f"""
    SELECT id, at, caller_id, user_key, project_key, outcome, subject FROM calls
    WHERE org_id = :org_id AND to_number = :phone
    ORDER BY at DESC LIMIT {HISTORY_LIMIT}""")
# Today's presentations of a number: a point lookup in number_usage's primary key.
_USED = ("(SELECT u.used FROM number_usage u"
         " WHERE u.number_id = {n}.id AND u.day = :day)")
# The least recently presented numbers are read among those under their cap today: a
# number at its cap keeps its old presentation time and would otherwise crowd them out.
_UNDER_CAP = ("({n}.daily_cap IS NULL OR COALESCE(" + _USED + ", 0) < {n}.daily_cap)")
# UNION ALL: IN takes each id once anyway, so no temporary b-tree sorts them out first.
# With each number: its last presentations and its health (a point lookup), so that the
# decision can say why it passes one over. The numbers health rests that serve the area
# code are read too (a few, by the same index as the rotation): the trace names them.
_CANDIDATES = Statement(f"""
    SELECT n.e164, n.status, n.region, n.daily_cap, {_USED.format(n="n")},
           n.last_presented_at,
           EXISTS (SELECT 1 FROM number_area_codes s
                   WHERE s.number_id = n.id AND s.area_code = :area_code) AS serves,
           n.recent_presentations, h.state, h.since, h.score, h.reasons, n.added_at,
           n.live_since
    FROM numbers n LEFT JOIN number_health h ON h.number_id = n.id
    WHERE n.status != 'released' AND n.id IN (
        SELECT id FROM numbers WHERE org_id = :org_id AND e164 IN :specific
        UNION ALL SELECT number_id FROM project_numbers WHERE project_id = :project_id
        UNION ALL SELECT number_id FROM (
            SELECT m.number_id FROM number_area_codes m JOIN numbers c ON c.id = m.number_id
            WHERE m.org_id = :org_id AND m.area_code = :area_code AND m.active = TRUE
              AND {_UNDER_CAP.format(n="c")}
            ORDER BY m.last_presented_at LIMIT {LRU_CANDIDATES}) AS lru_local
        UNION ALL SELECT number_id FROM (
            SELECT m.number_id FROM number_area_codes m JOIN numbers c ON c.id = m.number_id
            WHERE m.org_id = :org_id AND m.area_code = :area_code AND m.active = FALSE
              AND c.status = 'resting'
            ORDER BY m.last_presented_at LIMIT {LRU_CANDIDATES}) AS resting_local
        UNION ALL SELECT id FROM (
            SELECT r.id FROM numbers r
            WHERE r.org_id = :org_id AND r.region = :region AND r.status = 'active'
              AND {_UNDER_CAP.format(n="r")}
            ORDER BY r.last_presented_at LIMIT {LRU_CANDIDATES}) AS lru_region)""",
    lists=["specific"])
# The cap test and the increment are one statement, on the (number, day) row: concurrent
# transactions can never both take a number's last slot. A first presentation of the
# day inserts the row; a later one (or a concurrent first one, which waits for the
# other's row) updates it only while under the cap. On PostgreSQL at READ COMMITTED,
# ON CONFLICT DO UPDATE locks the existing row and tests this WHERE on its latest
# committed version, so the count read is never stale. ``:force`` (the principal, the
# last resort) counts past the cap.
_COUNT = Statement("""
    INSERT INTO number_usage (number_id, day, used)
    SELECT id, :day, 1 FROM numbers
    WHERE org_id = :org_id AND e164 = :e164 AND status != 'released'
      AND (:force OR daily_cap IS NULL OR daily_cap >= 1)
    ON CONFLICT (number_id, day) DO UPDATE SET used = number_usage.used + 1
    WHERE :force OR (number_usage.used < COALESCE(
        (SELECT n.daily_cap FROM numbers n WHERE n.id = number_usage.number_id),
        number_usage.used + 1)
      AND (CAST(:per_day AS INTEGER) IS NULL OR number_usage.used < CAST(:per_day AS INTEGER)))
    RETURNING number_id""")
# Then the presentation time (a trigger copies it to the number's area codes), and the
# presentation added to the number's last ones (newest first, 16 digits each, the last
# ``:keep_chars`` kept). The per-minute and per-hour limits are tested on that same row:
# the N-th most recent presentation must be at least a minute (an hour) old, or missing.
# On PostgreSQL at READ COMMITTED a claim that waited for a concurrent one's row tests
# this WHERE on the row's latest committed version, so no two claims both take a
# minute's last slot. ``:unpaced`` (shaping off, the last resort) only keeps the count.
_STAMP = 16  # characters of one presentation: microseconds since the epoch, zero-padded
_NTH_OUT = """CASE WHEN LENGTH(recent_presentations) < :{n}_chars THEN TRUE
    ELSE CAST(SUBSTR(recent_presentations, :{n}_chars - 15, 16) AS BIGINT) <= :{n}_ago END"""
_PACED = (f"(:unpaced OR (({_NTH_OUT.format(n='minute')}) "
          f"AND ({_NTH_OUT.format(n='hour')})))")
# One live call per number (SPEC 9, optional), on the same row: the number's last call
# without a result (``live_since``, which every claim sets and the call's result clears,
# ``store.results``) must be older than the timeout. ``:live_free``: not enforced.
_LIVE = "(:live_free OR live_since IS NULL OR live_since <= :live_after)"
_PACED = f"({_PACED} AND {_LIVE})"
_SHOW = """UPDATE numbers SET last_presented_at = :now, live_since = :now,
        recent_presentations = SUBSTR(:stamp || recent_presentations, 1, :keep_chars)"""
_PRESENT = Statement(f"""
    {_SHOW} WHERE id = :id AND status != 'released' AND {_PACED} RETURNING id""")
# Rotation (least recently presented) claims the number only if nobody presented it since
# it was read: two servers deciding at once then cannot both take the same "oldest" one;
# the loser reads again and takes the next. (Always true on SQLite, which serializes.)
_PRESENT_IN_TURN = Statement(_PRESENT.sql.replace(
    "RETURNING id", "AND last_presented_at = :presented RETURNING id"))
# A claim that lost the number's turn gives back the count it took: the usage row is
# still locked by this transaction, so nobody counted on it meanwhile.
_UNCOUNT = Statement(
    "UPDATE number_usage SET used = used - 1 WHERE number_id = :id AND day = :day")
_HELD = Statement(
    "SELECT id FROM numbers WHERE org_id = :org_id AND e164 = :e164 AND status != 'released'")
_RECORD_CALL = Statement("""
    INSERT INTO calls (id, org_id, at, user_key, to_number, caller_id, rule, project_key,
                       channel, trace, subject)
    VALUES (:id, :org_id, :at, :user_key, :to_number, :caller_id, :rule, :project_key,
            :channel, :trace, :subject)""")
_SET_OUTCOME = Statement("""
    UPDATE calls SET outcome = :outcome, outcome_at = :at
    WHERE id = :id AND (CAST(:org_id AS INTEGER) IS NULL OR org_id = :org_id)""")
_NUMBER_OWNER = Statement(f"""
    SELECT {_ORG}, n.call_path FROM numbers n JOIN orgs o ON o.id = n.org_id
    WHERE n.e164 = :e164 AND n.status != 'released'""")
_USER_BY_DIRECT_NUMBER = Statement(f"""
    SELECT {_USER} FROM users u WHERE u.org_id = :org_id AND u.direct_number = :number""")
_USER_BY_KEY = Statement(f"SELECT {_USER} FROM users u WHERE u.org_id = :org_id AND u.key = :key")
_RECORD_INBOUND = Statement("""
    INSERT INTO inbound_calls (id, org_id, at, to_number, from_number, destination, rule,
                               user_key, trace)
    VALUES (:id, :org_id, :at, :to_number, :from_number, :destination, :rule, :user_key,
            :trace)""")


# -- the organization's state, kept in memory by each worker (services/org_cache.py) ----
#
# Its version is the change marker "org:<id>", which the triggers of migration 0010 bump
# in the same transaction as any change to the organization's settings, users, projects,
# pools or numbers: a decision reads it (one point lookup) to know its copy is current.

_CONFIG_VERSION = Statement("SELECT version FROM change_markers WHERE name = :marker")
_CONFIG_VERSION_BY_SLUG = Statement("""
    SELECT version FROM change_markers
    WHERE name = 'org:' || CAST((SELECT id FROM orgs WHERE slug = :org) AS VARCHAR(20))""")
_USERS = Statement(f"SELECT {_USER} FROM users u WHERE u.org_id = :org_id")
_PROJECTS = Statement(_PROJECT.sql.replace(" AND key = :key", ""))
_POOLS = Statement("""
    SELECT p.project_id, (SELECT n.e164 FROM numbers n WHERE n.id = p.number_id)
    FROM project_numbers p
    WHERE p.project_id IN (SELECT j.id FROM projects j WHERE j.org_id = :org_id)
    ORDER BY p.project_id, p.position""")


def org_marker(org_id: int) -> str:
    """The change marker of the organization's configuration."""
    return f"org:{org_id}"


def config_version(conn: Connection, org_id: int) -> int | None:
    row = _CONFIG_VERSION.run(conn, {"marker": org_marker(org_id)}).fetchone()
    return None if row is None else int(row[0])


def org_state(conn: Connection, slug: str) -> OrgState:
    """The organization's id, settings, users and projects, with the version read first
    (a change committed between the reads at worst makes the next decision read again)."""
    version = _CONFIG_VERSION_BY_SLUG.run(conn, {"org": slug}).fetchone()
    org_id, policy = org_id_and_policy(conn, slug)
    users = {row[0]: agent(row) for row in _USERS.run(conn, {"org_id": org_id}).fetchall()}
    pools: dict[int, list[Any]] = {}
    for project_id, e164 in _POOLS.run(conn, {"org_id": org_id}).fetchall():
        pools.setdefault(project_id, []).append((e164,))
    projects = {}
    for row in _PROJECTS.run(conn, {"org_id": org_id}).fetchall():
        project_id, project = _project(row, pools.get(row[0], []))
        projects[project.id] = (project_id, project)
    compliance = policies_of(
        json_value(_COMPLIANCE.run(conn, {"org_id": org_id}).fetchone()[0]),
        {key: json_value(data) for key, data
         in _PROJECTS_COMPLIANCE.run(conn, {"org_id": org_id}).fetchall()})
    return OrgState(org_id=org_id, version=None if version is None else int(version[0]),
                    policy=policy, users=users, projects=projects, compliance=compliance)


_CACHES: weakref.WeakKeyDictionary[Engine, OrgCache] = weakref.WeakKeyDictionary()
_CACHES_LOCK = threading.Lock()


def org_cache(engine: Engine) -> OrgCache:
    """This process's copies of organizations' state in the store ``engine`` opens."""
    cache = _CACHES.get(engine)
    if cache is None:
        with _CACHES_LOCK:
            cache = _CACHES.setdefault(engine, OrgCache())
    return cache


# Two calls to one contact at once must not both take the same "unused" pool number
# (different_each_attempt) or both miss each other's history: on PostgreSQL the decision
# takes a transaction-scoped advisory lock on (org, contact). Calls to different
# contacts never wait for each other. SQLite needs none: BEGIN IMMEDIATE serializes.
# The key is the server's hash of "org id:phone".
_CONTACT_KEY = "hashtextextended(CAST({org} AS text) || ':' || :phone, 0)"
_LOCK_CONTACT = Statement(
    "SELECT pg_advisory_xact_lock(" + _CONTACT_KEY.format(org=":org_id") + ")")


def lock_contact(conn: Connection, org_id: int, phone: str) -> None:
    if conn.dialect.name != "postgresql":
        return
    _LOCK_CONTACT.run(conn, {"org_id": org_id, "phone": phone}).fetchone()


def org_id_and_policy(conn: Connection, slug: str) -> tuple[int, OrgPolicy]:
    row = _ORG_BY_SLUG.run(conn, {"org": slug}).fetchone()
    if row is None:
        raise NotFound(f"no organization {slug!r}", field="org")
    return int(row[0]), org_policy(row)


def org_and_user(conn: Connection, slug: str, user_key: str) -> tuple[int, OrgPolicy, Agent]:
    """The organization and one of its users, in one read."""
    return _org_and_user(_ORG_AND_USER.run(conn, {"org": slug, "user": user_key}).fetchone(),
                         slug, user_key)


def _org_and_user(row: Any, slug: str, user_key: str) -> tuple[int, OrgPolicy, Agent]:
    if row is None:
        raise NotFound(f"no organization {slug!r}", field="org")
    if row[_ORG_WIDTH] is None:
        raise NotFound(f"no user {user_key!r} in organization {slug!r}", field="user")
    return int(row[0]), org_policy(row), agent(row[_ORG_WIDTH:])


def project_policy(conn: Connection, org_id: int, key: str) -> tuple[int, ProjectPolicy]:
    row = _PROJECT.run(conn, {"org_id": org_id, "key": key}).fetchone()
    if row is None:
        raise NotFound(f"no project {key!r}", field="project")
    return _project(row, _POOL.run(conn, {"project_id": row[0]}).fetchall())


def _project(row: Any, pool_rows: list[Any]) -> tuple[int, ProjectPolicy]:
    (project_id, key, first_call, keep_previous, next_calls, outcome_numbers, agent_number,
     proximity, local_only) = row
    pool = tuple(r[0] for r in pool_rows)
    return int(project_id), ProjectPolicy(
        id=key, pool=pool, first_call=first_call, keep_previous_number=bool(keep_previous),
        next_calls=Logic(next_calls), outcome_numbers=dict(json_value(outcome_numbers)),
        agent_number=agent_number, proximity=_proximity(json_value(proximity)),
        local_only=local_only,
    )


Contact = tuple[str, str | None, ContactAddress | None, Consent | None]


def contact(conn: Connection, org_id: int, phone: str) -> Contact | None:
    """The contact's (line type, owner, address if any, consent if any), or None if
    ``phone`` is not a contact."""
    return _contact(_CONTACT.run(conn, {"org_id": org_id, "phone": phone}).fetchone())


def _contact(row: Any) -> Contact | None:
    if row is None:
        return None
    line_type, owner, zone, state, postal_code, consented_on, since, answer, at, source = row
    address = ContactAddress(zone, state, postal_code) if zone or state or postal_code \
        else None
    consent = None
    if consented_on is not None:
        check = None if since is None else ReassignedCheck(
            _date(since), answer, time_value(at), source or "")
        consent = Consent(_date(consented_on), check)
    return line_type, owner, address, consent


def _date(value: Any) -> date:
    """A stored date (SQLite's driver and JSON read it as text)."""
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def do_not_call(conn: Connection, org_id: int, phone: str) -> DoNotCall | None:
    """The organization's do-not-call entry for ``phone``, or None if it is not listed."""
    return _do_not_call(_DO_NOT_CALL.run(conn, {"org_id": org_id, "phone": phone}).fetchone())


def _do_not_call(row: Any) -> DoNotCall | None:
    if row is None:
        return None
    return DoNotCall("organization", row[0], time_value(row[1]).date())


def registry(conn: Connection, org_id: int, phone: str) -> DoNotCall | None:
    """The national registry's entry for ``phone`` (a scrub file's), or None."""
    return _registry(_REGISTRY.run(conn, {"org_id": org_id, "phone": phone}).fetchone())


def _registry(row: Any) -> DoNotCall | None:
    if row is None:
        return None
    return DoNotCall("national registry", row[0], date.fromisoformat(str(row[1])[:10]))


def history(conn: Connection, org_id: int, phone: str) -> tuple[PastCall, ...]:
    """This organization's outbound calls to ``phone``, newest first."""
    return _history(_HISTORY.run(conn, {"org_id": org_id, "phone": phone}).fetchall())


def _history(rows: list[Any]) -> tuple[PastCall, ...]:
    return tuple(PastCall(call_id, time_value(at), caller_id, user, project, outcome, subject)
                 for call_id, at, caller_id, user, project, outcome, subject in rows)


def candidate_numbers(
    conn: Connection,
    org_id: int,
    *,
    day: str,
    area_code: str | None,
    region: str | None,
    specific: Iterable[str],
    project_id: int | None,
) -> tuple[dict[str, NumberState], frozenset[str]]:
    """The org numbers the rules may consider, and which of them serve ``area_code``.

    Reads the named numbers, the project's pool, and the least recently presented
    active numbers serving the area code (and in the region), by index ranges.
    """
    rows = _CANDIDATES.run(conn, {
        "org_id": org_id, "specific": sorted(set(specific)), "project_id": project_id,
        "area_code": area_code, "region": region, "day": day,
    }).fetchall()
    return _candidates(conn, rows)


def _candidates(conn: Connection, rows: list[Any]
                ) -> tuple[dict[str, NumberState], frozenset[str]]:
    states: dict[str, NumberState] = {}
    serving: set[str] = set()
    never = time_param(conn, NEVER)
    for (e164, status, number_region, cap, used, last, serves, recent, state, since, score,
         reasons, added_at, live) in rows:
        presented = None if last == never else time_value(last)
        health = None if state is None else Health(
            HealthState(state), time_value(since), score, tuple(json_value(reasons) or ()))
        states[e164] = NumberState(
            e164=e164, status=_STATUSES[status], region=number_region, daily_cap=cap,
            used_today=used or 0, last_presented_at=presented, recent=_presentations(recent),
            health=health, added_at=None if added_at is None else time_value(added_at),
            live_since=None if live is None else time_value(live),
        )
        if serves:
            serving.add(e164)
    return states, frozenset(serving)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def _presentations(text: str | None) -> tuple[datetime, ...]:
    """A number's last presentations, newest first, from the column that keeps them."""
    text = text or ""
    return tuple(_EPOCH + int(text[i:i + _STAMP]) * _MICROSECOND
                 for i in range(0, len(text) - _STAMP + 1, _STAMP))


def _pace_params(now: datetime, limits: Limits | None, force: bool) -> dict[str, Any]:
    """The claim's parameters for the number's last presentations and its limits."""
    limits = limits or Limits(1, 1, 1, enforced=False)
    moment = (now - _EPOCH) // _MICROSECOND  # exact, as the decision compares times
    enforced = limits.enforced and not force
    return {
        "stamp": f"{moment:0{_STAMP}d}", "keep_chars": _STAMP * min(limits.keep, MAX_KEPT),
        "unpaced": not enforced, "minute_chars": _STAMP * limits.per_minute,
        "hour_chars": _STAMP * limits.per_hour,
        # Presentations at or before these are out of the minute, the hour.
        "minute_ago": moment - MINUTE // _MICROSECOND,
        "hour_ago": moment - HOUR // _MICROSECOND,
        "per_day": limits.per_day if enforced else None,
        "live_free": not enforced or limits.live_after is None,
        "live_after": limits.live_after or now,
    }


# PostgreSQL: the count and the presentation in one statement (one round trip), in the
# same order as the two statements above: the usage row is locked first.
_CLAIM = Statement(f"""
    WITH counted AS ({_COUNT.sql}),
    shown AS ({_SHOW}
              WHERE id = (SELECT number_id FROM counted) AND status != 'released'
                AND {_PACED}
              RETURNING id)
    SELECT (SELECT number_id FROM counted), (SELECT id FROM shown)""")
_CLAIM_IN_TURN = Statement(_CLAIM.sql.replace(
    "RETURNING id)", "AND last_presented_at = :presented RETURNING id)"))


def claim_number(
    conn: Connection, org_id: int, e164: str, *, day: str, now: datetime, within_cap: bool,
    in_turn: bool = False, presented: datetime | None = None, limits: Limits | None = None,
) -> ClaimResult:
    """Count one presentation of ``e164`` on ``day``, atomically, within its cap and
    ``limits`` unless not ``within_cap``; with ``in_turn``, only if nobody presented it
    since it was read (its presentation time is still ``presented``; None: never
    presented).

    A number outside the inventory (a principal number that is not stored) has nothing
    to count.
    """
    params: dict[str, Any] = {"org_id": org_id, "e164": e164, "day": day,
                              "force": not within_cap, "now": time_param(conn, now),
                              **_pace_params(now, limits, not within_cap)}
    params["live_after"] = time_param(conn, params["live_after"])
    if in_turn:
        params["presented"] = time_param(conn, presented or NEVER)
    if conn.dialect.name == "postgresql":
        number_id, shown = (_CLAIM_IN_TURN if in_turn else _CLAIM).run(conn, params).fetchone()
    else:
        counted = _COUNT.run(conn, params).fetchone()
        number_id = counted[0] if counted is not None else None
        if number_id is not None:
            params["id"] = number_id
            shown = (_PRESENT_IN_TURN if in_turn else _PRESENT).run(conn, params).fetchone()
    if number_id is None:
        if not within_cap:
            return ClaimResult.TAKEN
        held = _HELD.run(conn, {"org_id": org_id, "e164": e164}).fetchone() is not None
        return ClaimResult.FULL if held else ClaimResult.TAKEN
    if shown is not None:
        return ClaimResult.TAKEN
    _UNCOUNT.run(conn, {"id": number_id, "day": day})
    return ClaimResult.TURN_LOST if in_turn else ClaimResult.FULL


def record_call(
    conn: Connection, org_id: int, decision: Decision, *, user: str, project: str | None,
    channel: str, at: datetime, subject: str | None = None,
) -> None:
    _RECORD_CALL.run(conn, _call_row(conn, org_id, decision, user=user, project=project,
                                     channel=channel, at=at, subject=subject))


def _call_row(
    conn: Connection, org_id: int, decision: Decision, *, user: str, project: str | None,
    channel: str, at: datetime, subject: str | None = None,
) -> dict[str, Any]:
    return {
        "id": decision.call_id, "org_id": org_id, "at": time_param(conn, at), "user_key": user,
        "to_number": decision.to, "caller_id": decision.caller_id, "rule": decision.rule,
        "project_key": project, "channel": str(channel),
        "trace": json_param([step.as_dict() for step in decision.trace]), "subject": subject,
    }


_IDEMPOTENT_SQL = """
    SELECT request_hash, response FROM idempotency_keys WHERE org_id = :org_id AND key = :key"""
_IDEMPOTENT = Statement(_IDEMPOTENT_SQL)
_REMEMBER = Statement("""
    INSERT INTO idempotency_keys (org_id, key, request_hash, call_id, response, created_at)
    VALUES (:org_id, :key, :request_hash, :call_id, :response, :created_at)""")


def idempotent_decision(conn: Connection, org_id: int, key: str,
                        fingerprint: str) -> Decision | None:
    """The decision first given for ``key``; Conflict if it was for another request."""
    return _idempotent(_IDEMPOTENT.run(conn, {"org_id": org_id, "key": key}).fetchone(),
                       fingerprint)


def _idempotent(row: Any, fingerprint: str) -> Decision | None:
    if row is None:
        return None
    if row[0] != fingerprint:
        raise Conflict("this Idempotency-Key was used for a different request",
                       field="Idempotency-Key")
    return Decision.from_dict(json_value(row[1]))


def remember_decision(conn: Connection, org_id: int, key: str, fingerprint: str,
                      decision: Decision, at: datetime) -> None:
    _REMEMBER.run(conn, _key_row(conn, org_id, key, fingerprint, decision, at))


def _key_row(conn: Connection, org_id: int, key: str, fingerprint: str,
             decision: Decision, at: datetime) -> dict[str, Any]:
    return {"org_id": org_id, "key": key, "request_hash": fingerprint,
            "call_id": decision.call_id, "response": json_param(decision.as_dict()),
            "created_at": time_param(conn, at)}


def set_outcome(conn: Connection, call_id: str, outcome: str, at: datetime,
                org_id: int | None = None) -> bool:
    cursor = _SET_OUTCOME.run(conn, {"id": call_id, "outcome": outcome,
                                     "at": time_param(conn, at), "org_id": org_id})
    return bool(cursor.rowcount)


# -- inbound --------------------------------------------------------------------------

def number_owner(conn: Connection, e164: str) -> tuple[int, OrgPolicy, list[str] | None] | None:
    """(org id, org policy, the number's own call path) for the org holding ``e164``."""
    row = _NUMBER_OWNER.run(conn, {"e164": e164}).fetchone()
    if row is None:
        return None
    return int(row[0]), org_policy(row), json_value(row[_ORG_WIDTH])


def user_by_direct_number(conn: Connection, org_id: int, number: str) -> Agent | None:
    row = _USER_BY_DIRECT_NUMBER.run(conn, {"org_id": org_id, "number": number}).fetchone()
    return agent(row) if row is not None else None


def user_by_key(conn: Connection, org_id: int, key: str) -> Agent | None:
    row = _USER_BY_KEY.run(conn, {"org_id": org_id, "key": key}).fetchone()
    return agent(row) if row is not None else None


def record_inbound(conn: Connection, org_id: int, route: Route, *, called: str, caller: str,
                   at: datetime) -> None:
    _RECORD_INBOUND.run(conn, {
        "id": route.call_id, "org_id": org_id, "at": time_param(conn, at), "to_number": called,
        "from_number": caller, "destination": route.destination, "rule": route.rule,
        "user_key": route.user,
        "trace": json_param([step.as_dict() for step in route.trace]),
    })



# -- PostgreSQL: a decision's reads in one round trip, its writes with the COMMIT ------
#
# On PostgreSQL each statement is a round trip to the server (~0.1 ms here, more across
# a network), and a decision ran a dozen. So there ``SqlCalls.read_ahead`` sends, in
# pipeline mode and in one round trip, BEGIN, the contact's lock, the organization's
# configuration version and every read the decision is about to make, keyed by the
# arguments each read will be asked with: plain statements on ids, asked as the state
# the worker keeps of the organization foresees (its id, country, day, project, the
# numbers it names). A read asked with exactly those arguments is answered from there,
# once; any other (a state the version says is out of date, a number the read-ahead
# could not foresee, a read after a lost claim) goes to the server as before.
# The lock comes first in the pipeline and the reads follow as ONE statement (``_GATHER``),
# whose snapshot is taken after the lock (READ COMMITTED), so they see whatever the
# contact's previous decision committed. One statement, not five: each statement costs
# the worker ~0.1 ms of the driver's Python (adapting, a cursor, its result), more than
# its round trip on this machine. The claim is one statement (``_CLAIM``); the call and its
# idempotency key are sent with the COMMIT (``SqlCalls.commit``). Three round trips in
# all: reads, claim, writes + COMMIT.

# The candidates as the read-ahead asks for them: the numbers named by the organization's
# state, and the number the contact's last call presented (read in the same statement,
# as the decision will name it once it has read the history).
_AHEAD_CANDIDATES = Statement(_CANDIDATES.sql.replace(
    "UNION ALL SELECT number_id FROM project_numbers",
    "UNION ALL SELECT id FROM numbers WHERE org_id = :org_id AND e164 = ("
    "SELECT h.caller_id FROM calls h WHERE h.org_id = :org_id AND h.to_number = :phone"
    " ORDER BY h.at DESC LIMIT 1) UNION ALL SELECT number_id FROM project_numbers"),
    lists=["specific"])


# Everything the decision reads after the contact's lock, in ONE statement (one parse,
# bind and result for the driver, instead of five): the configuration version, the
# idempotency key's first answer (none without a key), the contact, its do-not-call
# entry, its history and the candidates, each a column; the lists as JSON arrays of the
# columns the statements above read, in the same order.
_GATHER = Statement(f"""
    SELECT
      (SELECT version FROM change_markers WHERE name = :marker),
      (SELECT json_build_array(k.request_hash, k.response) FROM idempotency_keys k
       WHERE k.org_id = :org_id AND k.key = :key),
      (SELECT json_build_array({_CONTACT_COLUMNS}) FROM {_CONTACT_FROM}),
      (SELECT json_build_array(source, added_at) FROM do_not_call
       WHERE org_id = :org_id AND number = :phone),
      (SELECT json_build_array(source, listed_on) FROM dnc_registry
       WHERE org_id = :org_id AND number = :phone),
      (SELECT json_agg(json_build_array(h.id, h.at, h.caller_id, h.user_key, h.project_key,
                                        h.outcome, h.subject) ORDER BY h.at DESC)
       FROM ({_HISTORY.sql}) AS h),
      (SELECT json_agg(json_build_array(c.e164, c.status, c.region, c.daily_cap, c.used,
                                        c.last_presented_at, c.serves,
                                        c.recent_presentations, c.state, c.since, c.score,
                                        c.reasons, c.added_at, c.live_since))
       FROM ({_AHEAD_CANDIDATES.sql.replace(f"{_USED.format(n='n')},",
                                             f"{_USED.format(n='n')} AS used,", 1)}) AS c)""",
    lists=["specific"])


def _timed(rows: list[Any] | None, column: int) -> list[list[Any]]:
    """JSON rows with their time column as the driver reads a timestamp (a datetime)."""
    out = rows or []
    for row in out:
        if row[column] is not None:
            row[column] = time_value(row[column])
    return out


def _named(org: OrgState, user: Agent | None, project: ProjectPolicy | None,
           caller_id: str | None) -> set[str]:
    """The numbers a decision names for the candidates read, but the last call's
    (as ``services.calls._gather`` does; were they to differ, the read-ahead's answer is
    simply not used)."""
    policy = org.policy
    named = {policy.principal_number, caller_id}
    if user is not None:
        named.update((user.caller_id, user.direct_number))
        if policy.restrict_caller_ids:
            named.update(user.allowed_caller_ids)
    if project is not None:
        named.update(project.outcome_numbers.values())
    return {n for n in named if n}


def _asked(org: OrgState, user: str, *, to: str, caller_id: str | None,
           project: str | None, now: datetime) -> dict[str, Any] | None:
    """The arguments the decision's reads will be asked with, as far as ``org`` (the state
    kept) foresees them; None when there is nothing to read ahead (an emergency number,
    a number that does not parse: the decision answers those itself)."""
    policy = org.policy
    country = policy.default_country
    try:
        if phone.is_emergency(to, country):
            return None
        callee = phone.facts_for(to, country, field="to")
        given = phone.parse_number(caller_id, country, field="caller_id") \
            if caller_id else None
    except InvalidInput:
        return None
    project_id, project_policy = org.projects.get(project, (None, None)) if project \
        else (None, None)
    by_region = policy.local_presence and policy.local_presence_fallback == "region"
    return {
        "org_id": org.org_id, "marker": org_marker(org.org_id), "phone": callee.e164,
        "day": today(policy, now), "area_code": callee.area_code,
        "region": callee.region if by_region else None, "project_id": project_id,
        "specific": sorted(_named(org, org.users.get(user), project_policy, given)),
    }


_NOT_READ = object()


class SqlCalls:
    """The call path's reads and writes on one unit's connection (the services'
    ``CallsRepository``): the functions above, bound to that connection; on PostgreSQL
    with the reads read ahead and the writes sent with the COMMIT (see above)."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.postgresql = conn.dialect.name == "postgresql"
        self._ahead: dict[tuple[Any, ...], Any] = {}
        self._writes: list[tuple[Statement, dict[str, Any]]] = []

    @property
    def orgs(self) -> OrgCache:
        return org_cache(self.conn.engine)

    def config_version(self, org_id: int) -> int | None:
        row = self._read("config_version", org_id)
        if row is _NOT_READ:
            return config_version(self.conn, org_id)
        return None if row is None else int(row[0])

    def org_state(self, slug: str) -> OrgState:
        return org_state(self.conn, slug)

    def read_ahead(self, org: OrgState, user: str, *, to: str, caller_id: str | None,
                   project: str | None, key: str | None, now: datetime,
                   lock: bool) -> None:
        """PostgreSQL: BEGIN, the contact's lock (with ``lock``), the organization's
        configuration version and the decision's reads, in one round trip, kept for the
        reads to come; asked as ``org`` (the state kept in memory) says they will be. If
        the version says ``org`` is out of date, the reads asked otherwise go to the
        server as they come."""
        if not self.postgresql:
            return
        driver = self.conn.connection.driver_connection
        assert driver is not None
        if driver.info.transaction_status != pq.TransactionStatus.IDLE:
            return  # not the unit's first statement: it would not see the lock's effects
        asked = _asked(org, user, to=to, caller_id=caller_id, project=project, now=now)
        if asked is None:
            return
        # The driver would send its BEGIN on its own and wait for it: send it with the rest
        # (autocommit ends with the transaction: ``commit`` below, or the pool's checkin).
        driver.autocommit = True
        with driver.pipeline():
            driver.execute("BEGIN")
            locked = _LOCK_CONTACT.run(self.conn, asked) if lock else None
            gathered = _GATHER.run(self.conn, {**asked, "key": key})
        version, earlier, known, listed, registered, past, candidates = gathered.fetchone()
        org_id, number = org.org_id, asked["phone"]
        self._ahead[("config_version", org_id)] = None if version is None else (version,)
        if locked is not None:
            self._ahead[("lock", org_id, number)] = locked.fetchone()
        if key:
            self._ahead[("idempotent", org_id, key)] = earlier
        self._ahead[("contact", org_id, number)] = known
        self._ahead[("do_not_call", org_id, number)] = listed
        self._ahead[("registry", org_id, number)] = registered
        rows = _timed(past, 1)
        self._ahead[("history", org_id, number)] = rows
        named = set(asked["specific"])
        if rows:
            if len(rows) > 1 and rows[1][1] == rows[0][1]:
                return  # which of the two is the "last" call is the server's pick
            named.add(rows[0][2])
        self._ahead[("candidates", org_id, asked["day"], asked["area_code"], asked["region"],
                     tuple(sorted(named)), asked["project_id"])] = _timed(candidates, 5)

    def _read(self, *asked: Any) -> Any:
        """What the read-ahead read for these arguments (once), or _NOT_READ."""
        return self._ahead.pop(asked, _NOT_READ)

    def org_id_and_policy(self, slug: str) -> tuple[int, OrgPolicy]:
        return org_id_and_policy(self.conn, slug)

    def org_and_user(self, slug: str, user: str) -> tuple[int, OrgPolicy, Agent]:
        row = self._read("org_and_user", slug, user)
        if row is _NOT_READ:
            return org_and_user(self.conn, slug, user)
        return _org_and_user(row, slug, user)

    def project_policy(self, org_id: int, key: str) -> tuple[int, ProjectPolicy]:
        read = self._read("project", org_id, key)
        if read is _NOT_READ:
            return project_policy(self.conn, org_id, key)
        row, pool = read
        if row is None:
            raise NotFound(f"no project {key!r}", field="project")
        return _project(row, pool)

    def lock_contact(self, org_id: int, phone: str) -> None:
        if self._read("lock", org_id, phone) is _NOT_READ:
            lock_contact(self.conn, org_id, phone)

    def contact(self, org_id: int, phone: str) -> Contact | None:
        row = self._read("contact", org_id, phone)
        return contact(self.conn, org_id, phone) if row is _NOT_READ else _contact(row)

    def do_not_call(self, org_id: int, phone: str) -> DoNotCall | None:
        row = self._read("do_not_call", org_id, phone)
        return do_not_call(self.conn, org_id, phone) if row is _NOT_READ else _do_not_call(row)

    def registry(self, org_id: int, phone: str) -> DoNotCall | None:
        row = self._read("registry", org_id, phone)
        return registry(self.conn, org_id, phone) if row is _NOT_READ else _registry(row)

    def history(self, org_id: int, phone: str) -> tuple[PastCall, ...]:
        rows = self._read("history", org_id, phone)
        return history(self.conn, org_id, phone) if rows is _NOT_READ else _history(rows)

    def candidate_numbers(
        self, org_id: int, *, day: str, area_code: str | None, region: str | None,
        specific: Iterable[str], project_id: int | None,
    ) -> tuple[dict[str, NumberState], frozenset[str]]:
        named = tuple(sorted(set(specific)))
        rows = self._read("candidates", org_id, day, area_code, region, named, project_id)
        if rows is _NOT_READ:
            return candidate_numbers(self.conn, org_id, day=day, area_code=area_code,
                                     region=region, specific=named, project_id=project_id)
        return _candidates(self.conn, rows)

    def claim_number(
        self, org_id: int, e164: str, *, day: str, now: datetime, within_cap: bool,
        in_turn: bool = False, presented: datetime | None = None,
        limits: Limits | None = None,
    ) -> ClaimResult:
        return claim_number(self.conn, org_id, e164, day=day, now=now, within_cap=within_cap,
                            in_turn=in_turn, presented=presented, limits=limits)

    def record_call(
        self, org_id: int, decision: Decision, *, user: str, project: str | None,
        channel: str, at: datetime, subject: str | None = None,
    ) -> None:
        row = _call_row(self.conn, org_id, decision, user=user, project=project,
                        channel=channel, at=at, subject=subject)
        self._write(_RECORD_CALL, row)

    def idempotent_decision(self, org_id: int, key: str, fingerprint: str) -> Decision | None:
        row = self._read("idempotent", org_id, key)
        if row is _NOT_READ:
            return idempotent_decision(self.conn, org_id, key, fingerprint)
        return _idempotent(row, fingerprint)

    def remember_decision(self, org_id: int, key: str, fingerprint: str, decision: Decision,
                          at: datetime) -> None:
        self._write(_REMEMBER, _key_row(self.conn, org_id, key, fingerprint, decision, at))

    def _write(self, statement: Statement, row: dict[str, Any]) -> None:
        """PostgreSQL: kept to go with the COMMIT (a raced key raises there); else now."""
        if self.postgresql:
            self._writes.append((statement, row))
        else:
            statement.run(self.conn, row)

    def commit(self) -> None:
        """PostgreSQL: send the writes kept and COMMIT, in one round trip (pipeline mode);
        the unit's own commit then has nothing left to do."""
        if not self._writes:
            return
        driver = self.conn.connection.driver_connection
        assert driver is not None
        with driver.pipeline():
            for statement, row in self._writes:
                statement.run(self.conn, row)
            driver.execute("COMMIT")
        self._writes.clear()
        driver.autocommit = False

    def set_outcome(self, call_id: str, outcome: str, at: datetime,
                    org_id: int | None = None) -> bool:
        return set_outcome(self.conn, call_id, outcome, at, org_id)

    def number_owner(self, e164: str) -> tuple[int, OrgPolicy, list[str] | None] | None:
        return number_owner(self.conn, e164)

    def user_by_direct_number(self, org_id: int, number: str) -> Agent | None:
        return user_by_direct_number(self.conn, org_id, number)

    def user_by_key(self, org_id: int, key: str) -> Agent | None:
        return user_by_key(self.conn, org_id, key)

    def record_inbound(self, org_id: int, route: Route, *, called: str, caller: str,
                       at: datetime) -> None:
        record_inbound(self.conn, org_id, route, called=called, caller=caller, at=at)


# -- the call log and Twilio's reports (SQLAlchemy: not the decision's path) ---------

CallRow = Any  # a row of ``calls``, and whether an agent reported it as spam
_LOGGED = (calls, exists().where(spam_reports.c.call_id == calls.c.id).label("spam_reported"))


def logged_calls(conn: Connection, org_id: int, *, to: str | None = None,
                 user: str | None = None, since: datetime | None = None,
                 before: tuple[datetime, str] | None = None, limit: int) -> list[CallRow]:
    """The organization's outbound calls, newest first (``before``: after a page's last
    (time, id))."""
    query = select(*_LOGGED).where(calls.c.org_id == org_id)
    if to:
        query = query.where(calls.c.to_number == to)
    if user:
        query = query.where(calls.c.user_key == user)
    if since is not None:
        query = query.where(calls.c.at >= since)
    if before is not None:
        at, call_id = before
        query = query.where(or_(calls.c.at < at, and_(calls.c.at == at, calls.c.id < call_id)))
    return list(conn.execute(query.order_by(calls.c.at.desc(), calls.c.id.desc())
                             .limit(limit)).all())


def logged_call(conn: Connection, org_id: int, call_id: str) -> CallRow | None:
    return conn.execute(select(*_LOGGED).where(
        calls.c.org_id == org_id, calls.c.id == call_id)).first()


def set_telephony(conn: Connection, org_id: int, call_id: str, values: Mapping[str, Any], *,
                  only_while: Iterable[str] | None = None) -> None:
    """Store what the telephony reported of a call (``only_while``: if its status is one
    of these)."""
    conditions = [] if only_while is None else [calls.c.telephony_status.in_(tuple(only_while))]
    conn.execute(update(calls).where(calls.c.org_id == org_id, calls.c.id == call_id,
                                     *conditions).values(**values))


def recent_callees(conn: Connection, org_id: int, *, since: datetime) -> list[str]:
    """The numbers the organization called since ``since``, each once."""
    return [str(n) for n in conn.execute(select(calls.c.to_number).distinct().where(
        calls.c.org_id == org_id, calls.c.at >= since)).scalars()]
