"""Scale: decisions on 1M numbers / 10M calls against 1k numbers / 10k calls, one store.

    .venv/bin/python bench/scale.py --store sqlite          # 1k/10k against 1M/10M
    .venv/bin/python bench/scale.py --store sqlite --big-numbers 100000 --big-calls 1000000
    .venv/bin/python bench/scale.py --store postgresql      # runs bench/pg_scale.py

Issue 12's target: a decision on the big data set within 20% of one on the small set,
in rate and in p99 latency. SQLite: the databases of bench/decisions.py (built once,
cached in --db-dir, bulk-loaded with executemany; contacts = calls / 6, as pg_scale.py
does), `place_call(UnitOfWork(engine))` in-process, one transaction per decision, sizes
alternating for --rounds rounds, best round per size (other processes on a shared
machine can only slow a round down); p99 over all rounds. PostgreSQL: bench/pg_scale.py
with the same sizes (COPY loads, cached schemas), which prints its own ratio and verdict.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import Engine, event

from bench import decisions as d
from callsign.store.db import create_store_engine

TARGET = 0.20


@dataclass
class Size:
    numbers: int
    calls: int
    args: argparse.Namespace
    path: Path
    rounds: list[d.Measure] = field(default_factory=list)
    steps: list[float] = field(default_factory=list)  # SQLite VM steps per decision, a round

    @property
    def label(self) -> str:
        return f"{self.numbers:,} numbers / {self.calls:,} calls"

    @property
    def rate(self) -> float:
        return max(m.rate for m in self.rounds)

    def p(self, q: float) -> float:
        return d.percentile([x for m in self.rounds for x in m.latencies], q) * 1e3


def prepare(numbers: int, calls: int, args: argparse.Namespace) -> Size:
    own = argparse.Namespace(**vars(args))
    own.calls = calls
    own.contacts = max(1000, calls // 6)
    path = d.db_path(args.db_dir, own, numbers)

    def data() -> d.BuildData:
        started = time.perf_counter()
        area_codes = d.nanp_area_codes()
        built = d.BuildData(d.org_numbers(numbers, area_codes, args.seed),
                            d.contact_numbers(own.contacts, area_codes, args.seed + 1))
        d.log(f"  generated {numbers:,} numbers and {own.contacts:,} contacts in "
              f"{time.perf_counter() - started:.1f} s")
        return built

    d.log(f"== {numbers:,} numbers, {calls:,} calls, {own.contacts:,} contacts")
    d.ensure_database(path, numbers, own, data)
    return Size(numbers, calls, own, path)


def sqlite_main(args: argparse.Namespace) -> int:
    args.db_dir.mkdir(parents=True, exist_ok=True)
    sizes = [prepare(args.small_numbers, args.small_calls, args),
             prepare(args.big_numbers, args.big_calls, args)]
    jobs = {s.numbers: d.make_jobs(s.path, args.warmup + args.decisions, s.args) for s in sizes}
    d.log(f"\nSQLite, in-process, {args.decisions:,} decisions x {args.rounds} rounds after "
          f"{args.warmup} warm-up; {os.cpu_count()} CPUs, load average "
          f"{os.getloadavg()[0]:.2f}")
    for r in range(args.rounds):
        for size in sizes if r % 2 == 0 else reversed(sizes):
            if args.warm_cache:
                d.warm_page_cache(size.path)
            d.reset(size.path)
            engine = create_store_engine(f"sqlite:///{size.path}")
            counted = _count_steps(engine)
            size.rounds.append(d.engine_round(engine, jobs[size.numbers], args.warmup,
                                              args.seed))
            engine.dispose()
            size.steps.append(counted[0] * STEPS / len(jobs[size.numbers]))
            d.reset(size.path)
            m = size.rounds[-1]
            d.log(f"  round {r + 1}: {size.label:<34} {m.rate:8,.0f} decisions/s  "
                  f"p50 {d.percentile(m.latencies, 0.5) * 1e3:6.2f} ms  "
                  f"p99 {d.percentile(m.latencies, 0.99) * 1e3:6.2f} ms  "
                  f"{size.steps[-1]:8,.0f} VM steps/decision  (load {os.getloadavg()[0]:.2f})")
    small, big = sizes
    rate_ratio = big.rate / small.rate
    p99_ratio = big.p(0.99) / small.p(0.99)
    d.log(f"\n{'size':<34} {'best/s':>8} {'p50 ms':>7} {'p99 ms':>7}")
    for s in sizes:
        d.log(f"{s.label:<34} {s.rate:8,.0f} {s.p(0.5):7.2f} {s.p(0.99):7.2f}")
    ok_rate = rate_ratio >= 1 - TARGET
    ok_p99 = p99_ratio <= 1 + TARGET
    # The work itself, whatever the machine's load: SQLite's virtual-machine steps per
    # decision (a statement that scanned more rows as the tables grow would take more).
    steps_ratio = max(big.steps) / min(small.steps)
    ok_steps = steps_ratio <= 1 + TARGET
    d.log(f"big/small rate {rate_ratio:.2f} (target >= {1 - TARGET:.2f}): "
          f"{'PASS' if ok_rate else 'MISS'}")
    d.log(f"big/small p99  {p99_ratio:.2f} (target <= {1 + TARGET:.2f}): "
          f"{'PASS' if ok_p99 else 'MISS'}")
    d.log(f"big/small VM steps per decision {steps_ratio:.2f} (most big over fewest small; "
          f"target <= {1 + TARGET:.2f}): {'PASS' if ok_steps else 'MISS'}")
    d.log(f"load average now {os.getloadavg()[0]:.2f}")
    return 1 if args.check and not (ok_rate and ok_p99 and ok_steps) else 0


STEPS = 1000  # SQLite's progress handler is called every STEPS virtual-machine steps


def _count_steps(engine: Engine) -> list[int]:
    """A counter of the VM steps (in thousands) of every connection the engine opens next."""
    counted = [0]

    def count() -> int:
        counted[0] += 1
        return 0  # go on

    def connected(dbapi: Any, _record: Any) -> None:
        dbapi.set_progress_handler(count, STEPS)

    event.listen(engine, "connect", connected)
    engine.dispose()  # the connections from now on count
    return counted


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--store", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--small-numbers", type=int, default=1000)
    parser.add_argument("--small-calls", type=int, default=10_000)
    parser.add_argument("--big-numbers", type=int, default=1_000_000)
    parser.add_argument("--big-calls", type=int, default=10_000_000)
    parser.add_argument("--decisions", type=int, default=3000, help="measured, per round")
    parser.add_argument("--warmup", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--project-share", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--warm-cache", action="store_true",
                        help="SQLite: read each file into the page cache before a round")
    parser.add_argument("--db-dir", type=Path,
                        default=Path(os.environ.get("CALLSIGN_BENCH_DIR", "/tmp/callsign-bench")))
    parser.add_argument("--check", action="store_true", help="exit 1 on a MISS")
    args, rest = parser.parse_known_args(argv)
    if args.store == "postgresql":
        from bench import pg_scale

        forwarded = ["--numbers", str(args.big_numbers), "--calls", str(args.big_calls),
                     "--small-numbers", str(args.small_numbers),
                     "--small-calls", str(args.small_calls), "--decisions", str(args.decisions),
                     "--warmup", str(args.warmup), "--rounds", str(args.rounds),
                     *(["--check"] if args.check else []), *rest]
        result: int = pg_scale.main(forwarded)
        return result
    if rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    return sqlite_main(args)


if __name__ == "__main__":
    sys.exit(main())
