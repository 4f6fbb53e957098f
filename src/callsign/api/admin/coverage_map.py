"""The admin's coverage map as a picture: US and Canadian area codes drawn server-side
as one SVG from the shipped simplified outlines (domain.geography.shapes), coloured by
coverage (a local number serves the area code; or callees and contacts there have none)
or by the health of the numbers serving it.

The projection is an Albers equal-area conic (the USGS parallels 29.5° and 45.5°, centred
on 96° W) with Alaska and Hawaii as insets below California; the picture keeps to where
people live: south of 60° N and east of 140° W (the view box clips the far north). Each
area code's path is projected, simplified to the pixel and written once per process
(``paths``); a page only chooses classes and titles.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from html import escape

from callsign.domain.geography import Ring, Shape, shapes
from callsign.domain.health_states import HealthState

WIDTH = 960  # the view box's width; its height follows the land's shape
NORTH, WEST = 60.0, -140.0  # the view box covers the land south and east of these
PARALLELS, CENTRE = (29.5, 45.5), (23.0, -96.0)  # (lat, lon)
HAWAII, ALASKA = ("808",), ("907",)
HAWAII_SHIFT = (49.0, 5.0)  # degrees of lon and lat moving Hawaii below Arizona
ALASKA_MIDDLE, ALASKA_AT, ALASKA_SCALE = (-152.0, 62.0), (-127.0, 27.0), 0.35  # (lon, lat)
DOT = 4  # pixels: the least an area code is drawn as

MODES = ("coverage", "health")
# Coverage: a local number serves the area code; callees or contacts there have none.
COVERED, WANTED = "covered", "wanted"
COVERAGE_WORDS = {COVERED: "a local number", WANTED: "callees or contacts, no local number"}
# Health, worst last: the state of most of the area code's numbers (a tie: the worse).
SEVERITY = (HealthState.HEALTHY, HealthState.WARMING, HealthState.WATCH,
            HealthState.RESTING)
HEALTH_WORDS = {HealthState.HEALTHY: "healthy", HealthState.WARMING: "warming up",
                HealthState.WATCH: "watched", HealthState.RESTING: "resting"}

Point = tuple[float, float]


def _albers() -> tuple[float, float, float]:
    p1, p2 = (math.radians(p) for p in PARALLELS)
    n = (math.sin(p1) + math.sin(p2)) / 2
    c = math.cos(p1) ** 2 + 2 * n * math.sin(p1)
    rho0 = math.sqrt(c - 2 * n * math.sin(math.radians(CENTRE[0]))) / n
    return n, c, rho0


_N, _C, _RHO0 = _albers()


def project(lon: float, lat: float) -> Point:
    """Albers equal-area: (lon, lat) in degrees to (x, y) on the unit sphere, y down;
    longitudes east of 0 (the Aleutians past the antimeridian) wrap to the west."""
    if lon > 0:
        lon -= 360.0
    theta = _N * math.radians(lon - CENTRE[1])
    rho = math.sqrt(max(_C - 2 * _N * math.sin(math.radians(lat)), 0.0)) / _N
    return rho * math.sin(theta), -(_RHO0 - rho * math.cos(theta))


def _inset(point: Point, middle: Point, target: Point, scale: float) -> Point:
    return (target[0] + (point[0] - middle[0]) * scale,
            target[1] + (point[1] - middle[1]) * scale)


def place(code: str, lon: float, lat: float) -> Point:
    """Where a point of ``code``'s outline lands on the map: Alaska and Hawaii are insets
    below California, as US maps draw them (Alaska at ALASKA_SCALE)."""
    if code in HAWAII:
        return project(lon + HAWAII_SHIFT[0], lat + HAWAII_SHIFT[1])
    if code in ALASKA:
        return _inset(project(lon, lat), project(*ALASKA_MIDDLE), project(*ALASKA_AT),
                      ALASKA_SCALE)
    return project(lon, lat)


@dataclass(frozen=True)
class Frame:
    """The projected land's box (south of NORTH, east of WEST) and the scale fitting it to
    WIDTH."""

    left: float
    top: float
    scale: float
    height: int

    def pixel(self, point: Point) -> tuple[int, int]:
        return (round((point[0] - self.left) * self.scale),
                round((point[1] - self.top) * self.scale))


def frame_of(outlines: Mapping[str, Shape]) -> Frame:
    points = [place(code, lon, lat) for code, shape in outlines.items()
              for polygon in shape for ring in polygon for lon, lat in ring
              if code in ALASKA or (lat <= NORTH and WEST <= lon < 0)]
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    scale = WIDTH / (max(xs) - min(xs))
    return Frame(min(xs), min(ys), scale, math.ceil((max(ys) - min(ys)) * scale))


def ring_path(pixels: Iterable[tuple[int, int]]) -> str:
    """One closed ring as relative SVG path commands, points closer than a pixel to the
    last one kept dropped; "" for a ring that shrinks below a triangle."""
    kept: list[tuple[int, int]] = []
    for x, y in pixels:
        if not kept or abs(x - kept[-1][0]) + abs(y - kept[-1][1]) >= 2:
            kept.append((x, y))
    if len(kept) > 1 and kept[-1] == kept[0]:
        kept.pop()
    if len(kept) < 3:
        return ""
    steps = [f"{x - a} {y - b}" for (a, b), (x, y) in itertools.pairwise(kept)]
    return f"M{kept[0][0]} {kept[0][1]}l" + " ".join(steps).replace(" -", "-") + "z"


def shape_path(code: str, shape: Shape, frame: Frame) -> str:
    """The area code's rings; one too small to draw (downtown Chicago's 312) becomes a
    dot of DOT pixels at its middle, so it still shows and hovers."""
    rings: Sequence[Ring] = [ring for polygon in shape for ring in polygon]
    drawn = "".join(ring_path(frame.pixel(place(code, lon, lat)) for lon, lat in ring)
                    for ring in rings)
    if drawn or not rings:
        return drawn
    points = [frame.pixel(place(code, lon, lat)) for ring in rings for lon, lat in ring]
    x = round(sum(p[0] for p in points) / len(points))
    y = round(sum(p[1] for p in points) / len(points))
    half = DOT // 2
    return f"M{x - half} {y - half}h{DOT}v{DOT}h-{DOT}z"


@cache
def paths() -> tuple[Frame, dict[str, str]]:
    """Every area code's path on the map, computed once per process."""
    outlines = shapes()
    frame = frame_of(outlines)
    drawn = {code: shape_path(code, shape, frame) for code, shape in sorted(outlines.items())}
    return frame, {code: d for code, d in drawn.items() if d}


# -- colouring ------------------------------------------------------------------------------

def coverage_of(code: str, served: Mapping[str, Mapping[str, int]],
                wanted: Mapping[str, tuple[int, int]]) -> str | None:
    """covered (a number serves it), wanted (callees or contacts, no number), else None."""
    if sum(served.get(code, {}).values()):
        return COVERED
    return WANTED if code in wanted else None


def health_of(states: Mapping[str, int]) -> HealthState | None:
    """The state of most of an area code's numbers, a tie going to the worse; None for
    an area code no number serves."""
    counted = [(n, SEVERITY.index(HealthState(s)), HealthState(s))
               for s, n in states.items() if n > 0]
    return max(counted)[2] if counted else None


# -- the picture ----------------------------------------------------------------------------

@dataclass(frozen=True)
class MapArea:
    code: str
    coverage: str | None
    health: HealthState | None
    title: str


def _count(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _title(code: str, region: str | None, states: Mapping[str, int],
           want: tuple[int, int] | None) -> str:
    head = f"{code} {region}" if region else code
    served = sum(states.values())
    if served:
        parts = ", ".join(f"{n} {HEALTH_WORDS[HealthState(s)]}"
                          for s, n in sorted(states.items(),
                                             key=lambda kv: SEVERITY.index(HealthState(kv[0])))
                          if n)
        return f"{head}: {_count(served, 'number')} ({parts})"
    if want:
        contacts, callees = want
        return (f"{head}: no local number; {_count(contacts, 'contact')}, "
                f"{_count(callees, 'recent callee')}")
    return f"{head}: no local number"


def areas(served: Mapping[str, Mapping[str, int]], wanted: Mapping[str, tuple[int, int]],
          regions: Mapping[str, str | None]) -> list[MapArea]:
    """Every drawn area code with its colours and hover title."""
    _, drawn = paths()
    return [MapArea(code, coverage_of(code, served, wanted), health_of(served.get(code, {})),
                    _title(code, regions.get(code), served.get(code, {}), wanted.get(code)))
            for code in drawn]


def _rank(area: MapArea, mode: str) -> int:
    """Drawing order: the coloured on top (an overlay sharing the territory of an area code
    with numbers must not hide it), and in health the worse above the better."""
    if mode == "health":
        return -1 if area.health is None else SEVERITY.index(area.health)
    return {None: 0, WANTED: 1, COVERED: 2}[area.coverage]


def svg(found: Sequence[MapArea], mode: str) -> str:
    """The map as one inline SVG element coloured for ``mode`` (classes that admin.css
    fills; each area code's <title> shows on hover)."""
    frame, drawn = paths()
    out = [f'<svg id="coverage-map" class="coverage-map by-{mode}" viewBox="0 0 {WIDTH} '
           f'{frame.height}" role="img" aria-label="Area codes coloured by {mode}">']
    for area in sorted(found, key=lambda a: (_rank(a, mode), a.code)):
        classes = " ".join(c for c in (
            f"c-{area.coverage}" if area.coverage else "",
            f"h-{area.health.value}" if area.health else "") if c)
        attr = f' class="{classes}"' if classes else ""
        out.append(f'<path data-area-code="{area.code}"{attr} d="{drawn[area.code]}">'
                   f"<title>{escape(area.title)}</title></path>")
    out.append("</svg>")
    return "".join(out)


def legend(found: Sequence[MapArea], mode: str) -> list[tuple[str, str, int]]:
    """(class, words, how many area codes) for each colour of ``mode``, then the rest."""
    if mode == "health":
        rows = [(f"h-{s.value}", HEALTH_WORDS[s], sum(a.health == s for a in found))
                for s in SEVERITY]
        rest = sum(a.health is None for a in found)
    else:
        rows = [(f"c-{c}", COVERAGE_WORDS[c], sum(a.coverage == c for a in found))
                for c in (COVERED, WANTED)]
        rest = sum(a.coverage is None for a in found)
    return [*rows, ("none", "no local number" if mode == "health" else "nothing yet", rest)]
