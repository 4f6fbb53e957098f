"""The health surfaces' pure parts: the organization's days, rates from tallies, the state
timeline, coverage at risk (the guard's own bound), and the charts' specs."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from callsign.api.admin import charts
from callsign.domain.errors import InvalidInput
from callsign.domain.health_report import (
    StateChange,
    Tally,
    coverage_risk,
    day_starts,
    days_of,
    health_state,
    timeline,
)
from callsign.domain.health_states import HealthState

NOW = datetime(2026, 3, 9, 12, 0, tzinfo=UTC)  # 08:00 in New York, the day after DST began


def test_days_are_local_midnights_across_a_dst_change() -> None:
    starts = day_starts(NOW, "America/New_York", 3)
    assert starts == [datetime(2026, 3, 7, 5, tzinfo=UTC), datetime(2026, 3, 8, 5, tzinfo=UTC),
                      datetime(2026, 3, 9, 4, tzinfo=UTC), datetime(2026, 3, 10, 4, tzinfo=UTC)]
    assert days_of(starts, "America/New_York") == [date(2026, 3, 7), date(2026, 3, 8),
                                                   date(2026, 3, 9)]
    assert starts[2] - starts[1] == timedelta(hours=23)  # the short day


def test_an_unknown_zone_counts_in_utc() -> None:
    assert day_starts(NOW, "Mars/Olympus", 1) == [datetime(2026, 3, 9, tzinfo=UTC),
                                                  datetime(2026, 3, 10, tzinfo=UTC)]


def test_rates_have_no_value_without_their_calls() -> None:
    assert Tally(calls=3).answer_rate is None  # no result known
    assert Tally(calls=4, known=4, answered=1, short=1).answer_rate == 0.25
    assert Tally(calls=4, known=4, answered=1, short=1).short_share == 1.0
    assert Tally(calls=2, known=2).short_share is None
    assert Tally(1, 1, 1, 0) + Tally(2, 1, 0, 0) == Tally(3, 2, 1, 0)


def test_a_state_filter_names_its_field_and_the_choices() -> None:
    assert health_state("watch", field="health") is HealthState.WATCH
    with pytest.raises(InvalidInput) as refused:
        health_state("Spam Likely", field="health")
    assert refused.value.field == "health"
    assert refused.value.message == ("must be one of healthy, watch, warming, resting "
                                     "(got 'Spam Likely')")


def test_the_timeline_runs_from_the_state_before_to_now() -> None:
    start = NOW - timedelta(days=30)
    rested = StateChange(NOW - timedelta(days=2), "watch", "resting", "608", "automatic")
    assert timeline([rested], start, NOW, "watch") == [
        (start, HealthState.WATCH), (rested.at, HealthState.RESTING),
        (NOW, HealthState.RESTING)]
    assert timeline([], start, NOW, None) == [(start, None), (NOW, None)]


@pytest.mark.parametrize(("serving", "resting", "risk"), [
    (4, 0, None),            # nothing rests
    (4, 1, (1, 2, False)),   # one more reaches the bound
    (4, 2, (2, 2, True)),    # at the bound: the guard keeps the next one
    (10, 3, None),           # two more would still be allowed
    (10, 4, (4, 5, False)),
    (1, 1, (1, 0, True)),    # rested by hand: one number never rests by health
])
def test_coverage_is_at_risk_near_the_guards_bound(
        serving: int, resting: int, risk: tuple[int, int, bool] | None) -> None:
    found = coverage_risk("312", serving, resting, 50)
    assert (None if found is None else (found.resting, found.allowed, found.at_bound)) == risk


def test_chart_specs_carry_one_value_per_day_and_none_where_nothing_is_known() -> None:
    days = [date(2026, 3, 7), date(2026, 3, 8)]
    daily = [Tally(10, 8, 2, 1), Tally(3, 0, 0, 0)]
    calls = charts.daily_calls(days, daily)
    assert calls["labels"] == ["03-07", "03-08"]
    assert [s["values"] for s in calls["series"]] == [[10, 3], [2, 0]]
    assert charts.answer_rate(days, daily)["series"][0]["values"] == [25.0, None]
    assert charts.short_share(days, daily)["series"][0]["values"] == [50.0, None]


def test_a_change_sits_at_its_time_within_its_day() -> None:
    starts = day_starts(NOW, "America/New_York", 3)
    assert charts._day_position(starts[0], starts) == 0.0
    assert charts._day_position(datetime(2026, 3, 7, 17, 0, tzinfo=UTC), starts) == 0.5
    assert charts._day_position(NOW, starts) == 2 + 8 / 24
