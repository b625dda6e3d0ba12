"""Machine facts, the PNG plots and the results table."""

from __future__ import annotations

import contextlib
import importlib.metadata
import os
import platform
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from bench.processes import PG_BIN, ROOT


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def _git(*args: str, cwd: Path = ROOT) -> str | None:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True)
    return done.stdout.strip() if done.returncode == 0 else None


def machine_info(engine: str) -> dict[str, Any]:
    mem_kb = 0
    with contextlib.suppress(OSError, ValueError, IndexError):
        mem_kb = int(Path("/proc/meminfo").read_text().split()[1])
    info: dict[str, Any] = {
        "cpu_model": cpu_model(),
        "cores": os.cpu_count(),
        "cores_available": len(os.sched_getaffinity(0)),
        "memory_gb": round(mem_kb / 1024 / 1024, 1),
        "kernel": platform.release(),
        "loadavg_at_start": [round(x, 2) for x in os.getloadavg()],
        "python": sys.version.split()[0],
        "versions": {
            name: _version(name)
            for name in (
                "hubbub",
                "starlette",
                "uvicorn",
                "uvloop",
                "httptools",
                "websockets",
                "asyncpg",
                "aiohttp",
                "PyJWT",
            )
        },
        "sqlite": sqlite3.sqlite_version,
        "git_commit": _git("rev-parse", "--short", "HEAD"),
        "git_dirty": bool(_git("status", "--porcelain", "--", "src")),
    }
    # The server imports hubbub from here (PYTHONPATH may point it at another checkout).
    done = subprocess.run(
        [sys.executable, "-c", "import hubbub, pathlib; print(pathlib.Path(hubbub.__file__).resolve().parent.parent)"],
        capture_output=True,
        text=True,
    )
    server_src = Path(done.stdout.strip()) if done.returncode == 0 and done.stdout.strip() else None
    info["server_src"] = str(server_src) if server_src else None
    if server_src is not None and server_src != (ROOT / "src").resolve():
        info["server_git_commit"] = _git("rev-parse", "--short", "HEAD", cwd=server_src)
        info["server_git_dirty"] = bool(_git("status", "--porcelain", "--", ".", cwd=server_src))
    if engine == "postgres":
        done = subprocess.run([str(PG_BIN / "postgres"), "--version"], capture_output=True, text=True)
        info["postgres"] = done.stdout.strip()
    return info


# -- plots ------------------------------------------------------------------------------------------


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _cdf(ax: Any, latencies: list[float], label: str) -> None:
    if not latencies:
        return
    ordered = sorted(x * 1000 for x in latencies)
    n = len(ordered)
    ax.plot(ordered, [(i + 1) / n * 100 for i in range(n)], label=label)
    ax.set_xscale("log")
    ax.set_xlabel("latency (ms, log)")
    ax.set_ylabel("percentile")
    ax.set_ylim(0, 100.5)
    ax.grid(True, which="both", alpha=0.3)


def _timeline(ax: Any, completions: list[float], label: str, bin_s: float = 0.5) -> None:
    if not completions:
        return
    bins = [0] * (int(max(completions) / bin_s) + 1)
    for t in completions:
        bins[int(t / bin_s)] += 1
    ax.plot([i * bin_s for i in range(len(bins))], [b / bin_s for b in bins], label=label)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("requests/s")
    ax.grid(True, alpha=0.3)


def plot_load(path: Path, title: str, series: dict[str, dict[str, Any]]) -> None:
    """Throughput over time and the latency CDF of one or more closed-loop runs."""
    plt = _plt()
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    for label, figures in series.items():
        _timeline(left, figures.get("_completions", []), f"{label} ({figures['per_second']:,.0f}/s)")
        _cdf(right, figures.get("_latencies", []), f"{label} (p99 {figures['latency_ms']['p99']:.1f} ms)")
    left.set_title("throughput")
    right.set_title("latency CDF")
    left.legend(fontsize=8)
    right.legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_ceilings(path: Path, title: str, rates: dict[str, float]) -> None:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(10, 4.5))
    names = list(rates)
    ax.barh(names, [rates[n] for n in names])
    for i, n in enumerate(names):
        ax.text(rates[n], i, f" {rates[n]:,.0f}", va="center", fontsize=8)
    ax.set_xlabel("per second")
    ax.set_title(title)
    ax.invert_yaxis()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_history(path: Path, title: str, figures: dict[str, Any]) -> None:
    plt = _plt()
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    _cdf(left, figures["_latencies"], "newest page of 50")
    left.set_title("newest page latency CDF")
    pages = figures["_page_latencies"]
    right.plot(range(1, len(pages) + 1), [x * 1000 for x in pages])
    right.set_xlabel("page number (50 messages each, newest first)")
    right.set_ylabel("latency (ms)")
    right.set_title(
        f"paging through {figures['page_through']['messages']:,} messages in {figures['page_through']['seconds']:.2f} s"
    )
    right.grid(True, alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_search(path: Path, title: str, figures: dict[str, Any]) -> None:
    """W6: the latency CDF of each search case."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for frequency in ("rare", "common"):
        for scope in ("thread", "all"):
            case = figures[f"{frequency}_{scope}"]
            _cdf(ax, case["_latencies"], f"{frequency} word, {'one thread' if scope == 'thread' else 'all threads'}")
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_fan_out(path: Path, title: str, figures: dict[str, Any]) -> None:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for name in ("paced", "burst"):
        phase = figures[name]
        _cdf(
            ax,
            phase["_latencies"],
            f"{name}: p99 {phase['delivery_latency_ms']['p99']:.1f} ms, {phase['deliveries_per_s']:,.0f} deliveries/s",
        )
    ax.set_title("delivery latency (send start → event received)")
    ax.legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_signaling(path: Path, title: str, figures: dict[str, Any]) -> None:
    plt = _plt()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5))
    for ax, name in zip(axes, ("paced", "burst"), strict=True):
        for kind, label in (("sse", "SSE /chat/events"), ("trouter", "Trouter WebSocket")):
            phase = figures[kind][name]
            lat = phase["delivery_latency_ms"]
            _cdf(ax, phase["_latencies"], f"{label}: p50 {lat['p50']:.1f}, p99 {lat['p99']:.1f} ms")
        ax.set_title(f"{name}: delivery latency, {figures['clients']} clients per transport")
        ax.legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


# -- table ------------------------------------------------------------------------------------------


def _ms(figures: dict[str, Any], key: str) -> str:
    return f"{figures[key]:.1f}"


def verdict(ok: bool | None) -> str:
    return "[dim]-[/]" if ok is None else ("[green]met[/]" if ok else "[red]missed[/]")


def results_table(results: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """(workload, figure, target, verdict) rows; also stores the verdicts in results["targets"]."""
    rows: list[tuple[str, str, str, str]] = []
    w = results["workloads"]
    c = results.get("ceilings", {})
    targets: dict[str, Any] = {}

    def load_row(name: str, f: dict[str, Any]) -> str:
        lat = f["latency_ms"]
        return (
            f"{f['per_second']:,.0f}/s  p50 {lat['p50']:.1f}  p99 {lat['p99']:.1f}  p99.9 {lat['p99.9']:.1f} ms"
            + (f"  errors {f['errors']}" if f["errors"] else "")
            + f"  (client CPU {f['client_cpu']:.0%})"
            + (f"  server CPU {f['server_cpu_us']['total']:.0f} µs/req" if "server_cpu_us" in f else "")
            + "".join(f" + {name} {us:.0f}" for name, us in f.get("services_cpu_us", {}).items() if us >= 1)
            + (
                "  connections per worker " + "/".join(map(str, f["connections_by_worker"]))
                if results.get("workers", 1) > 1 and "connections_by_worker" in f
                else ""
            )
        )

    for key, label in (
        ("canned", "load generator vs canned server"),
        ("starlette", "bare Starlette/uvicorn JSON"),
        ("starlette_send", "bare send-shaped POST (body in, 201 out)"),
        ("raw_stored_send", "send-shaped POST + its 2 statements in plain sqlite3, group commit (nothing else)"),
        ("stored_send", "send-shaped POST + Hubbub's store (no token, rules, events)"),
        ("health", "hubbub GET /health"),
    ):
        if key in c:
            rows.append(("ceiling", f"{label}: {load_row(key, c[key])}", "", ""))
    if "sqlite_insert" in c:
        s = c["sqlite_insert"]
        rows.append(("ceiling", f"raw SQLite INSERT+COMMIT per row: {s['rows_per_s']:,.0f} rows/s", "", ""))
    if "w1" in w:
        f = w["w1"]
        bare = c.get("starlette", {}).get("per_second")
        share = f["per_second"] / bare if bare else None
        p99 = f["latency_ms"]["p99"]
        sqlite_w1 = results.get("sqlite_w1")
        of_sqlite = None if not sqlite_w1 else f["per_second"] / sqlite_w1["per_second"]
        if results.get("engine", "sqlite") == "sqlite":  # issue 15's targets
            ok = None if share is None else (share >= 0.50 and p99 < 20)
            target = "≥50% of bare, p99<20ms"
        else:  # the other half: ≥60 % of the W1 of the day's SQLite run in the same folder
            ok = None if of_sqlite is None else (of_sqlite >= 0.60 and p99 < 30)
            target = "p99<30ms; ≥60% of SQLite W1" + ("" if sqlite_w1 else " (no SQLite run today in --out)")
            targets["w1_of_sqlite"] = None if of_sqlite is None else round(of_sqlite, 3)
        targets["w1"] = {"share_of_bare": None if share is None else round(share, 3), "met": ok}
        extra = f"  = {share:.0%} of bare" if share is not None else ""
        send_shaped = c.get("starlette_send", {}).get("per_second")
        if send_shaped:
            extra += f" ({f['per_second'] / send_shaped:.0%} of the send-shaped POST)"
        floors = [
            f"{f['per_second'] / c[key]['per_second']:.0%} of {name}"
            for key, name in (("raw_stored_send", "the raw stored POST"), ("stored_send", "the store's"))
            if c.get(key, {}).get("per_second")
        ]
        if floors:
            extra += " (" + ", ".join(floors) + ")"
        if sqlite_w1 and of_sqlite is not None:
            extra += f"; {of_sqlite:.0%} of SQLite's {sqlite_w1['per_second']:,.0f}/s"
        rows.append(("W1 send", load_row("w1", f) + extra, target, verdict(ok)))
    if "w2" in w:
        f = w["w2"]
        if not f.get("available"):
            rows.append(("W2 fan-out", f"not available ({f.get('reason', '')})", "p99<100ms", verdict(None)))
            targets["w2"] = {"met": None}
        else:
            for name in ("paced", "burst"):
                p = f[name]
                lat = p["delivery_latency_ms"]
                ok = lat["p99"] < 100 if name == "paced" else None
                if name == "paced":
                    targets["w2"] = {"met": ok}
                rows.append(
                    (
                        f"W2 fan-out {name}",
                        f"{f['subscribers']} {f['transport']} subs: {p['deliveries_per_s']:,.0f} deliveries/s "
                        f"p50 {lat['p50']:.1f}  p99 {lat['p99']:.1f} ms  "
                        f"({p['deliveries_received']:,}/{p['deliveries_expected']:,} received, "
                        f"client CPU {p['client_cpu']:.0%})",
                        "p99<100ms" if name == "paced" else "",
                        verdict(ok),
                    )
                )
    if "w2s" in w:
        f = w["w2s"]
        if not f.get("available"):
            rows.append(("W2S signaling", f"not available ({f.get('reason', '')})", "p99<100ms", verdict(None)))
            targets["w2s"] = {"met": None}
        else:
            for kind, label in (("sse", "SSE"), ("trouter", "Trouter")):
                for name in ("paced", "burst"):
                    p = f[kind][name]
                    lat = p["delivery_latency_ms"]
                    ok = lat["p99"] < 100 if name == "paced" else None
                    if name == "paced":
                        targets[f"w2s_{kind}"] = {"met": ok}
                    rates = ", ".join(f"{x:,.0f}" for x in p["deliveries_per_s_by_round"])
                    rows.append(
                        (
                            f"W2S {label} {name}",
                            f"{f['clients']} clients: p50 {lat['p50']:.1f}  p99 {lat['p99']:.1f} ms "
                            f"(p99 by round {p['p99_ms_by_round']}), {rates} deliveries/s  "
                            f"({p['deliveries_received']:,}/{p['deliveries_expected']:,} received)",
                            "p99<100ms" if name == "paced" else "",
                            verdict(ok),
                        )
                    )
    if "w3" in w:
        f = w["w3"]
        lat = f["newest_page"]["latency_ms"]
        ok = lat["p99"] < 20
        targets["w3"] = {"met": ok}
        rows.append(
            (
                "W3 history",
                f"newest 50 of {f['thread_messages']:,}: p50 {lat['p50']:.1f}  p99 {lat['p99']:.1f} ms",
                "p99<20ms",
                verdict(ok),
            )
        )
        p = f["page_through"]
        rows.append(
            (
                "W3 history",
                f"page through {p['messages']:,} in {p['seconds']:.2f} s "
                f"({p['pages']} pages, p99 {p['page_latency_ms']['p99']:.1f} ms/page)",
                "",
                "",
            )
        )
    if "w4" in w:
        f = w["w4"]
        ratio = f["per_second"] / w["w1"]["per_second"] if "w1" in w and w["w1"]["per_second"] else None
        ok = None if ratio is None else ratio >= 0.8
        targets["w4"] = {"ratio_to_w1": None if ratio is None else round(ratio, 3), "met": ok}
        extra = f"  ratio {ratio:.2f}" if ratio is not None else ""
        rows.append(
            (
                "W4 growth",
                f"{f['prefilled_messages']:,} msgs/{f['prefilled_threads']:,} threads: " + load_row("w4", f) + extra,
                "ratio ≥0.8",
                verdict(ok),
            )
        )
    if "w5" in w:
        rows.append(("W5 identity", load_row("w5", w["w5"]), "", ""))
    if "w6" in w:
        f = w["w6"]
        met = []
        for frequency in ("rare", "common"):
            for scope, limit in (("thread", 50), ("all", 200)):
                case = f[f"{frequency}_{scope}"]
                lat = case["latency_ms"]
                ok = lat["p99"] < limit
                met.append(ok)
                where = "one thread" if scope == "thread" else f"all {f['user_threads']} threads"
                rows.append(
                    (
                        "W6 search",
                        f"{frequency} {f['words'][frequency]!r} in {where} of {f['prefilled_messages']:,}: "
                        f"p50 {lat['p50']:.1f}  p99 {lat['p99']:.1f} ms ({case['first_page_results']} on page 1)",
                        f"p99<{limit}ms",
                        verdict(ok),
                    )
                )
        targets["w6"] = {"met": all(met)}
    if "w7" in w:
        f = w["w7"]
        lat, d = f["paced"]["latency_ms"], f["delivery"]
        rows.append(
            (
                "W7 webhooks",
                f"W1 {f['w1_without']['per_second']:,.0f} req/s without, {f['w1_with']['per_second']:,.0f} with one"
                f" subscription (x{f['w1_ratio']}); delivery {d['per_second']:,.0f} events/s"
                f" ({d['events_delivered']}/{d['events_expected']}); send->webhook p50 {lat.get('p50', 0):.1f} ms"
                f" p99 {lat.get('p99', 0):.1f} ms; batched (20): W1 {f['w1_with_batched']['per_second']:,.0f} req/s,"
                f" delivery {f['delivery_batched']['per_second']:,.0f} events/s",
                "",
                "",
            )
        )
    results["targets"] = targets
    return rows


def print_table(console: Console, results: dict[str, Any]) -> None:
    m = results["machine"]
    table = Table(
        title=(
            f"Hubbub benchmark — {results['date']}  ({'quick' if results['quick'] else 'full'})\n"
            f"{m['cpu_model']}, {m['cores']} cores  |  Python {m['python']}  |  "
            f"engine {results['engine_label']}  |  workers {results['workers']}  |  "
            f"cores: server {results['cores']['server']} / load generator {results['cores']['client']}"
        ),
        show_lines=False,
    )
    table.add_column("workload", style="bold")
    table.add_column("result")
    table.add_column("target")
    table.add_column("")
    for row in results_table(results):
        table.add_row(*row)
    console.print(table)
