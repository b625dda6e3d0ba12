"""Sampling the server with py-spy while a workload runs, and boiling the samples down to hotspots."""

from __future__ import annotations

import collections
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^():]+)(?::\d+)?\)$")


def pyspy_path() -> str | None:
    candidate = Path(sys.executable).parent / "py-spy"
    return str(candidate) if candidate.exists() else shutil.which("py-spy")


def start(pid: int, out: Path, fmt: str, cores: frozenset[int], rate: int = 200) -> subprocess.Popen[bytes]:
    """Record `pid` until `stop()`; `fmt` is "raw" (collapsed stacks) or "flamegraph" (SVG)."""
    exe = pyspy_path()
    if exe is None:
        raise RuntimeError("py-spy is not installed (pip install py-spy)")
    cmd = [
        exe,
        "record",
        "--pid",
        str(pid),
        "--rate",
        str(rate),
        "--format",
        fmt,
        "--output",
        str(out),
        "--nonblocking",
        "--threads",
    ]
    return subprocess.Popen(
        cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, preexec_fn=lambda: os.sched_setaffinity(0, cores)
    )


def stop(process: subprocess.Popen[bytes]) -> str:
    process.send_signal(signal.SIGINT)
    try:
        _, err = process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        _, err = process.communicate()
    return err.decode(errors="replace")[-500:]


def _name(frame: str) -> str:
    match = _FRAME.match(frame.strip())
    if not match:
        return frame.strip()
    path = match.group("file")
    for marker in ("site-packages/", "src/", "lib/python3"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{match.group('func')} ({path})"


_PLUMBING = (
    "Thread.",
    "_bootstrap",
    "<module>",
    "Command.",
    "Group.invoke",
    "Context.invoke",
    "serve (hubbub/cli",
    "run (hubbub/server/runner",
    "run (asyncio/runners",
    "Runner.run",
    "BaseEventLoop.run_",
    "BaseEventLoop._run_once",
    "Handle._run",
    "_WorkItem.run",
)


def _plumbing(name: str) -> bool:
    return name.startswith(_PLUMBING)


def summarize(raw: Path, top: int = 25) -> dict[str, Any]:
    """Self and inclusive sample shares per function, and per thread, from py-spy's raw output."""
    self_counts: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    threads: collections.Counter[str] = collections.Counter()
    per_thread: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    total = 0
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
        if frames and frames[0].startswith("process "):
            frames = frames[1:]
        frames_thread = frames[0].split(": ", 1)[-1].rstrip(")") if frames and frames[0].startswith("thread (") else "?"
        frames_thread = frames_thread.rstrip("0123456789_") or frames_thread
        if frames and frames[0].startswith("thread ("):
            threads[frames[0]] += count
            frames = frames[1:]
        elif frames and frames[0].startswith("process "):
            frames = frames[1:]
            if frames and frames[0].startswith("thread ("):
                threads[frames[0]] += count
                frames = frames[1:]
        names = [_name(f) for f in frames if f]
        if not names:
            continue
        total += count
        self_counts[names[-1]] += count
        thread = frames_thread
        per_thread[thread][names[-1]] += count
        for name in set(names):
            if not _plumbing(name):
                inclusive[name] += count

    def share(counter: collections.Counter[str]) -> list[dict[str, Any]]:
        return [
            {"function": name, "samples": n, "percent": round(100 * n / total, 1)}
            for name, n in counter.most_common(top)
        ]

    return {
        "samples": total,
        "self": share(self_counts),
        "inclusive": share(inclusive),
        "threads": [
            {"thread": t, "samples": n, "percent": round(100 * n / total, 1) if total else 0}
            for t, n in threads.most_common(10)
        ],
        "self_by_thread": {t: share(c)[:10] for t, c in per_thread.items()},
    }
