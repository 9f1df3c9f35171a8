"""The send pipeline against the WAHA sandbox (pacing off, sandbox acks off).

1. bulk of 10,000 recipients: time until the API answers 202 (target ≤ 1 s);
2. the same 10,000 spread over 10 sessions: time until all are handed to the
   sandbox, against a direct flood of the same sendText calls at the sandbox
   (16 threads, pooled connections) — target ≥ 0.5 of the direct rate;
3. one session: messages per second handed to the sandbox (target ≥ 80/s).

    .venv/bin/python bench/pipeline.py [--messages 10000] [--worker-concurrency 2]
"""

from __future__ import annotations

import argparse
import time
from concurrent.futures import ThreadPoolExecutor

import requests
from harness import SANDBOX_KEY, login, report, stack, tenant_with_sessions


def sandbox_count(sandbox: str) -> int:
    return requests.get(sandbox + "/sandbox/messages", headers={"X-Api-Key": SANDBOX_KEY}, timeout=30).json()["sends"]


def wait_for_sends(sandbox: str, target: int, timeout: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if sandbox_count(sandbox) >= target:
            return time.monotonic() - started
        time.sleep(0.2)
    raise RuntimeError(f"only {sandbox_count(sandbox)} of {target} sends reached the sandbox in {timeout}s")


def direct_flood(sandbox: str, sessions: list[str], count: int, threads: int = 16) -> float:
    """sendText straight at the sandbox: the ceiling our pipeline is compared to."""
    http = requests.Session()
    http.mount("http://", requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=threads))
    http.headers["X-Api-Key"] = SANDBOX_KEY

    def send(index: int) -> None:
        body = {"session": sessions[index % len(sessions)], "chatId": f"49160{index:07d}@c.us", "text": f"Hi {index}"}
        http.post(sandbox + "/api/sendText", json=body, timeout=30).raise_for_status()

    started = time.monotonic()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(send, range(count)))
    return time.monotonic() - started


def bulk(web: str, token: str, session: str, count: int, prefix: str) -> float:
    recipients = [{"to": f"+{prefix}{index:07d}", "variables": {"name": f"n{index}"}} for index in range(count)]
    started = time.monotonic()
    response = requests.post(web + "/messages/bulk", json={"session": session, "text": "Hi {name}",
                                                           "recipients": recipients},
                             headers={"Authorization": f"Bearer {token}", "X-Tenant": "bench"}, timeout=120)
    elapsed = time.monotonic() - started
    assert response.status_code == 202 and response.json()["accepted"] == count, response.text[:500]
    return elapsed


def waha_names(env: dict) -> list[str]:
    sessions = requests.get(env["sandbox"] + "/api/sessions?all=true", headers={"X-Api-Key": SANDBOX_KEY},
                            timeout=30).json()
    return [s["name"] for s in sessions if s["status"] == "WORKING"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--worker-concurrency", type=int, default=2)
    parser.add_argument("--no-number-check", action="store_true", help="CHECK_NEW_NUMBERS=off")
    parser.add_argument("--bulk-only", type=int, default=0, metavar="N",
                        help="only time N bulks of --messages recipients to their 202 (no dispatch figures)")
    args = parser.parse_args()
    results: dict = {"worker_concurrency": args.worker_concurrency, "check_new_numbers": not args.no_number_check}
    extra = {"CHECK_NEW_NUMBERS": "off"} if args.no_number_check else {}
    # --bulk-only runs without a worker: what the bulks queue is not sent, so nothing competes with the next one.
    with stack(database="waha_bench_pipeline", worker=not args.bulk_only, worker_concurrency=args.worker_concurrency,
               extra_env=extra) as env:
        sessions = tenant_with_sessions(env["env"], env["sandbox"], sessions=10)
        token = login(env["web"])
        if args.bulk_only:
            results["bulk_202_seconds"] = [round(bulk(env["web"], token, sessions[index % len(sessions)],
                                                      args.messages, f"491{index}"), 3)
                                           for index in range(args.bulk_only)]
            report("pipeline", results)
            return
        # Direct flood first, at the same sandbox, so both runs see the same server.
        direct_seconds = direct_flood(env["sandbox"], waha_names(env), args.messages)
        requests.post(env["sandbox"] + "/sandbox/reset", headers={"X-Api-Key": SANDBOX_KEY}, timeout=30)
        sessions = tenant_with_sessions(env["env"], env["sandbox"], sessions=10)
        results["direct_flood"] = {"messages": args.messages, "seconds": round(direct_seconds, 2),
                                   "per_second": round(args.messages / direct_seconds)}
        per_session = args.messages // len(sessions)
        started = time.monotonic()
        accept_times = [bulk(env["web"], token, name, per_session, f"4917{index}") for index, name in
                        enumerate(sessions)]
        handed = wait_for_sends(env["sandbox"], per_session * len(sessions), timeout=900)
        total = time.monotonic() - started
        results["ten_sessions"] = {"messages": per_session * len(sessions), "seconds_until_all_handed": round(total, 2),
                                   "per_second": round(per_session * len(sessions) / total),
                                   "bulk_202_seconds_each": [round(t, 3) for t in accept_times],
                                   "handed_after_last_202_s": round(handed, 2)}
        results["ratio_vs_direct"] = round(results["ten_sessions"]["per_second"]
                                           / results["direct_flood"]["per_second"], 3)
        # One bulk of the full size: time to 202.
        requests.post(env["sandbox"] + "/sandbox/reset", headers={"X-Api-Key": SANDBOX_KEY}, timeout=30)
        (single,) = tenant_with_sessions(env["env"], env["sandbox"], sessions=1)
        results["bulk_10000_202_seconds"] = round(bulk(env["web"], token, single, args.messages, "4918"), 3)
        one_session_seconds = wait_for_sends(env["sandbox"], args.messages, timeout=900)
        results["one_session"] = {"messages": args.messages, "seconds": round(one_session_seconds, 2),
                                  "per_second": round(args.messages / one_session_seconds)}
    report("pipeline", results)


if __name__ == "__main__":
    main()
