"""One pure judgement of a call against every compliance rule, and when it may be tried.

``evaluate`` reads the policy (the organization's rules with the project's, and their
enabled packs), where the callee is, the person's recent calls and the do-not-call
answer, and returns a ``Verdict``: allowed or refused, the rule that refused with its
pack and source, the callee's local time in each candidate zone, ``next_allowed_at``
(the earliest instant from ``now`` at which the call passes every rule) and trace lines.

Order: an emergency call always passes; a number on a do-not-call list, or reassigned
since the contact's consent, is refused and never passes later (consent does not lift
it); a consented/urgent call passes the time
rules (windows, holidays), which the trace records; frequency caps always count.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from callsign.domain.compliance.caps import RecentCall, evaluate_cap, scope_words
from callsign.domain.compliance.dnc import DoNotCall as DoNotCall
from callsign.domain.compliance.hours import DAY_NAMES
from callsign.domain.compliance.policy import CompliancePolicy
from callsign.domain.compliance.reassigned import RULE as REASSIGNED
from callsign.domain.compliance.reassigned import SOURCE as REASSIGNED_SOURCE
from callsign.domain.compliance.reassigned import Consent, judge
from callsign.domain.compliance.rules import (
    CapRule,
    HolidayRule,
    Pack,
    Rule,
    Source,
    TimeRule,
    WindowRule,
)
from callsign.domain.compliance.zones import CalleePlace
from callsign.domain.trace import TraceStep

HORIZON = timedelta(days=42)  # how far ahead next_allowed_at is looked for
_CHUNK = timedelta(days=3)  # looked for a few days at a time: the answer is usually near
DO_NOT_CALL = "do_not_call"
REGISTRY = "do_not_call.registry"  # the national registry, from the organization's scrub files
REGISTRY_SOURCE = Source(
    "the National Do Not Call Registry: 47 C.F.R. § 64.1200(c)(2), 16 C.F.R. § 310.4(b)(1)(iii)(B)",
    "https://www.ecfr.gov/current/title-47/chapter-I/subchapter-B/part-64/subpart-L/section-64.1200")


@dataclass(frozen=True)
class ComplianceCall:
    """The call being judged: where the callee is and what the call is about."""

    place: CalleePlace
    subject: str | None = None  # the subject matter or debt, for caps per subject
    project: str | None = None
    consented: bool = False  # documented consent, or urgent: passes the time rules
    emergency: bool = False  # always passes
    do_not_call: DoNotCall | None = None  # None: the check found the number not listed
    registry: DoNotCall | None = None  # the national registry's entry, from a scrub file
    consent: Consent | None = None  # the contact's consent date and its reassigned lookup


@dataclass(frozen=True)
class Refusal:
    """One rule that refuses the call now, and why in words."""

    rule: str
    pack: str | None
    pack_version: str | None
    source: Source
    reason: str


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    refusals: tuple[Refusal, ...]  # every rule that refuses now; the first is "the rule"
    local_times: tuple[datetime, ...]  # now, in each candidate zone
    next_allowed_at: datetime | None  # now when allowed; None: never (do-not-call) or
    trace: tuple[TraceStep, ...]  # not within HORIZON

    @property
    def refusal(self) -> Refusal | None:
        return self.refusals[0] if self.refusals else None

    def as_dict(self) -> dict[str, Any]:
        """The verdict as JSON values, for the REST error, the CLI and the explorer."""
        first = self.refusal
        return {
            "allowed": self.allowed,
            "rule": first.rule if first else None,
            "pack": first.pack if first else None,
            "pack_version": first.pack_version if first else None,
            "source": ({"citation": first.source.citation, "url": first.source.url}
                       if first else None),
            "reason": first.reason if first else None,
            "local_times": [t.isoformat() for t in self.local_times],
            "next_allowed_at": (self.next_allowed_at.astimezone(UTC).isoformat()
                                if self.next_allowed_at else None),
            "refusals": [r.rule for r in self.refusals],
            "trace": [step.as_dict() for step in self.trace],
        }

    def message(self) -> str:
        """The refusal in one line: the rule, its source, the local time, when to retry."""
        first = self.refusal
        if first is None:
            return "allowed"
        pack = f"pack {first.pack} {first.pack_version}, " if first.pack else ""
        retry = (f"; next allowed at {self.next_allowed_at.astimezone(UTC):%Y-%m-%dT%H:%MZ}"
                 if self.next_allowed_at else "; not allowed at any time ahead")
        return f"{first.rule} ({pack}{first.source.citation}): {first.reason}{retry}"


@dataclass(frozen=True)
class _Applicable:
    """The rules that apply to callees of one kind of place, with their trace words."""

    time_rules: tuple[tuple[TimeRule, Pack | None, str], ...]  # (rule, pack, "within …")
    caps: tuple[tuple[CapRule, Pack | None], ...]
    trace: tuple[TraceStep, ...]  # which packs apply, and why


def evaluate(policy: CompliancePolicy, call: ComplianceCall, recent: Sequence[RecentCall],
             now: datetime) -> Verdict:
    """Judge ``call`` at ``now`` (timezone-aware) against every rule that applies."""
    zones = [ZoneInfo(z) for z in call.place.zones]
    local_times = tuple(now.astimezone(z) for z in zones)
    local_text = _local(local_times)
    trace = [TraceStep("compliance.zones", "checked",
                       f"callee's candidate zones: {call.place.describe()}; local time "
                       f"{local_text}")]
    if call.emergency:
        trace.append(TraceStep("compliance", "passed", "an emergency call: every compliance "
                                                       "rule passes"))
        return Verdict(True, (), local_times, now, tuple(trace))
    listed = [r for r in (_do_not_call(call.do_not_call), _registry(call.registry)) if r]
    reading = judge(call.consent)
    if reading is not None and reading.refuses:
        listed.append(Refusal(REASSIGNED, None, None, REASSIGNED_SOURCE, reading.words))
    elif reading is not None:
        trace.append(TraceStep(REASSIGNED, "checked", reading.words))
    if listed:
        trace.extend(TraceStep(r.rule, "checked", f"refused: {r.reason}") for r in listed)
        return Verdict(False, tuple(listed), local_times, None, tuple(trace))
    applicable = _applicable(policy, call.place)
    trace.extend(applicable.trace)
    refusals = [*_time_refusals(applicable, call, local_times, local_text, trace)]
    cap_refusals, earliest = _cap_refusals(applicable, call, recent, now, trace)
    refusals.extend(cap_refusals)
    if not refusals:
        return Verdict(True, (), local_times, now, tuple(trace))
    rules = [] if call.consented else [r for r, _, _ in applicable.time_rules]
    next_at = earliest_open(rules, zones, call.place, max(now, earliest))
    trace.append(TraceStep("compliance", "checked", "refused; " + (
        f"next allowed at {_local(tuple(next_at.astimezone(z) for z in zones))}"
        if next_at else f"no time within {HORIZON.days} days passes every rule")))
    return Verdict(False, tuple(refusals), local_times, next_at, tuple(trace))


def _do_not_call(entry: DoNotCall | None) -> Refusal | None:
    if entry is None:
        return None
    added = f" on {entry.added.isoformat()}" if entry.added else ""
    via = f" ({entry.source})" if entry.source else ""
    return Refusal(DO_NOT_CALL, None, None, Source(f"the {entry.list_name} do-not-call list"),
                   f"the number is on the {entry.list_name} do-not-call list{via}, added"
                   f"{added or ' earlier'}; consent does not lift it")


def _registry(entry: DoNotCall | None) -> Refusal | None:
    """A number the national registry lists, as the organization's scrub file said."""
    if entry is None:
        return None
    via = f"scrub file {entry.source}" if entry.source else "a scrub file"
    of = f" of {entry.added.isoformat()}" if entry.added else ""
    return Refusal(REGISTRY, None, None, REGISTRY_SOURCE,
                   f"the number is on the national do-not-call registry ({via}{of}); "
                   "consent does not lift it")


def _applicable(policy: CompliancePolicy, place: CalleePlace) -> _Applicable:
    """The rules for ``place``: the same for every callee whose country and states are the
    same, so kept in the policy's memo (a pure function's, read on every call)."""
    key = (place.country, place.state, place.area_code_state, place.contact_state is None)
    found: _Applicable | None = policy.memo.get(key)
    if found is None:
        found = policy.memo[key] = _applicable_to(policy, place)
    return found


def _applicable_to(policy: CompliancePolicy, place: CalleePlace) -> _Applicable:
    rules: list[tuple[Rule, Pack | None]] = [(r, None) for r in policy.rules]
    trace = []
    for pack in policy.packs:
        reason = pack.applies.reason(place)
        if reason is None:
            trace.append(TraceStep(f"pack.{pack.id}", "passed",
                                   f"{pack.title} ({pack.version}) does not apply: the "
                                   f"callee is not in {_where(pack)}"))
            continue
        trace.append(TraceStep(f"pack.{pack.id}", "checked",
                               f"{pack.title} ({pack.version}) applies: {reason}"))
        rules.extend((r, pack) for r in pack.rules)
    return _Applicable(
        tuple((r, p, _inside_words(r)) for r, p in rules
              if isinstance(r, WindowRule | HolidayRule)),
        tuple((r, p) for r, p in rules if isinstance(r, CapRule)), tuple(trace))


def _where(pack: Pack) -> str:
    return ", ".join(pack.applies.states) if pack.applies.states else pack.applies.country


def _time_refusals(applicable: _Applicable, call: ComplianceCall,
                   local_times: tuple[datetime, ...], local_text: str,
                   trace: list[TraceStep]) -> Iterator[Refusal]:
    for rule, pack, inside in applicable.time_rules:
        outside = [(t, why) for t in local_times
                   if (why := _closed_why(rule, t, call.place)) is not None]
        if not outside:
            trace.append(TraceStep(rule.id, "checked", f"{local_text} is {inside}"))
            continue
        reason = "; ".join(f"the callee's local time {_local((t,))} is {why}"
                           for t, why in outside)
        if call.consented:
            trace.append(TraceStep(rule.id, "checked",
                                   f"{reason}; allowed: consented/urgent"))
            continue
        trace.append(TraceStep(rule.id, "checked", f"refused: {reason}"))
        yield _refusal(rule, pack, reason)


def _cap_refusals(applicable: _Applicable, call: ComplianceCall, recent: Sequence[RecentCall],
                  now: datetime, trace: list[TraceStep]) -> tuple[list[Refusal], datetime]:
    refusals: list[Refusal] = []
    earliest = now
    for rule, pack in applicable.caps:
        verdict = evaluate_cap(rule.cap, recent, now, call.subject, call.project)
        counted = f"{verdict.counted} counted ({scope_words(rule.cap, call.subject)})"
        if verdict.allowed:
            trace.append(TraceStep(rule.id, "checked", f"{counted}: within {rule.cap}"))
            continue
        assert verdict.frees_at is not None
        earliest = max(earliest, verdict.frees_at)
        reason = (f"{counted}, {rule.cap}; the oldest counted call leaves the window at "
                  f"{verdict.frees_at.astimezone(UTC):%Y-%m-%dT%H:%MZ}")
        trace.append(TraceStep(rule.id, "checked", f"refused: {reason}"))
        refusals.append(_refusal(rule, pack, reason))
    return refusals, earliest


def _refusal(rule: Rule, pack: Pack | None, reason: str) -> Refusal:
    return Refusal(rule.id, pack.id if pack else None, pack.version if pack else None,
                   rule.source, reason)


def _closed_why(rule: TimeRule, local: datetime, place: CalleePlace) -> str | None:
    """Why ``rule`` closes ``local`` (a wall-clock time in one zone), or None if open."""
    if isinstance(rule, WindowRule):
        if rule.hours.allows(local):
            return None
        return f"outside {rule.hours.describe_day(local.weekday())} on {DAY_NAMES[local.weekday()]}"
    name = rule.calendar.holiday(local.date(), place.country, place.state)
    return f"on a holiday ({name})" if name else None


def _inside_words(rule: TimeRule) -> str:
    if isinstance(rule, WindowRule):
        return f"within {rule.hours}"
    return f"not on one of the {rule.calendar}"


def _local(times: Iterable[datetime]) -> str:
    return ", ".join(f"{DAY_NAMES[t.weekday()]} {t.year:04d}-{t.month:02d}-{t.day:02d} "
                     f"{t.hour:02d}:{t.minute:02d} {t.tzinfo}" for t in times)


def is_open(rules: Sequence[TimeRule], zones: Sequence[ZoneInfo], place: CalleePlace,
            at: datetime) -> bool:
    """Whether every time rule allows a call at ``at`` in every zone."""
    for zone in zones:
        local = at.astimezone(zone)
        if any(_closed_why(rule, local, place) is not None for rule in rules):
            return False
    return True


def earliest_open(rules: Sequence[TimeRule], zones: Sequence[ZoneInfo], place: CalleePlace,
                  start: datetime) -> datetime | None:
    """The earliest instant from ``start`` at which every time rule allows a call in every
    zone, or None if there is none within ``HORIZON``.

    The open instants are a union of intervals, each opening where some zone's local
    window starts, a local day starts (after a holiday), or a zone's clock changes; so
    only ``start`` and those instants need checking, in order.
    """
    if is_open(rules, zones, place, start):
        return start
    end = start + HORIZON
    chunk_start = start
    while chunk_start < end:
        chunk_end = min(chunk_start + _CHUNK, end)
        for at in sorted(_openings(rules, zones, chunk_start, chunk_end)):
            if is_open(rules, zones, place, at):
                return at
        chunk_start = chunk_end
    return None


def _openings(rules: Sequence[TimeRule], zones: Sequence[ZoneInfo], start: datetime,
              end: datetime) -> set[datetime]:
    """Instants in ``(start, end]`` where a zone's allowed time may begin."""
    found: set[datetime] = set()
    windows = [r.hours for r in rules if isinstance(r, WindowRule)]
    for zone in zones:
        day = start.astimezone(zone).date() - timedelta(days=1)
        last = end.astimezone(zone).date() + timedelta(days=1)
        while day <= last:
            minutes = {0} | {i.start for w in windows for i in w.days[day.weekday()]}
            for minute in minutes:
                wall = datetime(day.year, day.month, day.day, minute // 60, minute % 60)
                for fold in (0, 1):  # both instants of a wall time a fall-back repeats
                    found.add(wall.replace(tzinfo=zone, fold=fold).astimezone(UTC))
            day += timedelta(days=1)
        found.update(transitions(zone, start, end))
    return {t for t in found if start < t <= end}


def transitions(zone: ZoneInfo, start: datetime, end: datetime) -> Iterator[datetime]:
    """The instants in ``(start, end]`` at which ``zone``'s UTC offset changes."""
    at = start.astimezone(UTC)
    while at < end:
        step = min(at + timedelta(hours=12), end)
        if at.astimezone(zone).utcoffset() != step.astimezone(zone).utcoffset():
            yield _change_between(zone, at, step)
        at = step


def _change_between(zone: ZoneInfo, low: datetime, high: datetime) -> datetime:
    """The first instant of ``high``'s offset, found by halving (to the second)."""
    target = high.astimezone(zone).utcoffset()
    while high - low > timedelta(seconds=1):
        middle = low + (high - low) / 2
        if middle.astimezone(zone).utcoffset() == target:
            high = middle
        else:
            low = middle
    return high.replace(microsecond=0)
