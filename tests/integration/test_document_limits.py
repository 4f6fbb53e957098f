"""Organization documents are read strictly and bounded, from a file, the API or the CLI.

YAML without aliases, duplicate keys or deep nesting; UTF-8 only; every field bounded;
ids that the admin can open; problems in plain words with exact paths, capped in number.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from callsign.domain import limits
from callsign.domain.document import parse_document
from callsign.domain.errors import ConfigError, InvalidInput, MalformedJSON
from callsign.orgfile import load_document, load_json, load_yaml
from tests.integration.test_orgfile import _set, valid_document

Invoke = Callable[..., Any]
BOMB = ("a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
        "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
        "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
        "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
        "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
        "f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
        "g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]\n"
        "h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]\n")


def problem_of(document: dict[str, Any]) -> tuple[str, str]:
    with pytest.raises(ConfigError) as invalid:
        parse_document(document)
    return invalid.value.problems[0]


# -- YAML ------------------------------------------------------------------------------------

def test_a_yaml_alias_bomb_is_refused_in_a_short_message() -> None:
    """Aliases are refused where the first one is used, before anything is expanded."""
    with pytest.raises(ConfigError) as invalid:
        load_yaml(BOMB)

    assert len(str(invalid.value)) < 200
    assert invalid.value.problems[0][0] == "b[0]"
    assert "aliases" in str(invalid.value)


@pytest.mark.parametrize("text", [
    pytest.param("x: " + "[" * 500 + "]" * 500, id="flow-500"),
    pytest.param("x:\n" + "".join("  " * i + "-\n" for i in range(1, 60)), id="block-60"),
])
def test_yaml_nested_deeper_than_the_bound_is_refused(text: str) -> None:
    with pytest.raises(ConfigError, match=f"deeper than {limits.MAX_DEPTH} levels|nesting"):
        load_yaml(text)


def test_a_yaml_key_given_twice_names_the_path_and_line() -> None:
    text = "org: acme\nusers:\n  - id: alice\n    name: A\n    name: B\n"
    with pytest.raises(ConfigError) as invalid:
        load_yaml(text)

    assert invalid.value.problems == [("users[0].name", "is given twice (line 5)")]


def test_a_latin1_file_is_refused_naming_the_byte() -> None:
    raw = "org: acme\nprincipal_number: '+12125550100'\n# Café\n".encode("latin-1")
    with pytest.raises(ConfigError, match=r"not UTF-8 text \(byte 0xe9 at offset"):
        load_yaml(raw, source="acme.yaml")


def test_a_number_of_5000_digits_is_refused() -> None:
    """Python refuses to read it (a ValueError, once a traceback)."""
    with pytest.raises(ConfigError, match="too many digits"):
        load_yaml("org: acme\ndaily_cap: " + "1" * 5000 + "\n")


def test_a_utf8_file_with_a_byte_order_mark_is_read() -> None:
    assert load_yaml("\ufefforg: acme\n".encode())["org"] == "acme"


def test_a_document_over_its_bound_is_refused() -> None:
    with pytest.raises(ConfigError, match="larger than"):
        load_document(b"#" * (limits.MAX_DOCUMENT_BYTES + 1))


# -- JSON ------------------------------------------------------------------------------------

def test_json_documents_are_read_as_json_with_the_same_checks() -> None:
    """A JSON document is read by the JSON reader: duplicate keys are refused with a path."""
    with pytest.raises(ConfigError) as invalid:
        load_document('{"org": "acme", "numbers": [{"label": "a", "label": "b"}]}')

    assert invalid.value.problems == [("numbers[0].label", "is given twice in one object")]


@pytest.mark.parametrize(("raw", "error", "field"), [
    pytest.param("[" * 33 + "]" * 33, MalformedJSON, None, id="depth"),
    pytest.param('{"a": "[[[[", "b": 1}', None, None, id="brackets-in-text-do-not-count"),
    pytest.param('{"a": {"b": [1, "x\\u0000"]}}', InvalidInput, "a.b[1]", id="nul"),
    pytest.param(b'{"a": "\xff"}', MalformedJSON, None, id="not-utf8"),
    pytest.param('{"a": 1,}', MalformedJSON, None, id="malformed"),
    pytest.param('{"a": ' + "1" * 5000 + "}", MalformedJSON, None, id="5000-digits"),
    pytest.param('{"a": NaN}', MalformedJSON, None, id="nan"),
    pytest.param('{"a": 1e999}', MalformedJSON, None, id="infinite"),
])
def test_json_is_read_strictly(raw: str | bytes, error: type[Exception] | None,
                               field: str | None) -> None:
    if error is None:
        assert load_json(raw) == {"a": "[[[[", "b": 1}
        return
    with pytest.raises(error) as refused:
        load_json(raw)
    assert getattr(refused.value, "field", None) == field


# -- fields ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("change", "path", "words"), [
    pytest.param(_set("numbers[0].daily_cap", 2**63), "numbers[0].daily_cap",
                 f"must be at most {limits.MAX_DAILY_CAP}", id="daily-cap-2^63"),
    pytest.param(_set("numbers[1].label", "x" * 10**6), "numbers[1].label",
                 f"must be at most {limits.MAX_NAME} characters", id="label-1MB"),
    pytest.param(_set("numbers[1].group", "two words"), "numbers[1].group",
                 "must be empty, or 1 to 64 letters", id="group"),
    pytest.param(_set("users[0].name", "x" * 201), "users[0].name", "at most 200",
                 id="name"),
    pytest.param(_set("users[0].id", "new"), "users[0].id", "'new' is reserved",
                 id="reserved-user-id"),
    pytest.param(_set("projects[0].id", "Edit"), "projects[0].id", "'Edit' is reserved",
                 id="reserved-project-id"),
    pytest.param(_set("users[1].id", "bob smith"), "users[1].id",
                 "must be 1 to 64 letters, digits", id="id-pattern-in-words"),
    pytest.param(_set("local_presence", "yes"), "local_presence",
                 "must be true or false, not 'yes'", id="strict-boolean"),
    pytest.param(_set("users[0].active", 1), "users[0].active",
                 "must be true or false, not 1", id="strict-boolean-number"),
    pytest.param(_set("inbound.path", ["company", "lead_owner", "company"]), "inbound.path",
                 "lists company more than once", id="duplicate-call-path-step"),
    pytest.param(_set("numbers[0].call_path", ["forwarding", "forwarding"]),
                 "numbers[0].call_path", "lists forwarding more than once",
                 id="duplicate-number-call-path-step"),
    pytest.param(_set("users[0].name", 5), "users[0].name", "must be text, not 5",
                 id="wrong-type"),
    pytest.param(_set("local_presence_fallback", "state"), "local_presence_fallback",
                 "must be 'none' or 'region', not 'state'", id="choice"),
])
def test_out_of_bounds_fields_are_named_in_plain_words(
    change: Callable[[dict[str, Any]], None], path: str, words: str
) -> None:
    document = valid_document()
    change(document)

    field, message = problem_of(document)

    assert field == path
    assert words in message
    assert "^" not in message
    assert "Input should" not in message


def test_problems_are_capped_and_counted() -> None:
    document = valid_document()
    document["contacts"] = [{"phone": "nope"} for _ in range(50)]
    with pytest.raises(ConfigError) as invalid:
        parse_document(document)

    problems = invalid.value.problems
    assert len(problems) == limits.MAX_PROBLEMS + 1
    assert problems[-1] == ("", f"and {50 - limits.MAX_PROBLEMS} more")


# -- the command line --------------------------------------------------------------------------

def test_applying_a_latin1_file_is_one_line_and_exit_2(cli: Invoke, tmp_path: Path) -> None:
    """Was a traceback."""
    path = tmp_path / "acme.yaml"
    path.write_bytes("org: acme\nprincipal_number: '+12125550100'\n# Café\n".encode("latin-1"))

    result = cli("apply", str(path))

    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1
    assert "not UTF-8" in result.stderr


@pytest.mark.parametrize("cap", [str(2**63), "0", str(limits.MAX_DAILY_CAP + 1)])
def test_a_daily_cap_out_of_bounds_from_the_cli_is_one_line_and_exit_2(
        cli: Invoke, demo_yaml: str, tmp_path: Path, cap: str) -> None:
    """Was a traceback from the store."""
    path = tmp_path / "acme.yaml"
    path.write_text(demo_yaml, encoding="utf-8")
    assert cli("apply", str(path)).exit_code == 0

    result = cli("numbers", "add", "--org", "acme", "+13125550177", "--daily-cap", cap)

    assert result.exit_code == 2, result.output
    assert result.stderr.count("\n") == 1
    assert "daily_cap" in result.stderr
