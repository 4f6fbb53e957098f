"""Every read of the environment: one typed Settings, read once at start-up from the
environment and flags; and the operator's binding of each organization's Twilio auth token.

An organization names its Twilio account (the SID) but never where its auth token comes
from: the server's operator binds it, either as the environment variable the server
derives from the organization's id, ``CALLSIGN_TWILIO_TOKEN_<ORG>`` (upper-cased, every
character other than a letter or digit as ``_``), or as an entry in the YAML or JSON
file named by ``CALLSIGN_TWILIO_SECRETS`` (a mapping of organization id to auth token).
The file's entry wins; it is read again when it changes. A token is read when needed,
never stored.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from callsign.domain.errors import InvalidInput

TWILIO_TOKEN_PREFIX = "CALLSIGN_TWILIO_TOKEN_"
TWILIO_SECRETS = "CALLSIGN_TWILIO_SECRETS"
MAX_SECRETS_BYTES = 1024 * 1024
SANDBOX_EMPTY_AREA_CODES = "CALLSIGN_SANDBOX_EMPTY_AREA_CODES"  # comma-separated
DEBUG = "CALLSIGN_DEBUG"
PG_TIMEOUTS_PREFIX = "CALLSIGN_PG_"  # a PostgreSQL store's timeouts (store.db.Timeouts)
WORKER_TIMEOUT = "CALLSIGN_WORKER_TIMEOUT"  # `serve --worker-timeout`
HEALTH_SWEEP = "CALLSIGN_HEALTH_SWEEP_SECONDS"  # `serve --health-sweep`; 0: off
DEFAULT_HEALTH_SWEEP = 600  # seconds: the health sweep of `serve`, every 10 minutes
MAX_HEALTH_SWEEP = 7 * 24 * 3600
# Seconds a worker may take to answer its supervisor's health ping before it is replaced:
# uvicorn's own 5 s restarts workers in a loop on a busy host, where a starting worker
# waits for a core longer than that.
DEFAULT_WORKER_TIMEOUT = 30
MAX_WORKER_TIMEOUT = 3600

log = logging.getLogger("callsign.config")


@dataclass(frozen=True)
class Settings:
    database_url: str
    public_url: str | None = None  # the URL Twilio and browsers use, behind a proxy
    access_log: bool = False  # one JSON line per request on stderr
    twilio_api_base: str | None = None  # Twilio's REST API at another URL (tests)
    sandbox_empty_area_codes: frozenset[str] = frozenset()  # the sandbox has none there
    pg_timeouts: Mapping[str, str] = field(default_factory=dict)  # CALLSIGN_PG_*, as set
    worker_timeout: int = DEFAULT_WORKER_TIMEOUT  # the workers' health-ping timeout, seconds
    reputation_feed_url: str | None = None  # CALLSIGN_REPUTATION_FEED_URL (SPEC 9)
    reputation_feed_token: str | None = None  # CALLSIGN_REPUTATION_FEED_TOKEN
    reassigned_url: str | None = None  # CALLSIGN_REASSIGNED_URL (SPEC 10)
    reassigned_token: str | None = None  # CALLSIGN_REASSIGNED_TOKEN
    # Seconds between health sweeps of the served app (SPEC 9); 0: none. Off unless set:
    # ``load`` (what `serve` uses) defaults it to DEFAULT_HEALTH_SWEEP.
    health_sweep_seconds: int = 0

    @classmethod
    def load(cls, database_url: str | None = None,
             environ: Mapping[str, str] = os.environ) -> Settings:
        url = database_url or environ.get("CALLSIGN_DATABASE_URL") or default_database_url()
        empty = environ.get(SANDBOX_EMPTY_AREA_CODES, "")
        return cls(database_url=url, public_url=environ.get("CALLSIGN_PUBLIC_URL") or None,
                   access_log=environ.get("CALLSIGN_ACCESS_LOG", "1") != "0",
                   twilio_api_base=environ.get("CALLSIGN_TWILIO_API_BASE") or None,
                   sandbox_empty_area_codes=frozenset(
                       code.strip() for code in empty.split(",") if code.strip()),
                   pg_timeouts={name: value for name, value in environ.items()
                                if name.startswith(PG_TIMEOUTS_PREFIX)},
                   worker_timeout=worker_timeout(environ.get(WORKER_TIMEOUT, "")),
                   reputation_feed_url=environ.get("CALLSIGN_REPUTATION_FEED_URL") or None,
                   reputation_feed_token=environ.get("CALLSIGN_REPUTATION_FEED_TOKEN")
                   or None,
                   reassigned_url=environ.get("CALLSIGN_REASSIGNED_URL") or None,
                   reassigned_token=environ.get("CALLSIGN_REASSIGNED_TOKEN") or None,
                   health_sweep_seconds=health_sweep_seconds(environ.get(HEALTH_SWEEP, "")))


def health_sweep_seconds(text: str) -> int:
    """CALLSIGN_HEALTH_SWEEP_SECONDS (the default when unset or blank; 0: no sweep);
    InvalidInput naming the variable for anything but a whole number of seconds."""
    text = text.strip()
    if not text:
        return DEFAULT_HEALTH_SWEEP
    if not text.isascii() or not text.isdigit() \
            or not 0 <= (seconds := int(text)) <= MAX_HEALTH_SWEEP:
        raise InvalidInput(f"must be a whole number of seconds from 0 (no sweep) to "
                           f"{MAX_HEALTH_SWEEP} (the default is {DEFAULT_HEALTH_SWEEP}), "
                           f"not {text[:40]!r}", field=HEALTH_SWEEP)
    return seconds


def worker_timeout(text: str) -> int:
    """CALLSIGN_WORKER_TIMEOUT's seconds (the default when unset or blank); InvalidInput
    naming the variable for anything but a whole number from 1 to MAX_WORKER_TIMEOUT."""
    text = text.strip()
    if not text:
        return DEFAULT_WORKER_TIMEOUT
    if not text.isascii() or not text.isdigit() \
            or not 1 <= (seconds := int(text)) <= MAX_WORKER_TIMEOUT:
        raise InvalidInput(f"must be a whole number of seconds from 1 to {MAX_WORKER_TIMEOUT} "
                           f"(the default is {DEFAULT_WORKER_TIMEOUT}), not {text[:40]!r}",
                           field=WORKER_TIMEOUT)
    return seconds


def default_database_url() -> str:
    """A SQLite file in the user's data directory."""
    from platformdirs import user_data_dir  # only when no database is named

    folder = Path(user_data_dir("callsign", appauthor=False))
    folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{folder / 'callsign.db'}"


def debug_requested(environ: Mapping[str, str] = os.environ) -> bool:
    """Whether the operator asked for tracebacks (CALLSIGN_DEBUG)."""
    return environ.get(DEBUG, "").lower() in {"1", "true", "yes", "on"}


def twilio_token_variable(org: str) -> str:
    """The environment variable that holds ``org``'s Twilio auth token."""
    return TWILIO_TOKEN_PREFIX + re.sub(r"[^A-Z0-9]", "_", org.upper())


def twilio_variable_name(org: str) -> str:
    """What an organization's id reads as in its variable's name: upper case, every
    character other than a letter or digit as ``_``; two ids may read the same."""
    return re.sub(r"[^A-Za-z0-9]", "_", org).upper()


def twilio_variable_token(org: str, environ: Mapping[str, str] = os.environ) -> str | None:
    """``org``'s auth token from its environment variable, if set."""
    return environ.get(twilio_token_variable(org), "").strip() or None


def twilio_secrets_token(org: str, environ: Mapping[str, str] = os.environ) -> str | None:
    """``org``'s auth token from the operator's secrets file, if it has one."""
    path = environ.get(TWILIO_SECRETS, "").strip()
    if not path:
        return None
    return _SECRETS.tokens(Path(path)).get(org)


class _SecretsFile:
    """The secrets file, parsed once per version of it (its mtime and size)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seen: tuple[Path, int, int] | None = None
        self._tokens: dict[str, str] = {}

    def tokens(self, path: Path) -> dict[str, str]:
        try:
            stat = path.stat()
        except OSError as exc:
            log.warning("%s names %s, which cannot be read: %s", TWILIO_SECRETS, path,
                        exc.strerror)
            return {}
        version = (path, stat.st_mtime_ns, stat.st_size)
        with self._lock:
            if version != self._seen:
                self._tokens = _read_secrets(path)
                self._seen = version
            return self._tokens


def _read_secrets(path: Path) -> dict[str, str]:
    import yaml  # only where a secrets file is named

    try:
        with path.open("rb") as handle:
            text = handle.read(MAX_SECRETS_BYTES + 1)
        if len(text) > MAX_SECRETS_BYTES:
            raise ValueError(f"it is larger than {MAX_SECRETS_BYTES} bytes")
        data = yaml.safe_load(text.decode("utf-8"))
    except (OSError, ValueError, yaml.YAMLError) as exc:
        log.warning("%s: %s is not usable: %s", TWILIO_SECRETS, path, exc)
        return {}
    if data is None:
        return {}
    if not isinstance(data, dict):
        log.warning("%s: %s must map organization ids to auth tokens", TWILIO_SECRETS, path)
        return {}
    tokens = {}
    for org, token in data.items():
        if isinstance(org, str) and isinstance(token, str) and token.strip():
            tokens[org] = token.strip()
        else:
            log.warning("%s: the entry %r of %s is not an organization id and a token",
                        TWILIO_SECRETS, org, path)
    return tokens


_SECRETS = _SecretsFile()
