"""The processes a run starts: the Hubbub server, the ceiling servers, PostgreSQL and Redis.

Everything listens on 127.0.0.1 only. The server side (Hubbub, PostgreSQL, Redis, ceiling servers)
is pinned to the first cores and the load generator (this process) to the last one, so the two do
not compete for a core. `server_command()` is the one place that knows Hubbub's command line.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
PG_BIN = Path("/usr/lib/postgresql/15/bin")
REDIS_SERVER = "/usr/bin/redis-server"


@dataclasses.dataclass(frozen=True)
class CorePlan:
    server: frozenset[int]
    client: frozenset[int]

    @property
    def pinned(self) -> bool:
        return not self.server & self.client


def plan_cores(workers: int) -> CorePlan:
    """The load generator gets the last core, the server side the rest (all cores when only one)."""
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) < 2:
        return CorePlan(frozenset(cores), frozenset(cores))
    return CorePlan(frozenset(cores[:-1]), frozenset(cores[-1:]))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def server_command(data_dir: Path, port: int, workers: int = 1) -> list[str]:
    """The `hubbub serve` command line. `--workers` is only passed when more than one is asked for."""
    cmd = [
        str(VENV_BIN / "hubbub"),
        "serve",
        "--data-dir",
        str(data_dir),
        "--host",
        "127.0.0.1",
        "--http-port",
        str(port),
        "--https-port",
        "0",
        "--log-level",
        "warning",
    ]
    if workers > 1:
        cmd += ["--workers", str(workers)]
    return cmd


def migrate_command(data_dir: Path) -> list[str]:
    return [str(VENV_BIN / "hubbub"), "migrate", "--data-dir", str(data_dir)]


@dataclasses.dataclass
class Process:
    name: str
    popen: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def stop(self, timeout: float = 15.0) -> None:
        if self.popen.poll() is not None:
            return
        self.popen.send_signal(signal.SIGTERM)
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait(5)


def spawn(
    name: str,
    cmd: list[str],
    *,
    port: int,
    log_dir: Path,
    cores: frozenset[int],
    env: dict[str, str] | None = None,
    user: str | None = None,
) -> Process:
    log = log_dir / f"{name}.log"
    handle = log.open("ab")

    def pin() -> None:
        os.sched_setaffinity(0, cores)

    full = ["runuser", "-u", user, "--", *cmd] if user else cmd
    popen = subprocess.Popen(
        full,
        stdout=handle,
        stderr=subprocess.STDOUT,
        cwd=ROOT,
        preexec_fn=pin,
        env={**os.environ, **(env or {})},
        start_new_session=True,
    )
    handle.close()
    return Process(name, popen, port, log)


def wait_http(process: Process, path: str = "/health", timeout: float = 60.0) -> None:
    """Poll until `path` answers 200; fail with the log's tail if the process dies or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.popen.poll() is not None:
            raise RuntimeError(f"{process.name} exited ({process.popen.returncode}):\n{tail(process.log)}")
        with (
            contextlib.suppress(OSError),
            urllib.request.urlopen(f"http://127.0.0.1:{process.port}{path}", timeout=1) as reply,
        ):
            if reply.status == 200:
                return
        time.sleep(0.1)
    raise RuntimeError(f"{process.name} did not become ready in {timeout:.0f}s:\n{tail(process.log)}")


def wait_tcp(process: Process, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.popen.poll() is not None:
            raise RuntimeError(f"{process.name} exited ({process.popen.returncode}):\n{tail(process.log)}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", process.port), timeout=1):
            return
        time.sleep(0.1)
    raise RuntimeError(f"{process.name} did not listen in {timeout:.0f}s:\n{tail(process.log)}")


def tail(path: Path, lines: int = 30) -> str:
    with contextlib.suppress(OSError):
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    return ""


def start_hubbub(data_dir: Path, *, log_dir: Path, cores: frozenset[int], workers: int, env: dict[str, str]) -> Process:
    port = free_port()
    process = spawn("hubbub", server_command(data_dir, port, workers), port=port, log_dir=log_dir, cores=cores, env=env)
    wait_http(process)
    return process


def start_ceiling(log_dir: Path, cores: frozenset[int], app: str = "app", env: dict[str, str] | None = None) -> Process:
    """An app of `bench.ceiling` under uvicorn with Hubbub's uvicorn settings; by default the bare
    Starlette app, the framework's ceiling."""
    port = free_port()
    cmd = [
        str(VENV_BIN / "uvicorn"),
        f"bench.ceiling:{app}",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "warning",
        "--no-access-log",
        "--no-server-header",
    ]
    name = "ceiling-starlette" if app == "app" else f"ceiling-{app}"
    process = spawn(name, cmd, port=port, log_dir=log_dir, cores=cores, env=env)
    wait_http(process, "/json")
    return process


def start_stored_ceiling(
    log_dir: Path, cores: frozenset[int], db: Path, threads: int, app: str = "stored_app"
) -> Process:
    """An app of `bench.ceiling` that stores the sends (`stored_app`: with Hubbub's store;
    `raw_stored_app`: with the two statements alone), on a new embedded database at `db` with
    `threads` threads."""
    from bench import ceiling

    return start_ceiling(log_dir, cores, app, {ceiling.STORED_DB: str(db), ceiling.STORED_THREADS: str(threads)})


def remove_sqlite(db: Path) -> None:
    """Delete a SQLite database file and its WAL and shared-memory files, those that exist."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)


def start_canned(log_dir: Path, cores: frozenset[int]) -> Process:
    """A raw asyncio server that answers every request with a fixed response: the client's ceiling."""
    port = free_port()
    cmd = [sys.executable, "-m", "bench.ceiling", str(port)]
    process = spawn("ceiling-canned", cmd, port=port, log_dir=log_dir, cores=cores)
    wait_http(process, "/")
    return process


WARM_WAL_MB = 160
"""WAL written and checkpointed away before the workloads (`warm_wal`)."""


def warm_wal(url: str) -> None:
    """Give a new cluster the recycled WAL segments a running one has.

    A brand-new cluster has no WAL segment files to reuse: every 16 MB of WAL, the committing
    backend creates the next segment and writes and syncs 16 MB of zeros (`wal_init_zero`), and every
    commit waits meanwhile. W1 on PostgreSQL showed it as one or two stalls of about 50 ms per run
    (its p99.9). A cluster that has run for a while renames old segments instead (up to
    `min_wal_size`, 80 MB by default), so this writes `WARM_WAL_MB` of WAL in a table it then drops,
    and checkpoints twice, which leaves those segments recycled for the workloads to reuse."""
    import asyncpg  # the server extra brings it; only PostgreSQL runs need it

    async def warm() -> None:
        conn = await asyncpg.connect(url)
        try:
            rows = WARM_WAL_MB * 1024 * 1024 // 1100
            await conn.execute(
                f"CREATE TABLE bench_warm_wal AS SELECT g, repeat('x', 1000) AS pad FROM generate_series(1, {rows}) g"
            )
            await conn.execute("DROP TABLE bench_warm_wal")
            await conn.execute("CHECKPOINT")
            await conn.execute("SELECT pg_switch_wal()")
            await conn.execute("CHECKPOINT")
        finally:
            await conn.close()

    asyncio.run(warm())


@contextlib.contextmanager
def postgres_cluster(log_dir: Path, cores: frozenset[int]) -> Iterator[str]:
    """A throwaway PostgreSQL 15 cluster on loopback; yields its URL. initdb must run as `postgres`."""
    base = Path(tempfile.mkdtemp(prefix="hubbub-bench-pg-"))
    shutil.chown(base, "postgres", "postgres")
    log_dir.chmod(0o777)
    data = base / "data"
    port = free_port()
    subprocess.run(
        [
            "runuser",
            "-u",
            "postgres",
            "--",
            str(PG_BIN / "initdb"),
            "-D",
            str(data),
            "-A",
            "trust",
            "-U",
            "postgres",
            "--no-sync",
            "-E",
            "UTF8",
        ],
        check=True,
        capture_output=True,
    )
    process = spawn(
        "postgres",
        [
            str(PG_BIN / "postgres"),
            "-D",
            str(data),
            "-p",
            str(port),
            "-k",
            str(base),
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            "max_connections=200",
        ],
        port=port,
        log_dir=log_dir,
        cores=cores,
        user="postgres",
    )
    try:
        wait_tcp(process)
        for _ in range(50):
            done = subprocess.run(
                [
                    "runuser",
                    "-u",
                    "postgres",
                    "--",
                    str(PG_BIN / "createdb"),
                    "-h",
                    "127.0.0.1",
                    "-p",
                    str(port),
                    "hubbub",
                ],
                capture_output=True,
            )
            if done.returncode == 0:
                break
            time.sleep(0.2)
        else:
            raise RuntimeError(f"createdb failed: {done.stderr.decode()}")
        url = f"postgresql://postgres@127.0.0.1:{port}/hubbub"
        warm_wal(url)
        yield url
    finally:
        process.stop()
        shutil.rmtree(base, ignore_errors=True)


def create_database(url: str, name: str) -> str:
    """A new, empty database `name` on the cluster of `url`; its URL."""
    import asyncpg  # the server extra brings it; only PostgreSQL runs need it

    async def create() -> None:
        conn = await asyncpg.connect(url)
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()

    asyncio.run(create())
    return url.rsplit("/", 1)[0] + "/" + name


def flush_redis(url: str) -> str:
    """Redis at `url` emptied (`FLUSHALL`); `url`."""
    import redis  # the server extra brings it; only Redis runs need it

    client = redis.Redis.from_url(url)
    try:
        client.flushall()
    finally:
        client.close()
    return url


@contextlib.contextmanager
def redis_server(log_dir: Path, cores: frozenset[int]) -> Iterator[str]:
    port = free_port()
    process = spawn(
        "redis",
        [REDIS_SERVER, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no"],
        port=port,
        log_dir=log_dir,
        cores=cores,
    )
    try:
        wait_tcp(process)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.stop()


def _children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def connections_by_worker(pid: int, port: int) -> list[int]:
    """How many established connections to `port` each process of the server (`pid` and its
    workers) holds, most first, processes with none left out (Linux: `/proc/net/tcp*` and each
    process's socket descriptors). With several workers sharing one listening socket, which worker
    accepts a connection is a race, and W1's rate depends on how its connections split (README)."""
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[3] == "01" and int(fields[1].rsplit(":", 1)[1], 16) == port:  # 01: ESTABLISHED
                inodes.add(fields[9])
    counts = []
    for process in (pid, *_children(pid)):
        held = 0
        for fd in Path(f"/proc/{process}/fd").glob("*"):
            try:
                link = os.readlink(fd)
            except OSError:
                continue  # closed meanwhile
            held += link.startswith("socket:[") and link[8:-1] in inodes
        if held:
            counts.append(held)
    return sorted(counts, reverse=True)


def cpu_by_thread(pid: int) -> dict[str, float]:
    """CPU seconds used so far by `pid` and its worker processes (Linux): the main threads (the
    event loops) and all other threads (SQLite writer and readers, executors), summed."""
    tick = os.sysconf("SC_CLK_TCK")
    totals = {"event loop": 0.0, "other threads": 0.0}
    for process in (pid, *_children(pid)):
        for task in Path(f"/proc/{process}/task").glob("*"):
            try:
                fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue  # the thread ended meanwhile
            kind = "event loop" if task.name == str(process) else "other threads"
            totals[kind] += (int(fields[11]) + int(fields[12])) / tick
    return totals


def services_cpu(server_pid: int) -> dict[str, float]:
    """CPU seconds used so far by the load generator's other child process trees, by program
    (`postgres`, `redis-server`): the services it started (`--engine postgres`, `--redis`), which
    share the server's cores. The server's own tree and the load generator itself are left out."""
    tick = os.sysconf("SC_CLK_TCK")
    parents: dict[int, int] = {}
    usage: dict[int, tuple[str, float]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            head, tail = stat.read_text().rsplit(")", 1)
        except OSError:
            continue
        fields = tail.split()
        pid = int(stat.parent.name)
        parents[pid] = int(fields[1])
        usage[pid] = (head.split("(", 1)[1], (int(fields[11]) + int(fields[12])) / tick)
    totals: dict[str, float] = {}
    me = os.getpid()
    for pid, (name, seconds) in usage.items():
        if pid == server_pid:
            continue
        ancestor = parents.get(pid)
        while ancestor not in (None, 0, 1, me, server_pid):
            ancestor = parents.get(ancestor)
        if ancestor == me:
            program = "redis" if name.startswith("redis") else name
            totals[program] = totals.get(program, 0.0) + seconds
    return totals


def cpu_per_request(before: dict[str, float], after: dict[str, float], requests: int) -> dict[str, Any]:
    """Server CPU microseconds per request, in total and per thread name (threads under 1 µs left out)."""
    by_thread = {name: (after[name] - before.get(name, 0.0)) * 1e6 / requests for name in after}
    return {
        "total": round(sum(by_thread.values()), 1),
        "by_thread": {name: round(us, 1) for name, us in sorted(by_thread.items(), key=lambda kv: -kv[1]) if us >= 1},
    }
