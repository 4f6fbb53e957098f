"""SPEC 10 over REST on the real server: the do-not-call list's endpoints, and a listed
number's refusal explaining itself (rule, source, next_allowed_at, trace)."""

from __future__ import annotations

import httpx

from tests.e2e.conftest import Fresh, error_of, ok

TEXT = {"content-type": "text/plain"}  # a scrub file: 10-digit numbers, one a line


def test_a_listed_number_is_refused_with_the_rule_and_no_time_to_retry(
        globex: httpx.Client, fresh: Fresh) -> None:
    """POST /v1/dnc lists it; /v1/calls refuses it (422 not_compliant, consented or not);
    DELETE takes it off and the call is placed."""
    to = fresh.number("512")
    added = ok(globex.post("/v1/dnc", json={"number": to, "source": "callee asked"}), 201)
    try:
        refused = error_of(globex.post("/v1/calls", json={
            "user": "hank", "to": to, "consented": True}), 422)
        page = ok(globex.get("/v1/dnc", params={"limit": 1000}))
    finally:
        assert globex.delete(f"/v1/dnc/{to}").status_code == 204
    placed = ok(globex.post("/v1/calls", json={"user": "hank", "to": to}), 201)

    assert (added["number"], added["source"]) == (to, "callee asked")
    assert (refused["code"], refused["field"], refused["rule"]) == (
        "not_compliant", "to", "do_not_call")
    assert refused["next_allowed_at"] is None
    assert "callee asked" in refused["reason"]
    assert [s["step"] for s in refused["trace"]][-1] == "do_not_call"
    assert to in [e["number"] for e in page["entries"]]
    assert placed["caller_id"]


def test_a_csv_import_with_a_bad_row_lists_nothing_and_names_the_row(
        globex: httpx.Client, fresh: Fresh) -> None:
    """All or nothing; the problem names the row (its line) and the column."""
    good = fresh.number("512")
    body = f"number,note\n{good},ok\nnonsense,bad\n".encode()

    error = error_of(globex.post("/v1/dnc/import", content=body,
                                 headers={"content-type": "text/csv"}), 400)
    listed = ok(globex.get("/v1/dnc", params={"limit": 1000}))

    assert error.get("problems"), error
    assert error["problems"][0]["field"] == "row 3.number"
    assert good not in [e["number"] for e in listed["entries"]]


def test_dnc_input_errors_name_the_field(globex: httpx.Client) -> None:
    """A bad number or an unknown field is a 400 naming it; an unlisted number is 404."""
    assert error_of(globex.post("/v1/dnc", json={"number": "12"}), 400)["field"] == "number"
    assert error_of(globex.post("/v1/dnc", json={"number": "+15125550100", "x": 1}),
                    400)["field"] == "x"
    assert error_of(globex.delete("/v1/dnc/+15125559999"), 404)["field"] == "number"


def test_a_registry_scrub_file_upload_refuses_its_numbers_whatever_the_consent(
        globex: httpx.Client, fresh: Fresh) -> None:
    """POST /v1/dnc/registry (the file as the body) marks its numbers with source and date;
    /v1/calls refuses them with the registry's own rule; a new file for the area code
    replaces them."""
    to, other = fresh.number("512"), fresh.number("512")
    imported = ok(globex.post("/v1/dnc/registry", content=f"{to[2:]}\n".encode(),
                              params={"source": "ftc-512", "listed_on": "2026-11-30"},
                              headers=TEXT))
    refused = error_of(globex.post("/v1/calls", json={
        "user": "hank", "to": to, "consented": True, "subject": "renewal"}), 422)
    summary = ok(globex.get("/v1/dnc/registry"))
    ok(globex.post("/v1/dnc/registry", content=f"{other[2:]}\n".encode(), headers=TEXT))
    placed = ok(globex.post("/v1/calls", json={"user": "hank", "to": to,
                                               "subject": "renewal"}), 201)

    assert (imported["imported"], imported["area_codes"], imported["listed_on"]) == (
        1, ["512"], "2026-11-30")
    assert (refused["code"], refused["rule"]) == ("not_compliant", "do_not_call.registry")
    assert refused["next_allowed_at"] is None
    assert "ftc-512 of 2026-11-30" in refused["reason"]
    assert summary["size"] >= 1
    assert summary["oldest_listed_on"] is not None
    assert placed["caller_id"]


def test_registry_and_subject_input_errors_name_the_field(globex: httpx.Client) -> None:
    bad = error_of(globex.post("/v1/dnc/registry", content=b"5125550100\nnonsense\n",
                               headers=TEXT), 400)
    assert bad.get("problems"), bad
    assert bad["problems"][0]["field"] == "line 2"
    assert error_of(globex.post("/v1/calls", json={
        "user": "hank", "to": "+15125550100", "subject": ""}), 400)["field"] == "subject"
    assert error_of(globex.post("/v1/calls", json={
        "user": "hank", "to": "+15125550100", "subject": " x"}), 400)["field"] == "subject"
