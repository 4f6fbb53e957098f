"""One line of a decision's trace: a step tried, what came of it and why.

Below the model and the compliance rules, which both write trace lines (so neither
imports the other for it)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

TraceResult = Literal["chosen", "passed", "checked"]


@dataclass(frozen=True)
class TraceStep:
    """One step tried: which, what came of it and why."""

    step: str
    result: TraceResult
    detail: str
    number: str | None = None

    def as_dict(self) -> dict[str, str | None]:
        return {"step": self.step, "result": self.result, "detail": self.detail,
                "number": self.number}
