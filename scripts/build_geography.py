"""Build callsign's area-code geography from licensed public data (SPEC 3.3, proximity).

Not run by the tests or at install: run it by hand when the sources change, and commit
what it writes. It needs the build-only extra (``pip install -e '.[geography]'``):

    python scripts/build_geography.py

Sources:
- ``area-code-locator`` (MIT License, (c) Area Code Locator Contributors): NANP area-code
  polygons (WGS 84), "derived from public NANP datasets".
- ``phonenumbers`` (Apache License 2.0, a port of Google's libphonenumber): the country
  of each area code, and the place names of its prefixes, which place the area codes the
  polygons lack (later overlays such as 872, 332, 437) on the polygons of the area codes
  whose places they share.

Writes, into ``src/callsign/domain/data/``:
- ``area_codes_geo.json``: for each US and Canadian area code, its centroid (lat/lon),
  its country, its overlays (area codes whose territory mostly coincides with its own)
  and its neighbours (area codes sharing a border with it); with the sources' attribution.
- ``area_codes_shapes.json``: simplified polygons (GeoJSON FeatureCollection) for maps.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from importlib import metadata, resources
from pathlib import Path
from typing import Any

import geopandas as gpd  # type: ignore[import-untyped]
import phonenumbers  # noqa: TID251 (a build script, not callsign)
from phonenumbers.geodata import GEOCODE_DATA  # noqa: TID251
from shapely.geometry import mapping  # type: ignore[import-untyped]
from shapely.ops import unary_union  # type: ignore[import-untyped]

OUT = Path(__file__).resolve().parent.parent / "src" / "callsign" / "domain" / "data"
COUNTRIES = ("US", "CA")
OVERLAY_SHARE = 0.8  # the smaller territory lies at least this much inside the other
DETAIL_DEGREES = 0.002  # ~200 m: the polygons' detail the relations look at
BORDER_DEGREES = 0.03  # ~3 km: slivers, gaps and narrow waters (the bays) are crossed
BORDER_LENGTH = 0.05  # ~5 km of one's boundary lies that near the other: a shared border
NAME_SHARE = 0.8  # a code without a polygon: this share of its prefixes name host places
HOST_SHARE = 0.25  # ... and each such place names this share of the host's prefixes
SIMPLIFY_DEGREES = 0.05  # ~5 km: enough for a map of the continent
PRECISION = 2  # ~1 km: enough for a map of the continent


def country_of(npa: str) -> str | None:
    """The region libphonenumber gives a number in area code ``npa`` (US, CA, PR, ...)."""
    number = phonenumbers.parse(f"+1{npa}2345678")
    return phonenumbers.region_code_for_number(number)


def place_names() -> dict[str, Counter[str]]:
    """For each area code, the place names of its prefixes in libphonenumber's geocoder."""
    names: dict[str, Counter[str]] = defaultdict(Counter)
    for prefix, described in GEOCODE_DATA.items():
        if prefix.startswith("1") and len(prefix) >= 4 and described.get("en"):
            names[prefix[1:4]][described["en"]] += 1
    return names


def load_polygons() -> dict[str, Any]:
    path = resources.files("area_code_locator") / "data" / "area-codes.parquet"
    frame = gpd.read_parquet(str(path))
    by_code: dict[str, list[Any]] = defaultdict(list)
    for code, geometry in zip(frame["area_code"], frame.geometry, strict=True):
        by_code[str(code)].append(geometry.buffer(0))
    return {code: unary_union(parts) for code, parts in by_code.items()
            if country_of(code) in COUNTRIES}


def relations(shapes: dict[str, Any]) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """Overlays (territories that mostly coincide) and neighbours (sharing a border)."""
    overlays: dict[str, set[str]] = defaultdict(set)
    neighbours: dict[str, set[str]] = defaultdict(set)
    codes = sorted(shapes)
    shapes = {code: shapes[code].simplify(DETAIL_DEGREES) for code in codes}
    grown = {code: shapes[code].buffer(BORDER_DEGREES) for code in codes}
    bounds = {code: grown[code].bounds for code in codes}
    for i, a in enumerate(codes):
        for b in codes[i + 1:]:
            (ax0, ay0, ax1, ay1), (bx0, by0, bx1, by1) = bounds[a], bounds[b]
            if ax1 < bx0 or bx1 < ax0 or ay1 < by0 or by1 < ay0:
                continue
            if not grown[a].intersects(grown[b]):
                continue
            smaller = min(shapes[a].area, shapes[b].area)
            common = shapes[a].intersection(shapes[b]).area
            if smaller > 0 and common / smaller >= OVERLAY_SHARE:
                overlays[a].add(b)
                overlays[b].add(a)
            elif max(shapes[a].boundary.intersection(grown[b]).length,
                     shapes[b].boundary.intersection(grown[a]).length) >= BORDER_LENGTH:
                neighbours[a].add(b)
                neighbours[b].add(a)
    return overlays, neighbours


def hosts_of(code: str, names: dict[str, Counter[str]], shapes: dict[str, Any]) -> set[str]:
    """The area codes with polygons whose places hold most of ``code``'s prefixes."""
    # Only a city's name places a code: a state's or province's name alone ("California")
    # says too little of where in it the code is.
    own = Counter({name: n for name, n in names.get(code, Counter()).items() if ", " in name})
    if not own:
        return set()
    total = sum(own.values())
    hosts = set()
    for other in shapes:
        theirs = names.get(other, Counter())
        size = sum(theirs.values())
        shared = sum(count for name, count in own.items()
                     if size and theirs[name] / size >= HOST_SHARE)
        if shared / total >= NAME_SHARE:
            hosts.add(other)
    return hosts


def build() -> tuple[dict[str, Any], dict[str, Any]]:
    shapes = load_polygons()
    overlays, neighbours = relations(shapes)
    centroids = {code: shape.centroid for code, shape in shapes.items()}
    derived: dict[str, set[str]] = {}
    names = place_names()
    for code in sorted(names):
        if code in shapes or country_of(code) not in COUNTRIES:
            continue
        hosts = hosts_of(code, names, shapes)
        if hosts:
            derived[code] = hosts
            centroids[code] = unary_union([shapes[h] for h in hosts]).centroid
    for code, hosts in derived.items():  # an overlay of each host, and of each other
        for host in hosts:
            overlays[code].add(host)
            overlays[host].add(code)
        neighbours[code] = set().union(*(neighbours[h] for h in hosts)) - hosts
        for near in neighbours[code]:
            neighbours[near].add(code)
    for code, hosts in derived.items():
        for other, its_hosts in derived.items():
            if other != code and hosts == its_hosts:
                overlays[code].add(other)
        neighbours[code] -= overlays[code]
    table = {
        code: {
            "lat": round(centroids[code].y, 4),
            "lon": round(centroids[code].x, 4),
            "country": country_of(code),
            "overlays": sorted(overlays[code]),
            "neighbours": sorted(neighbours[code] - overlays[code]),
            "from": "places" if code in derived else "polygon",
        }
        for code in sorted(centroids)
    }
    geo = {"source": attribution(), "area_codes": table}
    features = [
        {"type": "Feature", "properties": {"area_code": code},
         "geometry": _rounded(mapping(shapes[code].simplify(SIMPLIFY_DEGREES,
                                                            preserve_topology=True)))}
        for code in sorted(shapes)
    ]
    shapes_doc = {"type": "FeatureCollection", "source": attribution(), "features": features}
    return geo, shapes_doc


def _rounded(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, PRECISION)
    if isinstance(value, (list, tuple)):
        return [_rounded(v) for v in value]
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    return value


def attribution() -> dict[str, Any]:
    return {
        "polygons": {
            "package": "area-code-locator",
            "version": metadata.version("area-code-locator"),
            "license": "MIT License",
            "copyright": "Area Code Locator Contributors",
            "note": "area-code boundaries derived from public NANP datasets",
        },
        "places": {
            "package": "phonenumbers",
            "version": metadata.version("phonenumbers"),
            "license": "Apache License 2.0",
            "copyright": "Google's libphonenumber and the phonenumbers contributors",
            "note": "countries of area codes; prefix place names place the area codes "
                    "the polygons lack on the polygons of the codes sharing their places",
        },
        "derived_by": "scripts/build_geography.py",
    }


def main() -> None:
    geo, shapes = build()
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "area_codes_geo.json").write_text(
        json.dumps(geo, indent=0, sort_keys=True, separators=(",", ":")) + "\n")
    (OUT / "area_codes_shapes.json").write_text(
        json.dumps(shapes, separators=(",", ":")) + "\n")
    print(f"{len(geo['area_codes'])} area codes; {len(shapes['features'])} polygons")


if __name__ == "__main__":
    main()
