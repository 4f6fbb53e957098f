"""Cold phone facts: the full libphonenumber parse against the NANP fast path.

    .venv/bin/python bench/phone_facts.py [--numbers 50000] [--rounds 3] [--seed 12]

Draws ``--numbers`` random valid US numbers (geographic NPAs, as libphonenumber lists
them) and times, per number, in microseconds:

* ``full parse``: ``phonenumbers.parse`` + ``is_valid_number`` + E.164 format, what every
  cold number cost before the fast path (``phone._parsed_facts``);
* ``fast, new prefixes``: ``facts_for`` with every cache empty, the per-NPA pattern
  analysis and the per-prefix verdicts and zones included (a process's first numbers);
* ``fast``: ``facts_for`` with the per-number cache cleared but the per-prefix verdicts
  kept, the steady state of a worker meeting callees it has not seen;
* ``+ derived``: each again reading the derived facts a decision reads (area code,
  region, time zones), the per-prefix zones kept.

Numbers are given as E.164 ("+1...") and as 10 digits under the default country "US".
Each figure is the best of ``--rounds`` rounds (other processes only slow a round down);
the load average is printed before and after.
"""

from __future__ import annotations

import argparse
import os
import random
import time
from collections.abc import Callable, Sequence

import phonenumbers

from callsign.domain import nanp_prefixes, phone


def _us_numbers(count: int, rng: random.Random) -> list[str]:
    npas = sorted(npa for npa, (country, _) in phone.nanp_area_codes().items() if country == "US")
    numbers: list[str] = []
    while len(numbers) < count:
        national = f"{rng.choice(npas)}{rng.randrange(200, 1000)}{rng.randrange(10000):04d}"
        if phonenumbers.is_valid_number(phonenumbers.parse("+1" + national)):
            numbers.append(national)
    return numbers


def _clear(*, prefixes: bool) -> None:
    phone._cached_facts.cache_clear()
    if prefixes:
        phone._nanp_verdicts.clear()
        phone._zone_cache.clear()
        phone._nanp_zone_length.cache_clear()
        nanp_prefixes.decisive_length.cache_clear()


def _timed(work: Callable[[str], object], numbers: Sequence[str]) -> float:
    """Microseconds per number."""
    start = time.perf_counter()
    for raw in numbers:
        work(raw)
    return (time.perf_counter() - start) / len(numbers) * 1e6


def _derived(facts: phone.PhoneFacts | None) -> None:
    assert facts is not None
    _ = (facts.area_code, facts.region, facts.timezones)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--numbers", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=12)
    args = parser.parse_args(argv)
    numbers = _us_numbers(args.numbers, random.Random(args.seed))
    phone.nanp_area_codes()  # region data, loaded once by any process
    print(f"{len(numbers)} random valid US numbers, best of {args.rounds} rounds; "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}")

    def full(raw: str) -> None:
        _derived(phone._parsed_facts(raw, "US"))

    def fast(raw: str) -> None:
        _derived(phone.facts_for(raw, "US", field="n"))

    cases: list[tuple[str, Callable[[str], object], bool, bool]] = [
        ("full parse", lambda raw: phone._parsed_facts(raw, "US"), False, False),
        ("fast, new prefixes", lambda raw: phone.facts_for(raw, "US", field="n"), True, False),
        ("fast", lambda raw: phone.facts_for(raw, "US", field="n"), False, True),
        ("full parse + derived", full, False, False),
        ("fast + derived", fast, False, True),
    ]
    for form, written in (("E.164", ["+1" + n for n in numbers]), ("10 digits", numbers)):
        best: dict[str, float] = {}
        for _ in range(args.rounds):
            for name, work, new_prefixes, warm in cases:
                _clear(prefixes=new_prefixes)
                if warm:  # the prefixes' verdicts, not the numbers: those are cleared
                    for raw in written:
                        work(raw)
                    _clear(prefixes=False)
                took = _timed(work, written)
                best[name] = min(best.get(name, took), took)
        print(f"\n{form}:")
        for name, _, _, _ in cases:
            print(f"  {name:<22} {best[name]:8.2f} µs/number")
        print(f"  full parse / fast      {best['full parse'] / best['fast']:8.1f}x")
        derived = best["full parse + derived"] / best["fast + derived"]
        print(f"  with derived facts     {derived:8.1f}x")
    print(f"\nload average now {os.getloadavg()[0]:.2f} (other processes skew the figures)")


if __name__ == "__main__":
    main()
