"""What every probe uses: outcomes, a scratch workspace with tiny artifacts, the CLI, a live server.

A probe is a small function ``probe(ws: Workspace) -> Result``: it runs the real ``logbert`` CLI
(subprocesses) or talks HTTP to a real ``logbert serve`` on loopback, and judges what it saw as
one outcome:

* ``ok``: the right thing happened (an odd input handled correctly, a limit held);
* ``clear_error``: refused, with a clear message: a CLI exit code other than 0 with an ``error:``
  line and no traceback, or an HTTP 4xx with a JSON ``detail``. For a hostile input this is the
  wanted answer;
* ``crash``: a traceback, an HTTP 5xx, a hang, a dropped connection, a server that died;
* ``silent_wrong``: exit 0 / HTTP 2xx with a wrong result and nothing said about it;
* ``data_loss``: something accepted was lost (the fault drills of tests/faults);
* ``security_hole``: a way in without the key, a tampered artifact that loads, state an
  unauthenticated client can grow.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar

Outcome = Literal["ok", "clear_error", "crash", "silent_wrong", "data_loss", "security_hole"]
OUTCOMES: tuple[Outcome, ...] = ("ok", "clear_error", "crash", "silent_wrong", "data_loss", "security_hole")
GOOD: frozenset[str] = frozenset({"ok", "clear_error"})
T = TypeVar("T")

ROOT = Path(__file__).resolve().parents[2]
#: Subprocess time limits: a CLI call, a server start (torch import + artifact load).
CLI_TIMEOUT_S = 120.0
SERVER_START_S = 120.0


@dataclass(frozen=True)
class Result:
    outcome: Outcome
    detail: str


@dataclass(frozen=True)
class Probe:
    category: str
    name: str
    func: Callable[[Workspace], Result]
    parallel: bool = False  # True: it only runs its own subprocesses, so it may run beside others


@dataclass(frozen=True)
class Cli:
    """One finished ``logbert`` subprocess."""

    args: tuple[str, ...]
    rc: int | None  # None: killed after the time limit
    stdout: str
    stderr: str
    seconds: float
    peak_rss_kib: int = 0  # sampled every 50 ms from /proc (0 where unknown)

    @property
    def traceback(self) -> bool:
        return "Traceback (most recent call last)" in self.stderr or "Traceback (most recent call last)" in self.stdout

    def message(self) -> str:
        """The error message on one line: the ``error:`` line (and what follows it), or the Typer error box."""
        lines = [ln.strip(" │╭╮╰╯─\t") for ln in self.stderr.splitlines()]
        lines = [ln for ln in lines if ln and not ln.startswith(("Usage:", "Try '"))]
        start = next((i for i, ln in enumerate(lines) if ln.lower().startswith(("error", "invalid value"))), 0)
        text = " ".join(lines[start:])
        return shorten(text, 220)

    def last_traceback_line(self) -> str:
        """The exception line of the last traceback (``module.Error: message``), else the last line."""
        text = self.stderr + "\n" + self.stdout
        lines = [ln for ln in text[text.rfind("Traceback (most recent call last)") :].splitlines() if ln.strip()]
        errors = [ln for ln in lines if re.match(r"^[A-Za-z_][\w.]*(Error|Exception|Artifact|Exit)\w*: ", ln)]
        return shorten((errors or lines or [""])[-1], 200)


def shorten(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def refusal(cli: Cli, what: str, must_mention: Iterable[str] = ()) -> Result | None:
    """Judge a CLI call that should refuse: None when it exited 0 (the caller decides what 0 means)."""
    if cli.rc is None:
        return Result("crash", f"{what}: still running after {cli.seconds:.0f} s (killed)")
    if cli.traceback:
        return Result("crash", f"{what}: traceback, exit {cli.rc}: {cli.last_traceback_line()}")
    if cli.rc == 0:
        return None
    msg = cli.message()
    if not msg:
        return Result("crash", f"{what}: exit {cli.rc} with no message at all")
    missing = [m for m in must_mention if m.lower() not in " ".join(cli.stderr.split()).lower()]
    n_lines = len([ln for ln in cli.stderr.splitlines() if ln.strip()])
    lines_note = f" ({n_lines} lines)" if n_lines > 3 else ""
    note = f" [message does not name {missing}]" if missing else ""
    return Result("clear_error", f"{what}: exit {cli.rc}: {msg}{lines_note}{note}")


# --------------------------------------------------------------------------------------------- HTTP


@dataclass(frozen=True)
class Answer:
    status: int  # 0: no HTTP answer (connection dropped or refused)
    body: bytes
    headers: dict[str, str]
    error: str = ""

    def text(self, limit: int = 160) -> str:
        return shorten(self.body.decode("utf-8", "replace"), limit)


def http_request(
    base: str,
    method: str,
    path: str,
    body: bytes | Iterable[bytes] | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 60.0,
    chunked: bool = False,
    conn: http.client.HTTPConnection | None = None,
) -> Answer:
    """One raw request (the path is sent as given, percent escapes and all)."""
    host, port = base.removeprefix("http://").split(":")
    own = conn is None
    c = conn or http.client.HTTPConnection(host, int(port), timeout=timeout)
    try:
        c.request(method, path, body=body, headers=headers or {}, encode_chunked=chunked)
        r = c.getresponse()
        data = r.read()
        return Answer(r.status, data, {k.lower(): v for k, v in r.getheaders()})
    except (OSError, http.client.HTTPException) as exc:
        if not own:
            c.close()
        return Answer(0, b"", {}, f"{type(exc).__name__}: {exc}")
    finally:
        if own:
            c.close()


def http_refusal(ans: Answer, what: str, ok_statuses: Iterable[int] = ()) -> Result:
    """4xx: clear_error; 5xx or no answer: crash; a status in ``ok_statuses``: ok; other 2xx/3xx: silent_wrong."""
    if ans.status == 0:
        return Result("crash", f"{what}: no HTTP answer ({ans.error})")
    if ans.status >= 500:
        return Result("crash", f"{what}: HTTP {ans.status}: {ans.text()}")
    if ans.status in set(ok_statuses):
        return Result("ok", f"{what}: HTTP {ans.status}")
    if 400 <= ans.status < 500:
        try:
            detail = json.loads(ans.body).get("detail")
        except (ValueError, AttributeError):
            return Result("clear_error", f"{what}: HTTP {ans.status}, body not JSON: {ans.text(80)}")
        if isinstance(detail, list):
            detail = "; ".join(f"{'.'.join(map(str, d.get('loc', [])))}: {d.get('msg')}" for d in detail[:2])
        return Result("clear_error", f"{what}: HTTP {ans.status}: {shorten(str(detail), 120)}")
    return Result("silent_wrong", f"{what}: HTTP {ans.status} accepted: {ans.text()}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Endpoint:
    """An HTTP service to probe: its base URL and its API key (None: served without one)."""

    def __init__(self, base: str, key: str | None = None) -> None:
        self.base = base
        self.key = key

    def request(
        self, method: str, path: str, body: bytes | Iterable[bytes] | None = None,
        headers: dict[str, str] | None = None, auth: bool = True, timeout: float = 60.0, chunked: bool = False,
        conn: http.client.HTTPConnection | None = None,
    ) -> Answer:  # fmt: skip
        """``auth``: send the right key (when there is one) unless the probe gives its own headers for it."""
        sent = dict(headers or {})
        if self.key is not None and auth:
            sent.setdefault("X-API-Key", self.key)
        return http_request(self.base, method, path, body, sent, timeout=timeout, chunked=chunked, conn=conn)

    def json(self, method: str, path: str, payload: object, headers: dict[str, str] | None = None) -> Answer:
        sent = {"Content-Type": "application/json", **(headers or {})}
        return self.request(method, path, json.dumps(payload).encode(), headers=sent)

    def connection(self) -> http.client.HTTPConnection:
        host, port = self.base.removeprefix("http://").split(":")
        return http.client.HTTPConnection(host, int(port), timeout=60)

    def alive(self) -> bool:
        return http_request(self.base, "GET", "/health/live", timeout=10).status == 200

    def rss_kib(self) -> int:
        return 0  # unknown: not our process


class Server(Endpoint):
    """A real ``logbert serve`` subprocess on a free loopback port (``key``: served with --api-key-file)."""

    def __init__(
        self, ws: Workspace, artifact: Path, key: str | None = None, env: dict[str, str] | None = None,
        args: tuple[str, ...] = (), name: str = "server",
    ) -> None:  # fmt: skip
        super().__init__("", key)
        self.ws, self.artifact, self.env, self.args, self.name = ws, artifact, env or {}, args, name
        self.proc: subprocess.Popen[bytes] | None = None
        self.started_s = 0.0
        self.log_path: Path | None = None

    def start(self) -> Server:
        folder = self.ws.fresh_dir(self.name)
        port = free_port()
        argv = [*self.ws.logbert, "serve", str(self.artifact), "--port", str(port), "--log-level", "warning"]
        argv += ["--alerts-db", str(folder / "alerts.sqlite3"), *self.args]
        if self.key is not None:
            key_file = folder / "api.key"
            key_file.write_text(self.key + "\n")
            argv += ["--api-key-file", str(key_file)]
        self.log_path = folder / "server.log"
        t0 = time.monotonic()
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=self.ws.env(self.env))
        self.base = f"http://127.0.0.1:{port}"
        while time.monotonic() - t0 < SERVER_START_S:
            if self.proc.poll() is not None:
                raise RuntimeError(f"logbert serve exited {self.proc.returncode}: {self.log_tail()}")
            if http_request(self.base, "GET", "/health/ready", timeout=2).status == 200:
                self.started_s = time.monotonic() - t0
                return self
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"logbert serve not ready after {SERVER_START_S:.0f} s: {self.log_tail()}")

    def stop(self) -> int | None:
        """SIGTERM (a graceful shutdown), then kill after 60 s; the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None and super().alive()

    def log_tail(self, n: int = 400) -> str:
        if self.log_path is None or not self.log_path.is_file():
            return ""
        return shorten(self.log_path.read_text(errors="replace")[-n:], n)

    def rss_kib(self) -> int:
        """Resident memory of the server process (Linux /proc), KiB; 0 when unknown."""
        if self.proc is None:
            return 0
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0


# ------------------------------------------------------------------------------------------ workspace


class Workspace:
    """A scratch folder with a simulated OpenStack log and tiny artifacts trained on it by the CLI.

    Artifacts are trained on first use (a few seconds each), so probes that need none stay cheap.
    ``signing_key``: the primary artifact is signed with it (``LOGBERT_ARTIFACT_KEY``), so one probe
    can show that a forger who rewrites every hash is still refused where the key is set.
    """

    #: A model small enough to train in seconds; the probes test handling, not detection.
    TINY = (
        "train.epochs=1", "train.min_steps=0", "model.d_model=16", "model.d_ff=32", "model.n_layers=1",
        "model.n_heads=2", "scoring.calibration=split",
    )  # fmt: skip
    signing_key = "probe-signing-key"

    def __init__(self, root: Path, logbert: list[str] | None = None) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)
        self.logbert = logbert or default_logbert()
        self._cache: dict[str, Path] = {}
        self._once: dict[str, Any] = {}
        self._lock = threading.RLock()
        self._server_lock = threading.Lock()
        #: started services by role ("open", "keyed", "bounded"); a test may put its own Endpoint here
        self.servers: dict[str, Endpoint] = {}
        self._started: list[Server] = []

    #: The API key of the "keyed" server.
    API_KEY = "probe-api-key-0123456789"
    #: The "bounded" server's engine limits (small, so that a limit is reached quickly).
    BOUND = 100

    def server(self, role: str) -> Endpoint:
        """A served probe artifact, started on first use: "open" (no key), "keyed" (--api-key-file),
        "bounded" (no key; max_sources, max_open_sessions and closed_sessions_kept all ``BOUND``)."""
        with self._server_lock:
            return self._server(role)

    def _server(self, role: str) -> Endpoint:
        if role not in self.servers:
            if role == "open":
                server = Server(self, self.artifact, name="serve-open")
            elif role == "keyed":
                server = Server(self, self.artifact, key=self.API_KEY, name="serve-keyed")
            elif role == "bounded":
                bound = str(self.BOUND)
                env = {"LOGBERT_LIMITS__MAX_SOURCES": bound, "LOGBERT_LIMITS__CLOSED_SESSIONS_KEPT": bound}
                server = Server(self, self.artifact, env=env, args=("--max-open-sessions", bound), name="serve-bounded")
            else:
                raise KeyError(role)
            self._started.append(server)
            self.servers[role] = server.start()
        return self.servers[role]

    def close(self) -> None:
        """Stop every server this workspace started."""
        for server in self._started:
            server.stop()
        self._started.clear()

    def env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        """The children's environment: no LOGBERT_* from outside, wide plain output."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("LOGBERT_")}
        env.update({"COLUMNS": "220", "NO_COLOR": "1", "TERM": "dumb", "PYTHONUNBUFFERED": "1"})
        env.update(extra or {})
        return env

    def cli(
        self, *args: str | Path, env: dict[str, str] | None = None, stdin: bytes | None = None,
        timeout: float = CLI_TIMEOUT_S, cwd: Path | None = None,
    ) -> Cli:  # fmt: skip
        argv = [*self.logbert, *map(str, args)]
        t0 = time.monotonic()
        peak = 0
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            p = subprocess.Popen(
                argv, stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL, stdout=out, stderr=err,
                env=self.env(env), cwd=cwd or self.root,
            )  # fmt: skip
            if stdin is not None and p.stdin is not None:
                p.stdin.write(stdin)
                p.stdin.close()
            rc: int | None = None
            while time.monotonic() - t0 < timeout:
                peak = max(peak, _peak_rss_kib(p.pid))  # the child's own high-water mark, while it runs
                rc = p.poll()
                if rc is not None:
                    break
                time.sleep(0.05)
            else:
                p.kill()
                p.wait()
            out.seek(0)
            err.seek(0)
            text = (out.read().decode("utf-8", "replace"), err.read().decode("utf-8", "replace"))
        return Cli(tuple(map(str, args)), rc, *text, time.monotonic() - t0, peak)

    def file(self, name: str, content: str | bytes) -> Path:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, str):
            path.write_text(content, encoding="utf-8")
        else:
            path.write_bytes(content)
        return path

    def fresh_dir(self, name: str) -> Path:
        with self._lock:
            path = self.root / name
            n = 1
            while path.exists():
                n += 1
                path = self.root / f"{name}-{n}"
            path.mkdir(parents=True)
            return path

    def once(self, key: str, make: Callable[[], T]) -> T:
        """``make()`` the first time ``key`` is asked for (under the workspace lock), the same value after."""
        with self._lock:
            if key not in self._once:
                self._once[key] = make()
            value: T = self._once[key]
            return value

    def _simulated(self, seed: int) -> tuple[Path, Path]:
        from logbert.datasets.simulator import write_simulated

        files = write_simulated(self.root / f"sim{seed}", n_instances=40, anomaly_ratio=0.15, seed=seed)
        return Path(files.log), Path(files.labels)

    @property
    def raw_log(self) -> Path:
        with self._lock:
            if "log" not in self._cache:
                self._cache["log"], self._cache["labels"] = self._simulated(0)
            return self._cache["log"]

    @property
    def labels(self) -> Path:
        _ = self.raw_log
        return self._cache["labels"]

    def _train(self, name: str, log: Path, labels: Path, env: dict[str, str] | None = None) -> Path:
        out = self.root / name
        sets = [a for s in self.TINY for a in ("--set", s)]
        cli = self.cli("train", log, "-o", out, "--preset", "openstack", "--labels", labels, *sets, env=env)
        if cli.rc != 0:
            raise RuntimeError(f"training the probe artifact failed (exit {cli.rc}): {cli.stderr[-600:]}")
        return out

    @property
    def artifact(self) -> Path:
        """The probe artifact (raw OpenStack log, signed); probes that change it work on a copy."""
        with self._lock:
            if "artifact" not in self._cache:
                env = {"LOGBERT_ARTIFACT_KEY": self.signing_key}
                self._cache["artifact"] = self._train("artifact", self.raw_log, self.labels, env=env)
            return self._cache["artifact"]

    @property
    def other_artifact(self) -> Path:
        """Another artifact, trained on another simulated day whose "Total memory" lines read "Total RAM"
        (the simulator's templates are fixed: without a changed template both parsers come out the same)."""
        with self._lock:
            if "other" not in self._cache:
                log, labels = self._simulated(1)
                log.write_text(log.read_text().replace("Total memory:", "Total RAM:"))
                other = self._train("other-artifact", log, labels)
                if sha_of(other / "parser.json") == sha_of(self.artifact / "parser.json"):
                    raise RuntimeError("the other artifact's parser.json is the same as the probe artifact's")
                self._cache["other"] = other
            return self._cache["other"]

    def artifact_copy(self, name: str) -> Path:
        dest = self.fresh_dir(name)  # made under the lock: no other probe gets this name
        shutil.copytree(self.artifact, dest, dirs_exist_ok=True)
        return dest


def _peak_rss_kib(pid: int) -> int:
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def sha_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def default_logbert() -> list[str]:
    """``.venv/bin/logbert`` beside this interpreter, else ``python -c 'from logbert.cli import main; main()'``."""
    exe = Path(sys.executable).with_name("logbert")
    if exe.is_file():
        return [str(exe)]
    return [sys.executable, "-c", "from logbert.cli import main; main()"]


@contextlib.contextmanager
def timed() -> Iterator[Callable[[], float]]:
    t0 = time.monotonic()
    yield lambda: time.monotonic() - t0
