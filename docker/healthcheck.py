"""Container health probe for the web process: ``GET /health`` on the local gunicorn.

Used by the Dockerfile's HEALTHCHECK and by the ``web`` service in
docker-compose.yml. Standard library only: the slim image has no curl.

Django answers 400 to a Host header that is not in ALLOWED_HOSTS, and in
production ALLOWED_HOSTS lists only the public names, so the probe sends the
first concrete name from ALLOWED_HOSTS as its Host header (``localhost`` when
the list is empty or only ``*``). ``/health`` is exempt from the HTTPS
redirect, so plain HTTP to 127.0.0.1 is enough.

Exit status: 0 when the answer is 200, 1 otherwise (Docker's "unhealthy").
"""

from __future__ import annotations

import http.client
import os
import sys


def probe_host(allowed_hosts: str) -> str:
    """The Host header to send: the first usable entry of ALLOWED_HOSTS."""
    for entry in allowed_hosts.split(","):
        name = entry.strip()
        if not name or "*" in name:
            continue
        # ".example.com" allows example.com and its subdomains.
        name = name.lstrip(".")
        if name:
            return name
    return "localhost"


def main() -> int:
    port = int(os.environ.get("PORT", "8000"))
    host = probe_host(os.environ.get("ALLOWED_HOSTS", ""))
    timeout = float(os.environ.get("HEALTHCHECK_TIMEOUT", "4"))
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", "/health", headers={"Host": host, "User-Agent": "container-healthcheck"})
        status = connection.getresponse().status
    except OSError as exc:
        print(f"healthcheck: GET /health failed: {exc}", file=sys.stderr)
        return 1
    finally:
        connection.close()
    if status != 200:
        print(f"healthcheck: GET /health answered {status} (Host: {host})", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
