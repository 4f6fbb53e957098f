"""Reputation labels (SPEC 9): what the carriers' analytics engines show for a number.

Each engine labels a number on its own network: Hiya for AT&T, TNS for Verizon, First
Orion for T-Mobile; a number can be flagged on one and clean on another. A ``Label`` is
one reading (engine, carrier, the normalised ``verdict`` and the raw text, when it was
checked, where it came from); a number's labels are kept with their history, and the
latest reading of each engine is its current label.

A flag (a verdict the policy names in ``rest_on_flag``) rests a number; a clean re-check
of every engine that flagged it, or the rest days, restores it (``flag_restore``). See
``docs/reputation.md``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class Verdict(StrEnum):
    """The normalised label; the engine's own words are kept beside it."""

    CLEAN = "clean"
    SPAM_LIKELY = "spam_likely"
    SCAM_LIKELY = "scam_likely"
    NUISANCE = "nuisance"
    OTHER = "other"  # a category that is no flag by itself ("Political", "Survey")


FLAGGABLE = frozenset(v.value for v in Verdict if v is not Verdict.CLEAN)
DEFAULT_REST_ON_FLAG = (Verdict.SPAM_LIKELY.value, Verdict.SCAM_LIKELY.value)


class FlagRestore(StrEnum):
    """What brings back a number a flag rested."""

    CLEAN_CHECK = "clean_check"  # only a clean re-check of every engine that flagged it
    REST_DAYS = "rest_days"  # only the rest days, like any rest
    EITHER = "either"  # whichever comes first


# Each US engine and the carrier whose network shows its labels (issue 13's facts).
ENGINES = {"hiya": ("Hiya", "AT&T"), "tns": ("TNS", "Verizon"),
           "first orion": ("First Orion", "T-Mobile")}
_CARRIERS = {"at&t": "hiya", "att": "hiya", "at and t": "hiya", "verizon": "tns",
             "verizon wireless": "tns", "t-mobile": "first orion", "tmobile": "first orion",
             "t mobile": "first orion"}
_ENGINE_ALIASES = {"firstorion": "first orion", "transaction network services": "tns"}

_CLEAN_WORDS = frozenset({"clean", "no label", "not labeled", "not labelled", "unlabeled",
                          "unlabelled", "none", "ok", "not flagged", "no flag", "good",
                          "no risk", "low risk", "unflagged"})


def _words(text: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9&]+", " ", text.lower()).split())


def verdict_of(raw: str) -> Verdict:
    """The normalised verdict of an engine's label text (``Spam Likely`` → spam_likely)."""
    words = _words(raw)
    if words in _CLEAN_WORDS or words.replace(" ", "_") == Verdict.CLEAN:
        return Verdict.CLEAN
    if "scam" in words or "fraud" in words:
        return Verdict.SCAM_LIKELY
    if "spam" in words or "robocall" in words:
        return Verdict.SPAM_LIKELY
    if "nuisance" in words or "telemarket" in words:
        return Verdict.NUISANCE
    return Verdict.OTHER


def engine_of(engine: str | None, carrier: str | None) -> tuple[str, str | None]:
    """The engine's display name and its carrier, from either or both (free text kept):
    ``("hiya", None)`` → ``("Hiya", "AT&T")``; ``(None, "Verizon")`` → ``("TNS",
    "Verizon")``; an unknown carrier alone names the engine."""
    given_engine = (engine or "").strip()
    given_carrier = (carrier or "").strip() or None
    key = _words(given_engine)
    key = _ENGINE_ALIASES.get(key, key)
    if key in ENGINES:
        name, known_carrier = ENGINES[key]
        return name, given_carrier or known_carrier
    if given_engine:
        return given_engine, given_carrier
    by_carrier = _CARRIERS.get(_words(given_carrier or ""))
    if by_carrier is not None:
        return ENGINES[by_carrier][0], given_carrier
    return given_carrier or "", given_carrier


def engine_key(engine: str) -> str:
    """The key under which an engine's readings are one history (case and spacing aside)."""
    return _words(engine)


@dataclass(frozen=True)
class Label:
    """One reading of a number's label by one engine."""

    engine: str
    carrier: str | None
    verdict: Verdict
    raw: str
    checked_at: datetime
    source: str = "api"

    @property
    def key(self) -> str:
        return engine_key(self.engine)

    def by(self) -> str:
        """``Hiya (AT&T)``, or the engine alone."""
        return f"{self.engine} ({self.carrier})" if self.carrier and \
            engine_key(self.carrier) != self.key else self.engine

    def shown(self) -> str:
        """The label as the engine shows it (its own words, else the verdict)."""
        return self.raw.strip() or self.verdict.value.replace("_", " ").title()


def current(labels: Iterable[Label], *, as_of: datetime | None = None) -> dict[str, Label]:
    """The latest reading of each engine (checked at or before ``as_of``, if given)."""
    latest: dict[str, Label] = {}
    for label in labels:
        if as_of is not None and label.checked_at > as_of:
            continue
        seen = latest.get(label.key)
        if seen is None or label.checked_at >= seen.checked_at:
            latest[label.key] = label
    return latest


def flags(labels: Iterable[Label], rest_on_flag: Sequence[str], *,
          as_of: datetime | None = None) -> list[Label]:
    """The engines' current labels that are flags, by engine."""
    return sorted((label for label in current(labels, as_of=as_of).values()
                   if label.verdict.value in rest_on_flag), key=lambda lb: lb.key)


def flag_words(label: Label) -> str:
    """``labelled Spam Likely by Hiya (AT&T) on 11-28``."""
    return f"labelled {label.shown()} by {label.by()} on {label.checked_at:%m-%d}"


def flag_reasons(labels: Sequence[Label], rest_on_flag: Sequence[str]) -> list[str]:
    """Each flag that rests the number, in words."""
    return [flag_words(label) for label in flags(labels, rest_on_flag)]


@dataclass(frozen=True)
class FlagRest:
    """How a resting number's labels stand: the engines that flag it (then or now), and
    whether each was re-checked clean since the rest began."""

    flagged_by: tuple[Label, ...] = ()  # the flags as the rest began, or since
    cleared_by: tuple[Label, ...] = ()  # re-checks since the rest began that flag no more
    still_flagged: bool = False

    @property
    def flagged(self) -> bool:
        return bool(self.flagged_by)

    @property
    def cleared(self) -> bool:
        return self.flagged and not self.still_flagged and \
            len(self.cleared_by) == len({lb.key for lb in self.flagged_by})


def flag_rest(labels: Sequence[Label], rest_on_flag: Sequence[str],
              rested_at: datetime) -> FlagRest:
    """How the labels stand for a number resting since ``rested_at``."""
    then = {lb.key: lb for lb in flags(labels, rest_on_flag, as_of=rested_at)}
    now = {lb.key: lb for lb in flags(labels, rest_on_flag)}
    flagged = {**then, **now}
    latest = current(labels)
    cleared = tuple(latest[key] for key in sorted(flagged)
                    if key not in now and latest[key].checked_at > rested_at)
    return FlagRest(tuple(flagged[key] for key in sorted(flagged)), cleared, bool(now))


def cleared_words(cleared: Sequence[Label]) -> str:
    """``re-checked clean by Hiya (AT&T) on 12-02``."""
    return "re-checked clean by " + ", ".join(
        f"{label.by()} on {label.checked_at:%m-%d}" for label in cleared)
