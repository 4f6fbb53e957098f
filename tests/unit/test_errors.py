"""Every error callsign raises maps to a CLI exit code and names its field."""

from __future__ import annotations

from callsign.cli import exit_code
from callsign.domain import errors


def _all_errors() -> list[type[errors.CallsignError]]:
    found, todo = [], [errors.CallsignError]
    while todo:
        kind = todo.pop()
        found.append(kind)
        todo.extend(kind.__subclasses__())
    return found


def test_every_error_kind_has_a_distinct_non_zero_exit_code() -> None:
    """No error exits 0, and the families are told apart."""
    codes = {kind: exit_code(kind("x") if kind is not errors.ConfigError
                             else errors.ConfigError([("a", "b")])) for kind in _all_errors()}
    assert all(code != 0 for code in codes.values())
    assert codes[errors.NotFound] != codes[errors.InvalidInput] != codes[errors.Refused]
    assert codes[errors.OutsideCallingHours] == codes[errors.Refused]


def test_an_error_names_its_field_when_printed() -> None:
    """str() leads with the field, so one line says what was wrong and where."""
    assert str(errors.InvalidNumber("'12' is not valid", field="to")) == "to: '12' is not valid"
    problems = errors.ConfigError([("projects[1].first_call", "+13125550101 is not in the pool")])
    assert str(problems) == "projects[1].first_call: +13125550101 is not in the pool"
