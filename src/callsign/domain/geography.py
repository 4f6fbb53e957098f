"""Where NANP area codes are (SPEC 3.3, proximity): centroids, overlays and neighbours.

The table ``data/area_codes_geo.json`` is derived by ``scripts/build_geography.py`` from
licensed public data shipped by packages (area-code-locator's MIT-licensed polygons and
libphonenumber's place names, Apache 2.0); its ``source`` says so. It is read once, when
first asked for, and everything a decision asks of it is precomputed per area code:
no decision reads a file or walks the table.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

EARTH_RADIUS_MILES = 3958.8


@dataclass(frozen=True)
class AreaCode:
    """One area code's place: its centroid, country, overlays and neighbours."""

    code: str
    lat: float
    lon: float
    country: str
    overlays: frozenset[str]  # the same territory (312, 773 and 872 in Chicago)
    neighbours: frozenset[str]  # sharing a border, not an overlay


def haversine_miles(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """The great-circle distance between two points, in miles."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_MILES * math.asin(math.sqrt(min(1.0, a)))


class Geography:
    """The shipped table of area codes, with what decisions ask of it precomputed."""

    def __init__(self, table: dict[str, Any]) -> None:
        self.source: dict[str, Any] = table.get("source", {})
        self.area_codes: dict[str, AreaCode] = {
            code: AreaCode(
                code,
                float(row["lat"]),
                float(row["lon"]),
                str(row["country"]),
                frozenset(row["overlays"]),
                frozenset(row["neighbours"]),
            )
            for code, row in table["area_codes"].items()
        }
        self._by_distance: dict[str, tuple[tuple[float, str], ...]] = {}

    def get(self, code: str | None) -> AreaCode | None:
        return self.area_codes.get(code) if code else None

    def overlays(self, code: str | None) -> frozenset[str]:
        place = self.get(code)
        return place.overlays if place else frozenset()

    def neighbours(self, code: str | None) -> frozenset[str]:
        place = self.get(code)
        return place.neighbours if place else frozenset()

    def miles(self, a: str, b: str) -> float | None:
        """Miles between the centroids of two area codes; None if either is unknown."""
        one, other = self.get(a), self.get(b)
        if one is None or other is None:
            return None
        return haversine_miles(one.lat, one.lon, other.lat, other.lon)

    def by_distance(self, code: str) -> tuple[tuple[float, str], ...]:
        """Every other area code as (miles, code), nearest first; computed once per code."""
        found = self._by_distance.get(code)
        if found is None:
            place = self.get(code)
            if place is None:
                return ()
            found = tuple(
                sorted(
                    (haversine_miles(place.lat, place.lon, o.lat, o.lon), o.code)
                    for o in self.area_codes.values()
                    if o.code != code
                )
            )
            self._by_distance[code] = found
        return found

    def within(self, code: str | None, miles: float) -> tuple[tuple[float, str], ...]:
        """The area codes whose centroids lie within ``miles`` of ``code``'s, nearest first."""
        if not code or miles <= 0:
            return ()
        near = []
        for item in self.by_distance(code):  # nearest first: stop at the first too far
            if item[0] > miles:
                break
            near.append(item)
        return tuple(near)


@cache
def geography() -> Geography:
    """The shipped table, read once."""
    text = resources.files("callsign.domain").joinpath("data", "area_codes_geo.json").read_text()
    return Geography(json.loads(text))


Ring = tuple[tuple[float, float], ...]  # (lon, lat) points, the first repeated at the end
Shape = tuple[tuple[Ring, ...], ...]  # polygons, each an outer ring and its holes


def _shape(geometry: dict[str, Any]) -> Shape:
    polygons = (geometry["coordinates"] if geometry["type"] == "MultiPolygon"
                else [geometry["coordinates"]])
    return tuple(tuple(tuple((float(x), float(y)) for x, y in ring) for ring in polygon)
                 for polygon in polygons)


def shapes_of(collection: dict[str, Any]) -> dict[str, Shape]:
    """Each area code's simplified outline, from a GeoJSON feature collection."""
    return {str(feature["properties"]["area_code"]): _shape(feature["geometry"])
            for feature in collection["features"]}


@cache
def shapes() -> dict[str, Shape]:
    """The shipped outlines (``data/area_codes_shapes.json``, simplified), read once: for
    pictures only, never for a decision."""
    text = resources.files("callsign.domain").joinpath("data",
                                                       "area_codes_shapes.json").read_text()
    return shapes_of(json.loads(text))
