"""Random identifiers (call ids, request ids) without a system call for each.

``uuid.uuid4()`` reads 16 bytes from the OS each time, and CPython lets go of the GIL
around that read: on a busy worker the thread (often the event loop) then waits for the
decision lane's threads to hand the GIL back. Here the OS's random bytes are read a few
kilobytes at a time and handed out in slices; a forked process starts with none.
"""

from __future__ import annotations

import os
import threading

_CHUNK = 4096
_lock = threading.Lock()
_buffer = b""
_taken = 0  # bytes of _buffer handed out


def _forget() -> None:
    global _buffer, _taken
    _buffer, _taken = b"", 0  # a child must never hand out its parent's bytes


os.register_at_fork(after_in_child=_forget)


def random_hex(size: int) -> str:
    """``size`` random bytes from the OS, as ``2 * size`` lowercase hex digits."""
    global _buffer, _taken
    with _lock:
        if len(_buffer) - _taken < size:
            _buffer, _taken = os.urandom(max(_CHUNK, size)), 0
        start, _taken = _taken, _taken + size
        return _buffer[start:_taken].hex()
