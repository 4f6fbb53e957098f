"""Validation problems in plain words: a pydantic error as (field path, message) pairs,
and the words for each pattern a field must match.

Below the organization document and the compliance settings, which both validate with
it (so neither imports the other for it)."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

KEY_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
AREA_CODE_PATTERN = r"^\d{1,5}$"
GROUP_PATTERN = r"^(|[A-Za-z0-9][A-Za-z0-9_.-]{0,63})$"
PATTERN_WORDS = {
    KEY_PATTERN: "must be 1 to 64 letters, digits, '.', '_' or '-', starting with a letter "
                 "or digit",
    GROUP_PATTERN: "must be empty, or 1 to 64 letters, digits, '.', '_' or '-', starting "
                   "with a letter or digit",
    AREA_CODE_PATTERN: "must be an area code of 1 to 5 digits",
    r"^AC[0-9a-fA-F]{32}$": "must be a Twilio account SID: 'AC' and 32 hexadecimal digits",
    r"^[A-Za-z_][A-Za-z0-9_]{0,127}$": "must be the name of an environment variable",
}
"""Plain words for each pattern a field must match, in place of the regular expression."""


def validation_problems(exc: ValidationError) -> list[tuple[str, str]]:
    """A pydantic error as (path, message in plain words) pairs, e.g. for a form."""
    return [(problem_path(e["loc"]), problem_message(e)) for e in exc.errors()]


def problem_path(loc: tuple[int | str, ...]) -> str:
    """A pydantic error's location as a field's path, e.g. ``users[0].caller_id``."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def shown(value: Any) -> str:
    """A value as an error quotes it: its repr, shortened."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


_KINDS = {"string_type": "text", "bool_type": "true or false", "int_type": "a whole number",
          "int_parsing": "a whole number", "int_from_float": "a whole number",
          "float_type": "a number", "list_type": "a list", "dict_type": "a mapping",
          "model_type": "a mapping", "model_attributes_type": "a mapping"}


def problem_message(error: Any) -> str:
    """A pydantic error in plain words (the field's path is given beside it)."""
    kind, ctx = error["type"], error.get("ctx") or {}
    if kind == "extra_forbidden":
        return "is not a known setting"
    if kind == "missing":
        return "is required"
    if kind in _KINDS:
        return f"must be {_KINDS[kind]}, not {shown(error.get('input'))}"
    if kind == "string_too_long":
        return f"must be at most {ctx['max_length']} characters"
    if kind == "string_too_short":
        return "must not be empty"
    if kind in ("less_than_equal", "less_than"):
        return f"must be at most {ctx.get('le', ctx.get('lt'))}"
    if kind in ("greater_than_equal", "greater_than"):
        return f"must be at least {ctx.get('ge', ctx.get('gt'))}"
    if kind == "string_pattern_mismatch":
        return PATTERN_WORDS.get(str(ctx.get("pattern")), "is not in the expected form")
    if kind == "literal_error" or kind == "enum":
        return f"must be {ctx.get('expected')}, not {shown(error.get('input'))}"
    return str(error["msg"]).removeprefix("Value error, ")
