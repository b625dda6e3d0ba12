"""`python -m bench.compare REV | --env NAME=VALUE`: W1 (or W5) on two servers, taking turns, in one run.

`REV`: the working tree against an earlier commit. `--env NAME=VALUE` (repeatable) without `REV`:
the working tree with those server settings against it without them (`--env HUBBUB_METRICS=1`
measures what metrics cost).

A change that claims "no regression" is measured against the commit before it, on the same machine
in the same minutes: the two servers take turns (A, B, A, B, ...), each round on a fresh data
directory, so drift in the machine's load hits both alike. The earlier commit is checked out into a
temporary `git worktree` and its server runs from there (`PYTHONPATH` puts its `src/` first); the
load generator is this tree's, so both servers get byte-identical requests.

`--workload w5` runs W5 (create user + token) instead of W1. `--engine postgres --redis` runs both
sides on one throwaway PostgreSQL cluster and Redis (on the server's core, as `python -m bench`
runs them): each round gets a database of its own and an emptied Redis, and the table adds their
CPU per request.

It prints, per side, the median and the range of the rate, p99 and server CPU per request, then
the median of the round-by-round ratios (the figure least moved by other load on the machine), and
writes the rounds to `bench/results/<date>-compare-<rev>.json`.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import datetime as dt
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import uvloop
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from bench import processes, report, workloads
from bench.workloads import Scale, Target

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"


@contextlib.contextmanager
def checkout(rev: str) -> Iterator[tuple[str, Path]]:
    """A detached worktree of `rev` in a temporary directory: (full commit id, its src/ folder)."""
    commit = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--verify", f"{rev}^{{commit}}"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    where = Path(tempfile.mkdtemp(prefix="hubbub-compare-"))
    subprocess.run(
        ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(where), commit], check=True, capture_output=True
    )
    try:
        yield commit, where / "src"
    finally:
        subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(where)], capture_output=True)
        shutil.rmtree(where, ignore_errors=True)


def fresh_services(services: dict[str, str], name: str) -> dict[str, str]:
    """The server settings of a round on the shared PostgreSQL and Redis (none on SQLite): a new
    database `name` on the cluster, and Redis emptied."""
    env = {}
    if "HUBBUB_DATABASE_URL" in services:
        url = services["HUBBUB_DATABASE_URL"]
        env["HUBBUB_DATABASE_URL"] = processes.create_database(url, name)
    if "HUBBUB_REDIS_URL" in services:
        env["HUBBUB_REDIS_URL"] = processes.flush_redis(services["HUBBUB_REDIS_URL"])
    return env


def one_round(
    src: Path | None,
    extra_env: dict[str, str],
    work: Path,
    scale: Scale,
    cores: processes.CorePlan,
    bar: Progress,
    label: str,
    workload: str = "w1",
) -> dict[str, Any]:
    """Migrate a fresh data directory (or database) and run `workload` (W1 or W5) once against a
    server from `src` (None: this tree) with `extra_env` added to its environment."""
    env = ({"PYTHONPATH": str(src)} if src is not None else {}) | extra_env
    data_dir, log_dir = work / "data", work / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    subprocess.run(processes.migrate_command(data_dir), check=True, capture_output=True, env={**os.environ, **env})
    server = processes.start_hubbub(data_dir, log_dir=log_dir, cores=cores.server, workers=1, env=env)
    try:
        key = base64.b64decode((data_dir / "access-key").read_text().strip())
        target = Target("127.0.0.1", server.port, key, server.pid)

        def progress(description: str, total: int) -> Callable[[int], None]:
            task = bar.add_task(f"{label} {description}", total=total)

            def advance(n: int = 1) -> None:
                bar.advance(task, n)

            return advance

        if workload == "w5":
            return uvloop.run(workloads.identity_throughput(target, scale, progress))
        return uvloop.run(workloads.send_throughput(target, scale, progress, "W1"))
    finally:
        server.stop()


def summary(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    def figures(values: list[float]) -> dict[str, float]:
        return {"median": round(statistics.median(values), 1), "min": min(values), "max": max(values)}

    return {
        "per_second": figures([r["per_second"] for r in rounds]),
        "p99_ms": figures([r["latency_ms"]["p99"] for r in rounds]),
        "server_cpu_us": figures([r["server_cpu_us"]["total"] for r in rounds]),
        "event_loop_cpu_us": figures([r["server_cpu_us"]["by_thread"]["event loop"] for r in rounds]),
        **{
            f"{name}_cpu_us": figures([r.get("services_cpu_us", {}).get(name, 0.0) for r in rounds])
            for name in sorted({name for r in rounds for name, us in r.get("services_cpu_us", {}).items() if us})
        },
    }


def paired(base: list[dict[str, Any]], head: list[dict[str, Any]]) -> dict[str, float]:
    """Head against base round by round (round i of each ran back to back), as the median ratio:
    a burst of load from elsewhere on the machine slows both rounds of a pair, so it cancels out
    here more than in the medians of each side."""
    pairs = list(zip(base, head, strict=True))
    rate = statistics.median(h["per_second"] / b["per_second"] for b, h in pairs)
    cpu = statistics.median(h["server_cpu_us"]["total"] / b["server_cpu_us"]["total"] for b, h in pairs)
    return {"rate_ratio": round(rate, 4), "server_cpu_ratio": round(cpu, 4)}


def parse_env(pairs: list[str], parser: argparse.ArgumentParser) -> dict[str, str]:
    env = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            parser.error(f"--env takes NAME=VALUE, not {pair!r}")
        env[name] = value
    return env


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.compare", description=__doc__.split("\n\n")[0])
    parser.add_argument("rev", nargs="?", help="the commit to compare the working tree against (e.g. HEAD~1)")
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="without REV: run the working tree with and without this server setting (repeatable)",
    )
    parser.add_argument("--workload", choices=["w1", "w5"], default="w1", help="what each round runs (default w1)")
    parser.add_argument("--rounds", type=int, default=5, help="runs per side, taken in turns (default 5)")
    parser.add_argument("--quick", action="store_true", help="the workload at a tenth of its size")
    parser.add_argument("--engine", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--redis", action="store_true", help="events through a throwaway Redis")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    env = parse_env(args.env, parser)
    if bool(args.rev) == bool(env):
        parser.error("give either REV or --env NAME=VALUE")
    engine_label = ("PostgreSQL" if args.engine == "postgres" else "SQLite") + (" + Redis" if args.redis else "")
    console = Console(width=None if sys.stdout.isatty() else 160)
    scale = Scale.quick() if args.quick else Scale.full()
    cores = processes.plan_cores(1)
    os.sched_setaffinity(0, cores.client)
    rounds: dict[str, list[dict[str, Any]]] = {"base": [], "head": []}
    head = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "-C", str(ROOT), "status", "--porcelain", "src"], capture_output=True, text=True
    ).stdout.strip()
    tree = f"working tree ({head}{' + changes' if dirty else ''})"
    work = Path(tempfile.mkdtemp(prefix="hubbub-compare-run-"))
    try:
        with contextlib.ExitStack() as stack:
            bar = stack.enter_context(Progress(console=console, transient=True))
            services: dict[str, str] = {}
            service_logs = work / "service-logs"
            service_logs.mkdir()
            if args.engine == "postgres":
                services["HUBBUB_DATABASE_URL"] = stack.enter_context(
                    processes.postgres_cluster(service_logs, cores.server)
                )
            if args.redis:
                services["HUBBUB_REDIS_URL"] = stack.enter_context(processes.redis_server(service_logs, cores.server))
            plan: dict[str, tuple[Path | None, dict[str, str]]]
            if args.rev:
                commit, src = stack.enter_context(checkout(args.rev))
                plan = {"base": (src, {}), "head": (None, {})}
                sides = {"base": f"{commit[:7]} ({args.rev})", "head": tree}
                tag = commit[:7]
            else:
                plan = {"base": (None, {}), "head": (None, env)}
                settings = " ".join(f"{k}={v}" for k, v in env.items())
                sides = {"base": f"{tree}, without {settings}", "head": f"{tree}, {settings}"}
                tag = "-".join(f"{k.removeprefix('HUBBUB_').lower()}-{v}" for k, v in env.items())
            for i in range(args.rounds):
                for side, (side_src, side_env) in plan.items():
                    label = f"{side} {i + 1}/{args.rounds}"
                    round_env = side_env | fresh_services(services, f"{side}_{i}")
                    rounds[side].append(
                        one_round(side_src, round_env, work / f"{side}-{i}", scale, cores, bar, label, args.workload)
                    )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result = {
        "date": dt.date.today().isoformat(),
        "machine": report.machine_info(args.engine),
        "engine": engine_label,
        "workload": args.workload,
        "sides": sides,
        "rounds_per_side": args.rounds,
        "summary": {side: summary(r) for side, r in rounds.items()},
        "paired": paired(rounds["base"], rounds["head"]),
        "rounds": rounds,
    }
    title = "W1 send_message" if args.workload == "w1" else "W5 create user + token"
    table = Table(title=f"{title}, {engine_label}, {args.rounds} rounds per side, in turns")
    service_columns = sorted(
        {key for s in result["summary"].values() for key in s if key.endswith("_cpu_us")}
        - {"server_cpu_us", "event_loop_cpu_us"}
    )
    for column in (
        "side",
        "req/s median (min-max)",
        "p99 ms median",
        "server CPU µs/req median (min-max)",
        "event loop µs/req",
        *(f"{key.removesuffix('_cpu_us')} µs/req" for key in service_columns),
    ):
        table.add_column(column)
    for side, label in sides.items():
        s = result["summary"][side]
        table.add_row(
            label,
            f"{s['per_second']['median']:,.0f} ({s['per_second']['min']:,.0f}-{s['per_second']['max']:,.0f})",
            f"{s['p99_ms']['median']:.1f}",
            f"{s['server_cpu_us']['median']:.1f} ({s['server_cpu_us']['min']:.1f}-{s['server_cpu_us']['max']:.1f})",
            f"{s['event_loop_cpu_us']['median']:.1f}",
            *(f"{s[key]['median']:.1f}" for key in service_columns),
        )
    console.print(table)
    base, other = result["summary"]["base"], result["summary"]["head"]
    console.print(
        f"head vs base: rate {other['per_second']['median'] / base['per_second']['median'] - 1:+.1%},"
        f" server CPU per request {other['server_cpu_us']['median'] / base['server_cpu_us']['median'] - 1:+.1%}"
    )
    pairs = result["paired"]
    console.print(
        f"head vs base, round by round (median of {args.rounds} pairs): rate {pairs['rate_ratio'] - 1:+.1%},"
        f" server CPU per request {pairs['server_cpu_ratio'] - 1:+.1%}"
    )
    m = result["machine"]
    console.print(f"{m.get('cpu_model')}, {m.get('cores')} cores, Python {m.get('python')}")
    args.out.mkdir(parents=True, exist_ok=True)
    engine_tag = "" if args.engine == "sqlite" else f"-{args.engine}" + ("-redis" if args.redis else "")
    path = args.out / (
        f"{result['date']}-compare-{tag}{engine_tag}{'' if args.workload == 'w1' else '-' + args.workload}.json"
    )
    path.write_text(workloads.dumps(result) + "\n")
    console.print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
