"""Signed webhook ingest per second against GET /health per second, on one gunicorn (loopback only).

What it does, all on this machine:
  1. creates (once) a scratch database ``waha_gateway_bench`` and migrates it; (re)makes one tenant
     ``bench`` with one routed session and enough sent outbound messages for the whole run;
  2. writes signed ``message.ack`` envelopes with unique event ids: every message gets SERVER, DEVICE and
     READ once, in shuffled order, so each request inserts an event and goes through the status service
     (``--event presence.update`` instead: stored and answered, nothing applied);
  3. starts ``bin/web`` (gunicorn, ``WEB_CONCURRENCY`` workers) on a free port against that database;
  4. runs ``wrk`` for a bounded time: GET /health, then POST /webhooks/waha (bench/webhook_ingest.lua
     replays the pre-signed bodies, each once), alternating, ``--rounds`` times (before that, 500 of
     each one at a time, for the mean latency without queueing);
  5. checks that every accepted webhook was stored exactly once and prints the rates and their ratio.

    .venv/bin/python bench/webhook_ingest.py --duration 10 --connections 16 --workers 2 [--threads 4]

Target: webhook ingest >= 50 % of /health requests per second.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/waha_gateway_bench"
SESSION_NAME = "bench_ingest_session"
HMAC_KEY = "bench-hmac-key-" + "0" * 48
WARMUP_BODIES, SEQUENTIAL_BODIES = 1998, 501


def child_env(args) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_ENV": "test",
        "DEBUG": "false",
        "DATABASE_URL": args.database_url,
        "REDIS_URL": args.redis_url,
        "WAHA_BASE_URL": "http://127.0.0.1:9",  # never called by the receiver
        "LOG_LEVEL": args.log_level,
        "PATH": f"{ROOT / '.venv' / 'bin'}:{os.environ.get('PATH', '')}",
    }


# ------------------------------------------------------------------ setup (runs in a child with the env above)


def setup(messages: int) -> None:
    """Migrate the scratch database and create the bench tenant, session, route and ``messages`` sent messages."""
    import django

    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django_tenants.utils import tenant_context

    from messaging.models import Conversation, Direction, Message, MessageStatus, PendingAck
    from sessions_waha.models import Session
    from tenants import waha_pool
    from tenants.models import Domain, SessionRoute, Tenant
    from webhooks.models import WebhookEvent

    call_command("migrate_schemas", interactive=False, verbosity=0)
    connection.set_schema_to_public()
    tenant = Tenant.objects.filter(slug="bench").first()
    if tenant is None:
        tenant = Tenant(slug="bench", name="Bench")
        tenant.save()
        Domain.objects.create(domain="bench.localhost", tenant=tenant, is_primary=True)
    server = waha_pool.waha_server_default()
    with tenant_context(tenant):
        session = Session.objects.filter(waha_name=SESSION_NAME).first()
        if session is None:
            session = Session.objects.create(name="bench", waha_name=SESSION_NAME, waha_server=server)
        SessionRoute.objects.update_or_create(
            waha_session_name=SESSION_NAME,
            defaults={"waha_server": server, "tenant": tenant, "session_id": session.id, "hmac_key": HMAC_KEY})
        conversation, _ = Conversation.objects.get_or_create(session=session, chat_id="4915100000001@c.us")
        WebhookEvent.objects.all().delete()
        PendingAck.objects.all().delete()
        Message.objects.filter(session=session).delete()
        Message.objects.bulk_create([
            Message(session=session, conversation=conversation, direction=Direction.OUTBOUND,
                    chat_id=conversation.chat_id, text=f"bench {i}", status=MessageStatus.SENT,
                    waha_message_id=f"true_{conversation.chat_id}_BENCH{i:08d}", wa_id=f"BENCH{i:08d}")
            for i in range(messages)], batch_size=5000)
        # Fresh planner statistics, as autovacuum keeps them on a live system: without them the
        # planner believes one session has a handful of messages and ANDs the session index in.
        with connection.cursor() as cursor:
            for table in ("messaging_message", "messaging_conversation", "messaging_pendingack",
                          "webhooks_webhookevent"):
                cursor.execute(f"VACUUM ANALYZE {table}")


def stored_events() -> None:
    import django

    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    django.setup()
    from django.db.models import Count
    from django_tenants.utils import tenant_context

    from messaging.models import Message
    from tenants.models import Tenant
    from webhooks.models import WebhookEvent
    from webhooks.services import applier

    with tenant_context(Tenant.objects.get(slug="bench")):
        # No Celery worker runs during the load: apply what was accepted now, as the worker would, and time it.
        pending = WebhookEvent.objects.filter(outcome="pending").count()
        started = time.perf_counter()
        applied = applier.pending_events_apply(batch_size=500)
        seconds = time.perf_counter() - started
        print(json.dumps({"events": WebhookEvent.objects.count(),
                          "distinct": WebhookEvent.objects.values("event_id").distinct().count(),
                          "pending_after_load": pending, "applied_after": applied,
                          "apply_per_second": round(applied / seconds, 1) if applied else None,
                          "outcomes": dict(WebhookEvent.objects.values_list("outcome").annotate(n=Count("id"))),
                          "messages_read": Message.objects.filter(status="read").count()}))


# ------------------------------------------------------------------ bodies, server, load


class Bodies:
    """Writes signed envelopes; acks go to fresh messages, each getting SERVER, DEVICE and READ once, shuffled."""

    def __init__(self, event: str) -> None:
        self.event = event
        self.next_message = 0
        self.rng = random.Random(42)

    def write(self, path: Path, count: int) -> None:
        count -= count % 3
        first, self.next_message = self.next_message, self.next_message + count // 3
        acks = [(first + i // 3, 1 + i % 3) for i in range(count)]
        self.rng.shuffle(acks)
        write_bodies(path, acks, self.event)


def messages_needed(args) -> int:
    return (WARMUP_BODIES + SEQUENTIAL_BODIES + args.rounds * (args.bodies - args.bodies % 3)) // 3


def write_bodies(path: Path, acks: list[tuple[int, int]], event: str = "message.ack") -> None:
    run = f"{int(time.time() * 1000):013x}"
    names = {1: "SERVER", 2: "DEVICE", 3: "READ"}
    with path.open("w") as out:
        for i, (message, ack) in enumerate(acks):
            wa_id = f"BENCH{message:08d}"
            envelope = {
                "id": f"evt_{run}{i:013d}", "timestamp": int(time.time() * 1000), "event": "message.ack",
                "session": SESSION_NAME, "metadata": {"tenant": "bench"},
                "me": {"id": "4915100000000@c.us", "pushName": "Bench"},
                "payload": {"id": f"true_4915100000001@c.us_{wa_id}", "from": "4915100000001@c.us",
                            "to": "4915100000000@c.us", "participant": None, "fromMe": True, "ack": ack,
                            "ackName": names[ack], "_data": {}},
                "engine": "NOWEB",
                "environment": {"version": "2026.7.1", "engine": "NOWEB", "tier": "PLUS", "browser": None,
                                "platform": "linux/x64", "worker": {"id": None}},
            }
            if event == "presence.update":  # stored, nothing applied: the receiver's own floor
                envelope.update(event=event, payload={"id": "4915100000001@c.us", "presences": [
                    {"participant": "4915100000001@c.us", "lastKnownPresence": "online", "lastSeen": None}]})
            body = json.dumps(envelope, separators=(",", ":"))
            signature = hmac.new(HMAC_KEY.encode(), body.encode(), hashlib.sha512).hexdigest()
            out.write(f"{signature} {body}\n")


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_web(args, port: int, log) -> subprocess.Popen:
    env = {**child_env(args), "PORT": str(port), "HOST": "127.0.0.1", "WEB_CONCURRENCY": str(args.workers),
           "WEB_THREADS": str(args.threads),
           "PROMETHEUS_MULTIPROC_DIR": tempfile.mkdtemp(prefix="bench-metrics-")}
    process = subprocess.Popen([str(ROOT / "bin" / "web")], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1).status == 200:
                return process
        except OSError:
            time.sleep(0.2)
    process.terminate()
    raise RuntimeError("gunicorn did not start")


def sequential(port: int, bodies: Path, count: int) -> dict[str, float]:
    """Mean latency of ``count`` requests of each kind, one at a time on one connection each (no queueing)."""
    import http.client

    def call(method: str, path: str, body: str | None = None, signature: str | None = None) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        headers = {"Content-Type": "application/json", "X-Webhook-Hmac": signature} if signature else {}
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        response.read()
        connection.close()
        if response.status != 200:
            raise RuntimeError(f"{method} {path} answered {response.status}")

    with bodies.open() as lines:
        items = [line.rstrip("\n").split(" ", 1) for line in lines][:count]
    started = time.perf_counter()
    for signature, body in items:
        call("POST", "/webhooks/waha", body, signature)
    ingest_ms = (time.perf_counter() - started) / len(items) * 1000
    started = time.perf_counter()
    for _ in range(len(items)):
        call("GET", "/health")
    health_ms = (time.perf_counter() - started) / len(items) * 1000
    return {"health_ms": round(health_ms, 2), "ingest_ms": round(ingest_ms, 2)}


def wrk(url: str, args, *, script: Path | None = None, bodies: Path | None = None, duration: int) -> dict:
    cmd = ["wrk", "-t1", f"-c{args.connections}", f"-d{duration}s", "--latency"]
    if script:
        cmd += ["-s", str(script)]
    cmd.append(url)
    env = {**os.environ, "WEBHOOK_BODIES": str(bodies or "")}
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=duration + 60, check=True).stdout
    result = {"cmd": " ".join(cmd), "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
              "requests": int(re.search(r"(\d+) requests in", out).group(1)),
              "p50": re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1),
              "p99": re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1)}
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    result["non2xx"] = int(non2xx.group(1)) if non2xx else 0
    extra = re.search(r"webhook non-200: (\d+) duplicates: (\d+) wrapped: (\d+)", out)
    if extra:
        result.update(non200=int(extra.group(1)), duplicates=int(extra.group(2)), wrapped=int(extra.group(3)))
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=10, help="seconds per measured run (max 60)")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2, help="WEB_CONCURRENCY")
    parser.add_argument("--threads", type=int, default=1, help="WEB_THREADS (gunicorn gthread when > 1)")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--event", choices=["message.ack", "presence.update"], default="message.ack",
                        help="message.ack: stored and applied (status service); presence.update: stored only")
    parser.add_argument("--bodies", type=int, default=12_000, help="pre-signed events per round (each sent once)")
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL))
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/14")
    parser.add_argument("--log-level", default="info")
    parser.add_argument("--step", choices=["setup", "count"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.step == "setup":
        setup(messages_needed(args))
        return 0
    if args.step == "count":
        stored_events()
        return 0
    args.duration = max(1, min(args.duration, 60))

    env = child_env(args)
    python = str(ROOT / ".venv" / "bin" / "python")
    subprocess.run([python, str(ROOT / "bin" / "ensure_database.py")], env=env, check=True)
    subprocess.run([python, __file__, "--step", "setup", "--database-url", args.database_url,
                    "--redis-url", args.redis_url, "--bodies", str(args.bodies), "--rounds", str(args.rounds)],
                   env=env, check=True, cwd=ROOT)
    workdir = Path(tempfile.mkdtemp(prefix="bench-webhooks-"))
    bodies = workdir / "bodies.txt"
    factory = Bodies(args.event)

    port = free_port()
    log = (workdir / "web.log").open("wb")
    web = start_web(args, port, log)
    base = f"http://127.0.0.1:{port}"
    script = ROOT / "bench" / "webhook_ingest.lua"
    try:
        warm = workdir / "warm.txt"
        factory.write(warm, WARMUP_BODIES)
        wrk(base + "/health", args, duration=2)
        warmup = wrk(base + "/webhooks/waha", args, script=script, bodies=warm, duration=2)
        seq_bodies = workdir / "sequential.txt"
        factory.write(seq_bodies, SEQUENTIAL_BODIES)
        one_by_one = sequential(port, seq_bodies, SEQUENTIAL_BODIES)
        health, ingest = [], []
        for _ in range(args.rounds):
            health.append(wrk(base + "/health", args, duration=args.duration))
            factory.write(bodies, args.bodies)
            ingest.append(wrk(base + "/webhooks/waha", args, script=script, bodies=bodies, duration=args.duration))
    finally:
        web.terminate()
        web.wait(timeout=20)
        log.close()
    counted = json.loads(subprocess.run([python, __file__, "--step", "count", "--database-url", args.database_url,
                                         "--redis-url", args.redis_url], env=env, check=True, cwd=ROOT,
                                        capture_output=True, text=True).stdout.strip().splitlines()[-1])
    health_rps = statistics.median(r["rps"] for r in health)
    ingest_rps = statistics.median(r["rps"] for r in ingest)
    # Every 200 that was not a duplicate must be exactly one stored event (warm-up included).
    accepted = sum(r["requests"] - r.get("non200", 0) - r.get("duplicates", 0) for r in [warmup, *ingest])
    accepted += SEQUENTIAL_BODIES
    report = {
        "event": args.event, "workers": args.workers, "threads": args.threads, "connections": args.connections,
        "duration_s": args.duration,
        "health_rps": [r["rps"] for r in health], "ingest_rps": [r["rps"] for r in ingest],
        "health_p99": [r["p99"] for r in health], "ingest_p99": [r["p99"] for r in ingest],
        "ingest_p50": [r["p50"] for r in ingest],
        "ingest_non200": sum(r.get("non200", 0) for r in ingest),
        "ingest_duplicates": sum(r.get("duplicates", 0) for r in ingest),
        "health_non2xx": sum(r["non2xx"] for r in health),
        "events_stored": counted["events"], "events_distinct": counted["distinct"], "events_accepted": accepted,
        "pending_after_load": counted["pending_after_load"], "applied_after": counted["applied_after"],
        "apply_per_second": counted["apply_per_second"], "outcomes": counted["outcomes"],
        "messages_read": counted["messages_read"],
        "ratio": round(ingest_rps / health_rps, 3),
        "sequential_mean_ms": one_by_one,
        "wrk": ingest[0]["cmd"],
    }
    print(json.dumps(report, indent=2))
    print(f"\nGET /health {health_rps:.0f} req/s, signed webhooks {ingest_rps:.0f} req/s: "
          f"{100 * ingest_rps / health_rps:.0f}% (target >= 50%)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
