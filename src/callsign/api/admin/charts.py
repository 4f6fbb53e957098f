"""The health pages' charts as data: each a JSON spec that static/charts.js draws with
uPlot (vendored in static/). The x axis is days by index, labelled in the organization's
clock, so the browser's own time zone never moves a call to another day.

A spec: ``{"kind": "days" | "categories" | "states", "labels": [...], "x": [...],
"series": [{"label", "values", "style": "bars" | "line" | "steps", "scale": "n" | "%" |
"state", "color"}]}`` (categories name their axis in ``x_label``; states list their
``levels``); a value is None where there is nothing to show (no call that day).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from callsign.domain.health_report import STATE_LEVELS, Tally
from callsign.domain.health_states import HealthState
from callsign.services.health_views import HealthDashboard, NumberHealthPage

CALLS, ANSWERED, RATE, SHORT, STATE = "#94a3b8", "#2456d6", "#17803d", "#b45309", "#6d28d9"
Spec = dict[str, Any]


def _percent(value: float | None) -> float | None:
    return None if value is None else round(100 * value, 1)


def _series(label: str, values: Sequence[float | int | None], style: str, scale: str,
            color: str) -> dict[str, Any]:
    return {"label": label, "values": list(values), "style": style, "scale": scale,
            "color": color}


def _day_labels(days: Sequence[date]) -> list[str]:
    return [day.strftime("%m-%d") for day in days]


def _days(days: Sequence[date], *series: dict[str, Any]) -> Spec:
    return {"kind": "days", "labels": _day_labels(days), "x": list(range(len(days))),
            "series": list(series)}


def _categories(title: str, names: Sequence[str], *series: dict[str, Any]) -> Spec:
    return {"kind": "categories", "x_label": title, "labels": list(names),
            "x": list(range(len(names))), "series": list(series)}


def daily_calls(days: Sequence[date], daily: Sequence[Tally]) -> Spec:
    return _days(days, _series("Calls", [t.calls for t in daily], "bars", "n", CALLS),
                 _series("Answered", [t.answered for t in daily], "bars", "n", ANSWERED))


def answer_rate(days: Sequence[date], daily: Sequence[Tally]) -> Spec:
    return _days(days, _series("Answer rate", [_percent(t.answer_rate) for t in daily],
                               "line", "%", RATE))


def short_share(days: Sequence[date], daily: Sequence[Tally]) -> Spec:
    return _days(days, _series("Short calls", [_percent(t.short_share) for t in daily],
                               "line", "%", SHORT))


def _day_position(at: datetime, starts: Sequence[datetime]) -> float:
    """Where ``at`` falls on the days' axis: its day's index and the part of it gone."""
    for i, (start, end) in enumerate(itertools.pairwise(starts)):
        if at < end:
            return i + max((at - start) / (end - start), 0.0)
    return float(len(starts) - 1)


def state_timeline(page: NumberHealthPage) -> Spec:
    """The state as steps over the days (a number never judged reads as healthy)."""
    levels = dict(STATE_LEVELS)
    x = [round(_day_position(at, page.starts), 4) for at, _ in page.steps]
    values = [levels[state or HealthState.HEALTHY] for _, state in page.steps]
    return {"kind": "states", "labels": _day_labels(page.days), "x": x,
            "levels": [s.value for s, _ in sorted(levels.items(), key=lambda kv: kv[1])],
            "series": [_series("State", values, "steps", "state", STATE)]}


def number_charts(page: NumberHealthPage) -> dict[str, Spec]:
    return {"daily_calls": daily_calls(page.days, page.daily),
            "answer_rate": answer_rate(page.days, page.daily),
            "short_share": short_share(page.days, page.daily),
            "timeline": state_timeline(page)}


def dashboard_charts(board: HealthDashboard) -> dict[str, Spec]:
    def rates(title: str, rows: Sequence[tuple[str, Tally]]) -> Spec:
        return _categories(title, [name for name, _ in rows], _series(
            "Answer rate", [_percent(t.answer_rate) for _, t in rows], "bars", "%", RATE))

    return {"by_area_code": rates("Area code", board.by_area_code),
            "by_rule": rates("Rule", board.by_rule),
            "by_day": _days(board.days,
                            _series("Calls", [t.calls for t in board.daily], "bars", "n", CALLS),
                            _series("Answer rate", [_percent(t.answer_rate)
                                                    for t in board.daily], "line", "%", RATE))}
