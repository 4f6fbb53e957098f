"""What number health, compliance and proximity add to a decision's cost, on SQLite.

    .venv/bin/python -m bench.feature_cost [--numbers 10000] [--calls 100000]
        [--contacts 20000] [--decisions 2000] [--rounds 3] [--groups health compliance ...]

One SQLite database, built by ``bench/decisions.py``'s builder (schema from the
migrations, the organization from its org document, numbers, contacts and calls
bulk-loaded), then given what the features read: contacts with a state (80%) and a time
zone (50%), consent dates (50%) with their reassigned-numbers answers (``no``; 0.5%
``yes``), an organization do-not-call list (``--dnc``, 10k: 0.5% of the contacts, the
rest other numbers), a national registry (``--registry``, 100k: 0.5% of the contacts),
and number health rows (3% of the numbers resting, 3% warming).

Then the same seeded decisions (``callsign.services.calls.place_call``, one transaction
each, half of them naming a subject) run with the organization's features OFF (plain
local presence, as today) and ON per group, set through the org's settings
(``services.organization.update_settings``, as ``PATCH /v1/org``):

* health: ``shaping`` with the ramp and ``one_live_call``; limits high enough to pace
  without refusing (the resting and warming numbers are passed over in both runs);
* compliance: packs federal, florida, oklahoma, maryland, debt_collection, the
  organization's hours and holidays, a per-contact and a per-subject cap;
* proximity: the chain (exchange, overlay, adjacent, 50-mile radius);
* all: the three together.

Plain and feature runs alternate (A B, then B A), each from the same state (``reset``);
per group it prints decisions/s and CPU ms per decision (``time.process_time``), the
feature/plain ratio of CPU per decision in each round (paired), its best and median, and
PASS/MISS against <= 1.10; and the share of decisions refused (by rule) on each side.
"""

from __future__ import annotations

import argparse
import os
import random
import sqlite3
import statistics
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from bench import decisions as base
from callsign.domain import phone
from callsign.domain.errors import Refused
from callsign.domain.model import OutboundRequest
from callsign.services import organization as org_service
from callsign.services.calls import place_call
from callsign.store.db import create_store_engine
from callsign.store.uow import UnitOfWork

FEATURE_VERSION = 1  # bump when the features' data changes, to rebuild cached databases
TARGET = 1.10
PACKS = ["federal", "florida", "oklahoma", "maryland", "debt_collection"]
OFF: dict[str, Any] = {"health": None, "compliance": None, "proximity": {}}
# No call's result arrives here: a live call holds its number for live_call_minutes.
HEALTH: dict[str, Any] = {"health": {"shaping": True, "one_live_call": True,
                                     "live_call_minutes": 1,
                                     "per_minute": 100, "per_hour": 1000}}
COMPLIANCE: dict[str, Any] = {"compliance": {
    "hours": {"mon-fri": ["08:00-21:00"], "sat": ["09:00-17:00"]},
    "holidays": {"country": "US", "subdivision": "callee"},
    "packs": PACKS,
    "caps": [{"calls": 20, "hours": 24, "per": "contact"},
             {"calls": 20, "hours": 168, "per": "subject"}],
}}
PROXIMITY: dict[str, Any] = {"proximity": {"exchange": True, "overlay": True,
                                           "adjacent": True, "radius_miles": 50}}
GROUPS: dict[str, dict[str, Any]] = {
    "health": HEALTH, "compliance": COMPLIANCE, "proximity": PROXIMITY,
    "all": {**HEALTH, **COMPLIANCE, **PROXIMITY},
}
LISTED_SHARE = 0.005  # of the contacts, on each do-not-call list; reassigned "yes" too
CONSENTED_ON = "2025-06-01"
US_STATES = {
    "Alabama": "AL", "Alaska": "AK", "Arizona": "AZ", "Arkansas": "AR", "California": "CA",
    "Colorado": "CO", "Connecticut": "CT", "Delaware": "DE", "District of Columbia": "DC",
    "Washington D.C.": "DC", "Florida": "FL", "Georgia": "GA", "Hawaii": "HI", "Idaho": "ID",
    "Illinois": "IL", "Indiana": "IN", "Iowa": "IA", "Kansas": "KS", "Kentucky": "KY",
    "Louisiana": "LA", "Maine": "ME", "Maryland": "MD", "Massachusetts": "MA",
    "Michigan": "MI", "Minnesota": "MN", "Mississippi": "MS", "Missouri": "MO",
    "Montana": "MT", "Nebraska": "NE", "Nevada": "NV", "New Hampshire": "NH",
    "New Jersey": "NJ", "New Mexico": "NM", "New York": "NY", "North Carolina": "NC",
    "North Dakota": "ND", "Ohio": "OH", "Oklahoma": "OK", "Oregon": "OR",
    "Pennsylvania": "PA", "Rhode Island": "RI", "South Carolina": "SC",
    "South Dakota": "SD", "Tennessee": "TN", "Texas": "TX", "Utah": "UT", "Vermont": "VT",
    "Virginia": "VA", "Washington": "WA", "West Virginia": "WV", "Wisconsin": "WI",
    "Wyoming": "WY",
}

log = base.log


# -- build ------------------------------------------------------------------------------

def db_path(args: argparse.Namespace) -> Path:
    plain = base.db_path(args.db_dir, args, args.numbers)
    return plain.with_name(f"{plain.stem}-dnc{args.dnc}-reg{args.registry}"
                           f"-f{FEATURE_VERSION}.db")


def ensure_database(path: Path, args: argparse.Namespace) -> None:
    if path.exists():
        log(f"  database: {path} (cached, {path.stat().st_size / 1e6:.0f} MB)")
        return
    stem = path.name.partition("-r")[0]
    for stale in path.parent.glob(f"{stem}-r*-f*.db"):
        log(f"  removing {stale.name} (another schema or generator version)")
        stale.unlink()
    started = time.perf_counter()
    area_codes = base.nanp_area_codes()
    data = base.BuildData(base.org_numbers(args.numbers, area_codes, args.seed),
                          base.contact_numbers(args.contacts, area_codes, args.seed + 1))
    building = path.with_name(path.name + ".plain")
    base.build(building, args.numbers, args, data)
    add_feature_data(building, args, area_codes)
    building.rename(path)
    log(f"  database: {path} built in {time.perf_counter() - started:.1f} s "
        f"({path.stat().st_size / 1e6:.0f} MB)")


def add_feature_data(path: Path, args: argparse.Namespace,
                     area_codes: Sequence[tuple[str, str]]) -> None:
    """Contacts' addresses and consents, the do-not-call lists, health rows."""
    rng = random.Random(args.seed + 10)
    at = base.db_time(base.BASE_NOW - timedelta(days=1))
    with base.sqlite(path, bulk=True) as conn:
        org_id, = conn.execute("SELECT id FROM orgs WHERE slug = ?", (base.SLUG,)).fetchone()
        contacts = conn.execute("SELECT id, phone FROM contacts ORDER BY id").fetchall()
        conn.execute("BEGIN")
        updates: list[base.Row] = []
        checks: list[base.Row] = []
        for contact_id, number in contacts:
            facts = phone.facts_for(number, "US", field="contact")
            state = US_STATES.get(facts.region or "") if rng.random() < 0.8 else None
            zone = facts.timezones[0] if facts.timezones and rng.random() < 0.5 else None
            consented = CONSENTED_ON if rng.random() < 0.5 else None
            updates.append((state, zone, consented, contact_id))
            if consented:
                answer = "yes" if rng.random() < LISTED_SHARE else "no"
                checks.append((org_id, number, consented, answer, at, "bench"))
        conn.executemany("UPDATE contacts SET state = ?, timezone = ?, consented_on = ? "
                         "WHERE id = ?", updates)
        conn.executemany("INSERT INTO reassigned_checks (org_id, number, since, answer, "
                         "checked_at, source) VALUES (?, ?, ?, ?, ?, ?)", checks)
        phones = [number for _, number in contacts]
        conn.executemany(
            "INSERT OR IGNORE INTO do_not_call (org_id, number, source, added_at, note) "
            "VALUES (?, ?, 'bench', ?, '')",
            [(org_id, n, at) for n in listed(phones, args.dnc, area_codes, rng)])
        conn.executemany(
            "INSERT OR IGNORE INTO dnc_registry (org_id, number, area_code, source, "
            "listed_on, imported_at) VALUES (?, ?, ?, 'ftc-bench', ?, ?)",
            [(org_id, n, n[2:5], "2026-03-01", at)
             for n in listed(phones, args.registry, area_codes, rng)])
        number_ids = [i for i, in conn.execute(
            "SELECT id FROM numbers WHERE status = 'active' ORDER BY id")][base.DOC_NUMBERS:]
        rows: list[base.Row] = []
        for number_id in rng.sample(number_ids, len(number_ids) * 6 // 100):
            resting = len(rows) % 2 == 0
            since = base.BASE_NOW - timedelta(days=2 if resting else 3)
            rows.append((number_id, org_id, "resting" if resting else "warming",
                         40 if resting else None,
                         '["bench: 608 Rejected"]' if resting else '["a new number warms up"]',
                         base.db_time(since), base.db_time(since),
                         base.db_time(since + timedelta(days=7)) if resting else None,
                         base.db_time(since)))
        conn.executemany(
            "INSERT INTO number_health (number_id, org_id, state, score, reasons, since, "
            "window_since, rest_until, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
        conn.execute("COMMIT")
        conn.execute("PRAGMA journal_mode=WAL")


def listed(phones: Sequence[str], size: int, area_codes: Sequence[tuple[str, str]],
           rng: random.Random) -> list[str]:
    """``size`` numbers for a do-not-call list: LISTED_SHARE of the contacts, the rest not."""
    known = set(phones)
    chosen = rng.sample(list(phones), min(size, int(len(phones) * LISTED_SHARE)))
    while len(chosen) < size:
        npa = rng.choice(area_codes)[0]
        number = f"+1{npa}{rng.randint(200, 999)}{rng.randint(0, 9999):04d}"
        if number not in known:
            known.add(number)
            chosen.append(number)
    return chosen


def reset(path: Path) -> dict[str, int]:
    """decisions.py's reset, and the health columns the claims write."""
    with base.sqlite(path) as conn:
        conn.execute("UPDATE numbers SET recent_presentations = '', live_since = NULL "
                     "WHERE recent_presentations != '' OR live_since IS NOT NULL")
    return base.reset(path)


# -- the work ---------------------------------------------------------------------------

def make_jobs(path: Path, count: int, args: argparse.Namespace) -> list[OutboundRequest]:
    """decisions.py's jobs; half name a subject (a debt), for the per-subject caps."""
    rng = random.Random(args.seed + 11)
    return [OutboundRequest(org=job.org, user=job.user, to=job.to, project=job.project,
                            subject=f"debt-{rng.randrange(5000)}" if rng.random() < 0.5
                            else None)
            for job in base.make_jobs(path, count, args)]


@dataclass
class Run:
    decisions: int = 0
    elapsed: float = 0.0
    cpu: float = 0.0
    refused: Counter[str] = field(default_factory=Counter)
    rules: Counter[str] = field(default_factory=Counter)

    @property
    def rate(self) -> float:
        return self.decisions / self.elapsed

    @property
    def cpu_ms(self) -> float:
        return self.cpu / self.decisions * 1e3

    @property
    def refused_share(self) -> float:
        return sum(self.refused.values()) / self.decisions


def configure(engine: Engine, settings: dict[str, Any]) -> None:
    org_service.update_settings(UnitOfWork(engine), base.SLUG, settings)


def run(engine: Engine, jobs: Sequence[OutboundRequest], warmup: int, seed: int,
        step: timedelta) -> Run:
    """``place_call`` for every job, ``step`` apart; the first ``warmup`` untimed;
    refusals counted."""
    rng = random.Random(seed)
    nows = [base.BASE_NOW + step * i for i in range(len(jobs))]
    parse_cache = getattr(phone, "_cached_facts", None)
    if parse_cache is not None:
        parse_cache.cache_clear()

    def one(i: int, refused: Counter[str], rules: Counter[str]) -> None:
        try:
            decision = place_call(UnitOfWork(engine), jobs[i], now=nows[i], rng=rng)
        except Refused as exc:
            details = getattr(exc, "details", None) or {}
            refused[str(details.get("rule") or exc.code)] += 1
        else:
            rules[str(decision.rule)] += 1

    ignored: Counter[str] = Counter()
    for i in range(warmup):
        one(i, ignored, Counter())
    measure = Run(decisions=len(jobs) - warmup)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for i in range(warmup, len(jobs)):
        one(i, measure.refused, measure.rules)
    measure.elapsed = time.perf_counter() - wall0
    measure.cpu = time.process_time() - cpu0
    return measure


@dataclass
class Group:
    name: str
    plain: list[Run] = field(default_factory=list)
    feature: list[Run] = field(default_factory=list)

    def ratios(self) -> list[float]:
        """Feature over plain CPU per decision, paired by round."""
        return [f.cpu_ms / p.cpu_ms for p, f in zip(self.plain, self.feature, strict=True)]

    def wall_ratios(self) -> list[float]:
        return [p.rate / f.rate for p, f in zip(self.plain, self.feature, strict=True)]


def chosen(runs: Sequence[Run]) -> str:
    total = sum((r.rules for r in runs), Counter())
    decided = sum(total.values())
    return ", ".join(f"{rule} {n / decided:.1%}" for rule, n in total.most_common(5))


def refusals(runs: Sequence[Run]) -> str:
    total = sum((r.refused for r in runs), Counter())
    decided = sum(r.decisions for r in runs)
    share = sum(total.values()) / decided
    detail = ", ".join(f"{rule} {n / decided:.1%}" for rule, n in total.most_common(4))
    return f"{share:.1%}" + (f" ({detail})" if detail else "")


def measure_group(name: str, path: Path, engine: Engine, jobs: Sequence[OutboundRequest],
                  args: argparse.Namespace, baseline: dict[str, int]) -> Group:
    log(f"\n== {name}: {sorted(GROUPS[name])} on")
    group = Group(name)
    for r in range(args.rounds):
        for side in ("plain", "feature") if r % 2 == 0 else ("feature", "plain"):
            configure(engine, OFF if side == "plain" else GROUPS[name])
            counts = reset(path)
            changed = {t: n - baseline.get(t, 0) for t, n in counts.items()
                       if n != baseline.get(t, 0)}
            if changed:
                log(f"  WARNING: rows reset() does not undo: {changed}")
            (group.plain if side == "plain" else group.feature).append(
                run(engine, jobs, args.warmup, args.seed, args.step))
        p, f = group.plain[-1], group.feature[-1]
        log(f"  round {r + 1}: plain {p.rate:6,.0f}/s {p.cpu_ms:6.2f} CPU ms   "
            f"{name} {f.rate:6,.0f}/s {f.cpu_ms:6.2f} CPU ms   "
            f"CPU ratio {f.cpu_ms / p.cpu_ms:.3f}  wall ratio {p.rate / f.rate:.3f}")
    log(f"  refused: plain {refusals(group.plain)}; {name} {refusals(group.feature)}")
    log(f"  rules chosen: plain {chosen(group.plain)}")
    log(f"                {name} {chosen(group.feature)}")
    return group


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--numbers", type=int, default=10_000, help="inventory size")
    parser.add_argument("--calls", type=int, default=100_000, help="recorded calls")
    parser.add_argument("--contacts", type=int, default=20_000, help="contacts called")
    parser.add_argument("--dnc", type=int, default=10_000, help="do-not-call list entries")
    parser.add_argument("--registry", type=int, default=100_000,
                        help="national registry numbers")
    parser.add_argument("--decisions", type=int, default=2000, help="measured, per run")
    parser.add_argument("--warmup", type=int, default=300, help="decisions before measuring")
    parser.add_argument("--rounds", type=int, default=3, help="plain/feature rounds")
    parser.add_argument("--step", type=float, default=2.0,
                        help="seconds between decisions' times (default 2: a one-minute live "
                             "call frees its number before a pool comes round again)")
    parser.add_argument("--groups", nargs="+", choices=sorted(GROUPS),
                        default=["health", "compliance", "proximity", "all"])
    parser.add_argument("--project-share", type=float, default=0.2,
                        help="share of calls in a project (default 0.2)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--db-dir", type=Path,
                        default=Path(os.environ.get("CALLSIGN_BENCH_DIR", "/tmp/callsign-bench")))
    parser.add_argument("--check", action="store_true", help="exit 1 when a group misses")
    args = parser.parse_args(argv)
    if args.numbers < base.DOC_NUMBERS + 25 or args.contacts < 200 or args.rounds < 1:
        parser.error(f"--numbers must be at least {base.DOC_NUMBERS + 25}, --contacts 200, "
                     "--rounds 1")
    end = base.BASE_NOW + timedelta(seconds=args.step * (args.warmup + args.decisions))
    if args.step <= 0 or end - base.BASE_NOW > timedelta(hours=2):
        parser.error("--step: the decisions must fit in 2 hours (within every calling window)")
    args.db_dir.mkdir(parents=True, exist_ok=True)
    log(f"callsign feature cost, in-process, SQLite {sqlite3.sqlite_version}, Python "
        f"{sys.version.split()[0]}: {args.numbers:,} numbers, {args.calls:,} calls, "
        f"{args.contacts:,} contacts, DNC {args.dnc:,}, registry {args.registry:,}; "
        f"{args.decisions:,} decisions x {args.rounds} rounds after {args.warmup} warm-up; "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}")
    args.step = timedelta(seconds=args.step)
    path = db_path(args)
    ensure_database(path, args)
    base.warm_page_cache(path)
    jobs = make_jobs(path, args.warmup + args.decisions, args)
    engine = create_store_engine(f"sqlite:///{path}")
    configure(engine, OFF)
    baseline = reset(path)
    run(engine, jobs, len(jobs), args.seed, args.step)  # untimed: a process's first are slow
    baseline = reset(path)
    try:
        groups = [measure_group(name, path, engine, jobs, args, baseline)
                  for name in args.groups]
    finally:
        configure(engine, OFF)
        reset(path)
        engine.dispose()
    log(f"\n== summary: CPU ms per decision feature/plain, paired by round; target <= "
        f"{TARGET:.2f}; load average now {os.getloadavg()[0]:.2f} (a shared machine "
        "skews wall time more than CPU time)")
    log(f"{'group':>10}  {'plain/s':>8}  {'feat/s':>8}  {'plain ms':>8}  {'feat ms':>8}  "
        f"{'rounds':>20}  {'best':>5}  {'median':>6}  {'wall med':>8}  verdict (best; median)")
    missed = False
    for g in groups:
        ratios, best = g.ratios(), min(g.ratios())
        median = statistics.median(ratios)
        missed |= best > TARGET
        log(f"{g.name:>10}  {max(r.rate for r in g.plain):>8,.0f}  "
            f"{max(r.rate for r in g.feature):>8,.0f}  "
            f"{min(r.cpu_ms for r in g.plain):>8.2f}  {min(r.cpu_ms for r in g.feature):>8.2f}  "
            f"{' '.join(f'{x:.2f}' for x in ratios):>20}  {best:>5.2f}  {median:>6.2f}  "
            f"{statistics.median(g.wall_ratios()):>8.2f}  "
            f"{'PASS' if best <= TARGET else 'MISS'}; {'PASS' if median <= TARGET else 'MISS'}")
    return 1 if args.check and missed else 0


if __name__ == "__main__":
    sys.exit(main())
