"""How commands print: JSON for --json, and a decision's or route's trace for people."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from callsign.domain.model import Decision, Route


def emit(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


def print_trace(result: Decision | Route) -> None:
    for step in result.trace:
        number = f" {step.number}" if step.number else ""
        click.echo(f"  {step.result:>7}  {step.step}{number}: {step.detail}")
