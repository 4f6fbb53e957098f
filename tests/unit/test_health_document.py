"""SPEC 9 and 6: the health policy in the organization document, validated field by field
with its path, its defaults documented, and the document round-tripping."""

from __future__ import annotations

from typing import Any

import pytest

from callsign.domain.document import parse_document
from callsign.domain.errors import ConfigError
from callsign.domain.health_policy import HealthPolicy, RampStep
from callsign.orgfile import dump_document, load_yaml

CHI1 = "+13125550101"


def document(**health: Any) -> dict[str, Any]:
    return {"org": "acme", "principal_number": CHI1, "numbers": [{"number": CHI1}],
            **({"health": health} if health else {})}


def problems(data: dict[str, Any]) -> list[tuple[str, str]]:
    with pytest.raises(ConfigError) as refused:
        parse_document(data)
    return refused.value.problems


def test_a_document_without_health_gets_the_default_policy() -> None:
    assert parse_document(document()).health.policy() == HealthPolicy()


def test_every_health_setting_is_read_into_the_policy() -> None:
    doc = parse_document(document(
        window_calls=80, window_days=5, min_calls=25, answer_rate_floor=12,
        short_call_seconds=8, short_call_limit=20, rejection_limit=5, spam_report_limit=3,
        rest_on_608=False, rest_below=40, watch_below=60, healthy_at=75, rest_days=10,
        warming_min_calls=40, max_resting_share=25,
        ramp=[{"days": 3, "calls_per_day": 15}], per_minute=2, per_hour=12, per_day=90))
    assert doc.health.policy() == HealthPolicy(
        window_calls=80, window_days=5, min_calls=25, answer_rate_floor=12,
        short_call_seconds=8, short_call_limit=20, rejection_limit=5, spam_report_limit=3,
        rest_on_608=False, rest_below=40, watch_below=60, healthy_at=75, rest_days=10,
        warming_min_calls=40, max_resting_share=25, ramp=(RampStep(3, 15),), per_minute=2,
        per_hour=12, per_day=90)


@pytest.mark.parametrize(("field", "value", "message"), [
    ("rest_below", 101, "must be between 0 and 100"),
    ("max_resting_share", -1, "must be between 0 and 100"),
    ("rest_days", 0, "must be between 1 and 365"),
    ("per_hour", True, "must be a whole number, not True"),
    ("per_minute", "often", "must be a whole number, not 'often'"),
    ("rest_on_608", "yes", "must be true or false, not 'yes'"),
    ("ramp", {"days": 7}, "must be a list, not {'days': 7}"),
    ("resting", 1, "is not a known setting")])
def test_a_bad_value_names_its_full_path(field: str, value: Any, message: str) -> None:
    assert problems(document(**{field: value})) == [(f"health.{field}", message)]


def test_a_bad_ramp_step_names_its_index() -> None:
    assert problems(document(ramp=[{"days": 7, "calls_per_day": 10},
                                   {"days": 0, "calls_per_day": 10, "hours": 1}])) == [
        ("health.ramp[1].days", "must be between 1 and 365"),
        ("health.ramp[1].hours", "is not a known setting")]


def test_the_bounds_must_keep_their_order_for_hysteresis() -> None:
    assert problems(document(rest_below=60, watch_below=55, healthy_at=60)) == [
        ("health.watch_below", "must be at least health.rest_below (60)"),
        ("health.healthy_at", "must be above health.rest_below (60): a number comes back "
                              "at a higher score than it rests at")]
    assert problems(document(watch_below=75, healthy_at=70)) == [
        ("health.healthy_at", "must be at least health.watch_below (75)")]


def test_no_more_calls_may_be_asked_for_than_the_window_holds() -> None:
    assert problems(document(window_calls=30, warming_min_calls=40)) == [
        ("health.warming_min_calls",
         "must be at most health.window_calls (30): the window holds no more calls")]


def test_the_health_section_round_trips_and_defaults_are_left_out() -> None:
    """Exported text applies back to the same document; defaults are not written."""
    doc = parse_document(document(rest_below=45, ramp=[{"days": 5, "calls_per_day": 8}]))
    text = dump_document(doc)
    assert load_yaml(text)["health"] == {"rest_below": 45,
                                         "ramp": [{"days": 5, "calls_per_day": 8}]}
    assert parse_document(load_yaml(text)) == doc
    assert "health" not in load_yaml(dump_document(parse_document(document())))
