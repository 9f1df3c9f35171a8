"""Accepted sends per second vs GET /health per second on the same gunicorn (16 clients).

Target (issue 13, every request through Django's middleware and DRF): sends ≥ 30 % of /health,
p99 ≤ 50 ms. The Celery worker is off: this measures what the API accepts, not what WAHA delivers.

After an unmeasured warm-up of both, each round runs /health, then sends. Besides requests per
second it reports the CPU that the gunicorn workers and PostgreSQL spent per request (from /proc,
over each wrk run): on a shared two-core machine the rate moves with whatever else runs, the CPU per request much less.

    .venv/bin/python bench/send_throughput.py [--seconds 10] [--connections 16] [--rounds 3] [--warmup 5] [--auth both]

``--auth api-key`` sends with an API key (``X-Api-Key``) instead of a user's token, ``--auth both`` runs the two
one after the other in each round (the ratio judged is the token's).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import tempfile

import requests
from harness import django_shell, login, report, stack, tenant_with_sessions, wrk

# Each request picks one of RECIPIENTS numbers (1: every send goes to one chat, the worst case: each send
# updates that one conversation row, so sends queue behind each other's commits).
LUA = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local session, recipients = "%s", %d
request = function()
  local to = string.format("+49151%%07d", math.random(0, recipients - 1))
  return wrk.format(nil, nil, nil, '{"session": "' .. session .. '", "to": "' .. to .. '", "text": "bench"}')
end
"""


EMPTY_MESSAGES = """
from django.db import connection
with connection.cursor() as cursor:
    cursor.execute("TRUNCATE t_bench.messaging_message, t_bench.messaging_conversation CASCADE")
"""


def cpu_seconds(pattern: str) -> dict[str, float]:
    """User + system CPU seconds used so far by each process whose command line matches ``pattern``."""
    used = {}
    for pid in subprocess.run(["pgrep", "-f", pattern], capture_output=True, text=True).stdout.split():
        try:
            with open(f"/proc/{pid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        used[pid] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return used


def _spent(before: dict[str, float], after: dict[str, float]) -> float:
    # A process that started during the run (the first request of a worker opens its PostgreSQL connection)
    # counts whole; one that exited in between (an autovacuum worker) is left out rather than counted negative.
    return sum(used - before.get(pid, 0.0) for pid, used in after.items())


def measured(run, seconds: int) -> dict:
    """wrk's figures plus the gunicorn and PostgreSQL CPU per request (µs) during the run."""
    web, database = cpu_seconds("gunicorn"), cpu_seconds("postgres:")
    result = run()
    requests_done = max(result["rps"] * seconds, 1)
    return {**result, "gunicorn_cpu_us": round(_spent(web, cpu_seconds("gunicorn")) * 1e6 / requests_done),
            "postgres_cpu_us": round(_spent(database, cpu_seconds("postgres:")) * 1e6 / requests_done)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--web-threads", type=int, default=1)
    parser.add_argument("--recipients", type=int, default=1000,
                        help="distinct numbers the sends go to (1 = all to one chat)")
    parser.add_argument("--rounds", type=int, default=1, help="health-then-sends rounds; the median is judged")
    parser.add_argument("--warmup", type=int, default=5,
                        help="seconds of unmeasured /health and sends before the first round")
    parser.add_argument("--auth", choices=["jwt", "api-key", "both"], default="jwt",
                        help="how the sends authenticate: a user's bearer token, an API key, or both in turn")
    parser.add_argument("--database", default="waha_bench_send")
    parser.add_argument("--redis-db", type=int, default=12, help="the Redis database the run flushes and uses")
    args = parser.parse_args()
    with stack(database=args.database, redis_db=args.redis_db, web_workers=args.web_workers, worker=False,
               extra_env={"WEB_THREADS": str(args.web_threads)}) as env:
        (session,) = tenant_with_sessions(env["env"], env["sandbox"], sessions=1)
        # Every run starts from an empty message table: runs accumulate rows, and inserts into a table and
        # indexes that outgrew shared_buffers cost more, which made runs incomparable.
        django_shell(env["env"], EMPTY_MESSAGES)
        token = login(env["web"])
        headers = {"X-Tenant": "bench"}
        credentials = {}
        if args.auth in {"jwt", "both"}:
            credentials["send"] = {"Authorization": f"Bearer {token}"}
        if args.auth in {"api-key", "both"}:
            created = requests.post(env["web"] + "/api-keys", json={"name": "bench", "role": "MANAGER"},
                                    headers={**headers, "Authorization": f"Bearer {token}"}, timeout=30)
            created.raise_for_status()
            credentials["send_api_key"] = {"X-Api-Key": created.json()["key"]}
        with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
            script.write(LUA % (session, args.recipients))
        # A fresh worker's first sends import what they use (JWT, Celery), prepare statements and fill the empty
        # tables' first pages; the warm-up keeps that out of the first round, which it otherwise dragged down.
        warmups = [("/health", {}, None)] + [("/messages/send", credential, script.name)
                                              for credential in credentials.values()]
        for url, credential, script_name in warmups if args.warmup else []:
            wrk(env["web"] + url, connections=args.connections, seconds=args.warmup, script=script_name,
                headers={**headers, **credential})
        rounds = []
        for _ in range(args.rounds):
            health = measured(lambda: wrk(env["web"] + "/health", connections=args.connections,
                                          seconds=args.seconds, headers=headers), args.seconds)
            figures = {"health": health}
            for name, credential in credentials.items():
                figures[name] = measured(lambda credential=credential: wrk(
                    env["web"] + "/messages/send", connections=args.connections, seconds=args.seconds,
                    script=script.name, headers={**headers, **credential}), args.seconds)
                figures[f"{name}_vs_health"] = round(figures[name]["rps"] / health["rps"], 3)
            judged = "send" if "send" in figures else "send_api_key"
            rounds.append({**figures, "send": figures[judged], "send_vs_health": figures[f"{judged}_vs_health"]})
            report("send_throughput", {"web_workers": args.web_workers, "web_threads": args.web_threads,
                                       "connections": args.connections, "recipients": args.recipients,
                                       **rounds[-1]})
        ratio = statistics.median(item["send_vs_health"] for item in rounds)
        p99 = statistics.median(item["send"].get("p99_ms", 1e9) for item in rounds)
        print(json.dumps({"median_of_rounds": len(rounds), "send_vs_health": ratio, "send_p99_ms": p99,
                          "targets": {"ratio>=0.3": ratio >= 0.3, "p99<=50ms": p99 <= 50}}))


if __name__ == "__main__":
    main()
