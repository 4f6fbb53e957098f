"""One typed Settings, read once at start-up from the environment and flags."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from callsign.store.db import default_database_url


@dataclass(frozen=True)
class Settings:
    database_url: str
    public_url: str | None = None  # the URL Twilio and browsers use, behind a proxy
    access_log: bool = False  # one JSON line per request on stderr
    twilio_api_base: str | None = None  # Twilio's REST API at another URL (tests)

    @classmethod
    def load(cls, database_url: str | None = None,
             environ: Mapping[str, str] = os.environ) -> Settings:
        url = database_url or environ.get("CALLSIGN_DATABASE_URL") or default_database_url()
        return cls(database_url=url, public_url=environ.get("CALLSIGN_PUBLIC_URL") or None,
                   access_log=environ.get("CALLSIGN_ACCESS_LOG", "1") != "0",
                   twilio_api_base=environ.get("CALLSIGN_TWILIO_API_BASE") or None)
