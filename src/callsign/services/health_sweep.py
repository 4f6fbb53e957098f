"""The periodic health sweep of `callsign serve` (SPEC 9).

Every worker of every server runs ``keep_sweeping``; a lease in the store
(``store.leases``) lets one of them at a time sweep, and only once per interval in all:
the lease is due ``every`` after the last sweep ended, whichever process ran it. The
sweep runs in a worker thread (``anyio.to_thread``), never on the event loop, in the
short transactions of ``health.sweep_org``; a failed sweep is logged and tried again at
the next interval.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

import anyio

from callsign.services import health
from callsign.store import leases
from callsign.store.uow import UnitOfWork

log = logging.getLogger("callsign.health")

SWEEP_LEASE = "health_sweep"
DEFAULT_EVERY = timedelta(minutes=10)
# How long a sweeper holds the lease without renewing it (renewed before each
# organization): a sweeper that died frees it after this long.
LEASE_FOR = timedelta(minutes=15)
MAX_POLL_SECONDS = 60.0  # a worker asks whether a sweep is due at least this often

Sweep = Callable[[UnitOfWork, str, datetime], object]


def _sweep_org(uow: UnitOfWork, org: str, now: datetime) -> object:
    return health.sweep_org(uow, org, now=now)


class Sweeper:
    """One process's side of the sweep: take the lease if due, sweep every organization,
    give the lease back."""

    def __init__(self, uow: Callable[[], UnitOfWork], *, every: timedelta,
                 clock: Callable[[], datetime], sweep: Sweep = _sweep_org,
                 holder: str | None = None) -> None:
        self.uow = uow
        self.every = every
        self.clock = clock
        self.sweep = sweep
        self.holder = holder or f"{socket.gethostname()[:30]}:{os.getpid()}:" \
                                f"{uuid.uuid4().hex[:8]}"

    def run_once(self) -> list[str] | None:
        """Sweep every organization if the sweep is due and no one else is sweeping; the
        organizations swept (None: not this process's turn)."""
        now = self.clock()
        with self.uow() as work:
            taken = leases.take(work.connection, SWEEP_LEASE, self.holder, now=now,
                                until=now + LEASE_FOR, due=now - self.every)
            slugs = leases.org_slugs(work.connection) if taken else []
            work.commit()
        if not taken:
            return None
        swept: list[str] = []
        try:
            for slug in slugs:
                with self.uow() as work:
                    kept = leases.renew(work.connection, SWEEP_LEASE, self.holder,
                                        until=self.clock() + LEASE_FOR)
                    work.commit()
                if not kept:  # held past its lease and taken by another: leave it to it
                    log.warning("health sweep: lease lost after %d organizations", len(swept))
                    return swept
                try:
                    self.sweep(self.uow(), slug, self.clock())
                except Exception:  # one organization's failure never stops the others
                    log.exception("health sweep of organization %r failed", slug)
                swept.append(slug)
        finally:
            with self.uow() as work:
                leases.give_back(work.connection, SWEEP_LEASE, self.holder, now=self.clock())
                work.commit()
        return swept


async def keep_sweeping(sweeper: Sweeper, *, ticks: int | None = None,
                        poll_seconds: float | None = None) -> None:
    """Ask every ``poll_seconds`` (default: the interval, at most a minute) whether a
    sweep is due and run it off the event loop; forever, or ``ticks`` times (tests). The
    first ask comes one interval after the start (a server that restarts often does not
    sweep on every start)."""
    every = sweeper.every.total_seconds()
    poll = poll_seconds if poll_seconds is not None else min(every, MAX_POLL_SECONDS)
    done = 0
    while ticks is None or done < ticks:
        await anyio.sleep(poll if done or poll_seconds is not None else every)
        done += 1
        try:
            await anyio.to_thread.run_sync(sweeper.run_once)
        except Exception:  # the store unreachable, say: try again at the next tick
            log.exception("health sweep failed")
