"""A NANP number in a plain form is judged by its leading digits, with exactly the facts
a full libphonenumber parse gives it."""

from __future__ import annotations

import random

import phonenumbers
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from phonenumbers import timezone as phone_timezone

from callsign.domain import nanp_prefixes, phone

NANP_REGIONS = sorted(phonenumbers.region_codes_for_country_code(1))
OTHER_COUNTRIES = ["GB", "DE", "FR", "MX", "IN", "AU", "ZZ"]
ALL_NPAS = [str(npa) for npa in range(200, 1000)]
GEOGRAPHIC_NPAS = sorted(phone.nanp_area_codes())
FORMS = ("+1", "1", "")


def _facts(raw: str, country: str, *, fast: bool) -> tuple[object, ...] | None:
    """What callers see of a number, through the fast path or the full parse."""
    judge = phone._cached_facts.__wrapped__ if fast else phone._parsed_facts
    facts = judge(raw, country)
    if facts is None:
        return None
    # The zones, shared per prefix, are the ones libphonenumber gives this very number.
    zones = phone_timezone.time_zones_for_number(facts._parsed)
    assert facts.timezones == tuple(z for z in zones if z != "Etc/Unknown"), raw
    return (facts.e164, facts.country, facts.area_code, facts.region, facts.timezones,
            facts.line_type, facts.is_geographic, facts._parsed)


def assert_same_facts(raw: str, country: str) -> None:
    assert _facts(raw, country, fast=True) == _facts(raw, country, fast=False), (raw, country)


def _national_numbers(npa: str, rng: random.Random) -> list[str]:
    """N11 and fictional 555 exchanges, the first and last lines, and random ones."""
    exchanges = ["211", "411", "555", "958", "200", "999", "000", "100"]
    exchanges += [f"{rng.randrange(1000):03d}" for _ in range(3)]
    lines = ["0100", "0199", "0000", "9999", f"{rng.randrange(10000):04d}"]
    return [npa + nxx + line for nxx in exchanges for line in rng.sample(lines, 2)]


def test_the_plain_forms_take_the_fast_path() -> None:
    """+1NPANXXXXXX anywhere; 1NPANXXXXXX and NPANXXXXXX only under a NANP country."""
    assert phone._nanp_form("+12125550100", "GB") == ("+1", "2125550100")
    assert phone._nanp_form("12125550100", "CA") == ("1", "2125550100")
    assert phone._nanp_form("2125550100", "US") == ("", "2125550100")
    for raw, country in [("2125550100", "GB"), ("12125550100", "GB"), ("(212) 555-0100", "US"),
                         ("+11125550100", "US"), ("0125550100", "US"), ("+1212555010", "US"),
                         ("２１２５５５０１００", "US")]:
        assert phone._nanp_form(raw, country) is None, raw


def test_numbers_sharing_a_decisive_prefix_share_one_full_parse() -> None:
    """A second number of an already judged prefix adds no verdict (no parse)."""
    phone._cached_facts("+12135550100", "US")
    judged = len(phone._nanp_verdicts)
    assert phone._cached_facts("+12135550177", "US") is not None
    assert phone._cached_facts("+12135559876", "US") is not None
    assert len(phone._nanp_verdicts) == judged


@pytest.mark.parametrize("npa", GEOGRAPHIC_NPAS)
def test_every_geographic_npa_gets_the_facts_of_a_full_parse(npa: str) -> None:
    """Every US, Canadian and Caribbean area code, many exchanges and lines, all forms."""
    rng = random.Random(npa)
    for national in _national_numbers(npa, rng):
        for form in FORMS:
            assert_same_facts(form + national, "US")
        assert_same_facts("+1" + national, "GB")
        assert_same_facts(national, rng.choice(NANP_REGIONS))


def test_every_npa_gets_the_facts_of_a_full_parse() -> None:
    """Toll-free, premium, personal, unassigned NPAs: valid or not, as a full parse says."""
    rng = random.Random(1)
    for npa in ALL_NPAS:
        for national in rng.sample(_national_numbers(npa, rng), 4):
            assert_same_facts(rng.choice(FORMS) + national, rng.choice(NANP_REGIONS))


@pytest.mark.parametrize("raw", [
    "+12125550100", "+12125550199", "+12125550200", "+12122110000", "+12129115555",
    "+18005550100", "+18885550100", "+18335551234", "+19005550100", "+15005550100",
    "+15235551234", "+15245201234", "+11235550100", "+10235550100", "+19995550100",
    "+14165550100", "+16045550100", "+19055550100", "+12425550100", "+12423221234",
    "+18765550100", "+18762101234", "+16585550100", "+17875550100", "+19395550100",
    "+18095550100", "+18295550100", "+18495550100", "+16715550100", "+13405550100",
    "+16845550100", "+12465550100", "+12462101234", "+15056401234", "+15056441234",
    "+14722551234", "+19832551234", "+19835551234",
])
@pytest.mark.parametrize("country", ["US", "CA", "BS", "JM", "GB"])
def test_edge_cases_get_the_facts_of_a_full_parse(raw: str, country: str) -> None:
    """N11 and 555-01xx exchanges, toll-free, invalid 1xx/0xx NPAs, Canada, the Caribbean."""
    assert_same_facts(raw, country)
    assert_same_facts(raw[1:], country)  # 1NPANXXXXXX
    assert_same_facts(raw[2:], country)  # NPANXXXXXX


def test_ten_digits_under_a_non_nanp_country_are_that_countrys() -> None:
    """Under GB, 2125550100 is not a New York number: the full parse decides."""
    assert phone._nanp_form("2125550100", "GB") is None
    assert_same_facts("2125550100", "GB")
    assert_same_facts("2079460000", "GB")


def test_an_unreadable_pattern_is_refused() -> None:
    """Syntax outside the metadata's subset is never guessed at."""
    with pytest.raises(nanp_prefixes.UnreadablePattern):
        nanp_prefixes._Reader("[2-9]\\d+").read()
    with pytest.raises(nanp_prefixes.UnreadablePattern):
        nanp_prefixes._Reader("(?=1)\\d{3}").read()


def test_decisive_lengths_cover_the_npa_and_never_the_whole_number_for_a_known_npa() -> None:
    """An NPA's exchanges are judged on 3 to 7 digits, as the patterns say."""
    lengths = {npa: nanp_prefixes.decisive_length(npa) for npa in GEOGRAPHIC_NPAS}
    assert all(3 <= length <= 7 for length in lengths.values())
    assert lengths["212"] == 4  # 212 + a first exchange digit 2-9


@st.composite
def nanp_like(draw: st.DrawFn) -> str:
    """A 10-digit string, most often with a real NPA, sometimes anything at all."""
    npa = draw(st.one_of(st.sampled_from(GEOGRAPHIC_NPAS), st.sampled_from(ALL_NPAS),
                         st.text(alphabet="0123456789", min_size=3, max_size=3)))
    rest = draw(st.text(alphabet="0123456789", min_size=7, max_size=7))
    return npa + rest


@given(form=st.sampled_from(FORMS), national=nanp_like(),
       country=st.sampled_from(NANP_REGIONS + OTHER_COUNTRIES))
@settings(max_examples=400)
@example(form="", national="2125550100", country="GB")
@example(form="1", national="2125550100", country="GB")
@example(form="+1", national="1125550100", country="US")
def test_any_digits_in_the_plain_forms_get_the_facts_of_a_full_parse(
        form: str, national: str, country: str) -> None:
    """Hypothesis: valid or not, NANP default country or not, fast equals full parse."""
    assert_same_facts(form + national, country)
