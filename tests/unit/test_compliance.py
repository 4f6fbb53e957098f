"""Compliance's pure core (SPEC 10): one test per rule, the callee's zones, DST days, and
the packs shipped as data."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from callsign.domain.compliance.caps import FrequencyCap, RecentCall, evaluate_cap
from callsign.domain.compliance.decision import (
    ComplianceCall,
    DoNotCall,
    Refusal,
    Verdict,
    evaluate,
    transitions,
)
from callsign.domain.compliance.hours import HolidayCalendar, WeeklyHours
from callsign.domain.compliance.packs import parse_pack, shipped_packs
from callsign.domain.compliance.policy import (
    CompliancePolicy,
    calling_hours_rule,
    organization_policy,
    project_policy,
)
from callsign.domain.compliance.zones import ContactAddress, place_of, state_zones, zip_place
from callsign.domain.errors import ConfigError, InvalidInput

NEW_YORK = ZoneInfo("America/New_York")
CHICAGO = ZoneInfo("America/Chicago")
WEEKDAYS = {"mon-fri": ["08:00-21:00"], "sat": ["09:00-17:00"]}  # Sunday: closed


def at(zone: ZoneInfo, *parts: int) -> datetime:
    return datetime(*parts, tzinfo=zone)  # type: ignore[arg-type, misc]


def judge(settings: dict[str, Any], number: str, now: datetime, *,
          contact: ContactAddress | None = None, recent: tuple[RecentCall, ...] = (),
          **call: Any) -> Verdict:
    policy = organization_policy(settings)
    place = place_of(number, "US", contact, "UTC")
    return evaluate(policy, ComplianceCall(place, **call), recent, now)


def rule_of(verdict: Verdict) -> str | None:
    return refusal_of(verdict).rule if verdict.refusal else None


def refusal_of(verdict: Verdict) -> Refusal:
    assert verdict.refusal is not None
    return verdict.refusal


def utc(moment: datetime | None) -> datetime | None:
    return moment.astimezone(UTC) if moment else None


# -- calling windows per weekday ------------------------------------------------------

def test_weekly_hours_read_day_ranges_and_leave_unnamed_days_closed() -> None:
    hours = WeeklyHours.parse(WEEKDAYS)
    assert str(hours) == "Mon–Fri 08:00–21:00, Sat 09:00–17:00, Sun closed"
    assert hours.allows(datetime(2026, 12, 5, 9, 0))  # a Saturday
    assert not hours.allows(datetime(2026, 12, 5, 17, 0))  # the end is exclusive
    assert not hours.allows(datetime(2026, 12, 6, 12, 0))  # Sunday


@pytest.mark.parametrize(("hours", "path", "words"), [
    ({"mon": ["25:00-26:00"]}, "compliance.hours.mon[0]", "is not HH:MM-HH:MM"),
    ({"mon": ["21:00-08:00"]}, "compliance.hours.mon[0]", "must end after it starts"),
    ({"funday": []}, "compliance.hours.funday", "is not a day"),
    ({"mon-fri": [], "fri": []}, "compliance.hours.fri", "fri is given twice"),
    ({"mon": ["08:00-12:00", "11:00-13:00"]}, "compliance.hours.mon", "overlap"),
])
def test_a_window_written_wrongly_is_refused_naming_its_path(
        hours: dict[str, Any], path: str, words: str) -> None:
    with pytest.raises(ConfigError) as raised:
        organization_policy({"hours": hours})
    assert raised.value.problems[0][0] == path
    assert words in raised.value.problems[0][1]


def test_the_organizations_window_refuses_sunday_and_says_monday_morning() -> None:
    verdict = judge({"hours": WEEKDAYS}, "+12125550100", at(NEW_YORK, 2026, 12, 6, 12, 0))
    assert not verdict.allowed
    assert rule_of(verdict) == "organization.hours"
    assert refusal_of(verdict).pack is None
    assert "Sun 2026-12-06 12:00 America/New_York" in refusal_of(verdict).reason
    assert verdict.next_allowed_at == at(NEW_YORK, 2026, 12, 7, 8, 0)


def test_a_project_window_only_tightens_the_organizations() -> None:
    org = organization_policy({"hours": WEEKDAYS})
    project = project_policy({"hours": {"mon-fri": ["10:00-16:00"]}}, org, "projects[0].compliance")
    place = place_of("+12125550100", "US", None, "UTC")
    now = at(NEW_YORK, 2026, 12, 5, 10, 0)  # Saturday: the project has no Saturday hours
    verdict = evaluate(org.with_project(project), ComplianceCall(place), (), now)
    assert rule_of(verdict) == "project.hours"
    assert verdict.next_allowed_at == at(NEW_YORK, 2026, 12, 7, 10, 0)
    with pytest.raises(ConfigError) as raised:
        project_policy({"hours": {"sat": ["08:00-18:00"]}}, org, "projects[0].compliance")
    assert raised.value.problems == [(
        "projects[0].compliance.hours.sat",
        "08:00–18:00 reaches outside the organization's 09:00–17:00: a project may only "
        "tighten")]


def test_the_existing_daily_calling_hours_become_a_weekly_window() -> None:
    across_midnight = calling_hours_rule(time(22, 0), time(2, 0))
    assert across_midnight.hours.allows(datetime(2026, 12, 7, 1, 59))
    assert not across_midnight.hours.allows(datetime(2026, 12, 7, 2, 0))
    assert str(calling_hours_rule(time(8, 0), time(21, 0)).hours) == "daily 08:00–21:00"


def test_a_project_enables_a_pack_for_its_own_calls() -> None:
    org = organization_policy({"packs": ["federal"]})
    project = project_policy({"packs": ["debt_collection", "federal"]}, org,
                             "projects[0].compliance")
    joined = org.with_project(project)
    assert [p.id for p in joined.packs] == ["federal", "debt_collection"]
    now = at(NEW_YORK, 2026, 12, 7, 12, 0)
    recent = tuple(RecentCall(now - timedelta(hours=h), "debt-1") for h in range(1, 8))
    place = place_of("+12125550100", "US", None, "UTC")
    call = ComplianceCall(place, subject="debt-1")
    assert evaluate(org, call, recent, now).allowed
    assert rule_of(evaluate(joined, call, recent, now)) == "debt_collection.frequency"


# -- holidays -------------------------------------------------------------------------

def test_a_national_holiday_closes_the_callees_day() -> None:
    settings = {"hours": WEEKDAYS, "holidays": {"country": "US"}}
    thanksgiving = at(NEW_YORK, 2026, 11, 26, 11, 0)
    verdict = judge(settings, "+12125550100", thanksgiving)
    assert rule_of(verdict) == "organization.holidays"
    assert "Thanksgiving" in refusal_of(verdict).reason
    assert verdict.next_allowed_at == at(NEW_YORK, 2026, 11, 27, 8, 0)


def test_a_state_holiday_counts_in_the_callees_own_state() -> None:
    settings = {"holidays": {"country": "US", "subdivision": "callee"}}
    patriots_day = at(NEW_YORK, 2026, 4, 20, 11, 0)  # a Massachusetts holiday only
    assert not judge(settings, "+16175550100", patriots_day).allowed  # Boston
    assert judge(settings, "+12125550100", patriots_day).allowed  # New York


def test_a_country_the_holidays_library_lacks_is_refused_with_its_path() -> None:
    with pytest.raises(ConfigError) as raised:
        organization_policy({"holidays": {"country": "ZZ"}})
    assert raised.value.problems[0][0] == "compliance.holidays"


def test_a_provinces_holiday_counts_for_a_canadian_callee() -> None:
    settings = {"holidays": {"country": "callee", "subdivision": "callee"}}
    family_day = at(ZoneInfo("America/Toronto"), 2026, 2, 16, 11, 0)  # Ontario, not Quebec
    verdict = judge(settings, "+14165550100", family_day)
    assert "Family Day" in refusal_of(verdict).reason
    assert judge(settings, "+15145550100", family_day).allowed


# -- the callee's zones ----------------------------------------------------------------

def test_a_contacts_state_gives_each_of_its_zones() -> None:
    assert set(state_zones("FL")) == {"America/New_York", "America/Chicago"}
    assert "America/Indianapolis" not in state_zones("IN")  # an alias of a listed zone


def test_a_contacts_zip_code_gives_its_zone_and_state() -> None:
    assert zip_place("32501") == ("FL", "America/Chicago")  # Pensacola
    assert zip_place("not a zip") == (None, None)


def test_a_contacts_unknown_zone_is_refused_naming_the_field() -> None:
    with pytest.raises(InvalidInput) as raised:
        place_of("+12125550100", "US", ContactAddress(timezone="Mars/Olympus"), "UTC")
    assert raised.value.field == "contact.timezone"


def test_a_contacts_unknown_state_leaves_the_numbers_zones() -> None:
    place = place_of("+12125550100", "US", ContactAddress(state="Narnia"), "UTC")
    assert (place.zones, place.state) == (("America/New_York",), "NY")


def test_a_call_must_be_allowed_in_the_contacts_zone_and_the_numbers() -> None:
    """A New York number whose contact lives in Los Angeles: both zones, the safe window."""
    contact = ContactAddress(postal_code="90012")
    now = at(NEW_YORK, 2026, 12, 7, 9, 0)  # 06:00 in Los Angeles
    verdict = judge({"packs": ["federal"]}, "+12125550100", now, contact=contact)
    assert not verdict.allowed
    assert [str(t.tzinfo) for t in verdict.local_times] == [
        "America/Los_Angeles", "America/New_York"]
    assert verdict.next_allowed_at == at(ZoneInfo("America/Los_Angeles"), 2026, 12, 7, 8, 0)


def test_an_area_code_spanning_zones_is_judged_in_each() -> None:
    """907 (Alaska) rings in Anchorage and in Adak, an hour behind."""
    now = at(ZoneInfo("America/Anchorage"), 2026, 12, 7, 8, 30)  # 07:30 in Adak
    verdict = judge({"packs": ["federal"]}, "+19075550100", now)
    assert not verdict.allowed
    assert verdict.next_allowed_at == at(ZoneInfo("America/Adak"), 2026, 12, 7, 8, 0)


# -- rule packs ------------------------------------------------------------------------

def test_the_federal_pack_allows_8_to_21_for_us_numbers_only() -> None:
    late = at(NEW_YORK, 2026, 12, 7, 21, 0)
    verdict = judge({"packs": ["federal"]}, "+12125550100", late)
    assert rule_of(verdict) == "federal.hours"
    assert refusal_of(verdict).pack == "federal"
    assert refusal_of(verdict).pack_version
    assert "64.1200" in refusal_of(verdict).source.citation
    assert refusal_of(verdict).source.url.startswith("https://")
    assert judge({"packs": ["federal"]}, "+442079460000", late).allowed  # London


@pytest.mark.parametrize(("pack", "number", "state"), [("florida", "+13055550100", "GA"),
                                                       ("oklahoma", "+14055550100", "AR")])
def test_florida_and_oklahoma_close_at_20_and_presume_residents_by_area_code(
        pack: str, number: str, state: str) -> None:
    elsewhere = ContactAddress(state=state)  # an address in a neighbour state (same zone)
    zone = ZoneInfo(place_of(number, "US", None, "UTC").zones[0])
    evening = at(zone, 2026, 12, 7, 20, 15)
    verdict = judge({"packs": [pack]}, number, evening, contact=elsewhere)
    assert rule_of(verdict) == f"{pack}.hours"
    assert any("presumes the callee a resident" in s.detail for s in verdict.trace)
    assert judge({"packs": [pack]}, number, evening - timedelta(minutes=30),
                 contact=elsewhere).allowed


def test_maryland_applies_by_address_first_then_by_area_code() -> None:
    evening = at(NEW_YORK, 2026, 12, 7, 20, 15)
    baltimore = "+14105550100"
    assert not judge({"packs": ["maryland"]}, baltimore, evening).allowed
    moved = ContactAddress(state="VA")  # no area-code presumption in Maryland's act
    assert judge({"packs": ["maryland"]}, baltimore, evening, contact=moved).allowed
    resident = ContactAddress(state="Maryland")
    assert not judge({"packs": ["maryland"]}, "+12125550100", evening, contact=resident).allowed


def test_maryland_allows_three_calls_a_day_on_one_subject() -> None:
    now = at(NEW_YORK, 2026, 12, 7, 15, 0)
    recent = tuple(RecentCall(now - timedelta(hours=h), "renewal") for h in (20, 5, 1))
    verdict = judge({"packs": ["maryland"]}, "+14105550100", now, recent=recent,
                    subject="renewal")
    assert rule_of(verdict) == "maryland.frequency"
    assert verdict.next_allowed_at == now - timedelta(hours=20) + timedelta(hours=24)
    assert judge({"packs": ["maryland"]}, "+14105550100", now, recent=recent,
                 subject="another matter").allowed


def test_debt_collection_allows_seven_calls_in_seven_days_per_debt() -> None:
    now = at(NEW_YORK, 2026, 12, 7, 15, 0)
    recent = tuple(RecentCall(now - timedelta(days=d, hours=1), "debt-42") for d in range(7))
    verdict = judge({"packs": ["debt_collection"]}, "+12125550100", now, recent=recent,
                    subject="debt-42")
    assert rule_of(verdict) == "debt_collection.frequency"
    assert "1006.14" in refusal_of(verdict).source.citation
    oldest = now - timedelta(days=6, hours=1)
    assert verdict.next_allowed_at == oldest + timedelta(days=7)
    assert judge({"packs": ["debt_collection"]}, "+12125550100", now, recent=recent,
                 subject="debt-43").allowed


def test_a_call_without_a_subject_counts_every_call_to_the_person() -> None:
    now = at(NEW_YORK, 2026, 12, 7, 15, 0)
    recent = (RecentCall(now - timedelta(hours=5), "renewal"),
              RecentCall(now - timedelta(hours=3), "billing"),
              RecentCall(now - timedelta(hours=1), None))
    verdict = judge({"packs": ["maryland"]}, "+14105550100", now, recent=recent)
    assert rule_of(verdict) == "maryland.frequency"
    step = next(s for s in verdict.trace if s.step == "maryland.frequency")
    assert "no subject given: every call to the person" in step.detail


def test_calls_recorded_without_a_subject_count_for_every_subject() -> None:
    now = at(NEW_YORK, 2026, 12, 7, 15, 0)
    recent = (RecentCall(now - timedelta(hours=5), "renewal"),
              RecentCall(now - timedelta(hours=3), None),
              RecentCall(now - timedelta(hours=1), "billing"))
    verdict = judge({"packs": ["maryland"]}, "+14105550100", now, recent=recent,
                    subject="renewal")
    step = next(s for s in verdict.trace if s.step == "maryland.frequency")
    assert verdict.allowed
    assert step.detail.startswith("2 counted (calls on subject 'renewal' and calls "
                                  "recorded without a subject)")
    more = (*recent, RecentCall(now - timedelta(hours=2), "renewal"))
    assert rule_of(judge({"packs": ["maryland"]}, "+14105550100", now, recent=more,
                         subject="renewal")) == "maryland.frequency"
    assert judge({"packs": ["maryland"]}, "+14105550100", now, recent=more,
                 subject="billing").allowed


def test_a_cap_freed_at_night_waits_for_the_morning() -> None:
    now = at(NEW_YORK, 2026, 12, 7, 19, 0)
    recent = tuple(RecentCall(now - timedelta(hours=h), "s") for h in (22, 2, 1))  # frees 21:00
    verdict = judge({"packs": ["maryland"]}, "+14105550100", now, recent=recent, subject="s")
    assert verdict.next_allowed_at == at(NEW_YORK, 2026, 12, 8, 8, 0)


# -- frequency caps --------------------------------------------------------------------

def test_a_cap_counts_calls_within_its_rolling_window_only() -> None:
    cap = FrequencyCap(2, timedelta(hours=24))
    now = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
    calls = [RecentCall(now - timedelta(hours=24)), RecentCall(now - timedelta(hours=3)),
             RecentCall(now - timedelta(hours=1))]
    verdict = evaluate_cap(cap, calls, now)
    assert (verdict.counted, verdict.allowed) == (2, False)
    assert verdict.frees_at == now + timedelta(hours=21)  # the 3-hour-old call leaves
    assert evaluate_cap(cap, calls, now + timedelta(hours=21)).allowed


def test_a_project_cap_counts_the_projects_calls_only() -> None:
    now = at(NEW_YORK, 2026, 12, 7, 12, 0)
    settings = {"caps": [{"calls": 1, "days": 1, "across": "project"}]}
    recent = (RecentCall(now - timedelta(hours=2), project="other"),)
    assert judge(settings, "+12125550100", now, recent=recent, project="renewals").allowed
    verdict = judge(settings, "+12125550100", now, recent=recent, project="other")
    assert rule_of(verdict) == "organization.caps[0]"


# -- do-not-call, consent, emergency -----------------------------------------------------

def test_a_number_on_the_do_not_call_list_is_refused_whatever_the_consent() -> None:
    listed = DoNotCall("organization", "agent request", date(2026, 11, 2))
    verdict = judge({}, "+12125550100", at(NEW_YORK, 2026, 12, 7, 12, 0),
                    do_not_call=listed, consented=True)
    assert rule_of(verdict) == "do_not_call"
    assert "2026-11-02" in refusal_of(verdict).reason
    assert verdict.next_allowed_at is None


def test_a_number_on_the_national_registry_is_refused_by_its_own_rule() -> None:
    """A scrub file's entry refuses with the registry's rule, source and trace line; with
    the organization's list too, both refuse (the organization's first)."""
    registry = DoNotCall("national registry", "ftc-212", date(2026, 11, 30))
    now = at(NEW_YORK, 2026, 12, 7, 12, 0)
    verdict = judge({}, "+12125550100", now, registry=registry, consented=True)
    assert rule_of(verdict) == "do_not_call.registry"
    assert "64.1200(c)(2)" in refusal_of(verdict).source.citation
    assert "scrub file ftc-212 of 2026-11-30" in refusal_of(verdict).reason
    assert verdict.next_allowed_at is None
    assert [s.step for s in verdict.trace][-1] == "do_not_call.registry"
    both = judge({}, "+12125550100", now, registry=registry,
                 do_not_call=DoNotCall("organization"))
    assert [r.rule for r in both.refusals] == ["do_not_call", "do_not_call.registry"]


def test_consent_passes_the_time_rules_and_says_so() -> None:
    night = at(NEW_YORK, 2026, 12, 7, 23, 0)
    verdict = judge({"packs": ["federal"]}, "+12125550100", night, consented=True)
    assert verdict.allowed
    assert any(s.step == "federal.hours" and "consented/urgent" in s.detail
               for s in verdict.trace)


def test_consent_does_not_pass_a_frequency_cap() -> None:
    now = at(NEW_YORK, 2026, 12, 7, 23, 0)
    recent = tuple(RecentCall(now - timedelta(hours=h), "s") for h in (3, 2, 1))
    verdict = judge({"packs": ["maryland"]}, "+14105550100", now, recent=recent, subject="s",
                    consented=True)
    assert rule_of(verdict) == "maryland.frequency"
    assert verdict.next_allowed_at == now + timedelta(hours=21)  # no wait for the morning


def test_an_emergency_call_always_passes() -> None:
    listed = DoNotCall("organization")
    verdict = judge({"packs": ["federal"], "hours": {"daily": ["09:00-10:00"]}},
                    "+12125550100", at(NEW_YORK, 2026, 12, 7, 3, 0), emergency=True,
                    do_not_call=listed)
    assert verdict.allowed
    assert verdict.next_allowed_at is not None


def test_an_allowed_call_traces_each_rule_in_words() -> None:
    settings = {"packs": ["federal", "maryland"], "hours": WEEKDAYS,
                "holidays": {"country": "US", "subdivision": "callee"}}
    verdict = judge(settings, "+13055550100", at(NEW_YORK, 2026, 12, 7, 10, 0))
    assert verdict.allowed
    assert verdict.next_allowed_at == at(NEW_YORK, 2026, 12, 7, 10, 0)
    assert [(s.step, s.detail) for s in verdict.trace] == [
        ("compliance.zones", "callee's candidate zones: America/New_York (the number's area "
                             "code 305); local time Mon 2026-12-07 10:00 America/New_York"),
        ("pack.federal", "US federal calling hours for telephone solicitations (TCPA rules) "
                         "(2026.1) applies: the callee's number is in US"),
        ("pack.maryland", "Maryland Stop the Spam Calls Act of 2023 (2026.1) does not apply: "
                          "the callee is not in MD"),
        ("organization.hours", "Mon 2026-12-07 10:00 America/New_York is within Mon–Fri "
                               "08:00–21:00, Sat 09:00–17:00, Sun closed"),
        ("organization.holidays", "Mon 2026-12-07 10:00 America/New_York is not on one of the "
                                  "public holidays of US and the callee's state"),
        ("federal.hours", "Mon 2026-12-07 10:00 America/New_York is within daily 08:00–21:00"),
    ]


def test_a_verdict_reads_as_json_values() -> None:
    verdict = judge({"packs": ["florida"]}, "+13055550100", at(NEW_YORK, 2026, 12, 7, 7, 0))
    data = verdict.as_dict()
    assert data["allowed"] is False
    assert (data["rule"], data["pack"], data["pack_version"]) == (
        "florida.hours", "florida", "2026.1")
    assert data["source"]["url"].startswith("https://www.flsenate.gov/")
    assert data["local_times"] == ["2026-12-07T07:00:00-05:00"]
    assert data["next_allowed_at"] == "2026-12-07T13:00:00+00:00"
    assert json.loads(json.dumps(data)) == data


def test_a_call_never_allowed_ahead_says_so() -> None:
    listed = DoNotCall("organization")
    verdict = judge({}, "+12125550100", at(NEW_YORK, 2026, 12, 7, 12, 0), do_not_call=listed)
    assert verdict.message().endswith("; not allowed at any time ahead")
    assert verdict.as_dict()["next_allowed_at"] is None


def test_a_refusal_message_names_rule_pack_source_and_retry_time() -> None:
    verdict = judge({"packs": ["florida"]}, "+13055550100", at(NEW_YORK, 2026, 12, 7, 7, 0))
    message = verdict.message()
    assert message.startswith("florida.hours (pack florida 2026.1, Fla. Stat. § 501.616(6)(a)")
    assert "Mon 2026-12-07 07:00 America/New_York" in message
    assert message.endswith("next allowed at 2026-12-07T13:00Z")


# -- daylight saving time ----------------------------------------------------------------

@pytest.mark.parametrize(("zone", "number"), [(NEW_YORK, "+12125550100"),
                                              (CHICAGO, "+13125550100")])
def test_spring_forward_day_opens_at_8_local(zone: ZoneInfo, number: str) -> None:
    before_dawn = datetime(2026, 3, 8, 6, 0, tzinfo=UTC)  # 01:00 or midnight, standard time
    verdict = judge({"packs": ["federal"]}, number, before_dawn)
    assert verdict.next_allowed_at == at(zone, 2026, 3, 8, 8, 0)
    assert utc(verdict.next_allowed_at) == datetime(
        2026, 3, 8, 12 if zone is NEW_YORK else 13, 0, tzinfo=UTC)  # daylight time


@pytest.mark.parametrize(("zone", "number"), [(NEW_YORK, "+12125550100"),
                                              (CHICAGO, "+13125550100")])
def test_fall_back_day_opens_at_8_local(zone: ZoneInfo, number: str) -> None:
    night = datetime(2026, 11, 1, 5, 30, tzinfo=UTC)
    verdict = judge({"packs": ["federal"]}, number, night)
    assert verdict.next_allowed_at == at(zone, 2026, 11, 1, 8, 0)
    assert utc(verdict.next_allowed_at) == datetime(
        2026, 11, 1, 13 if zone is NEW_YORK else 14, 0, tzinfo=UTC)  # standard time


def test_a_window_starting_in_the_skipped_hour_opens_when_the_clock_jumps() -> None:
    settings = {"hours": {"sun": ["02:30-05:00"]}}
    verdict = judge(settings, "+12125550100", datetime(2026, 3, 8, 5, 0, tzinfo=UTC))
    assert utc(verdict.next_allowed_at) == datetime(2026, 3, 8, 7, 0, tzinfo=UTC)  # 03:00 EDT


def test_a_window_ending_in_the_repeated_hour_reopens_when_the_hour_repeats() -> None:
    settings = {"hours": {"sun": ["00:00-01:30"]}}
    second_0145 = datetime(2026, 11, 1, 5, 45, tzinfo=UTC)  # 01:45 EDT: past the window
    verdict = judge(settings, "+12125550100", second_0145)
    assert utc(verdict.next_allowed_at) == datetime(2026, 11, 1, 6, 0, tzinfo=UTC)  # 01:00 EST


def test_transitions_are_found_to_the_second() -> None:
    found = list(transitions(CHICAGO, datetime(2026, 1, 1, tzinfo=UTC),
                             datetime(2027, 1, 1, tzinfo=UTC)))
    assert found == [datetime(2026, 3, 8, 8, 0, tzinfo=UTC), datetime(2026, 11, 1, 7, 0,
                                                                       tzinfo=UTC)]


# -- packs as data -----------------------------------------------------------------------

def test_every_shipped_pack_loads_with_a_version_and_a_source_for_each_rule() -> None:
    packs = shipped_packs()
    assert set(packs) == {"federal", "florida", "oklahoma", "maryland", "debt_collection"}
    for pack in packs.values():
        assert pack.version
        assert pack.source.citation
        for rule in pack.rules:
            assert rule.source.citation, rule.id
            assert rule.source.url.startswith("https://"), rule.id
            assert rule.pack == pack.id


def test_a_broken_pack_is_refused_naming_each_field() -> None:
    bad = json.loads(json.dumps({
        "id": "texas", "version": "1", "title": "t", "applies_to": {"country": "US"},
        "source": {"citation": "c"},
        "rules": [{"id": "other.hours", "kind": "window", "hours": {"mon": ["9-5"]},
                   "source": {"citation": "c"}},
                  {"id": "texas.cap", "kind": "cap", "calls": 3, "source": {"citation": "c"}}],
    }))
    with pytest.raises(ConfigError) as raised:
        parse_pack(bad)
    assert [path for path, _ in raised.value.problems] == [
        "rules[0].id", "rules[0].hours.mon[0]", "rules[1]"]
    with pytest.raises(ConfigError) as raised:
        parse_pack(bad, "packs/texas.json:")
    assert raised.value.problems[0][0] == "packs/texas.json: rules[0].id"


@pytest.mark.parametrize(("settings", "path", "words"), [
    ({"packs": ["texas"]}, "compliance.packs[0]", "'texas' is not a pack"),
    ({"packs": ["maryland"], "overrides": {"maryland.frequency": {"calls": 4}}},
     "compliance.overrides.maryland.frequency.calls", "an override may only tighten"),
    ({"packs": ["maryland"], "overrides": {"maryland.frequency": {"hours": 12}}},
     "compliance.overrides.maryland.frequency.hours", "an override may only tighten"),
    ({"packs": ["federal"], "overrides": {"federal.hours": {"hours": {"daily": ["07:30-21:00"]}}}},
     "compliance.overrides.federal.hours.hours.mon", "an override may only tighten"),
    ({"overrides": {"florida.hours": {"hours": {"daily": []}}}},
     "compliance.overrides.florida.hours", "pack 'florida' is not enabled"),
    ({"caps": [{"calls": 3}]}, "compliance.caps[0]", "in hours or in days"),
    ({"hours": {"sun": []}}, "compliance.hours", "no day has a window"),
    ({"holidays": {"country": "callee", "subdivision": 3}}, "compliance.holidays.subdivision",
     "must be text"),
])
def test_an_override_may_only_tighten(settings: dict[str, Any], path: str, words: str) -> None:
    with pytest.raises(ConfigError) as raised:
        organization_policy(settings)
    assert raised.value.problems[0][0] == path
    assert words in raised.value.problems[0][1]


def test_a_tighter_override_applies() -> None:
    policy = organization_policy({"packs": ["maryland"], "overrides": {
        "maryland.frequency": {"calls": 2},
        "maryland.hours": {"hours": {"mon-fri": ["09:00-17:00"]}}}})
    now = at(NEW_YORK, 2026, 12, 7, 17, 30)
    place = place_of("+14105550100", "US", None, "UTC")
    verdict = evaluate(policy, ComplianceCall(place), (), now)
    assert rule_of(verdict) == "maryland.hours"
    assert verdict.next_allowed_at == at(NEW_YORK, 2026, 12, 8, 9, 0)


def test_a_holiday_calendar_names_the_holiday() -> None:
    assert HolidayCalendar("US").holiday(date(2026, 7, 4), "US", None) == "Independence Day"
    assert HolidayCalendar("callee").holiday(date(2026, 7, 1), "CA", "ON") == "Canada Day"
    assert HolidayCalendar("callee").holiday(date(2026, 7, 1), None, None) is None
    assert CompliancePolicy().with_project(None) == CompliancePolicy()
