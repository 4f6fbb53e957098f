"""SPEC 3.3, proximity: same exchange, area code, overlay, adjacent, within a radius, then
the rest of the chain; each step on or off per organization and project, each leaving a
trace line. Through the service on the in-memory store."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from callsign.domain.errors import ConfigError, Refused
from callsign.domain.model import Decision, Proximity
from callsign.domain.outbound import nanp_parts, nearby_area_codes

Dial = Callable[..., Decision]
NOW = datetime(2026, 3, 2, 17, 0, tzinfo=UTC)

PRINCIPAL = "+12125550100"  # Manhattan
LOOP_555 = "+13125550101"  # 312, exchange 555
LOOP_444 = "+13124440101"  # 312, exchange 444
CITY_773 = "+17735550150"
CITY_872 = "+18725550160"
DUPAGE = "+16305550142"  # 630: about 30 miles west of the Loop
SF = "+14155550105"
CALLEE = "+13125550188"  # the Loop, exchange 312-555


def org(
    numbers: list[str], proximity: dict[str, Any] | None = None, **settings: Any
) -> dict[str, Any]:
    document: dict[str, Any] = {
        "org": "acme",
        "principal_number": PRINCIPAL,
        "local_presence": True,
        "numbers": [{"number": n} for n in [PRINCIPAL, *numbers]],
        "users": [{"id": "alice"}],
        **settings,
    }
    if proximity is not None:
        document["proximity"] = proximity
    return document


def lines(decision: Decision) -> list[tuple[str, str, str | None]]:
    return [(s.step, s.result, s.number) for s in decision.trace]


def test_the_same_exchange_comes_before_the_rest_of_the_area_code(
    apply_org: Any, dial: Dial
) -> None:
    """With exchange on, a 312-555 callee gets the 312-555 number, not 312-444."""
    apply_org(org([LOOP_444, LOOP_555], {"exchange": True}))
    decision = dial(user="alice", to=CALLEE, at=NOW)
    assert (decision.rule, decision.caller_id) == ("local_exchange", LOOP_555)
    assert "in exchange 312-555" in decision.trace[-1].detail


def test_without_a_number_in_the_exchange_the_area_code_decides(apply_org: Any, dial: Dial) -> None:
    """No number in 312-555: the step says so and local presence picks in 312."""
    apply_org(org([LOOP_444, CITY_773], {"exchange": True}))
    decision = dial(user="alice", to=CALLEE, at=NOW)
    assert (decision.rule, decision.caller_id) == ("local_presence", LOOP_444)
    assert ("local_exchange", "passed", None) in lines(decision)


def test_an_overlay_serves_a_callee_whose_area_code_has_no_number(
    apply_org: Any, dial: Dial
) -> None:
    """No 312 number: 872 (an overlay of 312) comes before 773 (adjacent)."""
    apply_org(org([CITY_773, CITY_872, DUPAGE], {"overlay": True, "adjacent": True}))
    decision = dial(user="alice", to=CALLEE, at=NOW)
    assert (decision.rule, decision.caller_id) == ("local_overlay", CITY_872)
    assert ("local_presence", "passed", None) in lines(decision)


def test_an_adjacent_area_code_serves_when_no_overlay_does(apply_org: Any, dial: Dial) -> None:
    """The overlay's number is passed over, and the trace says why; 773 borders 312."""
    apply_org(
        org(
            [CITY_773, CITY_872],
            {"overlay": True, "adjacent": True},
            restrict_caller_ids=True,
            users=[{"id": "alice", "allowed_caller_ids": [CITY_773]}],
        )
    )
    decision = dial(user="alice", to=CALLEE, at=NOW)
    assert (decision.rule, decision.caller_id) == ("local_adjacent", CITY_773)
    assert ("local_overlay", "passed", CITY_872) in lines(decision)
    passed = next(s for s in decision.trace if s.number == CITY_872)
    assert "is not among alice's allowed caller IDs" in passed.detail


def test_the_nearest_within_the_radius_says_how_far(apply_org: Any, dial: Dial) -> None:
    """630 is about 30 miles from 312: within 50, the trace names the distance."""
    apply_org(org([DUPAGE, SF], {"radius_miles": 50}))
    decision = dial(user="alice", to=CALLEE, at=NOW)
    assert (decision.rule, decision.caller_id) == ("local_radius", DUPAGE)
    assert "area code 630" in decision.trace[-1].detail
    assert "miles from 312 (within 50)" in decision.trace[-1].detail


def test_a_radius_too_small_passes_to_the_rest_of_the_chain(apply_org: Any, dial: Dial) -> None:
    """Within 10 miles of the Loop there is no number: the principal, as today."""
    apply_org(org([DUPAGE, SF], {"radius_miles": 10}))
    decision = dial(user="alice", to=CALLEE, at=NOW)
    assert (decision.rule, decision.caller_id) == ("principal", PRINCIPAL)
    radius = next(s for s in decision.trace if s.step == "local_radius")
    assert "no presentable number within 10 miles" in radius.detail


def test_with_every_step_off_the_decision_is_todays(apply_org: Any, dial: Dial) -> None:
    """An org file without proximity: no nearby number is presented, no new trace line."""
    apply_org(org([CITY_773, CITY_872, DUPAGE]))
    decision = dial(user="alice", to=CALLEE, at=NOW)
    assert (decision.rule, decision.caller_id) == ("principal", PRINCIPAL)
    assert not any(
        s.step.startswith("local_") and s.step != "local_presence" for s in decision.trace
    )


def project(pool: list[str], **settings: Any) -> dict[str, Any]:
    return {"id": "renewals", "numbers": pool, **settings}


def test_a_project_may_refuse_a_call_with_no_local_number(apply_org: Any, dial: Dial) -> None:
    """local_only: refuse — the reason names the callee; nothing else is presented."""
    apply_org(org([SF, DUPAGE], projects=[project([SF], local_only="refuse")]))
    with pytest.raises(Refused) as refused:
        dial(user="alice", to=CALLEE, at=NOW, project="renewals")
    assert "local only" in refused.value.message
    assert CALLEE in refused.value.message
    assert refused.value.field == "to"


def test_a_project_may_present_the_principal_with_no_local_number(
    apply_org: Any, dial: Dial
) -> None:
    """local_only: principal — the trace says why the principal was presented."""
    apply_org(org([SF], projects=[project([SF], local_only="principal")]))
    decision = dial(user="alice", to=CALLEE, at=NOW, project="renewals")
    assert (decision.rule, decision.caller_id) == ("principal", PRINCIPAL)
    assert ("local_only", "passed", SF) in lines(decision)


def test_a_local_only_project_presents_a_local_pool_number_by_its_proximity(
    apply_org: Any, dial: Dial
) -> None:
    """The project's own proximity (within 50 miles) makes 630 local; SF never is."""
    apply_org(
        org(
            [SF, DUPAGE],
            projects=[project([SF, DUPAGE], local_only="refuse", proximity={"radius_miles": 50})],
        )
    )
    for seed in range(5):
        decision = dial(
            user="alice", to=CALLEE, at=NOW, project="renewals", seed=seed, dry_run=True
        )
        assert decision.caller_id == DUPAGE


def test_regionally_random_prefers_a_nearby_pool_number_to_the_region(
    apply_org: Any, dial: Dial
) -> None:
    """Pool numbers in 773 (adjacent) and 217's Illinois: the adjacent one."""
    springfield = "+12175550123"
    apply_org(
        org(
            [CITY_773, springfield],
            projects=[
                project(
                    [CITY_773, springfield],
                    first_call="regionally_random",
                    proximity={"adjacent": True},
                )
            ],
        )
    )
    for seed in range(5):
        decision = dial(
            user="alice", to=CALLEE, at=NOW, project="renewals", seed=seed, dry_run=True
        )
        assert decision.caller_id == CITY_773
        assert "nearby area codes" in decision.trace[-1].detail


@pytest.mark.parametrize(
    ("change", "path", "words"),
    [
        ({"proximity": {"radius_miles": 0}}, "proximity.radius_miles", "at least 1"),
        ({"proximity": {"radius_miles": 5000}}, "proximity.radius_miles", "at most 500"),
        ({"proximity": {"radius_miles": True}}, "proximity.radius_miles", "whole number"),
        ({"proximity": {"overlay": "yes"}}, "proximity.overlay", "true or false"),
        ({"proximity": {"nearby": True}}, "proximity.nearby", "not a known setting"),
        ({"projects": [project([SF], local_only="maybe")]}, "projects[0].local_only", "must be"),
        (
            {"projects": [project([SF], proximity={"exchange": 1})]},
            "projects[0].proximity.exchange",
            "true or false",
        ),
    ],
)
def test_bad_proximity_settings_name_the_field_by_its_full_path(
    apply_org: Any, change: dict[str, Any], path: str, words: str
) -> None:
    """Each bad setting is refused with its full path; nothing is written."""
    document = {**org([SF]), **change}
    with pytest.raises(ConfigError) as refused:
        apply_org(document)
    problems = dict(refused.value.problems)
    assert path in problems, problems
    assert words in problems[path]


def test_the_nearby_area_codes_read_follow_the_steps_turned_on() -> None:
    """Overlays, then neighbours, then within the radius, nearest first; none when off."""
    assert nearby_area_codes("312", Proximity()) == ()
    assert nearby_area_codes("312", Proximity(overlay=True)) == ("872",)
    both = nearby_area_codes("312", Proximity(overlay=True, adjacent=True))
    assert both[:2] == ("872", "773")
    assert "630" in nearby_area_codes("312", Proximity(radius_miles=40))
    assert nanp_parts("+13125550101") == ("312", "555")
    assert nanp_parts("+442071838750") is None


def test_a_local_only_project_passes_over_an_agent_number_that_is_not_local(
    apply_org: Any, dial: Dial
) -> None:
    """use_agent with an SF caller ID: not local to the Loop, so the local pool decides."""
    apply_org(org([SF, LOOP_444], users=[{"id": "alice", "caller_id": SF}], projects=[
        project([LOOP_444], agent_number="use_agent", local_only="refuse")]))
    decision = dial(user="alice", to=CALLEE, at=NOW, project="renewals")
    assert decision.caller_id == LOOP_444
    assert ("local_only", "passed", SF) in lines(decision)
