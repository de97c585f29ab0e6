"""Load on `tangpoet serve`: N concurrent streaming clients for a fixed time, at several N.

Starts a server on a free loopback port (``--url`` to use a running one instead; only loopback addresses are
accepted), then for each level runs N clients, each writing poems back to back through ``POST /generate_stream``
(distinct seeds), for ``--duration`` seconds after a short warm-up, and prints per level: poems/s, characters/s,
latency p50/p95/p99, time to first character p50/p95, errors, lost requests (sent but never answered) and the
server's peak RSS. Requests are bounded in number (``--max-requests`` per level) and in time (no new request after
the duration; in-flight ones get the server's time limit).

    python benchmarks/serve_load.py                        # bundled model, levels 1 4 16 64, 20 s each
    python benchmarks/serve_load.py --batching exact --levels 1,4,16
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import statistics
import subprocess
import sys
import threading
import time
from ipaddress import ip_address
from urllib.parse import urlparse

import httpx


def percentile(values, q):
    if not values:
        return float("nan")
    values = sorted(values)
    k = (len(values) - 1) * q / 100
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def rss_kb(pid: int | None, key: str) -> int | None:
    if pid is None:
        return None
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def cpu_seconds(pid: int | None) -> float:
    """User + system CPU seconds of process ``pid`` so far (0 when unknown)."""
    if pid is None:
        return 0.0
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def start_server(args) -> tuple[subprocess.Popen, str]:
    command = [sys.executable, "-m", "tangpoet", "serve", "--port", "0", "--batching", args.batching]
    if args.model:
        command += ["--model", args.model]
    if args.backend:
        command += ["--backend", args.backend]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    started = time.monotonic()
    for line in process.stderr:
        found = re.search(r"tangpoet serve: (http://[^/\s]+)/", line)
        if found:
            print(f"# server up in {time.monotonic() - started:.1f} s: {line.strip()}", flush=True)
            threading.Thread(target=_drain, args=(process.stderr,), daemon=True).start()
            return process, found.group(1)
    raise SystemExit("the server did not start")


SERVER_LOG: list[str] = []


def _drain(stream) -> None:
    """Keep reading the server's stderr (a full pipe would block it); the last lines are shown after errors."""
    for line in stream:
        SERVER_LOG.append(line.rstrip())
        del SERVER_LOG[:-40]


def _events(block: bytes):
    """``(event name, data)`` of each server-sent event in ``block`` (whole events, LF or CRLF line ends)."""
    for raw in block.replace(b"\r\n", b"\n").split(b"\n\n"):
        name, data = None, b""
        for line in raw.split(b"\n"):
            if line.startswith(b"event:"):
                name = line[6:].strip()
            elif line.startswith(b"data:"):
                data += line[5:].strip()
        if name is not None:
            yield name, data


async def one_request(client, body, stats):
    """One streamed poem. The stream is read as bytes and only whole events are looked at; ``char`` events are
    counted without parsing them (the load generator shares the machine's two cores with the server, so it must
    cost as little as it can)."""
    sent = time.perf_counter()
    first = None
    chars = 0
    outcome = "lost"
    pending = b""
    try:
        async with client.stream("POST", "/generate_stream", json=body) as response:
            if response.status_code != 200:
                await response.aread()
                stats["errors"].append(f"{response.status_code} {response.text[:80]}")
                return
            async for chunk in response.aiter_bytes():
                pending += chunk
                cut = max(pending.rfind(b"\n\n") + 2, pending.rfind(b"\n\r\n") + 3)  # after the last whole event
                if cut < 3:
                    continue
                block, pending = pending[:cut], pending[cut:]
                count = block.count(b"event: char")
                if count:
                    chars += count
                    if first is None:
                        first = time.perf_counter() - sent
                if b"event: done" in block or b"event: error" in block:
                    for name, data in _events(block):
                        if name == b"done":
                            outcome = "done"
                            json.loads(data)
                        elif name == b"error":
                            outcome = "error"
                            stats["errors"].append(data.decode("utf-8", "replace")[:80])
    except (httpx.HTTPError, OSError) as exc:
        stats["errors"].append(f"{type(exc).__name__}: {exc!r}"[:120])
        return
    if outcome == "done":
        stats["latency"].append(time.perf_counter() - sent)
        stats["ttfc"].append(first if first is not None else float("nan"))
        stats["chars"] += chars
        stats["poems"] += 1
    elif outcome == "lost":
        stats["lost"] += 1


async def level(url, clients: int, duration: float, warmup: float, body: dict, max_requests: int, pid):
    stats = {"latency": [], "ttfc": [], "chars": 0, "poems": 0, "errors": [], "lost": 0}
    scratch = {"latency": [], "ttfc": [], "chars": 0, "poems": 0, "errors": [], "lost": 0}
    counter = iter(range(10**9))
    limits = httpx.Limits(max_connections=clients + 4, max_keepalive_connections=clients + 4)
    async with httpx.AsyncClient(base_url=url, timeout=httpx.Timeout(120.0), limits=limits) as client:

        async def worker(warm_until: float, until: float):
            while time.perf_counter() < until:  # warm-up, then measured: one continuous stream of requests
                n = next(counter)
                into = scratch if time.perf_counter() < warm_until else stats
                if into is stats and stats["poems"] + len(stats["errors"]) + stats["lost"] >= max_requests:
                    return
                try:  # bounded: the server's time limit (60 s) and a margin; an unanswered request is lost
                    await asyncio.wait_for(one_request(client, {**body, "seed": n}, into), timeout=90)
                except asyncio.TimeoutError:
                    into["lost"] += 1

        peak = rss_kb(pid, "VmRSS") or 0
        started = time.perf_counter() + warmup  # requests sent from here on are measured
        end = started + duration
        tasks = [asyncio.create_task(worker(started, end)) for _ in range(clients)]
        while not all(t.done() for t in tasks):
            await asyncio.sleep(0.25)
            peak = max(peak, rss_kb(pid, "VmRSS") or 0)
        elapsed = time.perf_counter() - started
    return stats, elapsed, peak


def run_async(coroutine):
    """``asyncio.run``, on uvloop when it is installed (the server's own loop with the serve extra): a lighter client."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coroutine)
    return uvloop.run(coroutine)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None)
    parser.add_argument("--backend", default=None)
    parser.add_argument("--batching", default="fused", choices=["fused", "exact"])
    parser.add_argument("--url", default=None, help="a running server on this machine (loopback only)")
    parser.add_argument("--levels", default="1,4,16,64")
    parser.add_argument("--rounds", type=int, default=1,
                        help="run the levels this many times, interleaved; the summary gives each level's median and "
                             "the median of the rounds' ratios to the first level (one run's figures swing ~25 %% here)")
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--max-requests", type=int, default=5000, help="per level")
    parser.add_argument("--decoder", default="top-p")
    parser.add_argument("--form", default=None)
    parser.add_argument("--json", dest="as_json", default=None, help="also write the results to this file")
    args = parser.parse_args()

    process = None
    if args.url:
        host = urlparse(args.url).hostname or ""
        if host != "localhost" and not ip_address(host).is_loopback:
            raise SystemExit("--url must be a loopback address (127.0.0.0/8, ::1, localhost)")
        url, pid = args.url.rstrip("/"), None
    else:
        process, url = start_server(args)
        pid = process.pid
    body = {"decoder": args.decoder}
    if args.form:
        body["form"] = args.form
    rows = []
    try:
        info = httpx.get(url + "/info", timeout=30).json()
        print(f"# model {info['model'].get('cell')} {info['model'].get('units')} units, backend {info['backend']}, "
              f"batching {info['serve']['batching']}, request {json.dumps(body, ensure_ascii=False)}, "
              f"{args.duration:g} s per level, load average {os.getloadavg()[0]:.1f}", flush=True)
        print("| clients | poems/s | chars/s | p50 s | p95 s | p99 s | TTFC p50 ms | TTFC p95 ms | errors | lost "
              "| peak RSS MB | rows per model call | ms per model call | CPU server / client |")
        print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
        levels = [int(x) for x in args.levels.split(",")]
        for n in levels * max(args.rounds, 1):
            before = httpx.get(url + "/health", timeout=30).json()
            server_cpu, client_cpu = cpu_seconds(pid), time.process_time()
            stats, elapsed, peak = run_async(level(url, n, args.duration, args.warmup, body, args.max_requests, pid))
            after = httpx.get(url + "/health", timeout=30).json()
            server_cpu, client_cpu = cpu_seconds(pid) - server_cpu, time.process_time() - client_cpu
            calls = max(after["steps"] - before["steps"], 1)
            rows_per_call = (after["rows_stepped"] - before["rows_stepped"]) / calls
            model_ms = 1000 * (after.get("model_seconds", 0) - before.get("model_seconds", 0)) / calls
            lat, ttfc = stats["latency"], [t for t in stats["ttfc"] if t == t]
            row = {
                "clients": n,
                "poems_per_s": stats["poems"] / elapsed,
                "chars_per_s": stats["chars"] / elapsed,
                "p50_s": percentile(lat, 50),
                "p95_s": percentile(lat, 95),
                "p99_s": percentile(lat, 99),
                "ttfc_p50_ms": percentile(ttfc, 50) * 1000,
                "ttfc_p95_ms": percentile(ttfc, 95) * 1000,
                "errors": len(stats["errors"]),
                "lost": stats["lost"],
                "peak_rss_mb": (peak / 1024) if peak else float("nan"),
                "poems": stats["poems"],
                "rows_per_call": rows_per_call,
                "ms_per_call": model_ms,
                "load_average": os.getloadavg()[0],
                # CPU seconds per second of the level (the load generator shares the machine with the server)
                "server_cpu": server_cpu / (elapsed + args.warmup),
                "client_cpu": client_cpu / (elapsed + args.warmup),
            }
            rows.append(row)
            print(
                f"| {n} | {row['poems_per_s']:.2f} | {row['chars_per_s']:.0f} | {row['p50_s']:.2f} | {row['p95_s']:.2f} "
                f"| {row['p99_s']:.2f} | {row['ttfc_p50_ms']:.0f} | {row['ttfc_p95_ms']:.0f} | {row['errors']} "
                f"| {row['lost']} | {row['peak_rss_mb']:.0f} | {rows_per_call:.1f} | {model_ms:.1f} "
                f"| {row['server_cpu']:.2f} / {row['client_cpu']:.2f} |",
                flush=True,
            )
            for message in stats["errors"][:3]:
                print(f"#   error: {message}")
            if stats["errors"] and SERVER_LOG:
                print("#   server log:\n" + "\n".join("#     " + line for line in SERVER_LOG[-10:]))
        if len(levels) > 1:
            rounds = [rows[k : k + len(levels)] for k in range(0, len(rows), len(levels))]
            for done in rounds:
                base = done[0]["poems_per_s"]
                print(f"# throughput vs {done[0]['clients']} client(s): "
                      + ", ".join(f"{r['clients']}: {r['poems_per_s'] / base:.1f}x" for r in done))
            if len(rounds) > 1:
                print(f"# over {len(rounds)} rounds, median poems/s per level and median ratio to the first level:")
                for i, n in enumerate(levels):
                    rates = [done[i]["poems_per_s"] for done in rounds]
                    ratios = [done[i]["poems_per_s"] / done[0]["poems_per_s"] for done in rounds]
                    print(f"#   {n} clients: {statistics.median(rates):.2f} poems/s "
                          f"({statistics.median([done[i]['chars_per_s'] for done in rounds]):.0f} chars/s), "
                          f"ratio median {statistics.median(ratios):.2f}x (rounds: {', '.join(f'{r:.2f}' for r in ratios)})")
        health = httpx.get(url + "/health", timeout=30).json()
        print(f"# server: {health['steps']} model calls, {health['rows_stepped']} rows, largest batch {health['largest_batch']}"
              f", {health.get('model_seconds', float('nan')):.1f} s inside model calls"
              f", rejected {health['rejected']}; peak RSS (VmHWM) {(rss_kb(pid, 'VmHWM') or 0) / 1024:.0f} MB")
        if args.as_json:
            with open(args.as_json, "w") as f:
                json.dump(rows, f, indent=1)
    finally:
        if process is not None:
            process.terminate()
            process.wait(timeout=20)


if __name__ == "__main__":
    main()
