"""Kamailio, sipp and callsign as processes on loopback, for the SIP proxy's e2e tests.

Everything here binds 127.0.0.1 only, runs in a directory of its own, is bounded in
time, and is stopped by its own process id (group) when done.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx
import pytest

from tests.e2e.conftest import callsign_command, free_port, run_cli, server_environment

ROOT = Path(__file__).resolve().parents[2]
KAMAILIO_DIR = ROOT / "deploy" / "kamailio"
KAMAILIO_CFG = KAMAILIO_DIR / "kamailio.cfg"
SCENARIOS = KAMAILIO_DIR / "sipp"
LOOPBACK = "127.0.0.1"
SBIN_PATH = os.pathsep.join([os.environ.get("PATH", ""), "/usr/local/sbin", "/usr/sbin", "/sbin"])
MODULES = ("http_client.so", "jansson.so", "uac.so", "htable.so", "dialog.so", "mqueue.so",
           "rtimer.so")
START_SECONDS = 600.0  # a hang guard: a process that exits at start fails at once
STOP_SECONDS = 5.0
LOG_TAIL = 40


def tool(name: str) -> str | None:
    """The path of a program, also looked for in the sbin folders (kamailio lives there)."""
    return shutil.which(name, path=SBIN_PATH)


def require_sip_tools() -> tuple[str, str]:
    """kamailio and sipp, with the modules the config loads; else fail on CI, skip locally."""
    kamailio, sipp = tool("kamailio"), tool("sipp")
    missing = [name for name, path in (("kamailio", kamailio), ("sipp", sipp)) if path is None]
    if kamailio is not None:
        modules = Path("/usr/lib/x86_64-linux-gnu/kamailio/modules")
        found = [p for p in (modules, Path("/usr/lib/kamailio/modules")) if p.is_dir()]
        if found:
            missing += [m for m in MODULES if not (found[0] / m).exists()]
    if missing:
        reason = (f"missing {', '.join(missing)}: run scripts/install-sip (Debian packages "
                  "kamailio, kamailio-utils-modules, kamailio-extra-modules, "
                  "kamailio-json-modules, sip-tester)")
        if os.environ.get("CI", "").lower() in ("true", "1", "yes"):
            pytest.fail(f"CI=true and {reason}")
        pytest.skip(reason)
    assert kamailio is not None
    assert sipp is not None
    return kamailio, sipp


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((LOOPBACK, 0))
        port: int = sock.getsockname()[1]
        return port


def udp_port_taken(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.bind((LOOPBACK, port))
        except OSError:
            return True
        return False


def tail(text: str, lines: int = LOG_TAIL) -> str:
    return "\n".join(text.splitlines()[-lines:])


def stop_process(process: subprocess.Popen[bytes]) -> int | None:
    """SIGTERM, then SIGKILL to its own process group; the exit code if it had died."""
    died = process.poll()
    if died is None:
        process.terminate()
        try:
            process.wait(STOP_SECONDS)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(START_SECONDS)  # a hang guard: SIGKILLed, it goes
    return died


def options_ping(port: int, timeout: float = 0.3) -> bool:
    """Whether a SIP OPTIONS to 127.0.0.1:port is answered 200."""
    branch = f"z9hG4bK-{uuid.uuid4().hex[:12]}"
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((LOOPBACK, 0))
        own = sock.getsockname()[1]
        request = (f"OPTIONS sip:{LOOPBACK}:{port} SIP/2.0\r\n"
                   f"Via: SIP/2.0/UDP {LOOPBACK}:{own};branch={branch}\r\n"
                   f"From: <sip:ping@{LOOPBACK}>;tag=ping\r\nTo: <sip:{LOOPBACK}:{port}>\r\n"
                   f"Call-ID: {branch}\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\n"
                   "Content-Length: 0\r\n\r\n")
        sock.settimeout(timeout)
        sock.sendto(request.encode(), (LOOPBACK, port))
        try:
            answer = sock.recv(4096)
        except OSError:
            return False
        return answer.startswith(b"SIP/2.0 200")


@dataclass
class Kamailio:
    """deploy/kamailio/kamailio.cfg in the foreground, its runtime files under ``workdir``."""

    workdir: Path
    port: int
    defines: Mapping[str, str | int]
    children: int = 4
    process: subprocess.Popen[bytes] | None = None
    _log: IO[bytes] | None = None

    @property
    def log_path(self) -> Path:
        return self.workdir / "kamailio.log"

    def command(self) -> list[str]:
        kamailio = tool("kamailio")
        assert kamailio is not None
        defines = {"LISTEN": f"udp:{LOOPBACK}:{self.port}", **self.defines}
        args = [kamailio, "-f", str(KAMAILIO_CFG), "-DD", "-E", "-Y", str(self.workdir),
                "-P", str(self.workdir / "kamailio.pid"), "-n", str(self.children),
                "-m", "64", "-M", "8"]
        for name, value in defines.items():
            # numbers and the socket are bare tokens; every other value is a string
            bare = isinstance(value, int) or name == "LISTEN"
            args += ["-A", f"{name}={value}" if bare else f'{name}="{value}"']
        return args

    def start(self) -> Kamailio:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("wb")
        self.process = subprocess.Popen(self.command(), stdout=self._log,
                                        stderr=subprocess.STDOUT, cwd=self.workdir,
                                        start_new_session=True)
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"kamailio exited {self.process.returncode} at start-up:\n"
                            f"{tail(self.log())}")
            if options_ping(self.port):
                return self
            time.sleep(0.1)
        self.stop()
        pytest.fail(f"kamailio did not answer OPTIONS in {START_SECONDS}s:\n{tail(self.log())}")

    def log(self) -> str:
        if not self.log_path.exists():
            return ""
        return self.log_path.read_bytes().decode("utf-8", errors="replace")

    def stop(self) -> int | None:
        died = stop_process(self.process) if self.process is not None else None
        if self._log is not None:
            self._log.close()
        return died


@dataclass
class SippResult:
    """How one sipp run ended: its exit code, its <log> lines and its error log."""

    name: str
    returncode: int
    log: str
    errors: str
    elapsed: float

    def lines(self, prefix: str) -> list[str]:
        return [line for line in self.log.splitlines() if line.startswith(prefix)]

    def describe(self) -> str:
        return (f"sipp {self.name} exited {self.returncode} after {self.elapsed:.2f}s\n"
                f"-- its log --\n{self.log}\n-- its errors --\n{tail(self.errors)}")


@dataclass
class Sipp:
    """One sipp process, started by `start_sipp`."""

    name: str
    process: subprocess.Popen[bytes]
    workdir: Path
    started: float
    files: list[IO[bytes]] = field(default_factory=list)

    def wait(self, timeout: float = 660.0) -> SippResult:  # past sipp's own -timeout
        try:
            returncode = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            stop_process(self.process)
            returncode = -1
        elapsed = time.monotonic() - self.started
        for handle in self.files:
            handle.close()

        def read(suffix: str) -> str:
            path = self.workdir / f"{self.name}.{suffix}"
            return path.read_text(errors="replace") if path.exists() else ""

        return SippResult(self.name, returncode, read("log"), read("errors") + read("out"),
                          elapsed)

    def stop(self) -> None:
        stop_process(self.process)


def start_sipp(workdir: Path, name: str, scenario: str, *, port: int, remote: int | None = None,
               calls: int = 1, fields: Iterable[Iterable[str]] = (),
               variables: Mapping[str, str] | None = None, timeout: int = 600,
               extra: Iterable[str] = ()) -> Sipp:
    """sipp on 127.0.0.1:port with ``scenario``; a UAC when ``remote`` (a port) is given.

    ``fields`` become the -inf file (one call per row), ``variables`` the -set globals.
    A UAS is returned once its port is bound, so the call that follows can reach it.
    """
    sipp = tool("sipp")
    assert sipp is not None
    workdir.mkdir(parents=True, exist_ok=True)
    args = [sipp, *([f"{LOOPBACK}:{remote}"] if remote else []),
            "-sf", str(SCENARIOS / scenario), "-i", LOOPBACK, "-p", str(port),
            "-mi", LOOPBACK, "-ci", LOOPBACK, "-m", str(calls), "-nostdin",
            "-trace_logs", "-log_file", str(workdir / f"{name}.log"),
            "-trace_err", "-error_file", str(workdir / f"{name}.errors"),
            "-timeout", f"{timeout}s", "-timeout_error", *extra]
    rows = [";".join(row) for row in fields]
    if rows:
        csv = workdir / f"{name}.csv"
        csv.write_text("SEQUENTIAL\n" + "\n".join(rows) + "\n")
        args += ["-inf", str(csv)]
    for variable, value in (variables or {}).items():
        args += ["-set", variable, value]
    out = (workdir / f"{name}.out").open("wb")
    process = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, cwd=workdir,
                               stdin=subprocess.DEVNULL, start_new_session=True)
    started = time.monotonic()
    running = Sipp(name, process, workdir, started, [out])
    if remote is None:
        deadline = started + START_SECONDS
        while not udp_port_taken(port):
            if process.poll() is not None or time.monotonic() > deadline:
                result = running.wait(1)
                pytest.fail(f"the sipp UAS did not bind port {port}:\n{result.describe()}")
            time.sleep(0.02)
    return running


@dataclass
class Callsign:
    """`callsign serve` on a fixed port, which a test may stop and start again."""

    workdir: Path
    db_url: str
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    files: list[IO[bytes]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def apply(self, org: str, document: str) -> str:
        """Apply an organization file and make it an API key; the key."""
        path = self.workdir / f"{org}.yaml"
        path.write_text(document, encoding="utf-8")
        run_cli(self.db_url, "apply", str(path))
        return run_cli(self.db_url, "keys", "create", "--org", org, "--name", "kamailio").strip()

    def start(self) -> Callsign:
        err = (self.workdir / "callsign.err").open("ab")
        self.files.append(err)
        self.process = subprocess.Popen(
            [*callsign_command(), "--db", self.db_url, "serve", "--host", LOOPBACK,
             "--port", str(self.port)],
            stdout=subprocess.DEVNULL, stderr=err, env=server_environment(),
            start_new_session=True)
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"callsign serve exited {self.process.returncode}:\n{self.stderr()}")
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{self.url}/healthz", timeout=1.0).status_code == 200:
                    return self
            time.sleep(0.1)
        self.stop()
        pytest.fail(f"callsign serve did not answer /healthz in {START_SECONDS}s")

    def stop(self) -> int | None:
        died = stop_process(self.process) if self.process is not None else None
        self.process = None
        return died

    def close(self) -> int | None:
        died = self.stop()
        for handle in self.files:
            handle.close()
        return died

    def stderr(self) -> str:
        path = self.workdir / "callsign.err"
        return path.read_text(errors="replace") if path.exists() else ""

    def get(self, key: str, path: str) -> Any:
        response = httpx.get(f"{self.url}{path}", headers={"Authorization": f"Bearer {key}"},
                             timeout=START_SECONDS)
        assert response.status_code == 200, response.text
        return response.json()


class CountingRelay:
    """A TCP relay on 127.0.0.1 in front of callsign that counts the connections it was
    given and the HTTP requests that went through them: what callsign itself saw, one
    upstream connection per client connection."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.listener = socket.create_server((LOOPBACK, 0))
        self.port: int = self.listener.getsockname()[1]
        self.connections = 0
        self.requests = 0
        self._lock = threading.Lock()
        self._open: list[socket.socket] = []
        self._accepting = threading.Thread(target=self._accept, daemon=True)
        self._accepting.start()

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:  # the listener was closed
                return
            upstream = socket.create_connection((LOOPBACK, self.upstream_port))
            with self._lock:
                self.connections += 1
                self._open += [client, upstream]
            threading.Thread(target=self._pump, args=(client, upstream, True),
                             daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, False),
                             daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, requests: bool) -> None:
        with contextlib.suppress(OSError):
            while chunk := source.recv(65536):
                if requests:
                    with self._lock:
                        self.requests += chunk.count(b"GET /v1/kamailio/")
                sink.sendall(chunk)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        self.listener.close()
        with self._lock:
            for sock in self._open:
                with contextlib.suppress(OSError):
                    sock.close()
