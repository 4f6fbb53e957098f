"""The cost of compliance's pure core (SPEC 10): one ``evaluate`` per call, allowed and
refused (the refusal looks for ``next_allowed_at``).

    .venv/bin/python bench/compliance_eval.py [--calls 2000] [--check]

Data. An organization with weekly hours, holidays by the callee's state, the federal,
Florida, Oklahoma and Maryland packs and a frequency cap; callees over area codes of
one to two zones (907: Anchorage and Adak), each with three recent calls. Places are
read once per number, as the service will cache them.

Targets: an allowed call's evaluation at most 0.3 ms (a tenth of the ~3 ms a decision
costs on SQLite, FACTS.md), a refused one at most 3 ms.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from callsign.domain.compliance.caps import RecentCall
from callsign.domain.compliance.decision import ComplianceCall, evaluate
from callsign.domain.compliance.policy import organization_policy
from callsign.domain.compliance.zones import place_of

NUMBERS = ["+12125550100", "+13055550100", "+14055550100", "+14105550100", "+13125550100",
           "+12135550100", "+19075550100", "+16175550100", "+18505550100", "+15125550100"]
SETTINGS = {"hours": {"mon-fri": ["08:00-21:00"], "sat": ["09:00-17:00"]},
            "holidays": {"country": "US", "subdivision": "callee"},
            "packs": ["federal", "florida", "oklahoma", "maryland"],
            "caps": [{"calls": 5, "days": 7}]}
ALLOWED_AT = datetime(2026, 12, 7, 18, 0, tzinfo=UTC)  # Monday 13:00 New York
REFUSED_AT = datetime(2026, 12, 7, 4, 0, tzinfo=UTC)  # Sunday night in every US zone


def per_call_ms(now: datetime, calls: int) -> float:
    policy = organization_policy(SETTINGS)
    places = [place_of(n, "US", None, "America/New_York") for n in NUMBERS]
    recent = [RecentCall(now - timedelta(hours=h), "renewal") for h in (30, 60, 90)]
    started = time.perf_counter()
    for i in range(calls):
        evaluate(policy, ComplianceCall(places[i % len(places)], subject="renewal"), recent,
                 now)
    return (time.perf_counter() - started) / calls * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--check", action="store_true", help="exit 1 on a miss")
    args = parser.parse_args()
    per_call_ms(ALLOWED_AT, 10)  # libphonenumber's and the packs' data, read once
    misses = 0
    for label, now, target in (("allowed", ALLOWED_AT, 0.3), ("refused", REFUSED_AT, 3.0)):
        cost = per_call_ms(now, args.calls if label == "allowed" else args.calls // 5)
        verdict = "PASS" if cost <= target else "MISS"
        misses += verdict == "MISS"
        print(f"{label:8} {cost:.3f} ms a call (target {target} ms) {verdict}")
    return 1 if args.check and misses else 0


if __name__ == "__main__":
    raise SystemExit(main())
