"""Turns at writing one SQLite file, between the processes whose decision lanes write it.

SQLite's write lock is not handed over fairly: a writer that COMMITs and sends
BEGIN IMMEDIATE again at once takes it back, while a writer of another process that
found it taken sleeps in SQLite's busy handler (sleeps of up to 100 ms) and finds it
taken again when it wakes. Two workers on one file starved each other that way (p99 of
0.9-1.5 s, and less throughput than one worker).

So the lanes' writers take turns before they BEGIN, through POSIX record locks on two
bytes of a lock file beside the database (``<db>-writer.lock``); the kernel wakes a
process waiting for such a lock as soon as it is let go:

- a writer takes ``gate`` (byte 0), then ``main`` (byte 1), then lets ``gate`` go; it
  holds ``main`` for one batch (BEGIN IMMEDIATE ... COMMIT or rollback), then lets it go;
- while it waits for ``main``, a writer holds ``gate``: the writer that just let ``main``
  go must pass ``gate`` again, which it can only once the waiting one has ``main``. Busy
  writers therefore alternate batches strictly, and none sleeps in the busy handler.

POSIX record locks belong to a process, and closing any descriptor of a file drops all of
the process's locks on it: each process opens the lock file once and keeps it open, and
its own lanes on that file (tests open several) take turns among themselves with a thread
lock first. Other writers (the CLI, the admin pages, migrations, readiness) take no turns:
SQLite's busy timeout serves them as before. Without a lock file (a database in memory,
a directory callsign may not create files in, locks the file system refuses) the writers
are left to SQLite's busy handler, as before.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
from collections.abc import Callable, Iterator

from sqlalchemy import Engine

from callsign.store.db import database_file

GATE = 0  # the byte a writer holds while it waits for MAIN
MAIN = 1  # the byte a writer holds while it writes a batch


class _LockFile:
    """A process's lock file of one database: its descriptor (kept open) and the thread
    lock its lanes take first."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.local = threading.Lock()


_FILES: dict[tuple[int, str], _LockFile | None] = {}  # by (process id, database path)
_FILES_LOCK = threading.Lock()


def _lock_file(path: str) -> _LockFile | None:
    key = (os.getpid(), path)  # a forked child holds none of its parent's locks
    with _FILES_LOCK:
        if key not in _FILES:
            try:
                fd = os.open(f"{path}-writer.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC,
                             0o666)
            except OSError:
                _FILES[key] = None
            else:
                _FILES[key] = _LockFile(fd)
        return _FILES[key]


class WriterTurns:
    """One lane's way of taking its turn at the database's write lock (see the module).

    ``before_turn`` (tests) runs in the writer's thread just before it waits for MAIN,
    holding GATE.
    """

    def __init__(self, lock_file: _LockFile | None,
                 before_turn: Callable[[], None] | None = None) -> None:
        self.lock_file = lock_file
        self.before_turn = before_turn

    @contextlib.contextmanager
    def turn(self) -> Iterator[None]:
        """Wait for this process's turn; hold it for the ``with`` block."""
        if self.lock_file is None:
            yield
            return
        with self.lock_file.local:
            taken = self._take(self.lock_file.fd)
            try:
                yield
            finally:
                if taken:
                    with contextlib.suppress(OSError):
                        fcntl.lockf(self.lock_file.fd, fcntl.LOCK_UN, 1, MAIN)

    def _take(self, fd: int) -> bool:
        """Take MAIN through GATE (blocking, the GIL let go); False if the file system
        refuses the locks (SQLite's busy handler then decides, as without turns)."""
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX, 1, GATE)
        except OSError:
            return False
        try:
            if self.before_turn is not None:
                self.before_turn()
            fcntl.lockf(fd, fcntl.LOCK_EX, 1, MAIN)
            return True
        except OSError:
            return False
        finally:
            with contextlib.suppress(OSError):
                fcntl.lockf(fd, fcntl.LOCK_UN, 1, GATE)


def writer_turns(engine: Engine, before_turn: Callable[[], None] | None = None
                 ) -> WriterTurns:
    """The turns of a lane writing ``engine``'s SQLite file (none for a database in
    memory or named by a URI)."""
    path = database_file(engine.url.render_as_string(hide_password=False))
    lock_file = _lock_file(os.path.abspath(path)) if path is not None else None
    return WriterTurns(lock_file, before_turn)
