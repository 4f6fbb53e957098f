"""The coverage map's projection and colouring (api/admin/coverage_map.py), pure: where
places land, how outlines become paths, which colour an area code gets, and that the
picture stays light."""

from __future__ import annotations

import re

import pytest

from callsign.api.admin import coverage_map as cmap
from callsign.domain.geography import shapes, shapes_of
from callsign.domain.health_states import HealthState


def test_the_projection_keeps_the_compass() -> None:
    """East is right, north is up (y grows down), and the centre meridian is x = 0."""
    chicago, new_york, miami = (cmap.project(-87.6, 41.9), cmap.project(-74.0, 40.7),
                                cmap.project(-80.2, 25.8))
    assert chicago[0] < new_york[0]
    assert miami[1] > chicago[1]  # south is further down
    assert cmap.project(-96.0, 40.0)[0] == pytest.approx(0.0)
    # The Aleutians past the antimeridian wrap to the west, not to the far east.
    assert cmap.project(179.0, 52.0)[0] < cmap.project(-170.0, 52.0)[0]


def test_hawaii_and_alaska_are_insets_below_california() -> None:
    _, la_y = cmap.place("213", -118.2, 34.0)
    honolulu = cmap.place("808", -157.9, 21.3)
    anchorage = cmap.place("907", -149.9, 61.2)
    assert honolulu[1] > la_y
    assert anchorage[1] > la_y


def test_a_ring_becomes_relative_whole_pixel_steps() -> None:
    assert cmap.ring_path([(10, 10), (20, 10), (20, 20), (10, 10)]) == "M10 10l10 0 0 10z"
    # Points within a pixel of the last one kept are dropped; negative steps need no space.
    assert cmap.ring_path([(10, 10), (10, 11), (20, 10), (15, 5), (10, 10)]) == \
        "M10 10l10 0-5-5z"
    assert cmap.ring_path([(10, 10), (11, 10), (10, 11)]) == ""  # below a triangle


def test_an_area_code_too_small_to_draw_is_a_dot() -> None:
    """A tiny outline (a few hundred metres) still shows, as a DOT-pixel square."""
    tiny = shapes_of({"features": [{"properties": {"area_code": "999"}, "geometry": {
        "type": "Polygon", "coordinates": [[[-87.63, 41.88], [-87.62, 41.88],
                                            [-87.62, 41.89], [-87.63, 41.88]]]}}]})
    frame, _ = cmap.paths()
    path = cmap.shape_path("999", tiny["999"], frame)
    assert re.fullmatch(r"M\d+ \d+h4v4h-4z", path), path


def test_every_shipped_area_code_is_drawn_and_the_picture_is_light() -> None:
    frame, drawn = cmap.paths()
    assert set(drawn) == set(shapes())
    assert {"212", "312", "415", "416", "604", "808", "907"} <= set(drawn)
    assert 400 < frame.height < 900
    picture = cmap.svg(cmap.areas({}, {}, {}), "coverage")
    assert len(picture.encode()) < 120_000
    for code in ("212", "312", "415", "305", "416", "604", "808", "907"):  # in the view box
        first = re.match(r"M(-?\d+) (-?\d+)", drawn[code])
        assert first is not None
        x, y = int(first.group(1)), int(first.group(2))
        assert 0 <= x <= cmap.WIDTH, (code, x)
        assert 0 <= y <= frame.height, (code, y)
    assert cmap.paths() is cmap.paths()  # projected once per process


@pytest.mark.parametrize(("states", "expected"), [
    ({}, None),
    ({"healthy": 0}, None),
    ({"healthy": 3, "watch": 1}, HealthState.HEALTHY),
    ({"healthy": 1, "resting": 1}, HealthState.RESTING),  # a tie goes to the worse
    ({"healthy": 1, "warming": 2, "watch": 2}, HealthState.WATCH),
    ({"resting": 1, "watch": 3}, HealthState.WATCH),
])
def test_health_is_the_majority_state(states: dict[str, int],
                                      expected: HealthState | None) -> None:
    assert cmap.health_of(states) == expected


def test_coverage_is_a_number_else_callees_without_one() -> None:
    served, wanted = {"312": {"healthy": 1}, "415": {}}, {"305": (1, 0), "312": (0, 2)}
    assert cmap.coverage_of("312", served, wanted) == cmap.COVERED
    assert cmap.coverage_of("305", served, wanted) == cmap.WANTED
    assert cmap.coverage_of("415", served, wanted) is None
    assert cmap.coverage_of("907", served, wanted) is None


def test_the_svg_classes_titles_and_order() -> None:
    """Coloured area codes come last (on top of an overlay sharing their territory), each
    with its classes and a hover title saying what is there."""
    found = cmap.areas({"312": {"healthy": 1, "resting": 1}, "212": {"watch": 1}},
                       {"305": (2, 1)}, {"312": "Illinois", "305": "Florida"})
    by_code = {a.code: a for a in found}
    assert by_code["312"].title == "312 Illinois: 2 numbers (1 healthy, 1 resting)"
    assert by_code["305"].title == "305 Florida: no local number; 2 contacts, 1 recent callee"
    assert by_code["907"].title == "907: no local number"
    picture = cmap.svg(found, "coverage")
    order = re.findall(r'data-area-code="(\d+)"', picture)
    assert order[-3:] == ["305", "212", "312"]
    assert 'data-area-code="312" class="c-covered h-resting"' in picture
    assert 'class="coverage-map by-health"' in cmap.svg(found, "health")
    health_order = re.findall(r'data-area-code="(\d+)"', cmap.svg(found, "health"))
    assert health_order[-2:] == ["212", "312"]  # resting above watched
    assert cmap.legend(found, "coverage") == [
        ("c-covered", "a local number", 2), ("c-wanted", cmap.COVERAGE_WORDS["wanted"], 1),
        ("none", "nothing yet", len(found) - 3)]
    assert [row[2] for row in cmap.legend(found, "health")] == [0, 0, 1, 1, len(found) - 2]


def test_titles_are_escaped() -> None:
    found = cmap.areas({}, {}, {"312": "<b>&"})
    assert "<title>312 &lt;b&gt;&amp;: no local number</title>" in cmap.svg(found, "coverage")
