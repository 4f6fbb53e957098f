"""What a number's release takes from the organization's settings (SPEC 5). Pure.

Users and projects name numbers (a caller ID, a direct number, allowed caller IDs, a
pool, a first-call number, outcome numbers). A number that is named may be released
only with force; then every setting forgets it, and a project whose first call used it
falls back to ``random``, as SPEC 3.2 does for a first-call number no longer
presentable. The principal number is never released: it is every call's last resort.
The store reads these values, asks here, and writes back what changed.

A number presented as a caller ID lately is guarded too: callbacks and do-not-call
requests still reach it, so within the organization's ``release_guard_days`` of its last
presentation it is released only with force (0 turns the guard off).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from callsign.domain.errors import Conflict
from callsign.domain.model import Logic


@dataclass(frozen=True)
class UserNumbers:
    """The numbers one user's settings name."""

    id: str
    caller_id: str | None = None
    direct_number: str | None = None
    allowed_caller_ids: tuple[str, ...] = ()

    def names(self, number: str) -> list[str]:
        """Which of the user's settings name ``number``, in words."""
        return [f"user {self.id}'s {what}" for what, named in (
            ("caller ID", self.caller_id == number),
            ("direct number", self.direct_number == number),
            ("allowed caller IDs", number in self.allowed_caller_ids)) if named]

    def without(self, number: str) -> UserNumbers:
        """The user's settings with ``number`` forgotten."""
        return UserNumbers(
            id=self.id,
            caller_id=None if self.caller_id == number else self.caller_id,
            direct_number=None if self.direct_number == number else self.direct_number,
            allowed_caller_ids=tuple(n for n in self.allowed_caller_ids if n != number))


@dataclass(frozen=True)
class ProjectNumbers:
    """The numbers one project's settings name."""

    id: str
    pool: tuple[str, ...] = ()
    first_call: str = Logic.RANDOM  # a Logic, or one pool number
    outcome_numbers: Mapping[str, str] = field(default_factory=dict)

    def names(self, number: str) -> list[str]:
        """Which of the project's settings name ``number``, in words."""
        found = []
        if number in self.pool:
            found.append(f"project {self.id}'s pool")
        if self.first_call == number:
            found.append(f"project {self.id}'s first call")
        found.extend(f"project {self.id}'s number for outcome {outcome}"
                     for outcome, named in sorted(self.outcome_numbers.items())
                     if named == number)
        return found

    def without(self, number: str) -> ProjectNumbers:
        """The project's settings with ``number`` forgotten: a first call falls back to random."""
        return ProjectNumbers(
            id=self.id,
            pool=tuple(n for n in self.pool if n != number),
            first_call=Logic.RANDOM if self.first_call == number else self.first_call,
            outcome_numbers={k: v for k, v in self.outcome_numbers.items() if v != number})


@dataclass(frozen=True)
class Forgotten:
    """The settings that change when a number goes: only those that named it."""

    agent_leg: bool  # the organization's agent-leg number was it: now none
    users: tuple[UserNumbers, ...]
    projects: tuple[ProjectNumbers, ...]


def what_names(
    number: str, *, agent_leg_number: str | None, users: Iterable[UserNumbers],
    projects: Iterable[ProjectNumbers],
) -> list[str]:
    """Every setting that names ``number``, in words: the agent leg, users, projects."""
    found = ["the organization's agent-leg number"] if agent_leg_number == number else []
    for user in users:
        found.extend(user.names(number))
    for project in projects:
        found.extend(project.names(number))
    return found


def refuse_principal(number: str, *, principal_number: str, action: str) -> None:
    """Conflict when ``number`` is the principal: it cannot stop being presentable."""
    if number == principal_number:
        raise Conflict(f"{number} is the organization's principal number (principal_number); "
                       f"make another number the principal before you {action} it",
                       field="number")


def check_release(number: str, *, principal_number: str, named: Sequence[str],
                  force: bool) -> None:
    """Conflict for the principal, and for a number that ``named`` settings use unless
    ``force``."""
    refuse_principal(number, principal_number=principal_number, action="release")
    if named and not force:
        raise Conflict(f"{number} is in use: {'; '.join(named)}; release it with force to "
                       "clear them", field="number")


DEFAULT_RELEASE_GUARD_DAYS = 30
MAX_RELEASE_GUARD_DAYS = 3650
FORCE_HOW = ("--force (CLI), ?force=true (REST) or the admin's \"release even if presented "
             "lately\" box")


def _when(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def presented_lately(last_presented: datetime | None, *, guard_days: int,
                     now: datetime) -> bool:
    """Whether a number last presented at ``last_presented`` is within the release guard."""
    return (guard_days > 0 and last_presented is not None
            and last_presented > now - timedelta(days=guard_days))


def check_recent(number: str, *, last_presented: datetime | None, guard_days: int,
                 now: datetime, force: bool) -> None:
    """Conflict for a number presented within the last ``guard_days`` days, unless
    ``force``: callbacks and do-not-call requests still reach it."""
    if force or not presented_lately(last_presented, guard_days=guard_days, now=now):
        return
    assert last_presented is not None
    raise Conflict(
        f"{number} was last presented as a caller ID at "
        f"{_when(last_presented)}, within the release guard of "
        f"{guard_days} days (release_guard_days): callbacks and do-not-call requests still "
        f"reach it; release it with force to release it anyway: {FORCE_HOW}",
        field="number")


def check_left_out(last_presented: Mapping[str, datetime | None], *, guard_days: int,
                   now: datetime) -> None:
    """Conflict when a document leaves out numbers presented within the release guard
    (``last_presented``: each left-out number's last presentation)."""
    lately = [f"{number} (last presented {_when(at)})"
              for number, at in sorted(last_presented.items())
              if at is not None and presented_lately(at, guard_days=guard_days, now=now)]
    if lately:
        raise Conflict(
            f"the document leaves out {', '.join(lately)}, presented as caller IDs within "
            f"the release guard of {guard_days} days (release_guard_days): callbacks and "
            "do-not-call requests still reach them; keep them in the document, or apply it "
            "with force to release them anyway: callsign apply --force (CLI), "
            "PUT /v1/config?force=true (REST)", field="numbers")


def forced_past(number: str, *, last_presented: datetime | None, guard_days: int,
                now: datetime, named: Sequence[str]) -> str:
    """What a forced release went past, in words (empty: nothing needed the force)."""
    past = list(named)
    if presented_lately(last_presented, guard_days=guard_days, now=now):
        assert last_presented is not None
        past.insert(0, f"presented {_when(last_presented)}, within "
                       f"the release guard of {guard_days} days")
    return f"forced release of {number}: {'; '.join(past)}" if past else ""


def forget(
    number: str, *, agent_leg_number: str | None, users: Iterable[UserNumbers],
    projects: Iterable[ProjectNumbers],
) -> Forgotten:
    """What the organization's settings become when ``number`` goes."""
    return Forgotten(
        agent_leg=agent_leg_number == number,
        users=tuple(user.without(number) for user in users if user.names(number)),
        projects=tuple(project.without(number) for project in projects
                       if project.first_call == number
                       or number in project.outcome_numbers.values()
                       or number in project.pool))
