"""SPEC 9, simulated: a seeded month of traffic over 40 numbers in 4 area codes, in which
six numbers burn. Health rests exactly those, soon, keeps every area code covered,
restores them into warming after the rest and to healthy after the ramp, and never
rests a healthy number."""

from __future__ import annotations

from datetime import timedelta

import pytest

from callsign.domain.health_policy import HealthPolicy
from callsign.domain.health_states import HealthState
from tests.simulation import START, Simulation, Traffic, pool_of

H, D = timedelta(hours=1), timedelta(days=1)
POLICY = HealthPolicy()
DAYS = 33  # a burn on day 2 or 3, 7 days' rest, the 21 days' ramp, and days to spare


@pytest.fixture(scope="module")
def month() -> Simulation:
    numbers = pool_of({"312": 10, "415": 10, "646": 10, "201": 10},
                      {"312": [D + 11 * H, 2 * D + 14 * H],
                       "415": [D + 10 * H, D + 13 * H, 2 * D + 10 * H],
                       "646": [2 * D + 9 * H]})
    simulation = Simulation(numbers, POLICY, Traffic(), seed=13)
    simulation.run(DAYS)
    return simulation


def test_exactly_the_burned_numbers_are_rested(month: Simulation) -> None:
    burned = {e for e, t in month.tracked.items() if t.number.burns_at is not None}
    rested = {e for e, t in month.tracked.items() if t.rested_at}
    assert len(burned) == 6
    assert rested == burned


def test_a_burned_number_rests_within_one_window_of_calls(month: Simulation) -> None:
    """Within window_calls calls of its burn, and once only (its label clears)."""
    for tracked in month.tracked.values():
        if tracked.number.burns_at is not None:
            assert len(tracked.rested_at) == 1
            assert 1 <= tracked.calls_after_burn(tracked.rested_at[0]) <= POLICY.window_calls


def test_rest_reasons_say_what_burned_the_number(month: Simulation) -> None:
    for tracked in month.tracked.values():
        for _, state, reasons in tracked.states:
            if state is HealthState.RESTING:
                assert any(r.startswith(("608 Rejected on ", "score ")) for r in reasons)


def test_a_rested_number_warms_up_after_the_rest_then_turns_healthy(
        month: Simulation) -> None:
    for tracked in month.tracked.values():
        if not tracked.rested_at:
            continue
        states = [state for _, state, _ in tracked.states if state is not HealthState.WATCH]
        assert states == [HealthState.RESTING, HealthState.WARMING, HealthState.HEALTHY]
        rested, warming, healthy = (at for at, state, _ in tracked.states
                                    if state is not HealthState.WATCH)
        assert POLICY.rest_days * D <= warming - rested <= POLICY.rest_days * D + 18 * H
        assert healthy - warming >= POLICY.ramp_days * D


def test_a_warming_number_keeps_to_its_ramp(month: Simulation) -> None:
    for tracked in month.tracked.values():
        for at, state, _ in tracked.states:
            if state is HealthState.WARMING:
                first_day = [r for r in tracked.results if at <= r.at < at + D]
                assert len(first_day) <= POLICY.ramp[0].calls_per_day


def test_healthy_numbers_are_never_rested_nor_warmed(month: Simulation) -> None:
    for tracked in month.tracked.values():
        if tracked.number.burns_at is None:
            assert {s for _, s, _ in tracked.states} <= {HealthState.WATCH,
                                                         HealthState.HEALTHY}
            assert tracked.health.state is not HealthState.RESTING


def test_every_area_code_kept_its_coverage_throughout(month: Simulation) -> None:
    """The driver checks the share after every review; it ran."""
    assert month.coverage_checks > 10_000


def test_the_fold_still_reads_as_the_sweep_after_a_month(month: Simulation) -> None:
    end = START + DAYS * D
    assert all(month.swept(e164, end) for e164 in month.tracked)


def test_an_area_code_that_burns_mostly_keeps_half_its_numbers_serving() -> None:
    """Three of 312's four numbers burn: the two worst rest, the third is kept and says
    why, and rests once the first two are back."""
    numbers = pool_of({"312": 4, "415": 4}, {"312": [D + 10 * H, D + 10 * H, D + 10 * H]})
    simulation = Simulation(numbers, POLICY, Traffic(), seed=7)
    simulation.run(12)
    burned = [t for t in simulation.tracked.values() if t.number.burns_at is not None]
    first = sorted(t.rested_at[0] for t in burned)
    kept = max(burned, key=lambda t: t.rested_at[0])
    assert first[1] < first[0] + D
    assert first[2] >= first[0] + POLICY.rest_days * D
    assert {r for r in kept.reasons if r.startswith("kept")} == {
        "kept: resting it would leave 312 with 1 of 4 numbers; at most 50% may rest"}
    assert all(not t.rested_at for t in simulation.tracked.values()
               if t.number.area_code == "415")
