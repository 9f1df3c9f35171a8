"""One signed HTTP POST of an event to an endpoint (Standard Webhooks), bounded in time and in what it reads.

- Signed with ``standardwebhooks``: ``webhook-id`` (the event id, the same on
  every attempt and replay), ``webhook-timestamp`` and ``webhook-signature``,
  with two signatures while a rotated secret is still in its overlap.
- Connects to the address ``url_rules.delivery_target`` checked, never to a
  fresh resolution of the name, with the URL's host as ``Host`` and TLS server
  name (certificates are verified against that name).
- No redirects, no retries here (the delivery schedule retries), connect and
  read timeouts, and an answer that takes longer than ``EVENT_DELIVERY_TIMEOUT_SECONDS``
  in all counts as a timeout. At most 1 KiB of the answer is read.
- Errors are described by their kind, never with the URL (its query may hold a
  token), and the secret never leaves this module.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import certifi
import urllib3
from django.conf import settings
from standardwebhooks.webhooks import Webhook
from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
    SSLError,
)

from events.url_rules import Target

RESPONSE_KEEP_BYTES = 1024
USER_AGENT = "waha-gateway-webhooks/1.0"


@dataclass(frozen=True)
class Answer:
    """What one attempt got: an HTTP status, or an error; the first 1 KiB of the body; how long it took."""

    status_code: int | None
    error: str
    response: str
    duration_ms: int

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300 and not self.error


def signature_headers(*, event_id: str, body: bytes, secrets: list[str], at: datetime | None = None) -> dict[str, str]:
    """The Standard Webhooks headers: one ``v1,`` signature per secret, space-separated."""
    at = at or datetime.now(UTC)
    signatures = " ".join(Webhook(secret).sign(msg_id=event_id, timestamp=at, data=body) for secret in secrets)
    return {"webhook-id": event_id, "webhook-timestamp": str(int(at.timestamp())), "webhook-signature": signatures}


_pools: dict[tuple[str, str, int, str], urllib3.HTTPConnectionPool] = {}
_pools_lock = threading.Lock()
MAX_POOLS = 1000


def _pool(target: Target) -> urllib3.HTTPConnectionPool:
    """A keep-alive pool per (address, port, host): one per endpoint in practice."""
    key = (target.scheme, target.address, target.port, target.host)
    with _pools_lock:
        pool = _pools.get(key)
        if pool is None:
            if len(_pools) >= MAX_POOLS:
                for old in _pools.values():
                    old.close()
                _pools.clear()
            common = {
                "port": target.port,
                "maxsize": settings.EVENT_ENDPOINT_CONCURRENCY,
                "retries": False,
                "block": False,
            }
            if target.scheme == "https":
                pool = urllib3.HTTPSConnectionPool(
                    target.address,
                    server_hostname=target.host,
                    assert_hostname=target.host,
                    cert_reqs="CERT_REQUIRED",
                    ca_certs=certifi.where(),
                    **common,
                )
            else:
                pool = urllib3.HTTPConnectionPool(target.address, **common)
            _pools[key] = pool
        return pool


def _error_of(exc: Exception) -> str:
    # NewConnectionError subclasses ConnectTimeoutError in urllib3: a refused connection is not a timeout.
    if isinstance(exc, ConnectTimeoutError) and not isinstance(exc, NewConnectionError):
        return "timeout: no connection"
    if isinstance(exc, ReadTimeoutError | TimeoutError):
        return "timeout: no answer"
    if isinstance(exc, SSLError):
        return "tls_error: the certificate or TLS handshake failed"
    if isinstance(exc, NewConnectionError):
        return "connection_error: the connection was refused or failed"
    if isinstance(exc, ProtocolError):
        return "connection_error: the connection broke"
    return f"connection_error: {type(exc).__name__}"


def connect_timeout() -> float:
    return min(5.0, settings.EVENT_DELIVERY_TIMEOUT_SECONDS)


def post(target: Target, *, body: bytes, headers: dict[str, str]) -> Answer:
    """POST ``body`` to ``target``; never raises for what the endpoint or the network does."""
    timeout = settings.EVENT_DELIVERY_TIMEOUT_SECONDS
    started = time.monotonic()
    all_headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT, "Host": target.host_header, **headers}
    try:
        response = _pool(target).urlopen(
            "POST",
            target.path,
            body=body,
            headers=all_headers,
            redirect=False,
            retries=False,
            assert_same_host=False,
            preload_content=False,
            decode_content=False,
            timeout=urllib3.Timeout(connect=connect_timeout(), read=timeout),
        )
        try:
            content = response.read(RESPONSE_KEEP_BYTES + 1)
        except BaseException:
            response.close()
            raise
        if len(content) > RESPONSE_KEEP_BYTES:
            response.close()  # more than we keep: drop the connection rather than read the rest
        else:
            response.release_conn()
    except (HTTPError, OSError) as exc:
        return Answer(None, _error_of(exc), "", _elapsed_ms(started))
    duration_ms = _elapsed_ms(started)
    text = content[:RESPONSE_KEEP_BYTES].decode("utf-8", errors="replace")
    if duration_ms > timeout * 1000:
        return Answer(response.status, f"timeout: answered after {duration_ms} ms", text, duration_ms)
    return Answer(response.status, "", text, duration_ms)


def _elapsed_ms(started: float) -> int:
    return round((time.monotonic() - started) * 1000)
