"""SPEC 3.3, proximity: the shipped area-code geography holds facts a person can check on
any map of the NANP (derived by scripts/build_geography.py from licensed public data)."""

from __future__ import annotations

import json
from importlib import resources

import pytest

from callsign.domain.geography import geography, haversine_miles


def test_chicagos_area_codes_are_overlays_and_neighbours() -> None:
    """872 overlays 312 (the Loop) and 773 (the rest of the city), which border each other."""
    geo = geography()
    assert {"312", "773"} <= geo.overlays("872")
    assert "872" in geo.overlays("312")
    assert "872" in geo.overlays("773")
    assert "773" in geo.neighbours("312")


def test_new_york_citys_overlays_cover_manhattan() -> None:
    """212, 646, 332 and 917 share Manhattan; 718 and 347 share the outer boroughs."""
    geo = geography()
    assert {"646", "332", "917"} <= geo.overlays("212")
    assert {"347", "917"} <= geo.overlays("718")
    assert "718" not in geo.overlays("212")  # Manhattan and Brooklyn are neighbours
    assert "718" in geo.neighbours("212")


def test_torontos_area_codes_are_overlays() -> None:
    """416, 647 and 437 share Toronto; 905 surrounds it."""
    geo = geography()
    assert {"647", "437"} <= geo.overlays("416")
    assert "905" in geo.neighbours("416")


def test_san_francisco_borders_the_east_bay_and_the_peninsula() -> None:
    """415 borders 510 (across the bay) and 650 (to the south), not far-away 213."""
    geo = geography()
    assert {"510", "650"} <= geo.neighbours("415")
    assert "213" not in geo.neighbours("415")


def test_chicago_to_its_western_suburbs_is_about_thirty_miles() -> None:
    """Downtown Chicago (312) to the centre of 630 (DuPage County): about 30 miles."""
    miles = geography().miles("312", "630")
    assert miles is not None
    assert 25 <= miles <= 38


def test_the_haversine_distance_of_two_known_cities() -> None:
    """New York to Los Angeles is about 2,450 miles as the crow flies."""
    assert haversine_miles(40.7128, -74.0060, 34.0522, -118.2437) == pytest.approx(2445, abs=15)
    assert haversine_miles(41.0, -87.0, 41.0, -87.0) == 0


def test_within_a_radius_lists_the_nearest_first() -> None:
    """The area codes within 40 miles of 312 include 630, nearest first, never 312."""
    near = geography().within("312", 40)
    codes = [code for _, code in near]
    assert "630" in codes
    assert "312" not in codes
    assert [miles for miles, _ in near] == sorted(miles for miles, _ in near)
    assert all(miles <= 40 for miles, _ in near)
    assert geography().within("312", 0) == ()
    assert geography().within("999", 100) == ()


def test_the_table_is_us_and_canada_and_its_relations_are_symmetric() -> None:
    """Every code is American or Canadian; overlays and neighbours go both ways."""
    geo = geography()
    assert len(geo.area_codes) > 300
    assert {place.country for place in geo.area_codes.values()} == {"US", "CA"}
    assert "787" not in geo.area_codes  # Puerto Rico: NANP, but neither country
    for code, place in geo.area_codes.items():
        for other in place.overlays:
            assert code in geo.overlays(other), (code, other)
        for other in place.neighbours:
            assert code in geo.neighbours(other), (code, other)
        assert not place.overlays & place.neighbours


def test_the_table_names_its_sources_and_their_licenses() -> None:
    """The attribution travels with the data."""
    source = geography().source
    assert source["polygons"]["package"] == "area-code-locator"
    assert source["polygons"]["license"] == "MIT License"
    assert source["places"]["license"] == "Apache License 2.0"


def test_the_simplified_polygons_for_maps_match_the_table() -> None:
    """The shipped shapes: one polygon per area code of the table that has one, credited."""
    text = resources.files("callsign.domain").joinpath("data", "area_codes_shapes.json")
    shapes = json.loads(text.read_text())
    codes = [f["properties"]["area_code"] for f in shapes["features"]]
    assert len(codes) == len(set(codes)) > 300
    assert set(codes) <= set(geography().area_codes)
    assert {"312", "415", "416"} <= set(codes)
    assert shapes["source"]["polygons"]["license"] == "MIT License"
    assert {f["geometry"]["type"] for f in shapes["features"]} <= {"Polygon", "MultiPolygon"}
