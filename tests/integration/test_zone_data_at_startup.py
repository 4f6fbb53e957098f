"""The ZIP code data is read as the server starts, not in the first decision that places
a contact by ZIP code (the ``zipcodes`` package reads all of it on its first lookup)."""

from __future__ import annotations

import json
import subprocess
import sys

HANG_GUARD = 600  # seconds: only a hung interpreter reaches it

STARTED = """
import json, sys
from litestar.testing import TestClient
from callsign.api.app import create_app
from callsign.config import Settings
from callsign.domain.compliance import zones
app = create_app(Settings(database_url={url!r}), key_poll_seconds=3600.0)
built = zones.zip_place.cache_info().currsize
with TestClient(app):
    started = zones.zip_place.cache_info().currsize
    looked_up = zones.zip_place.cache_info().hits
    zones.zip_place(zones.PRELOAD_ZIP)
    hit = zones.zip_place.cache_info().hits - looked_up
print(json.dumps([built, started, hit]))
"""


def test_the_server_reads_the_zip_code_data_before_it_serves(db_url: str) -> None:
    done = subprocess.run([sys.executable, "-c", STARTED.format(url=db_url)],
                          capture_output=True, text=True, timeout=HANG_GUARD, check=True)
    built, started, hit = json.loads(done.stdout.splitlines()[-1])
    assert (built, started, hit) == (0, 1, 1)
