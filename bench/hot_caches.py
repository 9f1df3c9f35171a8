"""In-process cost of the per-request caches and of the bulk path's ids, on the hit path.

Measures the real functions of the tree it runs in (no server, no database: each cache's loader is replaced
by a constant, and the cache is filled once before timing), so the same command compares two trees:

    .venv/bin/python bench/hot_caches.py

- tenant: ``tenants.middleware._tenant_for_host`` (every API request), one host, cached
- token: ``TenantJWTAuthentication.get_validated_token`` (every bearer request), one token, cached
- route: ``webhooks.services.receive.route_for`` (every webhook), one session name, cached
- quiet: ``QuietWindow.quiet`` (every send's dispatch kick, every webhook's apply kick; on a busy session or
  tenant the window is open), and ``quiet`` then ``start`` (a window that was closed)
- uuid7_many(10000): the ids of a 10,000-recipient bulk
- uuid7: one id (every single send makes two)
"""

from __future__ import annotations

import os
import sys
import timeit
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django

django.setup()

from rest_framework_simplejwt.authentication import JWTAuthentication  # noqa: E402

from accounts.authentication import TenantJWTAuthentication  # noqa: E402
from core.db import ids  # noqa: E402
from core.quiet import QuietWindow  # noqa: E402
from tenants import middleware  # noqa: E402
from webhooks.services import receive  # noqa: E402


def per_call(function, number: int) -> float:
    """Best of 5 runs, in microseconds per call."""
    return min(timeit.repeat(function, number=number, repeat=5)) / number * 1e6


def main() -> None:
    tenant = SimpleNamespace(slug="acme", is_active=True)
    middleware.db_statements.read_retrying = lambda load: tenant
    middleware._tenant_for_host("acme.localhost")

    route = SimpleNamespace(hmac_key="k", session_id="s")
    receive.db_statements.read_retrying = lambda load: route
    receive.route_for("acme_main")

    token = {"exp": 4_102_444_800, "user_id": "u"}  # 2100-01-01: never expires during the run
    JWTAuthentication.get_validated_token = lambda self, raw: token
    authentication = TenantJWTAuthentication()
    raw = b"header.payload.signature"
    authentication.get_validated_token(raw)

    window = QuietWindow(3600)
    key = ("t_acme", "0190a1b2-0000-7000-8000-000000000001")
    window.start(key)

    def quiet_then_start() -> None:
        window.quiet(key)
        window.start(key)

    rows = [
        ("tenant (hit)", per_call(lambda: middleware._tenant_for_host("acme.localhost"), 200_000)),
        ("token (hit)", per_call(lambda: authentication.get_validated_token(raw), 200_000)),
        ("route (hit)", per_call(lambda: receive.route_for("acme_main"), 200_000)),
        ("quiet (open)", per_call(lambda: window.quiet(key), 200_000)),
        ("quiet + start", per_call(quiet_then_start, 200_000)),
        ("uuid7", per_call(ids.uuid7, 200_000)),
        ("uuid7_many(10000)", per_call(lambda: ids.uuid7_many(10_000), 20)),
    ]
    for name, microseconds in rows:
        print(f"{name:20s} {microseconds:12.2f} µs")


if __name__ == "__main__":
    main()
