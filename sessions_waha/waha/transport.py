"""The WAHA client's transport: one HTTP call to WAHA, with its timeouts, typed errors, logs and metrics.

``Transport`` holds the server's base URL, the API key (never shown) and the pooled connections; every call of
the client goes through ``_call`` (an endpoint of ``endpoints.ENDPOINTS``) or ``_request``. It never retries and
never follows a redirect. The readers below check the shape of an answer before a caller sees it.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from . import metrics
from .endpoints import ENDPOINTS
from .errors import (
    InvalidSessionName,
    WahaError,
    WahaInvalidResponse,
    WahaRejected,
    WahaTimeout,
    WahaUnreachable,
)
from .responses import build_rejection

# The client's log events keep the logger name they always had.
logger = logging.getLogger("waha.client")

Timeout = float | tuple[float, float]
T = TypeVar("T")

# Slightly above a multiple of 3 s, the TCP retransmission window, as requests suggests.
DEFAULT_CONNECT_TIMEOUT = 3.05
# Sends and auth/qr wait up to ~15 s for the session inside WAHA before answering 422
# (WAHA.md §3, §4, §9.2); a shorter read timeout would turn that answer into a timeout.
DEFAULT_READ_TIMEOUT = 20.0
DEFAULT_MAX_MEDIA_BYTES = 64 * 1024 * 1024
# One pool per WAHA origin, big enough for a worker's threads or a gevent pool.
POOL_SIZE = 32

_SESSION_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,54}$")
_CHUNK_BYTES = 64 * 1024
_MAX_ERROR_BODY_BYTES = 64 * 1024
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def validate_session_name(name: object) -> str:
    """Return ``name`` if WAHA accepts it as a session name, else raise ``InvalidSessionName``.

    WAHA validates names only on create and uses them unescaped in paths (WAHA.md §2), so
    checking everywhere also keeps odd characters out of our URLs.
    """
    if not isinstance(name, str) or not _SESSION_NAME.match(name):
        raise InvalidSessionName("session names are 1-54 characters of a-z, A-Z, 0-9, '-' and '_'")
    return name


class _Secret:
    """Holds the API key so that no repr, traceback local or debugger view shows it."""

    __slots__ = ("value",)

    def __init__(self, value: str) -> None:
        self.value = value

    def __repr__(self) -> str:
        return "'***'"


def _new_http_session() -> requests.Session:
    http = requests.Session()
    # No urllib3 retries: a resent POST /api/sendText is a duplicate WhatsApp message, and
    # retry policy (backoff, reconciling timed-out sends, WAHA.md §9.7) is the caller's.
    adapter = HTTPAdapter(
        pool_connections=POOL_SIZE,
        pool_maxsize=POOL_SIZE,
        # read=False keeps a read timeout a ReadTimeout (requests' own default does the same)
        # instead of a MaxRetryError that requests would report as a ConnectionError.
        max_retries=Retry(total=0, read=False, redirect=False),
    )
    http.mount("http://", adapter)
    http.mount("https://", adapter)
    return http


class Transport:
    """Calls one WAHA server with one API key: the HTTP underneath ``WahaClient``'s calls."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        read_timeout: float = DEFAULT_READ_TIMEOUT,
        engine: str | None = None,
        http_session: requests.Session | None = None,
    ) -> None:
        self.base_url = _normalize_base_url(base_url)
        if not api_key:
            # An empty key makes WAHA generate a random one at each start (WAHA.md §1).
            raise ValueError("api_key is required")
        self._api_key = _Secret(api_key)
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.engine = engine.upper() if engine else None
        self._http = http_session if http_session is not None else _new_http_session()
        origin = urlsplit(self.base_url)
        self._origin = f"{origin.scheme}://{origin.netloc}"

    def close(self) -> None:
        """Close the pooled connections (only needed for clients not made by ``client_for``)."""
        self._http.close()

    def _call(
        self,
        operation: str,
        *,
        session: str | None = None,
        params: Mapping[str, str] | None = None,
        json_body: Any = None,
        headers: Mapping[str, str] | None = None,
        timeout: Timeout | None = None,
        reader: Callable[[requests.Response], T] | None = None,
        tolerate: Callable[[WahaRejected], bool] | None = None,
    ) -> Any:
        method, template = ENDPOINTS[operation]
        path = (
            template.format(session=validate_session_name(session))
            if "{session}" in template
            else template
        )
        return self._request(
            operation,
            method,
            self.base_url + path,
            path,
            params=params,
            json_body=json_body,
            headers=headers,
            timeout=timeout,
            reader=reader,
            tolerate=tolerate,
        )

    def _request(
        self,
        operation: str,
        method: str,
        url: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        json_body: Any = None,
        headers: Mapping[str, str] | None = None,
        timeout: Timeout | None = None,
        stream: bool = False,
        reader: Callable[[requests.Response], T] | None = None,
        tolerate: Callable[[WahaRejected], bool] | None = None,
    ) -> Any:
        request_headers = {
            "Accept": "application/json",
            **(headers or {}),
            "X-Api-Key": self._api_key.value,
        }
        started = time.monotonic()
        status: int | None = None
        response: requests.Response | None = None
        try:
            try:
                # Redirects are not followed: requests would carry X-Api-Key to whatever
                # host a Location header names.
                response = self._http.request(
                    method,
                    url,
                    params=params,
                    json=json_body,
                    headers=request_headers,
                    timeout=self._timeouts(timeout),
                    allow_redirects=False,
                    stream=stream,
                )
                status = response.status_code
                if not 200 <= status < 300:
                    error = build_rejection(
                        status,
                        _bounded_content(response),
                        response.headers.get("Content-Type", ""),
                        method=method,
                        path=path,
                        redact=self._redact,
                    )
                    if tolerate is not None and tolerate(error):
                        self._log(operation, method, path, status, started, "ok", tolerated=error)
                        return None
                    raise error
                result = reader(response) if reader is not None else None
            except requests.exceptions.RequestException as exc:
                raise self._transport_error(exc, method, path) from exc
            finally:
                if response is not None and stream:
                    response.close()
        except WahaError as error:
            if error.method is None:
                error.method, error.path = method, path
            self._log(operation, method, path, status, started, _outcome_of(error), error=error)
            raise
        self._log(operation, method, path, status, started, "ok")
        return result

    def _timeouts(self, timeout: Timeout | None) -> tuple[float, float]:
        if timeout is None:
            return (self.connect_timeout, self.read_timeout)
        if isinstance(timeout, tuple):
            return timeout
        return (self.connect_timeout, float(timeout))

    def _redact(self, text: str) -> str:
        return text.replace(self._api_key.value, "***")

    def _transport_error(
        self, exc: requests.exceptions.RequestException, method: str, path: str
    ) -> WahaError:
        # The urllib3 reason rather than str(exc): the latter repeats the URL and its query.
        reason = exc.args[0] if exc.args else exc
        reason = getattr(reason, "reason", reason)
        detail = self._redact(
            reason if isinstance(reason, str) else f"{type(reason).__name__}: {reason}"
        )[:300]
        if isinstance(exc, requests.exceptions.ConnectTimeout):
            return WahaTimeout(
                f"connect timeout to {self._origin} ({detail})",
                phase="connect",
                method=method,
                path=path,
            )
        if isinstance(exc, requests.exceptions.Timeout):
            return WahaTimeout(
                f"read timeout from {self._origin} ({detail})",
                phase="read",
                method=method,
                path=path,
            )
        return WahaUnreachable(f"cannot reach {self._origin} ({detail})", method=method, path=path)

    def _log(
        self,
        operation: str,
        method: str,
        path: str,
        status: int | None,
        started: float,
        outcome: str,
        *,
        error: WahaError | None = None,
        tolerated: WahaRejected | None = None,
    ) -> None:
        seconds = time.monotonic() - started
        metrics.observe(operation, outcome, seconds)
        duration_ms = round(seconds * 1000)
        fields = {
            "waha_operation": operation,
            "waha_method": method,
            "waha_path": path,
            "waha_status": status,
            "waha_duration_ms": duration_ms,
            "waha_outcome": outcome,
        }
        if error is None:
            logger.debug(
                "waha.request method=%s path=%s status=%s duration_ms=%d operation=%s outcome=%s%s",
                method,
                path,
                status,
                duration_ms,
                operation,
                outcome,
                f" tolerated={type(tolerated).__name__}" if tolerated is not None else "",
                extra=fields,
            )
            return
        reason = getattr(error, "reason", None) or error.message
        logger.warning(
            "waha.request method=%s path=%s status=%s duration_ms=%d operation=%s outcome=%s"
            " error=%s reason=%r",
            method,
            path,
            status,
            duration_ms,
            operation,
            outcome,
            type(error).__name__,
            reason[:200],
            extra={**fields, "waha_error": type(error).__name__},
        )


def _outcome_of(error: WahaError) -> str:
    if isinstance(error, WahaTimeout):
        return "timeout"
    if isinstance(error, WahaUnreachable):
        return "unreachable"
    if isinstance(error, WahaRejected):
        return "rejected"
    return "invalid"


def _normalize_base_url(base_url: str) -> str:
    parts = urlsplit(base_url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("base_url must be an http(s) URL such as http://waha:3000")
    if parts.query or parts.fragment:
        raise ValueError("base_url must not have a query or fragment")
    return f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"


def _bounded_content(response: requests.Response) -> bytes:
    if not response.raw or getattr(response, "_content_consumed", False):
        return response.content[:_MAX_ERROR_BODY_BYTES]
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_content(_CHUNK_BYTES):
        chunks.append(chunk)
        size += len(chunk)
        if size >= _MAX_ERROR_BODY_BYTES:
            break
    return b"".join(chunks)[:_MAX_ERROR_BODY_BYTES]


def _parsed_json(response: requests.Response) -> Any:
    if not response.content.strip():
        return None
    try:
        return response.json()
    except ValueError as exc:
        raise WahaInvalidResponse(
            f"expected JSON, got {response.headers.get('Content-Type', 'no content type')}"
        ) from exc


def _json_optional(response: requests.Response) -> Any:
    return _parsed_json(response)


def _json_lenient(response: requests.Response) -> Any:
    try:
        return _parsed_json(response)
    except WahaInvalidResponse:
        return None


def _json_object(response: requests.Response) -> dict[str, Any]:
    data = _parsed_json(response)
    if not isinstance(data, dict):
        raise WahaInvalidResponse("expected a JSON object")
    return data


def _json_strings(*names: str) -> Callable[[requests.Response], dict[str, Any]]:
    def read(response: requests.Response) -> dict[str, Any]:
        data = _json_object(response)
        missing = [name for name in names if not isinstance(data.get(name), str) or not data[name]]
        if missing:
            raise WahaInvalidResponse(f"answer lacks {', '.join(missing)}")
        return data

    return read


def _json_list(response: requests.Response) -> list[dict[str, Any]]:
    data = _parsed_json(response)
    if not isinstance(data, list):
        raise WahaInvalidResponse("expected a JSON array")
    return data


def _png_bytes(response: requests.Response) -> bytes:
    content = response.content
    if not content.startswith(_PNG_MAGIC):
        raise WahaInvalidResponse("expected a PNG image")
    return content
