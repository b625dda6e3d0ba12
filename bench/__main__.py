"""`python -m bench`: start Hubbub on loopback, seed it, run W1-W6 and the ceilings, write results.

Run `python -m bench --help` for the options; bench/README.md explains the workloads.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import dataclasses
import datetime as dt
import functools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import uvloop
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from bench import processes, profile, report, seed, webhooks, workloads
from bench.processes import CorePlan, Process
from bench.workloads import Scale, Target

T = TypeVar("T")
RESULTS = Path(__file__).resolve().parent / "results"
ALL = ("ceilings", "w1", "w2", "w2s", "w3", "w4", "w5", "w6", "w7")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="scale every count down about 10x (smoke test)")
    parser.add_argument(
        "--engine",
        choices=("sqlite", "postgres"),
        default="sqlite",
        help="database engine; postgres starts a throwaway PostgreSQL 15 cluster",
    )
    parser.add_argument("--redis", action="store_true", help="start redis-server and pass HUBBUB_REDIS_URL")
    parser.add_argument(
        "--workers", type=int, default=1, help="server worker processes (passed as `hubbub serve --workers N` when > 1)"
    )
    parser.add_argument(
        "--only", default=",".join(ALL), help=f"comma-separated subset of {','.join(ALL)} (W4's ratio needs w1)"
    )
    parser.add_argument(
        "--profile", action="store_true", help="also run W1 once more under py-spy and report the server's hotspots"
    )
    parser.add_argument(
        "--stagger-ms",
        type=float,
        default=0.0,
        help="open W1's, W4's and W5's connections this many ms apart (default 0: all at once); with"
        " --workers, a burst usually lands on one worker, spread out they split between the workers",
    )
    parser.add_argument("--out", type=Path, default=RESULTS, help="directory for the JSON and PNG files")
    parser.add_argument("--keep", action="store_true", help="keep the temporary data directory and logs")
    args = parser.parse_args(argv)
    args.only = {w.strip().lower() for w in args.only.split(",") if w.strip()}
    unknown = args.only - set(ALL)
    if unknown:
        parser.error(f"unknown workload(s): {', '.join(sorted(unknown))}")
    return args


class Runner:
    """Holds what every phase needs: the console, the progress display, the cores, the server env."""

    def __init__(
        self,
        args: argparse.Namespace,
        scale: Scale,
        console: Console,
        bar: Progress,
        cores: CorePlan,
        work_dir: Path,
    ) -> None:
        self.args = args
        self.scale = scale
        self.console = console
        self.bar = bar
        self.cores = cores
        self.work_dir = work_dir
        self.data_dir = work_dir / "data"
        self.log_dir = work_dir / "logs"
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.env: dict[str, str] = {}
        self._flushers: list[Callable[[], None]] = []

    def progress(self, label: str, total: int) -> Callable[[int], None]:
        """A rich progress task; updates are batched so the load generator stays cheap."""
        task = self.bar.add_task(label, total=total)
        step = max(1, total // 200)
        pending = 0

        def advance(n: int = 1) -> None:
            nonlocal pending
            pending += n
            if pending >= step:
                self.bar.advance(task, pending)
                pending = 0

        def flush() -> None:
            nonlocal pending
            if pending:
                self.bar.advance(task, pending)
                pending = 0

        self._flushers.append(flush)
        return advance

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        try:
            return uvloop.run(coro)
        finally:
            for flush in self._flushers:
                flush()
            self._flushers.clear()

    @property
    def engine(self) -> str:
        return str(self.args.engine)

    def key(self) -> bytes:
        return base64.b64decode((self.data_dir / "access-key").read_text().strip())

    @contextlib.contextmanager
    def hubbub(self) -> Iterator[tuple[Process, Target]]:
        server = processes.start_hubbub(
            self.data_dir, log_dir=self.log_dir, cores=self.cores.server, workers=self.args.workers, env=self.env
        )
        try:
            yield server, Target("127.0.0.1", server.port, self.key(), server.pid)
        finally:
            server.stop()

    def seeder(self) -> seed.Writer:
        return seed.Writer(self.data_dir / "hubbub.db", self.env.get("HUBBUB_DATABASE_URL"))


# -- phases -----------------------------------------------------------------------------------------


def run_ceilings(r: Runner, results: dict[str, Any]) -> None:
    c = results["ceilings"]
    canned = processes.start_canned(r.log_dir, r.cores.server)
    try:
        t = Target("127.0.0.1", canned.port, b"")
        c["canned"] = r.run(
            workloads.get_ceiling(
                t, "/", r.scale, r.progress, "ceiling: load generator vs canned", r.scale.canned_requests
            )
        )
    finally:
        canned.stop()
    bare = processes.start_ceiling(r.log_dir, r.cores.server)
    try:
        t = Target("127.0.0.1", bare.port, b"", bare.pid)
        # Best of three: the ratio W1/bare should not flatter Hubbub on a noisy machine.
        c["starlette"] = _best_of_three(
            r, functools.partial(workloads.get_ceiling, t, "/json", r.scale, r.progress), "ceiling: bare Starlette"
        )
        c["starlette_send"] = _best_of_three(
            r,
            functools.partial(workloads.send_shaped_ceiling, t, r.scale, r.progress),
            "ceiling: bare send-shaped POST",
        )
    finally:
        bare.stop()
    if r.engine == "sqlite":  # the floors of a stored send (bench/ceiling.py)
        for key, app, label in (
            ("raw_stored_send", "raw_stored_app", "send-shaped POST, 2 raw statements"),
            ("stored_send", "stored_app", "send-shaped POST, Hubbub's store"),
        ):
            stored_db = r.work_dir / f"ceiling-{app}.db"
            stored = processes.start_stored_ceiling(r.log_dir, r.cores.server, stored_db, r.scale.w1_threads, app)
            try:
                t = Target("127.0.0.1", stored.port, b"", stored.pid)
                c[key] = _best_of_three(
                    r, functools.partial(workloads.send_shaped_ceiling, t, r.scale, r.progress), f"ceiling: {label}"
                )
            finally:
                stored.stop()
            processes.remove_sqlite(stored_db)
    db = r.work_dir / "ceiling.db"
    task = r.bar.add_task("ceiling: raw SQLite insert+commit", total=None)
    c["sqlite_insert"] = seed.raw_sqlite_insert_ceiling(db, r.scale.sqlite_rows, deadline=30)
    r.bar.update(task, total=1, completed=1)
    processes.remove_sqlite(db)


def _best_of_three(r: Runner, run: Callable[[str], Coroutine[Any, Any, dict[str, Any]]], label: str) -> dict[str, Any]:
    """A ceiling run three times (`run(progress label)`): the fastest, with every run's rate."""
    runs = [r.run(run(f"{label} ({i}/3)")) for i in (1, 2, 3)]
    best = max(runs, key=lambda one: float(one["per_second"]))
    best["runs_per_second"] = [one["per_second"] for one in runs]
    return best


def run_profile(r: Runner, server: Process, target: Target, results: dict[str, Any], stem: str) -> None:
    """W1 again under py-spy: raw samples for the numbers, then a flamegraph SVG."""
    scale = Scale(**{**r.scale.__dict__, "w1_messages": max(2000, r.scale.w1_messages // 2)})
    raw = r.work_dir / "profile.raw"
    spy = profile.start(server.pid, raw, "raw", r.cores.client)
    time.sleep(1.0)
    figures = r.run(workloads.send_throughput(target, scale, r.progress, "profile W1 (raw)"))
    err = profile.stop(spy)
    if not raw.exists():
        results["profile"] = {"error": err}
        return
    summary = profile.summarize(raw)
    summary["w1_under_profiler"] = {"per_second": figures["per_second"], "latency_ms": figures["latency_ms"]}
    svg = r.args.out / f"{stem}-profile.svg"
    spy = profile.start(server.pid, svg, "flamegraph", r.cores.client)
    time.sleep(1.0)
    small = Scale(**{**scale.__dict__, "w1_messages": max(1000, scale.w1_messages // 2)})
    r.run(workloads.send_throughput(target, small, r.progress, "profile W1 (svg)"))
    profile.stop(spy)
    summary["flamegraph"] = svg.name if svg.exists() else None
    shutil.copy(raw, r.args.out / f"{stem}-profile.txt")
    summary["raw"] = f"{stem}-profile.txt"
    results["profile"] = summary


def run_suite(r: Runner, results: dict[str, Any], stem: str) -> None:
    only = r.args.only
    w = results["workloads"]
    subprocess.run(processes.migrate_command(r.data_dir), check=True, capture_output=True, env={**os.environ, **r.env})
    if "ceilings" in only:
        run_ceilings(r, results)

    reader: tuple[str, str] | None = None
    with r.hubbub() as (server, target):
        results["server_command"] = " ".join(processes.server_command(r.data_dir, server.port, r.args.workers))
        if "ceilings" in only:
            results["ceilings"]["health"] = r.run(
                workloads.get_ceiling(target, "/health", r.scale, r.progress, "ceiling: hubbub /health")
            )
        if "w1" in only:
            w["w1"] = r.run(workloads.send_throughput(target, r.scale, r.progress, "W1"))
        if r.args.profile:
            run_profile(r, server, target, results, stem)
        if "w2" in only:
            w["w2"] = r.run(workloads.fan_out(target, r.scale, r.progress))
        if "w2s" in only:
            w["w2s"] = r.run(workloads.signaling_fan_out(target, r.scale, r.progress))
        if "w5" in only:
            w["w5"] = r.run(workloads.identity_throughput(target, r.scale, r.progress))
        if "w7" in only:  # last on this server (it deletes its webhook subscription when done)
            w["w7"] = r.run(webhooks.webhooks(target, r.scale, r.progress))
        if "w3" in only:
            users = r.run(workloads.create_users(target, 1, r.progress, "W3: reader"))
            reader = users[0]

    if reader is not None:
        with r.seeder() as writer:
            advance = r.progress(f"W3: seed {r.scale.w3_messages:,} messages (SQL)", r.scale.w3_messages)
            thread_id = seed.seed_history(writer, reader[0], r.scale.w3_messages, advance)
        with r.hubbub() as (_, target):
            w["w3"] = r.run(workloads.history(target, r.scale, r.progress, thread_id, reader[1]))

    if "w4" in only or "w6" in only:  # W6 searches the W4 database
        started = time.perf_counter()
        with r.seeder() as writer:
            advance = r.progress(
                f"W4: seed {r.scale.w4_messages:,} messages / {r.scale.w4_threads:,} threads (SQL)", r.scale.w4_messages
            )
            thread_ids, user_ids = seed.seed_growth(
                writer, threads=r.scale.w4_threads, messages=r.scale.w4_messages, progress=advance
            )
            total_messages = writer.scalar("SELECT COUNT(*) FROM messages")
            total_threads = writer.scalar("SELECT COUNT(*) FROM threads")
        seed_seconds = time.perf_counter() - started
        prefilled = {
            "prefilled_messages": total_messages,
            "prefilled_threads": total_threads,
            "seed_seconds": round(seed_seconds, 1),
        }
        if r.engine == "sqlite":
            prefilled["sqlite_file_mb"] = round((r.data_dir / "hubbub.db").stat().st_size / 1e6, 1)
        with r.hubbub() as (_, target):
            if "w6" in only:  # first, on the database as seeded (W4 adds its own threads)
                w["w6"] = r.run(
                    workloads.search(
                        target,
                        r.scale,
                        r.progress,
                        user_id=user_ids[0],
                        thread_id=thread_ids[0],  # user 0 is a member of threads 0, 100, 200, ...
                        words={"rare": seed.RARE_WORD, "common": "fox"},
                    )
                )
                w["w6"] |= prefilled | {"user_threads": len(thread_ids[::100])}
            if "w4" in only:
                w["w4"] = r.run(workloads.send_throughput(target, r.scale, r.progress, "W4")) | prefilled


def write_outputs(r: Runner, results: dict[str, Any], stem: str) -> list[Path]:
    out = r.args.out
    written = []
    w, c = results["workloads"], results.get("ceilings", {})
    title = f"{stem}: {results['engine_label']}, workers {results['workers']}"
    if c:
        rates = {
            f"{name} (req/s)": c[name]["per_second"]
            for name in ("canned", "starlette", "starlette_send", "raw_stored_send", "stored_send", "health")
            if name in c
        }
        if "sqlite_insert" in c:
            rates["raw SQLite insert+commit (rows/s)"] = c["sqlite_insert"]["rows_per_s"]
        for key, label in (
            ("w1", "W1 send_message"),
            ("w4", "W4 send_message, prefilled"),
            ("w5", "W5 create user+token"),
        ):
            if key in w:
                rates[f"{label} (req/s)"] = w[key]["per_second"]
        written.append(out / f"{stem}-ceilings.png")
        report.plot_ceilings(written[-1], f"{title} — ceilings vs workloads", rates)
    if "w1" in w:
        series = {"W1": w["w1"]} | ({"W4 (prefilled)": w["w4"]} if "w4" in w else {})
        written.append(out / f"{stem}-w1.png")
        report.plot_load(written[-1], f"{title} — W1 send throughput", series)
    if "w4" in w:
        series = {"W4 (prefilled)": w["w4"]} | ({"W1": w["w1"]} if "w1" in w else {})
        written.append(out / f"{stem}-w4.png")
        report.plot_load(written[-1], f"{title} — W4 send throughput, database prefilled", series)
    if "w5" in w:
        written.append(out / f"{stem}-w5.png")
        report.plot_load(written[-1], f"{title} — W5 create user + token", {"W5": w["w5"]})
    if "w6" in w:
        written.append(out / f"{stem}-w6.png")
        report.plot_search(written[-1], f"{title} — W6 search, {w['w6']['prefilled_messages']:,} messages", w["w6"])
    if "w3" in w:
        written.append(out / f"{stem}-w3.png")
        report.plot_history(written[-1], f"{title} — W3 history", w["w3"])
    if "w2" in w and w["w2"].get("available"):
        written.append(out / f"{stem}-w2.png")
        report.plot_fan_out(written[-1], f"{title} — W2 fan-out", w["w2"])
    if "w2s" in w and w["w2s"].get("available"):
        written.append(out / f"{stem}-w2s.png")
        report.plot_signaling(written[-1], f"{title} — W2S fan-out, SSE vs Trouter", w["w2s"])
    path = out / f"{stem}.json"
    path.write_text(workloads.dumps(results) + "\n")
    written.insert(0, path)
    return written


def same_day_sqlite_w1(out: Path, date: str) -> dict[str, Any] | None:
    """The W1 of the full SQLite run written to `out` on `date`, for issue 15's other half
    (PostgreSQL's W1 at least 60 % of SQLite's, measured in the same session); None without one."""
    path = out / f"{date}-sqlite.json"
    try:
        w1 = json.loads(path.read_text())["workloads"]["w1"]
        return {"file": path.name, "per_second": float(w1["per_second"])}
    except (OSError, ValueError, KeyError, TypeError):
        return None


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    console = Console(width=None if sys.stdout.isatty() else 160)
    machine = report.machine_info(args.engine)
    cores = processes.plan_cores(args.workers)
    if args.workers > 1:
        cores = CorePlan(frozenset(os.sched_getaffinity(0)), cores.client)
    os.sched_setaffinity(0, cores.client)
    args.out.mkdir(parents=True, exist_ok=True)
    engine_label = ("PostgreSQL" if args.engine == "postgres" else "SQLite") + (" + Redis" if args.redis else "")
    date = dt.date.today().isoformat()
    stem = (
        f"{date}-{args.engine}"
        + ("-redis" if args.redis else "")
        + (f"-w{args.workers}" if args.workers > 1 else "")
        + ("-quick" if args.quick else "")
        + ("" if args.only == set(ALL) else "-only-" + "-".join(w for w in ALL if w in args.only))
    )
    work_dir = Path(tempfile.mkdtemp(prefix="hubbub-bench-"))
    scale = dataclasses.replace(Scale.quick() if args.quick else Scale.full(), connect_stagger_ms=args.stagger_ms)
    results: dict[str, Any] = {
        "date": date,
        "started": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "quick": args.quick,
        "engine": args.engine,
        "engine_label": engine_label,
        "redis": args.redis,
        "workers": args.workers,
        "cores": {"server": sorted(cores.server), "client": sorted(cores.client), "pinned": cores.pinned},
        "machine": machine,
        "scale": scale.__dict__,
        "ceilings": {},
        "workloads": {},
    }
    started = time.perf_counter()
    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        refresh_per_second=4,
    )
    status = 0
    try:
        with bar, contextlib.ExitStack() as stack:
            r = Runner(args, scale, console, bar, cores, work_dir)
            if args.engine == "postgres":
                r.env["HUBBUB_DATABASE_URL"] = stack.enter_context(processes.postgres_cluster(r.log_dir, cores.server))
            if args.redis:
                r.env["HUBBUB_REDIS_URL"] = stack.enter_context(processes.redis_server(r.log_dir, cores.server))
            run_suite(r, results, stem)
    except (RuntimeError, subprocess.CalledProcessError) as exc:
        console.print(f"[red]benchmark failed:[/] {exc}")
        results["error"] = str(exc)
        status = 1
    except KeyboardInterrupt:
        console.print("[yellow]interrupted[/]")
        results["error"] = "interrupted"
        status = 130
    if args.engine != "sqlite":
        results["sqlite_w1"] = same_day_sqlite_w1(args.out, date)
    results["total_seconds"] = round(time.perf_counter() - started, 1)
    results["machine"]["loadavg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    report.print_table(console, results)
    written = write_outputs(r, results, stem)
    if "profile" in results and "self" in results["profile"]:
        prof = results["profile"]
        console.print(f"[bold]py-spy, server under W1[/] ({prof['samples']} samples): top self time")
        for row in prof["self"][:12]:
            console.print(f"  {row['percent']:5.1f}%  {row['function']}")
    console.print(f"total {results['total_seconds']:.0f} s; wrote " + ", ".join(str(p) for p in written))
    if args.keep or status:
        console.print(f"work directory (data, logs): {work_dir}")
    else:
        shutil.rmtree(work_dir, ignore_errors=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
