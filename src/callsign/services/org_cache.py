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

from callsign.domain.errors import NotFound
from callsign.domain.model import OrgState
from callsign.domain.org_copies import MAX_ORGS, OrgCache
from callsign.services.ports import CallsRepository

__all__ = ["MAX_ORGS", "OrgCache", "current"]


def current(store: CallsRepository, slug: str, kept: OrgState | None = None) -> OrgState:
    """The organization's state, current in ``store``'s transaction: the copy kept
    (``kept``: as ``get`` gave it) if the version the store reads now is the copy's,
    else read again (NotFound if there is no such organization)."""
    if kept is None:
        kept = store.orgs.get(slug)
    if kept is not None and kept.version is not None and \
            store.config_version(kept.org_id) == kept.version:
        return kept
    try:
        state = store.org_state(slug)
    except NotFound:
        store.orgs.drop(slug)
        raise
    store.orgs.put(slug, state)
    return state
