"""Limits: every input is bounded, and what is out of bounds is a 4xx in plain words.

Bodies are bounded before they are read (and before the key is looked at), JSON and YAML
are read strictly (nesting, duplicate keys, aliases, UTF-8), fields have bounds, and
errors name the exact field in words a person understands. Status codes follow the
README: 400 invalid, 401 no key, 404 not found, 409 conflict, 413 too large, 422 refused.
"""

from __future__ import annotations

import json
import re
import select
import socket
from typing import Any

import httpx
import pytest

from callsign.domain import limits
from tests.e2e.conftest import Fresh, Server, error_of, ok, path_of

HANG_GUARD = 600.0
LONG_KEY = "x" * 400_000
LIBRARY_WORDING = re.compile(r"Expected `|should be|should match|pydantic|\^\[|\{0,|errors\.")

JSON_ENDPOINTS = [
    pytest.param("POST", "/v1/calls", id="calls"),
    pytest.param("POST", "/v1/inbound", id="inbound"),
    pytest.param("POST", "/v1/numbers", id="numbers"),
    pytest.param("POST", "/v1/users", id="users"),
    pytest.param("PATCH", "/v1/org", id="org"),
    pytest.param("PUT", "/v1/config", id="config"),
]


def in_plain_words(error: dict[str, Any]) -> None:
    """No library wording, no regular expression, no documentation link."""
    texts = [error["message"], *(p["message"] for p in error.get("problems", []))]
    for text in texts:
        assert not LIBRARY_WORDING.search(text), text


def raw_request(server: Server, head: str, body: bytes = b"") -> socket.socket:
    host, port = server.url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)), timeout=HANG_GUARD)
    sock.sendall(head.replace("\n", "\r\n").encode() + b"\r\n" + body)
    return sock


def answer_of(sock: socket.socket) -> tuple[int, dict[str, Any]]:
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(re.search(rb"content-length: (\d+)", head, re.I).group(1))  # type: ignore[union-attr]
    while len(body) < length:
        body += sock.recv(65536)
    return int(head.split()[1]), json.loads(body)


# -- body size: refused before it is read, before the key is looked at ---------------------

def test_a_64_mb_body_without_a_key_is_413_before_it_is_sent(server: Server) -> None:
    """Content-Length alone decides: the answer comes while the body is still unsent."""
    with raw_request(server, "POST /v1/calls HTTP/1.1\nHost: callsign\n"
                     "Content-Type: application/json\n"
                     f"Content-Length: {64 * 1024 * 1024}\n", b'{"user": "') as sock:
        status, body = answer_of(sock)

    assert status == 413
    assert body["error"]["code"] == "too_large"
    assert f"{limits.MAX_BODY_BYTES:,}" in body["error"]["message"]


def test_a_streamed_body_is_cut_off_at_the_bound(server: Server) -> None:
    """Chunked (no Content-Length): 413 once the bound is passed, long before 64 MB."""
    chunk = b"x" * 65536
    sent = 0
    with raw_request(server, "POST /v1/calls HTTP/1.1\nHost: callsign\n"
                     "Content-Type: application/json\nTransfer-Encoding: chunked\n") as sock:
        while sent < 64 * 1024 * 1024 and not select.select([sock], [], [], 0)[0]:
            try:
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            except OSError:  # the server answered and closed: read its answer
                break
            sent += len(chunk)
        status, body = answer_of(sock)

    assert status == 413, body
    assert sent < 64 * 1024 * 1024
    assert body["error"]["code"] == "too_large"


def test_a_large_document_has_a_bound_of_its_own(acme: httpx.Client) -> None:
    """PUT /v1/config may carry more than other bodies, up to its own bound."""
    document = b"org: acme\n" + b"#" * limits.MAX_DOCUMENT_BYTES
    error = error_of(acme.put("/v1/config", content=document,
                              headers={"Content-Type": "application/yaml"}), 413)

    assert f"{limits.MAX_DOCUMENT_BYTES:,}" in error["message"]


def test_a_small_body_without_a_key_is_still_401(anonymous: httpx.Client) -> None:
    """The bound comes first; within it, authentication answers as before."""
    error_of(anonymous.post("/v1/calls", json={"user": "alice", "to": "+13125550188"}), 401)


# -- JSON: nesting, duplicate keys, UTF-8, NUL ---------------------------------------------

@pytest.mark.parametrize("body", ['{"user": "a", "user": "b"}', "[" * 1000 + "]" * 1000,
                                  '{"user": "a\\u0000"}'])
def test_json_problems_wait_for_the_key(anonymous: httpx.Client, body: str) -> None:
    """Without a key the answer is 401, whatever is wrong with the JSON."""
    error = error_of(anonymous.post("/v1/calls", content=body,
                                    headers={"Content-Type": "application/json"}), 401)

    assert error["field"] == "Authorization"


@pytest.mark.parametrize(("method", "path"), JSON_ENDPOINTS)
def test_json_nested_1000_deep_is_400_on_every_json_endpoint(
    acme: httpx.Client, method: str, path: str
) -> None:
    """Deep nesting is refused at the door, naming the bound (was a 500)."""
    body = '{"user": ' + "[" * 1000 + "]" * 1000 + "}"
    error = error_of(acme.request(method, path, content=body,
                                  headers={"Content-Type": "application/json"}), 400)

    assert str(limits.MAX_DEPTH) in error["message"]


@pytest.mark.parametrize(("method", "path"), JSON_ENDPOINTS)
def test_a_key_given_twice_is_400_naming_it(acme: httpx.Client, method: str, path: str) -> None:
    """{"to": 1, "to": 2} is refused, not read as the last one."""
    body = '{"numbers": [{"label": "a", "label": "b"}]}'
    error = error_of(acme.request(method, path, content=body,
                                  headers={"Content-Type": "application/json"}), 400)

    assert error["field"] == "numbers[0].label"
    assert "twice" in error["message"]


def test_invalid_utf8_in_a_document_is_400_not_replaced(acme: httpx.Client) -> None:
    """PUT /v1/config with a Latin-1 byte says where, and changes nothing."""
    before = ok(acme.get("/v1/config"))
    document = "org: acme\nprincipal_number: '+12125550100'\n# Café\n".encode("latin-1")

    error = error_of(acme.put("/v1/config", content=document,
                              headers={"Content-Type": "application/yaml"}), 400)

    assert "not UTF-8" in error["message"]
    assert ok(acme.get("/v1/config")) == before


def test_invalid_utf8_in_a_json_body_is_400(acme: httpx.Client) -> None:
    error = error_of(acme.post("/v1/calls", content=b'{"user": "al\xe9", "to": "1"}',
                               headers={"Content-Type": "application/json"}), 400)

    assert "not UTF-8" in error["message"]


def test_a_nul_in_a_json_field_names_the_field(acme: httpx.Client, fresh: Fresh) -> None:
    """The field holding the NUL is named, not null."""
    error = error_of(acme.post("/v1/users", json={"id": fresh.id("u"), "name": "Al\u0000"}),
                     400)

    assert error["field"] == "name"


# -- YAML documents ------------------------------------------------------------------------

def test_a_yaml_alias_bomb_is_400_with_a_short_answer(acme: httpx.Client) -> None:
    """445 bytes of aliases once produced a 160 MB error; aliases are refused."""
    bomb = ("org: acme\n"
            "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
            "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
            "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
            "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
            "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
            "f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
            "g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]\n")
    response = acme.put("/v1/config", content=bomb, headers={"Content-Type": "application/yaml"})

    error = error_of(response, 400)
    assert len(response.content) < 2000
    assert "aliases" in error["message"]


def test_yaml_nested_500_deep_is_400(acme: httpx.Client) -> None:
    document = "org: acme\nx: " + "[" * 500 + "]" * 500 + "\n"
    error = error_of(acme.put("/v1/config", content=document,
                              headers={"Content-Type": "application/yaml"}), 400)

    assert "nest" in error["message"]


def test_a_yaml_key_given_twice_is_400_naming_its_line(acme: httpx.Client) -> None:
    document = "org: acme\nprincipal_number: '+12125550100'\norg: acme\n"
    error = error_of(acme.put("/v1/config", content=document,
                              headers={"Content-Type": "application/yaml"}), 400)

    assert (error["field"], "line 3" in error["message"]) == ("org", True)


def test_an_error_list_is_capped(acme: httpx.Client) -> None:
    """A document with 200 bad numbers lists 20 problems and counts the rest."""
    document = {"org": "acme", "principal_number": "+12125550100",
                "numbers": [{"number": "+12125550100"},
                            *({"number": "nope"} for _ in range(200))]}
    error = error_of(acme.put("/v1/config", json=document), 400)

    assert len(error["problems"]) == limits.MAX_PROBLEMS + 1
    assert error["problems"][-1]["message"] == f"and {200 - limits.MAX_PROBLEMS} more"


# -- bounded fields ------------------------------------------------------------------------

@pytest.mark.parametrize("cap", [2**63, 2**64, limits.MAX_DAILY_CAP + 1])
def test_a_daily_cap_out_of_bounds_is_400(acme: httpx.Client, fresh: Fresh, cap: int) -> None:
    """A daily cap of 2^63 or more was a 500 from the store."""
    error = error_of(acme.post("/v1/numbers", json={"number": fresh.number(), "daily_cap": cap}),
                     400)
    assert (error["field"], error["message"]) == (
        "daily_cap", f"daily_cap: must be at most {limits.MAX_DAILY_CAP}")

    error = error_of(acme.patch(f"/v1/numbers/{path_of('+13125550102')}",
                                json={"daily_cap": cap}), 400)
    assert error["field"] == "daily_cap"


@pytest.mark.parametrize(("method", "path"), [("POST", "/v1/numbers"), ("PUT", "/v1/config")])
def test_a_number_of_5000_digits_is_400(acme: httpx.Client, method: str, path: str) -> None:
    """Python will not read it as an integer; that is the client's error, not a 500."""
    body = '{"org": "acme", "number": "+13125550177", "daily_cap": ' + "9" * 5000 + "}"
    error = error_of(acme.request(method, path, content=body,
                                  headers={"Content-Type": "application/json"}), 400)

    assert "out of range" in error["message"] or "too many digits" in error["message"]


def test_a_daily_cap_out_of_bounds_in_a_document_is_400(acme: httpx.Client) -> None:
    document = {"org": "acme", "principal_number": "+12125550100",
                "numbers": [{"number": "+12125550100", "daily_cap": 2**63}]}
    error = error_of(acme.put("/v1/config", json=document), 400)

    assert error["field"] == "numbers[0].daily_cap"


@pytest.mark.parametrize(("path", "body", "field"), [
    pytest.param("/v1/numbers", {"label": "x" * (limits.MAX_NAME + 1)}, "label", id="label"),
    pytest.param("/v1/numbers", {"group": "g" * (limits.MAX_ID + 1)}, "group", id="group"),
    pytest.param("/v1/users", {"name": "x" * (limits.MAX_NAME + 1)}, "name", id="name"),
])
def test_long_texts_are_400_naming_the_bound(
    acme: httpx.Client, fresh: Fresh, path: str, body: dict[str, Any], field: str
) -> None:
    """Names, labels and groups are bounded (1 MB was stored)."""
    entity = {"number": fresh.number()} if path == "/v1/numbers" else {"id": fresh.id("u")}
    error = error_of(acme.post(path, json={**entity, **body}), 400)

    assert error["field"] == field
    assert "at most" in error["message"]


def test_a_megabyte_name_is_refused_as_too_large(acme: httpx.Client, fresh: Fresh) -> None:
    error_of(acme.post("/v1/users", json={"id": fresh.id("u"), "name": "x" * 2**20}), 413)


@pytest.mark.parametrize("user_id", ["new", "New", "a b", "../x", "-x"])
def test_an_id_the_admin_cannot_open_is_400_in_words(acme: httpx.Client, user_id: str) -> None:
    error = error_of(acme.post("/v1/users", json={"id": user_id}), 400)

    assert error["field"] == "id"
    in_plain_words(error)
    assert user_id not in {u["id"] for u in ok(acme.get("/v1/users"))}


def test_a_reserved_project_id_is_400(acme: httpx.Client) -> None:
    error = error_of(acme.post("/v1/projects", json={"id": "new"}), 400)

    assert (error["field"], "reserved" in error["message"]) == ("id", True)


# -- plain words, exact paths --------------------------------------------------------------

@pytest.mark.parametrize(("path", "body", "field", "words"), [
    pytest.param("/v1/calls", {"user": 7, "to": "+13125550188"}, "user",
                 "must be text, not a whole number", id="wrong-type"),
    pytest.param("/v1/calls", {"user": "alice", "to": "+13125550188", "colour": "blue"},
                 "colour", "is not a known field", id="unknown-field"),
    pytest.param("/v1/calls", {"to": "+13125550188"}, "user", "is required", id="missing"),
    pytest.param("/v1/calls", {"user": "alice", "to": "+13125550188", "channel": "fax"},
                 "channel", "must be one of manual, click_to_dial", id="choice"),
    pytest.param("/v1/numbers", {"number": "+13125550188", "area_codes": ["773", "x"]},
                 "area_codes[1]", "must be an area code of 1 to 5 digits", id="area-code"),
    pytest.param("/v1/users", {"id": "zz-words", "name": 5}, "name", "must be text",
                 id="pydantic-type"),
    pytest.param("/v1/users", {"id": "zz-words", "allowed_caller_ids": ["+13125550101", 5]},
                 "allowed_caller_ids[1]", "must be text", id="pydantic-list-item"),
    pytest.param("/v1/users", {"id": "zz-words", "active": "yes"}, "active",
                 "must be true or false, not 'yes'", id="strict-boolean"),
])
def test_errors_name_the_exact_field_in_plain_words(
    acme: httpx.Client, path: str, body: dict[str, Any], field: str, words: str
) -> None:
    error = error_of(acme.post(path, json=body), 400)

    assert error["field"] == field
    assert words in error["message"]
    in_plain_words(error)


def test_an_area_code_that_is_none_is_named_by_its_place(acme: httpx.Client,
                                                        fresh: Fresh) -> None:
    """area_codes[1], not area_code: the body's list says which one."""
    error = error_of(acme.post("/v1/numbers", json={"number": fresh.number("312"),
                                                    "area_codes": ["773", "999"]}), 400)
    assert error["field"] == "area_codes[1]"

    error = error_of(acme.post(f"/v1/numbers/{path_of('+13125550102')}/area-codes",
                               json={"area_codes": ["999"]}), 400)
    assert error["field"] == "area_codes[0]"


@pytest.mark.parametrize("body", [
    pytest.param({"user": "alice", "to": "+13125550188", "channel": "x" * 500_000},
                 id="long-value"),
    pytest.param({"user": "alice", "to": "+13125550188", "x" * 500_000: 1}, id="long-key"),
    pytest.param(f'{{"user": "alice", "{LONG_KEY}": 1, "{LONG_KEY}": 2}}', id="long-key-twice"),
])
def test_an_error_quoting_a_huge_value_stays_short(acme: httpx.Client,
                                                   body: dict[str, Any] | str) -> None:
    text = body if isinstance(body, str) else json.dumps(body)
    response = acme.post("/v1/calls", content=text, headers={"Content-Type": "application/json"})

    error_of(response, 400)
    assert len(response.content) < 2000


def test_a_missing_query_parameter_is_named(acme: httpx.Client) -> None:
    error = error_of(acme.get("/v1/kamailio/outbound", params={"to": "+13125550188"}), 400)

    assert (error["field"], error["message"]) == ("user", "user: is required (a query parameter)")


def test_a_method_an_endpoint_does_not_answer_says_so(acme: httpx.Client) -> None:
    error = error_of(acme.put("/v1/calls"), 405)

    assert error["message"] == "/v1/calls does not answer PUT"


def test_local_presence_yes_is_refused(acme: httpx.Client) -> None:
    """Booleans are true or false; the string "yes" is not read as true."""
    before = ok(acme.get("/v1/org"))
    error = error_of(acme.patch("/v1/org", json={"restrict_caller_ids": "yes"}), 400)

    assert error["field"] == "restrict_caller_ids"
    assert ok(acme.get("/v1/org")) == before


def test_a_call_path_step_given_twice_is_refused(acme: httpx.Client) -> None:
    error = error_of(acme.patch("/v1/org", json={"inbound": {
        "path": ["direct_number", "company", "direct_number"]}}), 400)

    assert error["field"] == "inbound.path"
    assert "direct_number" in error["message"]


# -- status codes as the README says -------------------------------------------------------

def test_an_inactive_user_is_422(acme: httpx.Client, fresh: Fresh) -> None:
    """A well-formed call by a user who is not active is refused by the rules (was 400)."""
    user = fresh.id("inactive")
    ok(acme.post("/v1/users", json={"id": user, "active": False}), 201)

    error = error_of(acme.post("/v1/calls", json={"user": user, "to": "+13125550188",
                                                  "consented": True}), 422)
    assert error["field"] == "user"


def test_deleting_a_user_who_owns_contacts_is_409(acme: httpx.Client, fresh: Fresh) -> None:
    """It clashes with what is stored: a conflict (was 400)."""
    user, contact = fresh.id("owner"), fresh.number("312")
    ok(acme.post("/v1/users", json={"id": user}), 201)
    ok(acme.post("/v1/contacts", json={"phone": contact, "owner": user}), 201)

    error = error_of(acme.delete(f"/v1/users/{user}"), 409)
    assert error["code"] == "conflict"


def test_a_direct_number_another_user_has_is_409(acme: httpx.Client, fresh: Fresh) -> None:
    """alice's direct number is taken: a clash with what is stored (was 400)."""
    error = error_of(acme.post("/v1/users", json={"id": fresh.id("u"),
                                                  "direct_number": "+13125550101"}), 409)

    assert (error["code"], error["field"]) == ("conflict", "direct_number")
    assert "alice" in error["message"]
