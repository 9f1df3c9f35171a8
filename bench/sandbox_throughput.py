"""Throughput of the WAHA sandbox for POST /api/sendText (loopback only, bounded time).

Two runs:
  * acks off  - automatic acks disabled and no webhook targets (raw request handling);
  * acks on   - SERVER/DEVICE/READ acks plus message.any delivered to a fast local sink.

Uses ``wrk`` with bench/sandbox_sendtext.lua when it is installed, otherwise a small
aiohttp load generator.  Example:

    .venv/bin/python bench/sandbox_throughput.py --duration 10 --connections 64
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from waha_sandbox.testing import free_port, run_sandbox, stop_process, wait_until  # noqa: E402

KEY = "bench-key-0123456789"
BODY = {"session": "bench", "chatId": "4915112345678@c.us", "text": "benchmark message"}


def _call(sb, path, body=None):
    return sb.control(path, body)


def prepare(sb, hook_url: str | None) -> None:
    config = None
    if hook_url:
        config = {"webhooks": [{"url": hook_url, "events": ["message.any", "message.ack"],
                                "retries": {"attempts": 0}}]}
    _call(sb, "/api/sessions", {"name": "bench", "start": True, "config": config})
    wait_until(lambda: _call(sb, "/api/sessions/bench")["status"] == "SCAN_QR_CODE", timeout=5)
    _call(sb, "/sandbox/sessions/bench/pair", {})


def run_wrk(url: str, duration: int, connections: int, threads: int) -> dict:
    env = {**os.environ, "SANDBOX_KEY": KEY, "SANDBOX_SESSION": "bench"}
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--latency",
           "-s", str(ROOT / "bench" / "sandbox_sendtext.lua"), url + "/api/sendText"]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=duration + 60).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    total = int(re.search(r"(\d+) requests in", out).group(1))
    p99 = re.search(r"^\s+99%\s+(\S+)", out, re.M)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"tool": "wrk", "cmd": " ".join(cmd), "rps": rps, "requests": total,
            "p99": p99.group(1) if p99 else "?", "non2xx": int(errors.group(1)) if errors else 0, "raw": out}


async def _aiohttp_load(url: str, duration: int, connections: int) -> dict:
    import aiohttp

    payload = json.dumps(BODY).encode()
    headers = {"X-Api-Key": KEY, "Content-Type": "application/json"}
    done = bad = 0
    stop_at = time.monotonic() + duration

    async def worker(session):
        nonlocal done, bad
        while time.monotonic() < stop_at:
            async with session.post(url + "/api/sendText", data=payload, headers=headers) as resp:
                await resp.read()
                done += 1
                bad += resp.status != 201

    conn = aiohttp.TCPConnector(limit=connections)
    async with aiohttp.ClientSession(connector=conn) as session:
        t0 = time.monotonic()
        await asyncio.gather(*(worker(session) for _ in range(connections)))
        elapsed = time.monotonic() - t0
    return {"tool": "aiohttp", "cmd": f"aiohttp generator c={connections} d={duration}s", "rps": done / elapsed,
            "requests": done, "p99": "?", "non2xx": bad, "raw": ""}


def load(url: str, args) -> dict:
    if shutil.which("wrk") and not args.no_wrk:
        return run_wrk(url, args.duration, args.connections, args.threads)
    return asyncio.run(_aiohttp_load(url, args.duration, args.connections))


def bench_acks_off(args) -> dict:
    with run_sandbox(api_key=KEY, env={"WAHA_SANDBOX_AUTO_ACKS": "0"}) as sb:
        prepare(sb, None)
        res = load(sb.base_url, args)
        res["sent"] = _call(sb, "/sandbox/messages?session=bench")["sends"]
    return res


def bench_acks_on(args) -> dict:
    sink_port = free_port()
    sink = subprocess.Popen([sys.executable, str(ROOT / "bench" / "sandbox_sink.py"), str(sink_port)])
    try:
        sink_url = f"http://127.0.0.1:{sink_port}"
        wait_until(lambda: _alive(sink_url), timeout=10, message="sink")
        with run_sandbox(api_key=KEY, env={"WAHA_SANDBOX_AUTO_ACKS": "1"}) as sb:
            prepare(sb, sink_url + "/hook")
            res = load(sb.base_url, args)
            t0 = time.monotonic()
            # Let the queued acks/deliveries drain (bounded).
            while time.monotonic() - t0 < 60:
                stats = _call(sb, "/sandbox/webhooks")
                if stats["inFlight"] == 0:
                    break
                time.sleep(0.5)
            res["drain_seconds"] = round(time.monotonic() - t0, 1)
            res["deliveries_per_second"] = round(stats["succeeded"] / (args.duration + res["drain_seconds"]))
            res["webhooks"] = {k: stats[k] for k in ("events", "deliveries", "succeeded", "failed", "dropped")}
            res["sink_count"] = json.loads(urllib.request.urlopen(sink_url + "/count", timeout=5).read())["count"]
    finally:
        stop_process(sink)
    return res


def _alive(url: str) -> bool:
    try:
        urllib.request.urlopen(url + "/count", timeout=0.5).read()
        return True
    except OSError:
        return False


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--duration", type=int, default=10, help="seconds per run (max 60)")
    p.add_argument("--connections", type=int, default=64)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--mode", choices=("both", "off", "on"), default="both")
    p.add_argument("--no-wrk", action="store_true", help="use the aiohttp generator even if wrk exists")
    args = p.parse_args()
    args.duration = max(1, min(args.duration, 60))
    results = {}
    if args.mode in ("both", "off"):
        results["acks_off"] = bench_acks_off(args)
    if args.mode in ("both", "on"):
        results["acks_on"] = bench_acks_on(args)
    for name, res in results.items():
        print(f"== {name}: {res['rps']:.0f} req/s ({res['requests']} requests, p99 {res['p99']}, "
              f"non-2xx {res['non2xx']}) via {res['tool']}")
        for extra in ("sent", "webhooks", "sink_count", "drain_seconds", "deliveries_per_second"):
            if extra in res:
                print(f"   {extra}: {res[extra]}")
    print("command:", next(iter(results.values()))["cmd"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
