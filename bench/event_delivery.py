"""Event webhooks under load: status events of a 10-session bulk delivered to a local receiver.

The stack of bench/pipeline.py (sandbox with its acks on, gunicorn, the Celery worker) plus the events worker
(``-Q events``, threads). One endpoint subscribes to message.sent, message.delivered and message.read; a
10-session bulk makes about three events per message while sends and acks flow. The receiver (an aiohttp
process) answers 204 and records, for every event, the time from the change (the payload's ``created_at``,
written by the same transaction as the status) to its arrival.

    .venv/bin/python bench/event_delivery.py [--events 10000] [--sessions 10] [--events-concurrency 8] [--redis-db 9]
"""

from __future__ import annotations

import argparse
import math
import subprocess
import sys
import textwrap
import time

import requests
from harness import PYTHON, ROOT, Service, free_port, login, report, stack, tenant_with_sessions, wait_http

RECEIVER = textwrap.dedent("""
    import json, sys, time
    from datetime import datetime
    from aiohttp import web
    lags, ids, first, last = [], set(), [None], [None]

    async def hook(request):
        body = await request.read()
        now = time.time()
        payload = json.loads(body)
        ids.add(request.headers["webhook-id"])
        lags.append(now - datetime.fromisoformat(payload["created_at"]).timestamp())
        first[0] = first[0] or now
        last[0] = now
        return web.Response(status=204)

    async def stats(request):
        return web.json_response({"received": len(lags), "distinct": len(ids), "lags": lags,
                                  "first": first[0], "last": last[0]})

    app = web.Application()
    app.add_routes([web.post("/hook", hook), web.get("/_stats", stats)])
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
""")


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(share * len(ordered)) - 1)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--sessions", type=int, default=10)
    parser.add_argument("--events-concurrency", type=int, default=8)
    parser.add_argument("--redis-db", type=int, default=9, help="the stack's Redis database (flushed first)")
    args = parser.parse_args()
    # Up to three events a message; an ack that outruns the send result skips "sent" (about 4 % here).
    messages_per_session = math.ceil(args.events / 2.85 / args.sessions)
    receiver_port = free_port()
    receiver = subprocess.Popen([PYTHON, "-c", RECEIVER, str(receiver_port)], cwd=ROOT)
    try:
        wait_http(f"http://127.0.0.1:{receiver_port}/_stats")
        with stack(database="waha_bench_events", redis_db=args.redis_db, auto_ack=True, worker_concurrency=2) as env:
            events_worker = Service(
                "events-worker",
                [
                    str(ROOT / "bin" / "worker"),
                    "-Q",
                    "events",
                    "-n",
                    "events@%h",
                    "--pool",
                    "threads",
                    f"--concurrency={args.events_concurrency}",
                    "--loglevel=WARNING",
                    "--without-mingle",
                    "--without-gossip",
                ],
                env["env"],
            )
            try:
                sessions = tenant_with_sessions(env["env"], env["sandbox"], sessions=args.sessions)
                headers = {"Authorization": f"Bearer {login(env['web'])}", "X-Tenant": "bench"}
                endpoint = requests.post(
                    env["web"] + "/webhooks/endpoints",
                    headers=headers,
                    timeout=30,
                    json={
                        "url": f"http://127.0.0.1:{receiver_port}/hook",
                        "events": ["message.sent", "message.delivered", "message.read"],
                    },
                )
                assert endpoint.status_code == 201, endpoint.text
                started = time.monotonic()
                for index, name in enumerate(sessions):
                    recipients = [{"to": f"+4917{index}{n:06d}"} for n in range(messages_per_session)]
                    answer = requests.post(
                        env["web"] + "/messages/bulk",
                        headers=headers,
                        timeout=120,
                        json={"session": name, "text": "Hi", "recipients": recipients},
                    )
                    assert answer.status_code == 202, answer.text[:300]
                deadline, seen, quiet_since = time.monotonic() + 900, -1, time.monotonic()
                while time.monotonic() < deadline:
                    received = requests.get(f"http://127.0.0.1:{receiver_port}/_stats", timeout=30).json()["received"]
                    if received != seen:
                        seen, quiet_since = received, time.monotonic()
                    elif received and time.monotonic() - quiet_since > 5:
                        break  # every event of the run has arrived
                    time.sleep(0.5)
                elapsed = quiet_since - started
                stats = requests.get(f"http://127.0.0.1:{receiver_port}/_stats", timeout=30).json()
            finally:
                events_worker.stop()
        lags = stats["lags"]
        report(
            "event_delivery",
            {
                "sessions": args.sessions,
                "messages": messages_per_session * args.sessions,
                "events_received": stats["received"],
                "distinct_webhook_ids": stats["distinct"],
                "seconds_from_first_bulk_to_last_event": round(elapsed, 2),
                "events_per_second": round(stats["received"] / max(stats["last"] - stats["first"], 0.001)),
                "lag_p50_s": round(percentile(lags, 0.50), 3),
                "lag_p95_s": round(percentile(lags, 0.95), 3),
                "lag_p99_s": round(percentile(lags, 0.99), 3),
                "lag_max_s": round(max(lags), 3),
                "events_concurrency": args.events_concurrency,
            },
        )
    finally:
        receiver.terminate()
        receiver.wait(timeout=10)


if __name__ == "__main__":
    sys.exit(main())
