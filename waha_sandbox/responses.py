"""JSON response helpers and the exact error bodies WAHA produces."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

JSON_CT = "application/json; charset=utf-8"
_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode

STATUS_ERROR = "Session status is not as expected. Try again later or restart the session"
# NowebInMemoryStore (the store of a NOWEB session started without config.noweb.store.enabled)
# throws a BadRequestException with this text for every store read, getMessageById included.
NOWEB_STORE_DISABLED = (
    'Enable NOWEB store "config.noweb.store.enabled=True" and "config.noweb.store.full_sync=True" '
    "when starting a new session. Read more: https://waha.devlike.pro/docs/engines/noweb#store"
)


def dumps(obj: Any) -> bytes:
    """Compact JSON, like ``JSON.stringify`` (non-ASCII left as is)."""
    return _dumps(obj).encode()


def jresp(obj: Any, status: int = 200) -> web.Response:
    return web.Response(body=dumps(obj), status=status, headers={"Content-Type": JSON_CT})


def empty(status: int = 200) -> web.Response:
    """NestJS answers ``null``/``undefined`` handler results with an empty body."""
    return web.Response(body=b"", status=status)


_REASONS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    413: "Payload Too Large",
    422: "Unprocessable Entity",
    500: "Internal Server Error",
}


def nest_error(status: int, message: str | list[str], *, with_error: bool = True) -> web.Response:
    """NestJS ``HttpException`` body: ``{"message", "error", "statusCode"}``."""
    body: dict[str, Any] = {"message": message}
    if with_error:
        body["error"] = _REASONS.get(status, "Error")
    body["statusCode"] = status
    return jresp(body, status)


def unauthorized() -> web.Response:
    return jresp({"message": "Unauthorized", "statusCode": 401}, 401)


def session_not_found() -> web.Response:
    return nest_error(404, "Session not found")


def status_not_expected(session: str, status: str, expected: list[str]) -> web.Response:
    """422 from WAHA's status waits; note it has no ``statusCode`` key."""
    return jresp({"error": STATUS_ERROR, "session": session, "status": status, "expected": expected}, 422)


def session_does_not_exist(session: str) -> web.Response:
    return jresp({"error": f'Session "{session}" does not exist', "session": session}, 422)


def file_not_found(details: str) -> web.Response:
    body = {"error": {"code": 404, "key": "FILE_NOT_FOUND", "message": "File not found", "details": details}}
    return jresp(body, 404)


def iso_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def engine_failure(request: web.Request, body: Any, message: str, environment: dict[str, Any]) -> web.Response:
    """500 in the ``AllExceptionsFilter`` shape; it echoes the request (media included)."""
    stack = f"Error: {message}\n    at SandboxEngine.send (/app/dist/core/engines/sandbox.js:1:1)"
    payload = {
        "statusCode": 500,
        "timestamp": iso_now(),
        "exception": {"message": message, "name": "Error", "stack": stack},
        "request": {
            "path": request.path,
            "method": request.method,
            "body": body if body is not None else {},
            "query": dict(request.query),
        },
        "version": environment,
    }
    return jresp(payload, 500)
