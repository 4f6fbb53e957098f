"""`callsign serve` sweeps number health on its own (SPEC 9), one worker at a time.

Two workers, a sweep every second: the lease row records sweeps, and the sweep judged
the organization's numbers (each has a health row). Bounded by a count of polls.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from callsign.store.db import create_store_engine
from tests.e2e.conftest import run_cli, running_server, store_url

POLLS = 3000  # a hang guard on a busy host
POLL_PAUSE = 0.1

SWEPT_YAML = """\
org: swept
principal_number: "+12125550100"
numbers:
  - {number: "+12125550100"}
  - {number: "+13125550101"}
users:
  - {id: ada}
"""


def test_serve_sweeps_every_interval_with_one_lease(
        tmp_path_factory: pytest.TempPathFactory, store_kind: str) -> None:
    from callsign.store.tables import leases, number_health

    workdir: Path = tmp_path_factory.mktemp("sweeping")
    with store_url(store_kind, workdir) as url:
        document = workdir / "swept.yaml"
        document.write_text(SWEPT_YAML)
        run_cli(url, "apply", str(document))
        with running_server(url, workdir, {}, workers=2,
                            env={"CALLSIGN_HEALTH_SWEEP_SECONDS": "1"}):
            engine = create_store_engine(url)
            try:
                for _ in range(POLLS):
                    with engine.connect() as conn:
                        done = conn.execute(select(leases.c.done_at)).scalars().all()
                        judged = conn.execute(
                            select(func.count()).select_from(number_health)).scalar()
                    if done and done[0] is not None and judged == 2:
                        break
                    time.sleep(POLL_PAUSE)
                else:
                    raise AssertionError(f"no sweep: leases {done}, {judged} judged")
            finally:
                engine.dispose()
    assert len(done) == 1
