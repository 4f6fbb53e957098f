"""Organizations' state kept in memory by each worker: the container of the copies, by
slug, bounded (least recently used organizations go first) and kept per organization, so
one tenant's changes reload only its own entry. When a copy may be used is the services'
rule (``services/org_cache.py``): only once the decision's own transaction confirmed its
configuration version.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from callsign.domain.model import OrgState

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
