"""Every error callsign raises maps to a CLI exit code and names its field."""

from __future__ import annotations

import pytest

from callsign.api.errors import in_words, status_for
from callsign.cli import exit_code
from callsign.domain import errors


def _all_errors() -> list[type[errors.CallsignError]]:
    found, todo = [], [errors.CallsignError]
    while todo:
        kind = todo.pop()
        found.append(kind)
        todo.extend(kind.__subclasses__())
    return found


def _one(kind: type[errors.CallsignError]) -> errors.CallsignError:
    if issubclass(kind, errors.ConfigError):  # and InvalidScan: a list of problems
        return kind([("a", "b")])
    return kind("x")


def test_every_error_kind_has_a_distinct_non_zero_exit_code() -> None:
    """No error exits 0, and the families are told apart."""
    codes = {kind: exit_code(_one(kind)) for kind in _all_errors()}
    assert all(code != 0 for code in codes.values())
    assert codes[errors.NotFound] != codes[errors.InvalidInput] != codes[errors.Refused]
    assert codes[errors.OutsideCallingHours] == codes[errors.Refused]


def test_an_error_names_its_field_when_printed() -> None:
    """str() leads with the field, so one line says what was wrong and where."""
    assert str(errors.InvalidNumber("'12' is not valid", field="to")) == "to: '12' is not valid"
    problems = errors.ConfigError([("projects[1].first_call", "+13125550101 is not in the pool")])
    assert str(problems) == "projects[1].first_call: +13125550101 is not in the pool"


# -- HTTP statuses: the README's scheme, for every kind of error --------------------------

README_STATUSES = {
    errors.InvalidInput: 400, errors.InvalidNumber: 400, errors.MalformedJSON: 400,
    errors.ConfigError: 400, errors.InvalidScan: 400, errors.Unauthorized: 401,
    errors.Forbidden: 403,
    errors.NotFound: 404, errors.Conflict: 409, errors.Refused: 422,
    errors.NotPresentable: 422, errors.OutsideCallingHours: 422, errors.NotCompliant: 422,
    errors.ProviderError: 424,
    errors.StoreUnavailable: 503,
}


def test_every_error_kind_answers_the_status_the_readme_gives() -> None:
    """The mapping is complete: no kind falls through to a default, each has its status."""
    kinds = [k for k in _all_errors() if k is not errors.CallsignError]

    assert set(kinds) == set(README_STATUSES), "a new kind needs its row here and in README"
    assert {kind: status_for(_one(kind)) for kind in kinds} == README_STATUSES


def test_refusals_and_conflicts_are_not_invalid_input() -> None:
    """422 and 409 are their own families, in the API and in the CLI's exit codes."""
    assert not issubclass(errors.Refused, errors.InvalidInput)
    assert not issubclass(errors.Conflict, errors.InvalidInput)
    assert (exit_code(errors.Refused("x")), exit_code(errors.Conflict("x"))) == (4, 5)


def test_a_long_problem_list_is_capped_and_counted() -> None:
    problems = [(f"numbers[{i}].number", "x" * 1000) for i in range(45)]

    error = errors.ConfigError(problems)

    assert len(error.problems) == errors.MAX_PROBLEMS + 1
    assert error.problems[-1] == ("", f"and {45 - errors.MAX_PROBLEMS} more")
    assert all(len(message) <= errors.MAX_MESSAGE for _, message in error.problems)
    assert len(str(error)) < 10_000


# -- validation messages in plain words ----------------------------------------------------

@pytest.mark.parametrize(("library", "field", "words"), [
    ("Expected `str`, got `int`", "user", "must be text, not a whole number"),
    ("Expected `int | null`, got `str`", "daily_cap", "must be a whole number or null, not text"),
    ("Expected `bool`, got `str`", "dry_run", "must be true or false, not text"),
    ("Object contains unknown field `colour`", "colour", "is not a known field"),
    ("Object missing required field `user`", "user", "is required"),
    ("Expected `str` of length <= 64", "user", "must be at most 64 characters"),
    ("Expected `str` of length >= 1", "user", "must not be empty"),
    ("Expected `int` <= 1000000", "daily_cap", "must be at most 1000000"),
    ("Expected `int` >= 1", "daily_cap", "must be at least 1"),
    ("Expected `str` matching regex '^\\\\d{1,5}$'", "area_codes[0]",
     "must be an area code of 1 to 5 digits"),
    ("Invalid enum value 'fax'", "channel",
     "must be one of manual, click_to_dial, connect, dialer, not 'fax'"),
    ("Input should be a valid string", "name", "must be text"),
    ("Input should be a valid boolean", "active", "must be true or false"),
    ("String should match pattern '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$'", "id",
     "must be 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit"),
    ("String should have at most 200 characters", "name", "must be at most 200 characters"),
    ("Extra inputs are not permitted", "colour", "is not a known field"),
    ("Field required", "id", "is required"),
    ("Value error, must be true or false, not 'yes'", "active",
     "must be true or false, not 'yes'"),
    ("Integer value out of range", "limit", "is out of range"),
    ("Number out of range", "limit", "is out of range"),
    ("Invalid RFC3339 encoded datetime", "since",
     "must be a date and time as ISO 8601, e.g. 2026-03-02T17:00:00Z"),
])
def test_library_messages_are_put_in_plain_words(library: str, field: str, words: str) -> None:
    assert in_words(library, field) == words
