"""SPEC 6: the organization document is validated whole by the domain, without a store."""

from __future__ import annotations

from typing import Any

import pytest

from callsign.domain.document import parse_document
from callsign.domain.errors import ConfigError

CHI1 = "+13125550101"
CHI2 = "+13125550102"
SF = "+14155550105"


def document(*projects: dict[str, Any]) -> dict[str, Any]:
    """Three numbers of the organization, and the projects given."""
    return {"org": "acme", "principal_number": CHI1,
            "numbers": [{"number": CHI1}, {"number": CHI2}, {"number": SF}],
            "projects": list(projects)}


def problems(data: dict[str, Any]) -> list[tuple[str, str]]:
    with pytest.raises(ConfigError) as refused:
        parse_document(data)
    return refused.value.problems


def test_a_projects_numbers_come_out_in_e164() -> None:
    """The pool, the first call and the outcome numbers, in any format, become E.164."""
    doc = parse_document(document({
        "id": "renewals", "numbers": ["(312) 555-0101", "312-555-0102"],
        "first_call": "(312) 555-0102", "outcome_numbers": {"asked_callback": "3125550101"}}))
    project = doc.projects[0]
    assert project.numbers == [CHI1, CHI2]
    assert project.first_call == CHI2
    assert project.outcome_numbers == {"asked_callback": CHI1}


def test_every_problem_of_a_project_is_reported_in_the_documents_order() -> None:
    """Its id, its pool, its first call, then its outcome numbers, each with its path."""
    assert problems(document(
        {"id": "renewals", "numbers": [CHI1]},
        {"id": "renewals", "numbers": [CHI1, "+19075550100", "bogus", "(312) 555-0101"],
         "first_call": SF, "outcome_numbers": {"voicemail": CHI2, "busy": "bogus"}},
    )) == [
        ("projects[1].id", "project 'renewals' is listed twice"),
        ("projects[1].numbers[1]", "+19075550100 is not one of the organization's numbers"),
        ("projects[1].numbers[2]", "'bogus' is not a valid phone number"),
        ("projects[1].numbers", "a number is listed twice"),
        ("projects[1].first_call", f"{SF} is not in the pool"),
        ("projects[1].outcome_numbers.voicemail", f"{CHI2} is not in the pool"),
        ("projects[1].outcome_numbers.busy", "'bogus' is not a valid phone number"),
    ]


@pytest.mark.parametrize("first_call", ["random", "regionally_random"])
def test_a_first_call_by_logic_needs_no_pool(first_call: str) -> None:
    doc = parse_document(document({"id": "renewals", "first_call": first_call}))
    assert doc.projects[0].first_call == first_call


def test_a_first_call_that_is_neither_a_logic_nor_a_number_says_what_it_may_be() -> None:
    assert problems(document({"id": "renewals", "numbers": [CHI1], "first_call": "sequential"})) \
        == [("projects[0].first_call",
             "'sequential' is neither random, regionally_random nor a valid phone number")]
