"""How many leading digits decide a NANP number's fate, read from libphonenumber's metadata.

libphonenumber decides whether a NANP number is valid, and for which country, with
regular expressions (each region's number patterns, leading digits, national-prefix and
international-prefix rules). Those patterns only ever look at a number's first few
digits; every later digit is free (``\\d``). ``decisive_length(npa)`` walks every such
pattern, keeping only the branches that agree with ``npa``, and returns the position
after the last digit any of them constrains: two numbers of that NPA sharing that many
leading digits get the same verdict from libphonenumber, whatever their remaining
digits. A pattern this module cannot read counts as constraining every digit, so the
caller falls back to a full parse rather than trusting a prefix.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import TypeAlias

import phonenumbers

NANP_COUNTRY_CODE = 1
NATIONAL_LENGTH = 10
_DIGITS = frozenset("0123456789")
_LONGEST = NATIONAL_LENGTH + 1  # the national number with its leading "1"
_DESCRIPTIONS = ("general_desc", "fixed_line", "mobile", "toll_free", "premium_rate",
                 "shared_cost", "personal_number", "voip", "pager", "uan", "voicemail",
                 "no_international_dialling")


class UnreadablePattern(ValueError):
    """A pattern uses regular-expression syntax this module does not analyse."""


@dataclass(frozen=True)
class _Digit:
    allowed: frozenset[str]


@dataclass(frozen=True)
class _End:
    """``$``: constrains the length, which is fixed for the numbers analysed here."""


@dataclass(frozen=True)
class _Repeat:
    node: _Node
    least: int
    most: int


@dataclass(frozen=True)
class _Either:
    branches: tuple[tuple[_Node, ...], ...]


_Node: TypeAlias = "_Digit | _End | _Repeat | _Either"


class _Reader:
    """A recursive-descent reader of the regular-expression subset the metadata uses:
    digits, ``\\d``, classes with ranges, groups, ``|``, ``?``, ``{n}``, ``{n,m}``, ``$``."""

    def __init__(self, pattern: str) -> None:
        self.text = pattern
        self.at = 0

    def read(self) -> _Either:
        either = self._alternatives()
        if self.at != len(self.text):
            raise UnreadablePattern(self.text)
        return either

    def _peek(self) -> str:
        return self.text[self.at] if self.at < len(self.text) else ""

    def _take(self, expected: str) -> None:
        if not self.text.startswith(expected, self.at):
            raise UnreadablePattern(self.text)
        self.at += len(expected)

    def _alternatives(self) -> _Either:
        branches = [self._sequence()]
        while self._peek() == "|":
            self.at += 1
            branches.append(self._sequence())
        return _Either(tuple(branches))

    def _sequence(self) -> tuple[_Node, ...]:
        nodes: list[_Node] = []
        while self._peek() not in ("", "|", ")"):
            nodes.append(self._quantified(self._atom()))
        return tuple(nodes)

    def _atom(self) -> _Node:
        char = self._peek()
        if char == "(":
            self._take("(?:" if self.text.startswith("(?:", self.at) else "(")
            inner = self._alternatives()
            self._take(")")
            return inner
        if char == "[":
            return self._class()
        if char == "$":
            self.at += 1
            return _End()
        if char == "\\":
            self._take("\\d")
            return _Digit(_DIGITS)
        if char in _DIGITS:
            self.at += 1
            return _Digit(frozenset(char))
        raise UnreadablePattern(self.text)

    def _class(self) -> _Digit:
        self._take("[")
        allowed: set[str] = set()
        while self._peek() != "]":
            if self.text.startswith("\\d", self.at):
                self.at += 2
                allowed |= _DIGITS
                continue
            low = self._peek()
            if low not in _DIGITS:
                raise UnreadablePattern(self.text)
            self.at += 1
            high = low
            if self._peek() == "-":
                self.at += 1
                high = self._peek()
                if high not in _DIGITS or high < low:
                    raise UnreadablePattern(self.text)
                self.at += 1
            allowed.update(str(d) for d in range(int(low), int(high) + 1))
        self._take("]")
        return _Digit(frozenset(allowed))

    def _quantified(self, node: _Node) -> _Node:
        if self._peek() == "?":
            self.at += 1
            return _Repeat(node, 0, 1)
        if self._peek() != "{":
            return node
        close = self.text.find("}", self.at)
        if close < 0:
            raise UnreadablePattern(self.text)
        bounds = self.text[self.at + 1:close].split(",")
        if len(bounds) > 2 or not all(b.isascii() and b.isdigit() for b in bounds):
            raise UnreadablePattern(self.text)
        self.at = close + 1
        return _Repeat(node, int(bounds[0]), int(bounds[-1]))


def _walk(node: _Node, starts: frozenset[int], known: str, reach: list[int]) -> frozenset[int]:
    """The positions ``node`` can end at from ``starts`` on a string beginning ``known``.

    Branches that contradict ``known`` die; ``reach[0]`` grows to the end of the last
    digit a surviving branch constrains.
    """
    if isinstance(node, _End):
        return starts
    if isinstance(node, _Digit):
        return _walk_digit(node, starts, known, reach)
    if isinstance(node, _Repeat):
        return _walk_repeat(node, starts, known, reach)
    return _walk_either(node, starts, known, reach)


def _walk_digit(node: _Digit, starts: frozenset[int], known: str,
                reach: list[int]) -> frozenset[int]:
    ends = set()
    for at in starts:
        if at >= _LONGEST:
            continue
        if node.allowed != _DIGITS:
            if at < len(known) and known[at] not in node.allowed:
                continue
            reach[0] = max(reach[0], at + 1)
        ends.add(at + 1)
    return frozenset(ends)


def _walk_repeat(node: _Repeat, starts: frozenset[int], known: str,
                 reach: list[int]) -> frozenset[int]:
    found = starts if node.least == 0 else frozenset()
    current = starts
    for count in range(1, min(node.most, _LONGEST) + 1):
        current = _walk(node.node, current, known, reach)
        if not current:
            break
        if count >= node.least:
            found |= current
    return found


def _walk_either(node: _Either, starts: frozenset[int], known: str,
                 reach: list[int]) -> frozenset[int]:
    ends_of_all: frozenset[int] = frozenset()
    for branch in node.branches:
        current = starts
        for part in branch:
            if not current:
                break
            current = _walk(part, current, known, reach)
        ends_of_all |= current
    return ends_of_all


@cache
def _nanp_patterns() -> tuple[_Either, ...] | None:
    """Every pattern libphonenumber may apply to a NANP number while parsing and
    validating it; None when one of them is unreadable."""
    texts: set[str] = set()
    for region in phonenumbers.region_codes_for_country_code(NANP_COUNTRY_CODE):
        metadata = phonenumbers.PhoneMetadata.metadata_for_region(region)
        if metadata is None:
            return None
        texts.update(p for p in (metadata.leading_digits, metadata.international_prefix,
                                 metadata.national_prefix_for_parsing) if p)
        for name in _DESCRIPTIONS:
            description = getattr(metadata, name)
            if description is not None and description.national_number_pattern:
                texts.add(description.national_number_pattern)
    try:
        return tuple(_Reader(text).read() for text in sorted(texts))
    except UnreadablePattern:
        return None


@cache
def decisive_length(npa: str) -> int:
    """How many leading digits of a 10-digit national number starting with ``npa``
    decide libphonenumber's verdict on it (parsed bare, after a "1" or after "+1")."""
    patterns = _nanp_patterns()
    if patterns is None:
        return NATIONAL_LENGTH
    longest = len(npa)
    for pattern in patterns:
        # Parsing also matches patterns against the digits with their leading "1".
        for known, offset in ((npa, 0), ("1" + npa, 1)):
            reach = [0]
            _walk(pattern, frozenset({0}), known, reach)
            longest = max(longest, reach[0] - offset)
    return min(longest, NATIONAL_LENGTH)
