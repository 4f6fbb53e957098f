"""Organizations' state in memory: each worker keeps, per organization, what its decisions
read of its configuration (settings, users, projects and their pools), so a decision
reads none of it from the store.

A copy is trusted only for a decision whose own transaction read the organization's
configuration version and found it unchanged (``current``): every change to what the
copy holds moves that version in the change's own transaction (the store's triggers),
so a change made by any worker of any server is seen by the very next decision on every
worker. On a mismatch the organization's state is read again, once.

The copies are bounded (least recently used organizations go first) and kept per
organization: one tenant's changes reload only its own entry.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from callsign.domain.errors import NotFound
from callsign.domain.model import OrgState
from callsign.services.ports import CallsRepository

MAX_ORGS = 1024  # organizations kept per worker and store


class OrgCache:
    """One worker's copies of organizations' state, by slug; safe to share between the
    threads of one process."""

    def __init__(self, max_orgs: int = MAX_ORGS) -> None:
        self.max_orgs = max_orgs
        self._orgs: OrderedDict[str, OrgState] = OrderedDict()
        self._lock = threading.Lock()
        self.loads = 0  # states read from the store (a first use, a change, an eviction)

    def get(self, slug: str) -> OrgState | None:
        """The copy kept of the organization, not yet confirmed current."""
        with self._lock:
            state = self._orgs.get(slug)
            if state is not None:
                self._orgs.move_to_end(slug)
            return state

    def put(self, slug: str, state: OrgState) -> None:
        with self._lock:
            self.loads += 1
            self._orgs[slug] = state
            self._orgs.move_to_end(slug)
            while len(self._orgs) > self.max_orgs:
                self._orgs.popitem(last=False)

    def drop(self, slug: str) -> None:
        with self._lock:
            self._orgs.pop(slug, None)

    def __len__(self) -> int:
        return len(self._orgs)

    def current(self, store: CallsRepository, slug: str,
                kept: OrgState | None = None) -> OrgState:
        """The organization's state, current in ``store``'s transaction: the copy kept
        (``kept``: as ``get`` gave it) if the version the store reads now is the copy's,
        else read again (NotFound if there is no such organization)."""
        if kept is None:
            kept = self.get(slug)
        if kept is not None and kept.version is not None and \
                store.config_version(kept.org_id) == kept.version:
            return kept
        try:
            state = store.org_state(slug)
        except NotFound:
            self.drop(slug)
            raise
        self.put(slug, state)
        return state
