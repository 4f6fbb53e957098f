"""SPEC 8: a key belongs to one organization and sees nothing of any other.

globex's key names acme's numbers, users, contacts, projects and calls: each request
gets 404 (or a refusal of its own, like 400 for a number that is not globex's), never
acme's data, and neither organization changes.

The walks enumerate the operations of the live /openapi.json, so an endpoint added later
is walked too (or, with a request body nobody described yet, fails until it is described).
The same probes walk every operation with a key of each scope (SPEC 11): the scopes the
roles table names get the probe's answer, the others 403 naming the scope needed.
"""

from __future__ import annotations

import contextlib
import html
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import httpx
import pytest

from callsign.domain import roles
from callsign.domain.roles import Scope
from tests.e2e.conftest import Server, acme_yaml, error_of, ok, path_of

CHI1 = "+13125550101"  # acme's: alice's caller ID and direct number, also serves 773
NWK1 = "+12015550106"  # acme's renewals pool
ACME_CONTACT = "+14155550123"  # owned by alice
ALICE_WORK = "+13125559001"
GLOBEX_PRINCIPAL = "+16175550100"
METHODS = ("get", "post", "put", "patch", "delete")


@dataclass(frozen=True)
class Probe:
    """One request by globex naming acme's data, and the status it must get."""

    status: int = 404
    body: Any = None
    content: str | None = None
    params: dict[str, str] = field(default_factory=dict)
    check: Callable[[Any], bool] | None = None  # on a 2xx body: it holds nothing of acme


# Operations with path parameters get acme's identifiers in them (see `acme_values`);
# those below need a body, or, for PUT (create-or-replace), refuse for another reason.
PROBES: dict[tuple[str, str], Probe] = {
    ("POST", "/v1/calls/{call_id}/outcome"): Probe(body={"outcome": "hijacked"}),
    ("POST", "/v1/calls/{call_id}/result"): Probe(body={"sip_code": 608}),
    ("POST", "/v1/calls/{call_id}/spam-report"): Probe(body={"reported_by": "mallory"}),
    # acme's call named in the query string ("{call_id}": filled in as in paths).
    ("POST", "/v1/kamailio/result"): Probe(params={"call_id": "{call_id}", "sip_code": "608"}),
    ("PATCH", "/v1/numbers/{number}"): Probe(body={"label": "hijacked"}),
    ("POST", "/v1/numbers/{number}/area-codes"): Probe(body={"area_codes": ["224"]}),
    # PUT creates globex's own entity of that name; naming acme's numbers or users is 400.
    ("PUT", "/v1/users/{user_id}"): Probe(400, {"id": "alice", "name": "Alice Ng",
                                                "caller_id": CHI1}),
    ("PUT", "/v1/contacts/{phone}"): Probe(400, {"phone": ACME_CONTACT, "owner": "alice"}),
    ("PUT", "/v1/projects/{project_id}"): Probe(400, {"id": "renewals", "numbers": [NWK1]}),
    # Collections: lists answer 200 with nothing of acme's; creations naming acme's data fail.
    ("GET", "/v1/calls"): Probe(200, params={"user": "alice"},
                                check=lambda body: body == {"calls": [], "next_cursor": None}),
    ("POST", "/v1/calls"): Probe(body={"user": "alice", "to": "+17735550150",
                                       "consented": True}),
    ("POST", "/v1/inbound"): Probe(body={"to": CHI1, "from": "+17735550150"}),
    ("POST", "/v1/calls/connect"): Probe(body={"user": "alice", "to": "+17735550150"}),
    # Buying and importing change only the caller's own inventory; these probes are
    # refused before anything is bought (globex has no Twilio account), so state stays.
    ("POST", "/v1/numbers/purchase"): Probe(400, {"area_code": "312", "provider": "twilio"}),
    ("POST", "/v1/numbers/import"): Probe(400, {"provider": "twilio"}),
    ("GET", "/v1/coverage"): Probe(200, check=lambda body: all(
        gap["area_code"] != "415" or gap["contacts"] == 0 for gap in body["uncovered"])),
    ("POST", "/v1/coverage/purchase"): Probe(200, {"top": 1, "provider": "twilio"},
                                             check=lambda body: body == []),
    # The SIP proxy's endpoints: acme's user is unknown to globex, acme's number is not its.
    ("GET", "/v1/kamailio/outbound"): Probe(params={"user": "alice", "to": "+17735550150"}),
    ("GET", "/v1/kamailio/inbound"): Probe(params={"to": CHI1, "from": "+17735550150"}),
    # Number health: globex's own summary and sweep, nothing of acme's numbers.
    ("GET", "/v1/health"): Probe(200, check=lambda body: body["org"] == "globex" and all(
        r["number"] != CHI1 for r in body["resting"] + body["watch"])),
    ("POST", "/v1/health/sweep"): Probe(200, check=lambda body: all(
        c["number"] != CHI1 for c in body["changes"])),
    # Reputation: labelling acme's number is a row error; the server has no feed to scan.
    ("POST", "/v1/health/reputation"): Probe(400, [{"number": CHI1, "engine": "Hiya",
                                                    "label": "Scam Likely",
                                                    "checked_at": "2026-01-02"}]),
    ("POST", "/v1/health/scan"): Probe(400),
    # Do-not-call: globex's own list; listing a number there is globex's own business.
    ("GET", "/v1/dnc"): Probe(200, check=lambda body: all(
        entry["number"] != ACME_CONTACT for entry in body["entries"])),
    ("POST", "/v1/dnc"): Probe(201, {"number": "+17735550199"},
                               check=lambda body: body["number"] == "+17735550199"),
    ("POST", "/v1/dnc/import"): Probe(200, content="number\n+17735550198\n",
                                      check=lambda body: body == {"imported": 1}),
    # The national registry: globex's own scrub files (other modules may list more of globex's
    # area codes on the shared server: the probe checks its own import, the walk the leaks).
    ("GET", "/v1/dnc/registry"): Probe(200, check=lambda body: body["size"] >= 0),
    ("POST", "/v1/dnc/registry"): Probe(200, content="7735550197\n",
                                        check=lambda body: body["imported"] == 1
                                        and body["area_codes"] == ["773"]),
    # Reassigned numbers: the server has no database to ask.
    ("POST", "/v1/dnc/reassigned/check"): Probe(400),
    ("GET", "/v1/numbers"): Probe(200, params={"search": CHI1[2:]},
                                  check=lambda body: body == []),
    ("POST", "/v1/numbers"): Probe(409, {"number": CHI1}),  # one number, one organization
    ("GET", "/v1/users"): Probe(200, check=lambda body: "alice" not in {u["id"] for u in body}),
    ("POST", "/v1/users"): Probe(400, {"id": "mallory", "caller_id": CHI1}),
    ("GET", "/v1/contacts"): Probe(200, params={"owner": "alice"},
                                   check=lambda body: body == []),
    ("POST", "/v1/contacts"): Probe(400, {"phone": ACME_CONTACT, "owner": "alice"}),
    ("GET", "/v1/projects"): Probe(200, check=lambda body: "renewals" not in
                                   {p["id"] for p in body}),
    ("POST", "/v1/projects"): Probe(400, {"id": "renewals", "numbers": [NWK1]}),
    ("GET", "/v1/org"): Probe(200, check=lambda body: body["org"] == "globex"),
    ("PATCH", "/v1/org"): Probe(400, {"org": "acme"}),
    ("GET", "/v1/config"): Probe(200, check=lambda body: body["org"] == "globex"),
    ("PUT", "/v1/config"): Probe(400, content=acme_yaml()),
}


@dataclass(frozen=True)
class Operation:
    method: str
    template: str

    @property
    def parameters(self) -> list[str]:
        return re.findall(r"{(\w+)}", self.template)

    def __str__(self) -> str:
        return f"{self.method} {self.template}"


def v1_operations(schema: dict[str, Any]) -> list[Operation]:
    return [Operation(method.upper(), path) for path, item in sorted(schema["paths"].items())
            if path.startswith("/v1") for method in item if method in METHODS]


@pytest.fixture(scope="module")
def operations(anonymous: httpx.Client) -> list[Operation]:
    """Every /v1 operation the live server publishes."""
    found = v1_operations(ok(anonymous.get("/openapi.json")))
    assert len(found) >= 30, found
    return found


@pytest.fixture(scope="module")
def acme_call(acme: httpx.Client) -> str:
    """The id of a call acme placed."""
    decision = ok(acme.post("/v1/calls", json={"user": "alice", "to": "+17735550150",
                                               "consented": True}), 201)
    call_id: str = decision["call_id"]
    return call_id


@pytest.fixture(scope="module")
def acme_values(acme_call: str) -> dict[str, str]:
    """acme's identifiers, by the name of the path parameter that takes them."""
    return {"call_id": acme_call, "number": path_of(CHI1), "user_id": "alice",
            "phone": path_of(ACME_CONTACT), "project_id": "renewals", "area_code": "773"}


@pytest.fixture(scope="module")
def revoked_key(server: Server) -> str:
    """A globex key that worked, then was revoked with `callsign keys revoke`."""
    key = server.cli("keys", "create", "--org", "globex", "--name", "leaked").strip()
    with server.client(key) as client:
        ok(client.get("/v1/org"))
    server.cli("keys", "revoke", "--org", "globex", key)
    return key


def state_of(client: httpx.Client) -> dict[str, Any]:
    """What an organization holds and has done, as its own key sees it."""
    return {"config": ok(client.get("/v1/config")),
            "numbers": ok(client.get("/v1/numbers")),
            "calls": ok(client.get("/v1/calls", params={"limit": 500}))["calls"]}


def send(client: httpx.Client, method: str, path: str, probe: Probe) -> httpx.Response:
    if probe.content is not None:
        return client.request(method, path, content=probe.content, params=probe.params,
                              headers={"Content-Type": "application/yaml"})
    return client.request(method, path, json=probe.body, params=probe.params)


def concrete(operation: Operation, values: dict[str, str]) -> str:
    unknown = [p for p in operation.parameters if p not in values]
    assert not unknown, f"{operation}: no acme value for path parameter(s) {unknown}"
    return operation.template.format(**values)


def probe_for(operation: Operation) -> Probe:
    """The described probe; an operation naming acme's data in its path defaults to 404."""
    key = (operation.method, operation.template)
    if key in PROBES:
        return PROBES[key]
    assert operation.parameters, f"{operation} is new: describe its tenancy probe in PROBES"
    return Probe()


def leaks(response: httpx.Response, request_text: str, acme_call: str) -> list[str]:
    """acme's data in a response to globex, beyond what globex itself sent."""
    private = ["acme", "Alice Ng", ALICE_WORK, "Policy renewals", acme_call]
    if response.is_success:
        private += [CHI1, NWK1, ACME_CONTACT, "alice", "renewals"]
    return [m for m in private if m in response.text and m not in request_text]


def prepared(operation: Operation, acme_values: dict[str, str]) -> tuple[str, Probe]:
    """The operation's path and probe with acme's identifiers filled in."""
    probe = probe_for(operation)
    probe = replace(probe, params={name: value.format(**acme_values)
                                   for name, value in probe.params.items()})
    return concrete(operation, acme_values), probe


def answers_as_probed(response: httpx.Response, path: str, probe: Probe,
                      acme_call: str) -> None:
    """The probe's status, its check on a success, and nothing of acme's."""
    request_text = json.dumps([path, probe.body, probe.params]) + (probe.content or "")
    assert response.status_code == probe.status, response.text
    if response.is_success:
        assert probe.check is not None
        assert probe.check(response.json()), response.text
    else:
        error_of(response, probe.status)
    assert leaks(response, request_text, acme_call) == [], response.text


# -- another organization's key ------------------------------------------------------------

def test_another_orgs_key_reaches_none_of_its_data(
    subtests: pytest.Subtests, operations: list[Operation], acme: httpx.Client,
    globex: httpx.Client, acme_values: dict[str, str], acme_call: str,
) -> None:
    """globex naming acme's data gets 404 (or its own refusal), never acme's data."""
    for operation in operations:
        with subtests.test(msg=str(operation)):
            path, probe = prepared(operation, acme_values)
            acme_before, globex_before = state_of(acme), state_of(globex)

            response = send(globex, operation.method, path, probe)

            answers_as_probed(response, path, probe, acme_call)
            assert state_of(acme) == acme_before
            assert state_of(globex) == globex_before


def test_every_operation_without_a_path_parameter_has_a_probe(
    operations: list[Operation],
) -> None:
    """A new collection endpoint needs its probe described; stale probes are removed."""
    published = {(o.method, o.template) for o in operations}

    undescribed = [str(o) for o in operations if not o.parameters
                   and (o.method, o.template) not in PROBES]

    assert undescribed == []
    assert set(PROBES) <= published


# -- a key of each scope --------------------------------------------------------------------

@pytest.fixture(scope="module")
def scoped(server: Server) -> Iterator[dict[Scope, httpx.Client]]:
    """A client of globex per scope, each with a key holding that scope alone."""
    with contextlib.ExitStack() as stack:
        yield {scope: stack.enter_context(server.client(server.cli(
            "keys", "create", "--org", "globex", "--name", f"{scope} walk",
            "--scope", scope).strip())) for scope in Scope}


def test_every_operation_has_its_row_in_the_roles_table(operations: list[Operation]) -> None:
    """A new endpoint fails here until callsign.domain.roles.ROUTES says which scopes open
    it; a row of an endpoint that is gone fails too."""
    published = {(o.method, o.template) for o in operations}

    assert sorted(published - set(roles.ROUTES)) == []
    assert sorted(set(roles.ROUTES) - published) == []


def test_every_operation_answers_a_key_of_each_scope_as_the_roles_table_says(
    subtests: pytest.Subtests, operations: list[Operation], acme: httpx.Client,
    globex: httpx.Client, scoped: dict[Scope, httpx.Client], acme_values: dict[str, str],
    acme_call: str,
) -> None:
    """A scope the table names gets the probe's own answer (as globex's admin key does);
    any other gets 403 naming the scopes that would open it, and nothing changes."""
    for operation in operations:
        path, probe = prepared(operation, acme_values)
        acme_before, globex_before = state_of(acme), state_of(globex)
        for scope, client in scoped.items():
            with subtests.test(msg=f"{operation} with a {scope} key"):
                needed = roles.required(operation.method, operation.template)

                response = send(client, operation.method, path, probe)

                if scope in needed:
                    answers_as_probed(response, path, probe, acme_call)
                    continue
                error = error_of(response, 403)
                assert (error["code"], error["field"]) == ("forbidden", "Authorization")
                assert f"scopes ({scope}) do not open {operation}" in error["message"]
                assert all(f"'{s}'" in error["message"] for s in needed), error["message"]
        with subtests.test(msg=f"{operation}: nothing changed"):
            assert state_of(acme) == acme_before
            assert state_of(globex) == globex_before


def test_each_scope_opens_some_operation_and_read_opens_only_gets(
    operations: list[Operation],
) -> None:
    """No scope is empty; read never writes."""
    opened = {scope: {(o.method, o.template) for o in operations
                      if scope in roles.required(o.method, o.template)} for scope in Scope}

    assert all(opened.values()), opened
    assert {method for method, _ in opened[Scope.READ]} == {"GET"}
    assert opened[Scope.ADMIN] == {(o.method, o.template) for o in operations}


def test_listings_show_only_the_keys_own_organization(
    acme: httpx.Client, globex: httpx.Client, acme_call: str
) -> None:
    """Each organization's lists and documents hold its own data and none of the other's."""
    globex_sees = " ".join(globex.get(path).text for path in (
        "/v1/users", "/v1/contacts", "/v1/projects", "/v1/numbers", "/v1/calls?limit=500",
        "/v1/config", "/v1/org"))
    acme_sees = " ".join(acme.get(path).text for path in (
        "/v1/users", "/v1/contacts", "/v1/projects", "/v1/numbers", "/v1/calls?limit=500",
        "/v1/config", "/v1/org"))

    assert "gina" in globex_sees
    assert "alice" in acme_sees
    for marker in ("acme", "alice", "Alice Ng", CHI1, ACME_CONTACT, "renewals", acme_call):
        assert marker not in globex_sees
    for marker in ("globex", "gina", "Gina Park", GLOBEX_PRINCIPAL, "outreach"):
        assert marker not in acme_sees


def test_an_idempotency_key_belongs_to_one_organization(
    acme: httpx.Client, globex: httpx.Client
) -> None:
    """The same Idempotency-Key in two organizations makes two independent calls."""
    key = {"Idempotency-Key": "shared-key-of-two-orgs"}

    by_acme = ok(acme.post("/v1/calls", headers=key, json={
        "user": "alice", "to": "+17735550177", "consented": True}), 201)
    by_globex = ok(globex.post("/v1/calls", headers=key, json={
        "user": "hank", "to": "+15125550177"}), 201)

    assert by_acme["call_id"] != by_globex["call_id"]
    assert by_globex["to"] == "+15125550177"
    error_of(globex.get(f"/v1/calls/{by_acme['call_id']}"), 404)


@pytest.mark.parametrize("how", [
    pytest.param("patch"),
    pytest.param("config"),
])
def test_an_org_cannot_take_another_orgs_number_as_its_principal(
    globex: httpx.Client, how: str
) -> None:
    """CHI1 belongs to acme; globex may neither present it nor route to it."""
    before = ok(globex.get("/v1/config"))
    try:
        if how == "patch":
            response = globex.patch("/v1/org", json={"principal_number": CHI1})
        else:
            response = globex.put("/v1/config", json={**before, "principal_number": CHI1})
        assert response.status_code in (400, 409), response.text
    finally:
        ok(globex.put("/v1/config", json=before))


# -- the web admin's health pages ---------------------------------------------------------

@contextlib.contextmanager
def admin_session(server: Server, key: str) -> Iterator[httpx.Client]:
    """A client signed in to the web admin with ``key`` through its sign-in form."""
    with server.client(None) as client:
        form = client.get("/admin/login")
        token = re.search(r'name="csrf" value="([^"]+)"', form.text)
        assert token is not None, form.text
        signed_in = client.post("/admin/login", data={"key": key, "csrf": token.group(1)})
        assert signed_in.status_code == 303, signed_in.text
        assert "callsign_admin" in client.cookies
        yield client


ADMIN_HEALTH_PAGES = [  # (path naming acme's data or listing an org's own, globex's status)
    (f"/admin/numbers/{path_of(CHI1)}/health", 404),
    (f"/admin/numbers/{path_of(NWK1)}/health", 404),
    ("/admin/health", 200),
    ("/admin/coverage", 200),
    ("/admin/coverage?by=health", 200),
    ("/admin/numbers?health=healthy", 200),
    ("/admin/numbers?health=resting", 200),
    ("/admin/numbers?health=watch&q=312", 200),
]


def test_the_admins_health_pages_show_only_the_sessions_organization(
    subtests: pytest.Subtests, server: Server, acme_call: str,
) -> None:
    """globex signed in to the admin gets 404 for acme's numbers' pages, and its own
    dashboard and filtered lists hold nothing of acme; acme's own session sees them."""
    with admin_session(server, server.keys["globex"]) as globex_admin, \
            admin_session(server, server.keys["acme"]) as acme_admin:
        for path, status in ADMIN_HEALTH_PAGES:
            with subtests.test(msg=path):
                response = globex_admin.get(path)
                assert response.status_code == status, response.text
                assert response.headers["content-type"].startswith("text/html")
                assert leaks(response, path, acme_call) == [], response.text
                assert "globex" in response.text or status == 404
        mine = acme_admin.get(f"/admin/numbers/{path_of(CHI1)}/health")
        assert mine.status_code == 200
        assert CHI1 in mine.text
        assert CHI1 in acme_admin.get("/admin/numbers?health=healthy").text


def test_the_admins_compliance_page_and_explorer_keep_to_the_sessions_organization(
    server: Server, acme: httpx.Client, acme_call: str,
) -> None:
    """A number on acme's do-not-call list: globex's Compliance page does not show it, its
    remove form cannot take it off acme's list (404), and globex's explorer neither knows
    acme's user nor refuses the number by acme's list."""
    listed = "+17735550177"
    ok(acme.post("/v1/dnc", json={"number": listed, "source": "acme's own"}), 201)
    try:
        with admin_session(server, server.keys["globex"]) as globex_admin:
            page = globex_admin.get("/admin/compliance")
            assert page.status_code == 200, page.text
            assert listed not in page.text
            assert leaks(page, "", acme_call) == [], page.text
            token = re.search(r'name="csrf" value="([^"]+)"', page.text)
            assert token is not None
            removed = globex_admin.post("/admin/compliance/dnc/remove",
                                        data={"number": listed, "csrf": token.group(1)})
            assert removed.status_code == 404, removed.text
            assert "not on the do-not-call list" in removed.text
            as_alice = globex_admin.get("/admin/explorer", params={"user": "alice",
                                                                   "to": "+17735550150"})
            assert as_alice.status_code == 400
            assert "no user 'alice' in organization 'globex'" in html.unescape(as_alice.text)
            tried = globex_admin.get("/admin/explorer", params={"user": "hank", "to": listed})
            assert tried.status_code == 200, tried.text
            assert 'id="decision-caller-id"' in tried.text
            assert 'id="refusal"' not in tried.text
        assert listed in [e["number"] for e in ok(acme.get(
            "/v1/dnc", params={"limit": 1000}))["entries"]]
    finally:
        assert acme.delete(f"/v1/dnc/{listed}").status_code == 204


@pytest.mark.parametrize("scope", [Scope.DIALER, Scope.NUMBERS, Scope.READ])
def test_the_web_admin_signs_in_only_a_key_with_the_admin_scope(
    server: Server, scope: Scope
) -> None:
    """Any other key gets 403 on the sign-in form, saying so, and no session cookie."""
    key = server.cli("keys", "create", "--org", "globex", "--name", "not the admin",
                     "--scope", scope).strip()
    with server.client(None) as client:
        form = client.get("/admin/login")
        token = re.search(r'name="csrf" value="([^"]+)"', form.text)
        assert token is not None, form.text

        refused = client.post("/admin/login", data={"key": key, "csrf": token.group(1)})

        assert refused.status_code == 403, refused.text
        assert "needs a key with the &#39;admin&#39; scope" in refused.text \
            or "needs a key with the 'admin' scope" in refused.text
        assert "callsign_admin" not in client.cookies
        assert client.get("/admin/numbers").status_code == 303


# -- no key, a wrong key, a revoked key ----------------------------------------------------

def bad_credentials(revoked_key: str) -> Iterator[tuple[str, dict[str, str], str]]:
    """(what, headers, words the refusal says) for each way of not holding a valid key."""
    yield "no key", {}, "Authorization: Bearer"
    yield "another scheme", {"Authorization": "Digest username=acme"}, "Authorization: Bearer"
    yield "a Basic password that is no key", {"Authorization": "Basic YWNtZTphY21l"}, "malformed"
    yield "an empty token", {"Authorization": "Bearer"}, "Authorization: Bearer"
    yield "a malformed key", {"Authorization": "Bearer letmein"}, "malformed"
    yield "an unknown key", {"Authorization": "Bearer cs_000000000000_nope"}, "not valid"
    tampered = revoked_key[:-1] + ("A" if revoked_key[-1] != "A" else "B")
    yield "a tampered secret", {"Authorization": f"Bearer {tampered}"}, "not valid"
    yield "a revoked key", {"Authorization": f"Bearer {revoked_key}"}, "revoked"


def test_every_v1_operation_refuses_a_request_without_a_valid_key(
    subtests: pytest.Subtests, operations: list[Operation], anonymous: httpx.Client,
    acme: httpx.Client, acme_values: dict[str, str], revoked_key: str,
) -> None:
    """401 in the error shape, field Authorization, WWW-Authenticate: Bearer; no change."""
    acme_before = state_of(acme)
    for operation in operations:
        path = concrete(operation, acme_values)
        probe = PROBES.get((operation.method, operation.template), Probe())
        for what, headers, says in bad_credentials(revoked_key):
            with subtests.test(msg=f"{operation} with {what}"):
                response = anonymous.request(
                    operation.method, path, headers=headers, params=probe.params,
                    **({"content": probe.content} if probe.content is not None
                       else {"json": probe.body}))

                error = error_of(response, 401)
                assert (error["code"], error["field"]) == ("unauthorized", "Authorization")
                assert says in error["message"]
                assert response.headers["www-authenticate"] == "Bearer"
    assert state_of(acme) == acme_before


def test_a_request_without_a_key_is_refused_before_its_body_is_read(
    anonymous: httpx.Client,
) -> None:
    """Who is asking comes first: an unauthenticated caller learns nothing of validation."""
    response = anonymous.post("/v1/calls", content="{not json",
                              headers={"Content-Type": "application/json"})

    assert error_of(response, 401)["field"] == "Authorization"


def test_the_ops_endpoints_need_no_key(anonymous: httpx.Client) -> None:
    """Health, readiness, metrics and the schema are open to probes."""
    for path in ("/healthz", "/readyz", "/metrics", "/openapi.json"):
        assert anonymous.get(path).status_code == 200, path
