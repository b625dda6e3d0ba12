"""Real services for the test suite: PostgreSQL, Redis and Hubbub server processes.

Each service runs as a child process of the test session, bound to 127.0.0.1 on a free port, with
its files in a throwaway directory. Every process is stopped by its own PID (never by name) when the
session ends. `tests/conftest.py` turns these into fixtures and decides whether a missing binary
is a skip or (with CI=true) a failure; only `ENGINES` (the storage engines every server test runs
on) mentions pytest.
"""

from __future__ import annotations

import base64
import contextlib
import glob
import os
import pwd
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

import httpx
import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
LOOPBACK = "127.0.0.1"


ENGINES = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
]


class ServiceUnavailable(RuntimeError):
    """A binary the service needs is not installed on this machine."""


class ServiceFailed(RuntimeError):
    """A service process did not come up (its log tail is in the message)."""


# -- small process helpers -------------------------------------------------------------------------


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def port_open(port: int, host: str = LOOPBACK) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def log_tail(path: Path, lines: int = 80) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "<no log>"


def stop_process(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM, timeout: float = 15.0) -> None:
    """Send `sig` to the process we started (by PID), then SIGKILL it if it does not exit in time."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(proc.pid, sig)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=timeout)


def _wait_until(check: Callable[[], bool], proc: subprocess.Popen[bytes], log: Path, what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ServiceFailed(f"{what} exited with status {proc.returncode}:\n{log_tail(log)}")
        if check():
            return
        time.sleep(0.1)
    raise ServiceFailed(f"{what} not ready after {timeout:.0f} s:\n{log_tail(log)}")


def service_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for a child service: ours, minus the CA overrides meant for the SDKs."""
    env = {k: v for k, v in os.environ.items() if k not in {"REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"}}
    env.update(extra or {})
    return env


def _unprivileged_user() -> pwd.struct_passwd | None:
    """The account to run PostgreSQL as when we are root (initdb refuses to run as root)."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    raise ServiceUnavailable("running as root and there is no 'postgres' or 'nobody' account for PostgreSQL")


# -- PostgreSQL ------------------------------------------------------------------------------------


def postgres_bindir() -> Path | None:
    """The directory with initdb/postgres: $HUBBUB_PG_BINDIR, PATH, or the newest /usr/lib/postgresql/*/bin."""
    candidates: list[Path] = []
    if os.environ.get("HUBBUB_PG_BINDIR"):
        candidates.append(Path(os.environ["HUBBUB_PG_BINDIR"]))
    if shutil.which("initdb"):
        candidates.append(Path(shutil.which("initdb")).resolve().parent)  # type: ignore[arg-type]
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name or 0))
    candidates.extend(Path(p) for p in reversed(versions))
    for bindir in candidates:
        if all((bindir / name).exists() for name in ("initdb", "postgres", "pg_isready", "psql")):
            return bindir
    return None


class PostgresCluster:
    """A throwaway PostgreSQL cluster: initdb in a temp dir, postgres on a free loopback port."""

    def __init__(self) -> None:
        bindir = postgres_bindir()
        if bindir is None:
            raise ServiceUnavailable("PostgreSQL binaries (initdb, postgres) not found")
        self.bindir = bindir
        self.port = free_port()
        self.user = _unprivileged_user()
        # Not under pytest's tmp dir: that one is mode 0700 and owned by root.
        self.base = Path(tempfile.mkdtemp(prefix="hubbub-pg-"))
        self.data = self.base / "data"
        self.sockets = self.base / "sockets"
        self.log = self.base / "postgres.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def _run_as(self) -> dict[str, int]:
        return {} if self.user is None else {"user": self.user.pw_uid, "group": self.user.pw_gid}

    def start(self) -> None:
        self.sockets.mkdir()
        if self.user is not None:
            for path in (self.base, self.sockets):
                os.chown(path, self.user.pw_uid, self.user.pw_gid)
        init = subprocess.run(
            [
                str(self.bindir / "initdb"),
                "-D",
                str(self.data),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ],
            capture_output=True,
            env=service_env(),
            cwd=self.base,
            **self._run_as(),  # type: ignore[call-overload]
        )
        if init.returncode != 0:
            raise ServiceFailed(f"initdb failed: {init.stdout.decode()}\n{init.stderr.decode()}")
        self.resume()

    def resume(self) -> None:
        """Start the server on the existing cluster (after `start`, or after `pause`), same port."""
        with open(self.log, "ab") as log:
            if self.user is not None:
                os.chown(self.log, self.user.pw_uid, self.user.pw_gid)
            self.proc = subprocess.Popen(  # type: ignore[call-overload]
                [
                    str(self.bindir / "postgres"),
                    "-D",
                    str(self.data),
                    "-p",
                    str(self.port),
                    "-k",
                    str(self.sockets),
                    "-c",
                    f"listen_addresses={LOOPBACK}",
                    "-c",
                    "fsync=off",
                    "-c",
                    "synchronous_commit=off",
                    "-c",
                    "full_page_writes=off",
                    "-c",
                    "max_connections=200",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=service_env(),
                cwd=self.base,
                **self._run_as(),
            )
        _wait_until(self._accepts, self.proc, self.log, "postgres", timeout=60)

    def pause(self) -> None:
        """Stop the server (fast shutdown) and keep the cluster's files, for `resume`."""
        if self.proc is not None:
            stop_process(self.proc, signal.SIGINT)
            self.proc = None

    def _accepts(self) -> bool:
        if not port_open(self.port):
            return False
        probe = subprocess.run(
            [str(self.bindir / "pg_isready"), "-h", LOOPBACK, "-p", str(self.port), "-U", "postgres"],
            capture_output=True,
        )
        return probe.returncode == 0

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@{LOOPBACK}:{self.port}/{database}"

    def create_database(self, name: str | None = None) -> str:
        """Create a fresh, empty database and return its URL."""
        name = name or f"hubbub_{uuid.uuid4().hex[:12]}"
        self.psql(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def psql(self, sql: str, database: str = "postgres") -> str:
        done = subprocess.run(
            [
                str(self.bindir / "psql"),
                "-h",
                LOOPBACK,
                "-p",
                str(self.port),
                "-U",
                "postgres",
                "-d",
                database,
                "-v",
                "ON_ERROR_STOP=1",
                "-At",
                "-c",
                sql,
            ],
            capture_output=True,
            env=service_env(),
        )
        if done.returncode != 0:
            raise ServiceFailed(f"psql {sql!r} failed: {done.stderr.decode()}")
        return done.stdout.decode()

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc, signal.SIGINT)  # SIGINT = PostgreSQL's "fast" shutdown
        shutil.rmtree(self.base, ignore_errors=True)


# -- Redis -----------------------------------------------------------------------------------------


class RedisServer:
    """redis-server on a free loopback port, without persistence."""

    def __init__(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise ServiceUnavailable("redis-server not found")
        self.binary = binary
        self.port = free_port()
        self.base = Path(tempfile.mkdtemp(prefix="hubbub-redis-"))
        self.log = self.base / "redis.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://{LOOPBACK}:{self.port}/0"

    def start(self) -> None:
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(
                [
                    self.binary,
                    "--port",
                    str(self.port),
                    "--bind",
                    LOOPBACK,
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--dir",
                    str(self.base),
                    "--daemonize",
                    "no",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=service_env(),
                cwd=self.base,
            )
        _wait_until(self._pong, self.proc, self.log, "redis-server", timeout=30)

    def _pong(self) -> bool:
        try:
            with socket.create_connection((LOOPBACK, self.port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def pause(self) -> None:
        """Stop redis-server; `start` brings it back on the same port (empty: no persistence)."""
        if self.proc is not None:
            stop_process(self.proc)
            self.proc = None

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc)
        shutil.rmtree(self.base, ignore_errors=True)


# -- Hubbub ----------------------------------------------------------------------------------------


def hubbub_command() -> list[str]:
    """How to run the `hubbub` CLI with the interpreter running the tests."""
    script = Path(sys.executable).with_name("hubbub")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "import sys; from hubbub.cli import main; sys.exit(main())"]


def parse_connection_string(text: str) -> dict[str, str]:
    """`endpoint=...;accesskey=...` → {"endpoint": ..., "accesskey": ...} (keys lower-cased)."""
    parts: dict[str, str] = {}
    for item in text.strip().split(";"):
        if "=" in item:
            key, _, value = item.partition("=")
            parts[key.strip().lower()] = value.strip()
    return parts


_SERVER_ERROR = re.compile(r'HTTP/[0-9.]+" 5[0-9][0-9]\b|^Traceback|unhandled error on|Exception in ASGI application')


class CABundle:
    """One PEM file holding the CA of every Hubbub server this session started.

    Each server makes its own CA on first start, but `REQUESTS_CA_BUNDLE`/`SSL_CERT_FILE` can name
    only one file, so the CAs are appended here as servers come up.
    """

    ENV_VARS = ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE")

    def __init__(self, path: Path) -> None:
        self.path = path
        self.path.write_text("")
        self._saved = {name: os.environ.get(name) for name in self.ENV_VARS}

    def add(self, ca_path: Path) -> None:
        """Append a CA; the first one also points the environment at the bundle (an empty bundle would
        make every TLS client in this process trust nothing)."""
        pem = ca_path.read_text()
        if pem not in self.path.read_text():
            with open(self.path, "a") as bundle:
                bundle.write(pem.rstrip("\n") + "\n")
        for name in self.ENV_VARS:
            os.environ[name] = str(self.path)

    def restore_environment(self) -> None:
        for name, value in self._saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


class HubbubServer:
    """One `hubbub serve` process with its own data dir and ports (kept across restarts)."""

    def __init__(
        self,
        data_dir: Path,
        *,
        engine: str = "sqlite",
        database_url: str | None = None,
        redis_url: str | None = None,
        env: Mapping[str, str] | None = None,
        args: Sequence[str] = (),
        ca_bundle: CABundle | None = None,
    ) -> None:
        self.data_dir = data_dir
        self.engine = engine
        self.database_url = database_url
        self.http_port = free_port()
        self.https_port = free_port()
        self.log = data_dir.parent / f"{data_dir.name}.log"
        self.extra_env = dict(env or {})
        if database_url:
            self.extra_env["HUBBUB_DATABASE_URL"] = database_url
        if redis_url:
            self.extra_env.setdefault("HUBBUB_REDIS_URL", redis_url)
        self.args = list(args)
        self.ca_bundle = ca_bundle
        self.proc: subprocess.Popen[bytes] | None = None
        self.access_key: str | None = None
        self.starts = 0

    # -- addresses --------------------------------------------------------------------------------

    @property
    def host(self) -> str:
        return LOOPBACK

    @property
    def http_url(self) -> str:
        return f"http://{LOOPBACK}:{self.http_port}"

    @property
    def https_url(self) -> str:
        return f"https://{LOOPBACK}:{self.https_port}"

    @property
    def ca_path(self) -> Path:
        return self.data_dir / "ca.pem"

    @property
    def connection_string(self) -> str:
        return f"endpoint={self.https_url}/;accesskey={self.access_key}"

    @property
    def http_connection_string(self) -> str:
        return f"endpoint={self.http_url}/;accesskey={self.access_key}"

    def ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca_path))

    @property
    def env(self) -> dict[str, str]:
        return service_env(self.extra_env)

    # -- CLI --------------------------------------------------------------------------------------

    def cli(self, *args: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """Run `hubbub <args>` with this server's environment (database URL etc.)."""
        done = subprocess.run(
            [*hubbub_command(), *args],
            capture_output=True,
            text=True,
            env=self.env,
            timeout=timeout,
            cwd=self.data_dir.parent,
        )
        if check and done.returncode != 0:
            raise ServiceFailed(f"hubbub {' '.join(args)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
        return done

    # -- lifecycle --------------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self, timeout: float = 60) -> None:
        if self.running:
            raise RuntimeError("server already running")
        cmd = [
            *hubbub_command(),
            "serve",
            "--data-dir",
            str(self.data_dir),
            "--host",
            LOOPBACK,
            "--http-port",
            str(self.http_port),
            "--https-port",
            str(self.https_port),
            *self.args,
        ]
        with open(self.log, "ab") as log:
            log.write(f"\n===== start #{self.starts + 1}: {' '.join(cmd)}\n".encode())
            log.flush()
            self.proc = subprocess.Popen(
                cmd,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env,
                cwd=self.data_dir.parent,
                start_new_session=True,
            )
        self.starts += 1
        _wait_until(self._ready, self.proc, self.log, f"hubbub serve ({self.engine})", timeout=timeout)
        # HUBBUB_ACCESS_KEY overrides the data dir's key (several nodes sharing one database use it).
        key = (
            self.extra_env.get("HUBBUB_ACCESS_KEY")
            or parse_connection_string(
                self.cli(
                    "connection-string", "--data-dir", str(self.data_dir), "--https-port", str(self.https_port)
                ).stdout
            )["accesskey"]
        )
        if self.access_key is not None and key != self.access_key:
            raise ServiceFailed(f"access key changed across a restart: {self.access_key!r} -> {key!r}")
        self.access_key = key
        if self.ca_bundle is not None and self.ca_path.exists():
            self.ca_bundle.add(self.ca_path)

    def _ready(self) -> bool:
        if not (port_open(self.http_port) and port_open(self.https_port)):
            return False
        try:
            response = httpx.get(f"{self.http_url}/health", timeout=2, trust_env=False)
        except httpx.HTTPError:
            return False
        # /health is the readiness probe; a server without one (404) counts as ready once it listens.
        # With --certfile the server has no generated CA.
        return response.status_code in (200, 404) and (self.ca_path.exists() or "--certfile" in self.args)

    def stop(self, timeout: float = 10.0) -> None:
        """Graceful stop (SIGTERM to our PID), SIGKILL after `timeout` seconds."""
        if self.proc is not None:
            stop_process(self.proc, timeout=timeout)
            self._reap_group()
            self.proc = None

    def kill9(self) -> None:
        """SIGKILL the server (and anything it forked) with no chance to flush or clean up."""
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)  # the group is ours: start_new_session=True
            self.proc.wait(timeout=15)
        self.proc = None

    def _reap_group(self) -> None:
        if self.proc is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGKILL)

    def server_errors(self) -> list[str]:
        """Log lines showing a 5xx response or an unhandled exception: bad input must never cause one."""
        try:
            lines = self.log.read_text(errors="replace").splitlines()
        except OSError:
            return []
        return [line for line in lines if _SERVER_ERROR.search(line)]

    def restart(self) -> None:
        self.stop()
        self.start()

    def __repr__(self) -> str:
        return f"<HubbubServer {self.engine} {self.https_url} data={self.data_dir}>"


ServerFactory = Callable[..., HubbubServer]


def cluster_nodes(
    server_factory: ServerFactory,
    postgres_cluster: PostgresCluster,
    redis_url: str,
    count: int = 2,
    env: Mapping[str, str] | None = None,
) -> list[HubbubServer]:
    """`count` nodes of one deployment: one new PostgreSQL database, Redis with a stream of their
    own, and one access key (which each node is told it has), plus `env`."""
    key = base64.b64encode(os.urandom(32)).decode()
    shared = {
        "HUBBUB_DATABASE_URL": postgres_cluster.create_database(),
        "HUBBUB_REDIS_URL": redis_url,
        "HUBBUB_ACCESS_KEY": key,
        "HUBBUB_EVENTS_STREAM": f"hubbub:test:{uuid.uuid4().hex}",
        **(env or {}),
    }
    nodes = [server_factory("sqlite", env=shared) for _ in range(count)]
    for node in nodes:
        node.access_key = key
    return nodes


@contextlib.contextmanager
def running(service: PostgresCluster | RedisServer | HubbubServer) -> Iterator[None]:
    try:
        service.start()
        yield
    finally:
        service.stop()
