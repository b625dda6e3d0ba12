"""`python -m bench.compare REV`: W1 on the working tree and on an earlier commit, in one run.

A change that claims "no regression" is measured against the commit before it, on the same machine
in the same minutes: the two servers take turns (A, B, A, B, ...), each round on a fresh data
directory, so drift in the machine's load hits both alike. The earlier commit is checked out into a
temporary `git worktree` and its server runs from there (`PYTHONPATH` puts its `src/` first); the
load generator is this tree's, so both servers get byte-identical requests.

It prints, per side, the median and the range of W1's rate, p99 and server CPU per request, and
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


def one_round(
    src: Path | None, work: Path, scale: Scale, cores: processes.CorePlan, bar: Progress, label: str
) -> dict[str, Any]:
    """Migrate a fresh data directory and run W1 once against a server from `src` (None: this tree)."""
    env = {"PYTHONPATH": str(src)} if src is not None else {}
    data_dir, log_dir = work / "data", work / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    subprocess.run(processes.migrate_command(data_dir), check=True, capture_output=True, env={**os.environ, **env})
    server = processes.start_hubbub(data_dir, log_dir=log_dir, cores=cores.server, workers=1, env=env)
    try:
        key = base64.b64decode((data_dir / "access-key").read_text().strip())
        target = Target("127.0.0.1", server.port, key, server.pid)

        def progress(description: str, total: int) -> Callable[[int], None]:
            task = bar.add_task(f"{label} {description}", total=total)
            return lambda n=1: bar.advance(task, n)

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
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.compare", description=__doc__.split("\n\n")[0])
    parser.add_argument("rev", help="the commit to compare the working tree against (e.g. HEAD~1)")
    parser.add_argument("--rounds", type=int, default=5, help="W1 runs per side, taken in turns (default 5)")
    parser.add_argument("--quick", action="store_true", help="W1 at a tenth of its size")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    console = Console(width=None if sys.stdout.isatty() else 160)
    scale = Scale.quick() if args.quick else Scale.full()
    cores = processes.plan_cores(1)
    os.sched_setaffinity(0, cores.client)
    rounds: dict[str, list[dict[str, Any]]] = {"base": [], "head": []}
    work = Path(tempfile.mkdtemp(prefix="hubbub-compare-run-"))
    try:
        with checkout(args.rev) as (commit, src), Progress(console=console, transient=True) as bar:
            for i in range(args.rounds):
                for side, side_src in (("base", src), ("head", None)):
                    rounds[side].append(
                        one_round(side_src, work / f"{side}-{i}", scale, cores, bar, f"{side} {i + 1}/{args.rounds}")
                    )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    head = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "-C", str(ROOT), "status", "--porcelain", "src"], capture_output=True, text=True
    ).stdout.strip()
    sides = {"base": f"{commit[:7]} ({args.rev})", "head": f"working tree ({head}{' + changes' if dirty else ''})"}
    result = {
        "date": dt.date.today().isoformat(),
        "machine": report.machine_info("sqlite"),
        "sides": sides,
        "rounds_per_side": args.rounds,
        "summary": {side: summary(r) for side, r in rounds.items()},
        "rounds": rounds,
    }
    table = Table(title=f"W1 send_message, SQLite, {args.rounds} rounds per side, in turns")
    for column in (
        "side",
        "msg/s median (min-max)",
        "p99 ms median",
        "server CPU µs/req median (min-max)",
        "event loop µs/req",
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
        )
    console.print(table)
    m = result["machine"]
    console.print(f"{m.get('cpu_model')}, {m.get('cores')} cores, Python {m.get('python')}")
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"{result['date']}-compare-{commit[:7]}.json"
    path.write_text(workloads.dumps(result) + "\n")
    console.print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
