"""Number health as a service (SPEC 9): judge a number from its stored results, rest it,
restore it, and sweep a whole organization.

``after_result`` runs in the transaction that stores a call's result or a spam report
(``services.results``, ``services.connect``): it reads the number's window (its last
``window_calls`` calls within ``window_days`` days: one index range), folds it with the
domain's ``sweep`` and applies ``assess``; only a number to rest reads its area codes'
numbers, for the coverage guard (``review``). ``sweep`` does the same for every number of
an organization, and restores the numbers whose rest is over.

Resting sets the number's status to ``resting`` (so the decision, which presents only
``active`` numbers, passes it over); restoring sets it back to ``active``, warming. A
number paused by hand, or rested by hand (status ``resting`` without a health rest), is
never changed: a manual pause always wins. Every change of state is written to
``number_health_events`` with its reason.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from callsign.domain import phone
from callsign.domain.document import HealthDoc
from callsign.domain.errors import NotFound
from callsign.domain.health import CallResult, Metrics, SpamReport, failure_class, sweep
from callsign.domain.health_policy import HealthPolicy
from callsign.domain.health_states import (
    Health,
    HealthState,
    Proposal,
    Standing,
    assess,
    review,
)
from callsign.domain.model import NumberStatus
from callsign.domain.reputation import Label
from callsign.domain.results import FailureClass
from callsign.domain.warmup import as_added
from callsign.store import health as store
from callsign.store import orgs as org_store
from callsign.store import reputation as label_store
from callsign.store.uow import Connection, UnitOfWork

AUTOMATIC, MANUAL, FEED = "automatic", "manual", "feed"  # the sources of a change


def policy_for(conn: Connection, org_id: int) -> tuple[HealthPolicy, str]:
    """The organization's stored policy (the defaults if it never set one), and its
    principal number (never rested: it is every call's last resort)."""
    stored, principal = store.policy_of(conn, org_id)
    return _policy(json.dumps(stored, sort_keys=True) if stored else ""), principal


@functools.lru_cache(maxsize=256)
def _policy(stored: str) -> HealthPolicy:
    """A stored policy validated once per distinct text (it is read on every result)."""
    return (HealthDoc.model_validate(json.loads(stored)) if stored else HealthDoc()).policy()


def _spare_principal(proposal: Proposal, current: Health, e164: str, principal: str,
                     now: datetime) -> Proposal:
    """The principal number is never rested (as it is never paused): watched instead."""
    if not proposal.rest or e164 != principal:
        return proposal
    why = "kept: the principal number is every call's last resort and never rests"
    reasons = (*proposal.health.reasons, why)
    if current.state in (HealthState.WATCH, HealthState.WARMING):
        return Proposal(replace(current, score=proposal.health.score, reasons=reasons))
    return Proposal(Health(HealthState.WATCH, now, proposal.health.score, reasons))


def _result(row: Any) -> CallResult:
    sip = row.sip_code
    if sip is None and row.failure_class == FailureClass.REJECTED_BY_ANALYTICS:
        sip = 603  # a dialer said "rejected" without the code: a rejection, not a 608
    return CallResult(row.at, bool(row.answered), row.duration_s or 0, sip,
                      failure_class(bool(row.answered), sip))


def metrics_of(conn: Connection, org_id: int, row: Any, policy: HealthPolicy,
               now: datetime) -> Metrics:
    """The number's signals as of ``now``, from its window in the store."""
    after = now - timedelta(days=policy.window_days)
    since = row.window_since
    if since is not None and since - timedelta.resolution > after:
        after = since - timedelta.resolution
    results = [_result(r) for r in store.window(conn, org_id, row.e164, after=after,
                                                limit=policy.window_calls)]
    reports = [SpamReport(at) for at in store.spam_times(conn, org_id, row.e164, after=after)]
    return sweep(results, reports, now, policy, since)


def labels_of(conn: Connection, org_id: int, row: Any) -> tuple[Label, ...]:
    """The number's reputation labels checked since its window began (a label read
    before a restore does not rest it again)."""
    return tuple(label_store.labels(conn, org_id, row.id, after=row.window_since))


def _by_hand(row: Any) -> bool:
    """Paused, or rested by hand: health leaves it alone."""
    return bool(row.status == NumberStatus.PAUSED or (
        row.status == NumberStatus.RESTING and row.state != HealthState.RESTING))


def current_health(row: Any, now: datetime, policy: HealthPolicy | None = None) -> Health:
    """The stored health; a number never judged is healthy as of now, or (with the
    ``policy``) warming from the day it was added while it is new."""
    if row.state is None:
        added = as_added(None, getattr(row, "added_at", None), policy, now) \
            if policy is not None else None
        return added or Health(HealthState.HEALTHY, now)
    return Health(HealthState(row.state), row.since, row.score, tuple(row.reasons or ()))


def _reconciled(conn: Connection, org_id: int, row: Any, now: datetime,
                policy: HealthPolicy) -> tuple[Any, Health]:
    """A number health rested that someone made active again by hand warms up from now."""
    health = current_health(row, now, policy)
    if health.state is HealthState.RESTING and row.status == NumberStatus.ACTIVE:
        health = Health(HealthState.WARMING, now, None, ("made active by hand; warming up",))
        _write(conn, org_id, row.id, health, now, window_since=now, rest_until=None)
        store.add_event(conn, org_id, row.id, from_state=row.state, to_state=health.state,
                        reason=health.reasons[0], at=now, source=MANUAL)
        row = store.HealthRow(*(getattr(row, name) for name in store.HealthRow._fields)
                              )._replace(state=health.state.value, window_since=now)
    return row, health


def _write(conn: Connection, org_id: int, number_id: int, health: Health, now: datetime, *,
           window_since: datetime | None, rest_until: datetime | None) -> None:
    store.save(conn, org_id, number_id, {
        "state": health.state.value, "score": health.score, "reasons": list(health.reasons),
        "since": health.since, "window_since": window_since, "rest_until": rest_until,
        "updated_at": now})


def _apply(conn: Connection, org_id: int, row: Any, current: Health, proposal: Proposal,
           policy: HealthPolicy, now: datetime, source: str) -> Health:
    """Store a proposal: the number's health, its status on a rest or a restore, and an
    event for a change of state. The stored health."""
    new = proposal.health
    if new == current and row.state is not None:
        return current
    resting = new.state is HealthState.RESTING
    if resting and current.state is not HealthState.RESTING and not store.set_status(
            conn, row.id, NumberStatus.RESTING, only_while=NumberStatus.ACTIVE):
        return current  # paused meanwhile: the pause wins
    if current.state is HealthState.RESTING and not resting:
        store.set_status(conn, row.id, NumberStatus.ACTIVE, only_while=NumberStatus.RESTING)
    window_since = now if proposal.restart_window else row.window_since
    rest_until = new.since + timedelta(days=policy.rest_days) if resting else None
    _write(conn, org_id, row.id, new, now, window_since=window_since, rest_until=rest_until)
    if new.state is not current.state:
        store.add_event(conn, org_id, row.id, from_state=row.state, to_state=new.state,
                        reason="; ".join(new.reasons) or str(new.state), at=now,
                        source=source)
    return new


def _pool(conn: Connection, org_id: int, row: Any, own: Health, metrics: Metrics,
          now: datetime, labels: tuple[Label, ...] = ()) -> dict[str, Standing]:
    """The numbers sharing the number's area codes, for the coverage guard. Paused ones
    serve nobody; rested by hand ones count as resting."""
    codes = store.area_codes(conn, [row.id]).get(row.id, frozenset())
    rows = store.serving(conn, org_id, codes) if codes else []
    served = store.area_codes(conn, [r.id for r in rows])
    pool = {row.e164: Standing(own, metrics, codes, labels=labels)}
    for other in rows:
        if other.id == row.id or other.status == NumberStatus.PAUSED:
            continue
        health = current_health(other, now)
        if other.status == NumberStatus.RESTING:
            health = Health(HealthState.RESTING, health.since)
        pool[other.e164] = Standing(health, Metrics(), served.get(other.id, frozenset()),
                                    paused=True)  # counted for coverage, not judged here
    return pool


def judge(conn: Connection, org_id: int, e164: str, now: datetime, *,
          source: str = AUTOMATIC) -> Health | None:
    """Judge one number of the organization afresh and apply what comes of it; its health
    (None: not a held number, or one health leaves alone)."""
    row = store.number(conn, org_id, e164)
    if row is None or _by_hand(row):
        return None
    policy, principal = policy_for(conn, org_id)
    row, current = _reconciled(conn, org_id, row, now, policy)
    metrics = metrics_of(conn, org_id, row, policy, now)
    labels = labels_of(conn, org_id, row)
    proposal = _spare_principal(assess(current, metrics, policy, now, labels=labels),
                                current, e164, principal, now)
    if proposal.rest:
        pool = _pool(conn, org_id, row, current, metrics, now, labels)
        proposal = review(pool, policy, now, only=[e164])[e164]
    return _apply(conn, org_id, row, current, proposal, policy, now, source)


def after_result(conn: Connection, org_id: int, call_id: str, now: datetime, *,
                 caller_id: str | None = None) -> None:
    """Judge the number a call presented (``caller_id``, if the caller knows it), now that
    its result is stored."""
    e164 = caller_id or store.caller_id_of(conn, org_id, call_id)
    if e164 is not None:
        judge(conn, org_id, e164, now)


@dataclass(frozen=True)
class Change:
    number: str
    from_state: str | None
    to_state: str
    reasons: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "reasons": list(self.reasons)}


@dataclass(frozen=True)
class SweepReport:
    judged: int
    changes: list[Change] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"judged": self.judged, "changes": [c.as_dict() for c in self.changes]}


SWEEP_CHUNK = 100  # numbers judged in one short transaction by a sweep


def sweep_org(uow: UnitOfWork, org: str, *, now: datetime) -> SweepReport:
    """Judge every number of the organization, resting (coverage allowing) and restoring
    those whose rest is over; what changed.

    In short transactions, never one long one (on SQLite a transaction holds the write
    lock, and decisions wait for it): the numbers are judged SWEEP_CHUNK at a time, each
    chunk's changes applied at once except rests; then the numbers to rest, worst score
    first, are each judged again in a transaction of their own, as a result would judge
    them (``judge``: the area code's numbers locked, the coverage guard). Restores land
    before any rest, so a number back from rest frees its area code's coverage for them.
    """
    with uow:
        org_id = org_store.org_row(uow.connection, org).id
        policy, principal = policy_for(uow.connection, org_id)
        ids = store.number_ids(uow.connection, org_id)
    judged, changes, to_rest = 0, [], []
    for first in range(0, len(ids), SWEEP_CHUNK):
        with uow:
            conn = uow.connection
            for found in store.numbers_of(conn, org_id, ids=ids[first:first + SWEEP_CHUNK]):
                if found.status == NumberStatus.PAUSED or _by_hand(found):
                    continue
                row, current = _reconciled(conn, org_id, found, now, policy)
                judged += 1
                proposal = _spare_principal(
                    assess(current, metrics_of(conn, org_id, row, policy, now), policy, now,
                           labels=labels_of(conn, org_id, row)),
                    current, row.e164, principal, now)
                if proposal.rest:
                    to_rest.append((proposal.health.score or 0, row.e164))
                    continue
                after = _apply(conn, org_id, row, current, proposal, policy, now, AUTOMATIC)
                if after.state is not current.state:
                    changes.append(Change(row.e164, current.state.value, after.state.value,
                                          after.reasons))
            uow.commit()
    for _, e164 in sorted(to_rest):  # the worst first, as the coverage guard ranks them
        with uow:
            conn = uow.connection
            before = store.number(conn, org_id, e164)
            judged_again = judge(conn, org_id, e164, now)
            uow.commit()
        if before is not None and judged_again is not None \
                and judged_again.state.value != before.state:
            changes.append(Change(e164, before.state, judged_again.state.value,
                                  judged_again.reasons))
    return SweepReport(judged, changes)


def _view(row: Any, now: datetime) -> dict[str, Any]:
    health = current_health(row, now)
    return {"number": row.e164, "status": row.status,
            "state": health.state.value if row.state is not None else None,
            "score": health.score, "reasons": list(health.reasons),
            "since": row.since.isoformat() if row.since else None,
            "rest_until": row.rest_until.isoformat() if row.rest_until else None,
            "summary": health.summary() if row.state is not None else "not judged yet"}


def number_health(uow: UnitOfWork, org: str, raw: str, *, now: datetime) -> dict[str, Any]:
    """One number's health: state, score, reasons, its window's signals and its history."""
    with uow:
        conn = uow.connection
        org_row = org_store.org_row(conn, org)
        e164 = phone.parse_number(raw, org_row.default_country, field="number")
        row = store.number(conn, org_row.id, e164)
        if row is None:
            raise NotFound(f"{e164} is not a number of organization {org!r}", field="number")
        policy, _ = policy_for(conn, org_row.id)
        metrics = metrics_of(conn, org_row.id, row, policy, now)
        history = store.events(conn, org_row.id, row.id)
        labels = label_store.current_labels(conn, org_row.id, row.id)
        label_history = label_store.labels(conn, org_row.id, row.id, limit=50)
    return {**_view(row, now), "window": _signals(metrics),
            "labels": [label_view(label, policy) for label in labels],
            "label_history": [label_view(label, policy) for label in label_history],
            "events": [{"from": e.from_state, "to": e.to_state, "reason": e.reason,
                        "at": e.at.isoformat(), "source": e.source} for e in history]}


def label_view(label: Label, policy: HealthPolicy) -> dict[str, Any]:
    """One reading of a reputation label, as the API and the CLI show it."""
    return {"engine": label.engine, "carrier": label.carrier, "label": label.verdict.value,
            "raw": label.raw, "checked_at": label.checked_at.isoformat(),
            "source": label.source, "flag": label.verdict.value in policy.rest_on_flag}


def _signals(metrics: Metrics) -> dict[str, Any]:
    def share(value: float | None) -> float | None:
        return None if value is None else round(value, 4)
    return {"calls": metrics.calls, "answered": metrics.answered,
            "answer_rate": share(metrics.answer_rate), "short_share": share(metrics.short_share),
            "rejection_share": share(metrics.rejection_share),
            "spam_reports": metrics.spam_reports,
            "last_608_at": metrics.last_608_at.isoformat() if metrics.last_608_at else None}


def org_health(uow: UnitOfWork, org: str, *, now: datetime) -> dict[str, Any]:
    """The organization's summary: how many numbers in each state, and those resting or
    watched with their reasons."""
    with uow:
        conn = uow.connection
        org_id = org_store.org_row(conn, org).id
        counts = store.counts_by_state(conn, org_id)
        resting = store.numbers_of(conn, org_id, state=HealthState.RESTING)
        watched = store.numbers_of(conn, org_id, state=HealthState.WATCH)
    states = {state.value: counts.get(state.value, 0) for state in HealthState}
    return {"org": org, "numbers": sum(counts.values()), "states": states,
            "not_judged": counts.get(None, 0),
            "resting": [_view(r, now) for r in resting],
            "watch": [_view(r, now) for r in watched]}


def health_column(uow: UnitOfWork, org: str, e164s: list[str]) -> dict[str, dict[str, Any]]:
    """State and score of those of the numbers that were judged, by number (listings)."""
    with uow:
        conn = uow.connection
        org_id = org_store.org_row(conn, org).id
        rows = store.health_of(conn, org_id, e164s)
    return {r.e164: {"state": r.state, "score": r.score,
                     "summary": current_health(r, r.updated_at).summary()} for r in rows}
