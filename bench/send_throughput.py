"""Accepted sends per second vs GET /health per second on the same gunicorn (16 clients).

Target: sends ≥ 40 % of /health, p99 ≤ 50 ms. The Celery worker is off: this
measures what the API accepts, not what WAHA delivers.

    .venv/bin/python bench/send_throughput.py [--seconds 10] [--connections 16]
"""

from __future__ import annotations

import argparse
import json
import tempfile

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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--web-threads", type=int, default=1)
    parser.add_argument("--recipients", type=int, default=1000,
                        help="distinct numbers the sends go to (1 = all to one chat)")
    args = parser.parse_args()
    with stack(database="waha_bench_send", web_workers=args.web_workers, worker=False,
               extra_env={"WEB_THREADS": str(args.web_threads)}) as env:
        (session,) = tenant_with_sessions(env["env"], env["sandbox"], sessions=1)
        # Every run starts from an empty message table: runs accumulate rows, and inserts into a table and
        # indexes that outgrew shared_buffers cost more, which made runs incomparable.
        django_shell(env["env"], EMPTY_MESSAGES)
        token = login(env["web"])
        headers = {"X-Tenant": "bench"}
        health = wrk(env["web"] + "/health", connections=args.connections, seconds=args.seconds, headers=headers)
        with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
            script.write(LUA % (session, args.recipients))
        sends = wrk(env["web"] + "/messages/send", connections=args.connections, seconds=args.seconds,
                    script=script.name, headers={**headers, "Authorization": f"Bearer {token}"})
        report("send_throughput", {"web_workers": args.web_workers, "web_threads": args.web_threads,
                                   "connections": args.connections,
                                   "recipients": args.recipients, "health": health, "send": sends,
                                   "send_vs_health": round(sends["rps"] / health["rps"], 3)})
        print(json.dumps({"targets": {"ratio>=0.4": sends["rps"] / health["rps"] >= 0.4,
                                      "p99<=50ms": sends.get("p99_ms", 1e9) <= 50}}))


if __name__ == "__main__":
    main()
