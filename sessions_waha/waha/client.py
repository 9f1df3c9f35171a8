"""The HTTP client for WAHA: the only code in the project that talks to it.

It takes plain values (no Django), so it can be unit-tested alone and used from web
processes, Celery workers and management commands alike. It never retries: a failed call
raises a typed ``WahaError`` whose ``transient`` flag tells the caller whether a retry
with backoff makes sense.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from . import metrics
from .chat_ids import normalize_chat_id, phone_digits
from .endpoints import DOWNLOAD_MEDIA, ENDPOINTS
from .errors import (
    InvalidChatId,
    InvalidSessionName,
    WahaError,
    WahaInvalidResponse,
    WahaLookupUnavailable,
    WahaMediaRefused,
    WahaMediaTooLarge,
    WahaNotFound,
    WahaRejected,
    WahaTimeout,
    WahaUnreachable,
)
from .models import MediaFile, NumberCheck, SentMessage
from .responses import build_rejection, normalize_send_response

__all__ = [
    "DEFAULT_CONNECT_TIMEOUT",
    "DEFAULT_MAX_MEDIA_BYTES",
    "DEFAULT_READ_TIMEOUT",
    "POOL_SIZE",
    "Timeout",
    "WahaClient",
    "clear_client_cache",
    "client_for",
    "validate_session_name",
]

logger = logging.getLogger("waha.client")

Timeout = float | tuple[float, float]
T = TypeVar("T")

# Slightly above a multiple of 3 s, the TCP retransmission window, as requests suggests.
DEFAULT_CONNECT_TIMEOUT = 3.05
# Sends and auth/qr wait up to ~15 s for the session inside WAHA before answering 422
# (PROTOCOL §3, §4, §9.2); a shorter read timeout would turn that answer into a timeout.
DEFAULT_READ_TIMEOUT = 20.0
DEFAULT_MAX_MEDIA_BYTES = 64 * 1024 * 1024
# One pool per WAHA origin, big enough for a worker's threads or a gevent pool.
POOL_SIZE = 32

_SESSION_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,54}$")
_MEDIA_PREFIX = "/api/files/"
_CHUNK_BYTES = 64 * 1024
_MAX_ERROR_BODY_BYTES = 64 * 1024
_CONTENT_DISPOSITION_FILENAME = re.compile(
    r"filename\*?=(?:UTF-8'')?\"?([^\";]+)\"?", re.IGNORECASE
)
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def validate_session_name(name: object) -> str:
    """Return ``name`` if WAHA accepts it as a session name, else raise ``InvalidSessionName``.

    WAHA validates names only on create and uses them unescaped in paths (PROTOCOL §2), so
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
    # retry policy (backoff, reconciling timed-out sends, PROTOCOL §9.7) is the caller's.
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


class WahaClient:
    """Calls one WAHA server with one API key. Thread-safe; share it via ``client_for``."""

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
            # An empty key makes WAHA generate a random one at each start (PROTOCOL §1).
            raise ValueError("api_key is required")
        self._api_key = _Secret(api_key)
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.engine = engine.upper() if engine else None
        self._http = http_session if http_session is not None else _new_http_session()
        origin = urlsplit(self.base_url)
        self._origin = f"{origin.scheme}://{origin.netloc}"

    def __repr__(self) -> str:
        return f"WahaClient(base_url={self.base_url!r}, engine={self.engine!r})"

    @property
    def supports_pregenerated_ids(self) -> bool:
        """Whether sends may carry a pre-generated ``message_id`` (NOWEB/GOWS, PROTOCOL §9.7)."""
        return self.engine in ("NOWEB", "GOWS")

    def close(self) -> None:
        """Close the pooled connections (only needed for clients not made by ``client_for``)."""
        self._http.close()

    # Health (PROTOCOL §7)

    def ping(self, *, timeout: Timeout | None = None) -> bool:
        """Liveness: ``GET /ping``. True when WAHA answers; raises ``WahaError`` otherwise."""
        self._call("ping", timeout=timeout)
        return True

    def server_version(self, *, timeout: Timeout | None = None) -> dict[str, Any]:
        """``{"version","engine","tier",...}`` of the server."""
        return self._call("server_version", timeout=timeout, reader=_json_object)

    # Sessions (PROTOCOL §2)

    def sessions_list(
        self, *, all: bool = True, timeout: Timeout | None = None
    ) -> list[dict[str, Any]]:
        """All sessions; STOPPED ones are hidden by WAHA unless ``all`` is true."""
        return self._call(
            "sessions_list",
            params={"all": "true" if all else "false"},
            timeout=timeout,
            reader=_json_list,
        )

    def session_get(self, *, name: str, timeout: Timeout | None = None) -> dict[str, Any]:
        """``SessionInfo`` of one session; ``WahaNotFound`` if WAHA does not know it."""
        return self._call("session_get", session=name, timeout=timeout, reader=_json_object)

    def session_create(
        self,
        *,
        name: str,
        config: Mapping[str, Any] | None,
        start: bool = True,
        timeout: Timeout | None = None,
    ) -> dict[str, Any] | None:
        """Create a session; ``WahaAlreadyExists`` if the name is taken (update or start it)."""
        validate_session_name(name)
        # "start" is always explicit: the docs default it to true, the code to false (PROTOCOL §2).
        body: dict[str, Any] = {"name": name, "start": bool(start)}
        if config is not None:
            body["config"] = dict(config)
        return self._call("session_create", json_body=body, timeout=timeout, reader=_json_optional)

    def session_update(
        self, *, name: str, config: Mapping[str, Any], timeout: Timeout | None = None
    ) -> dict[str, Any] | None:
        """Replace the whole config (not a patch: send every field); restarts a running session."""
        return self._call(
            "session_update",
            session=name,
            json_body={"config": dict(config)},
            timeout=timeout,
            reader=_json_optional,
        )

    def session_delete(self, *, name: str, timeout: Timeout | None = None) -> None:
        """Stop, log out and delete a session; deleting an unknown session succeeds."""
        self._call(
            "session_delete",
            session=name,
            timeout=timeout,
            tolerate=lambda error: isinstance(error, WahaNotFound),
        )

    def session_start(self, *, name: str, timeout: Timeout | None = None) -> dict[str, Any] | None:
        """Start a session; returns ``None`` when it was already running."""
        # Core answers 422 "already started" where the docs promise idempotence (PROTOCOL §2, §9.3).
        return self._call(
            "session_start",
            session=name,
            timeout=timeout,
            reader=_json_optional,
            tolerate=lambda error: error.status_code == 422 and "already started" in error.reason,
        )

    def session_stop(self, *, name: str, timeout: Timeout | None = None) -> dict[str, Any] | None:
        """Stop a session, keeping its auth and config."""
        return self._call("session_stop", session=name, timeout=timeout, reader=_json_optional)

    def session_logout(self, *, name: str, timeout: Timeout | None = None) -> dict[str, Any] | None:
        """Unpair and wipe auth, keeping config; a running session restarts with a new QR."""
        return self._call("session_logout", session=name, timeout=timeout, reader=_json_optional)

    def session_restart(
        self, *, name: str, timeout: Timeout | None = None
    ) -> dict[str, Any] | None:
        """Stop then start a session."""
        return self._call("session_restart", session=name, timeout=timeout, reader=_json_optional)

    def session_me(self, *, name: str, timeout: Timeout | None = None) -> dict[str, Any] | None:
        """The paired account (``{"id","pushName",...}``) or ``None`` if unpaired or stopped."""
        # Unpaired answers null; a stopped session answers 404 in Core (PROTOCOL §3).
        me = self._call(
            "session_me",
            session=name,
            timeout=timeout,
            reader=_json_optional,
            tolerate=lambda error: isinstance(error, WahaNotFound),
        )
        return me if isinstance(me, dict) else None

    # Pairing (PROTOCOL §3)

    def qr_png(self, *, name: str, timeout: Timeout | None = None) -> bytes:
        """The current QR code as PNG bytes; ``WahaSessionNotReady`` outside ``SCAN_QR_CODE``."""
        return self._call(
            "qr_png",
            session=name,
            params={"format": "image"},
            headers={"Accept": "image/png"},
            timeout=timeout,
            reader=_png_bytes,
        )

    def qr_base64(self, *, name: str, timeout: Timeout | None = None) -> dict[str, str]:
        """The QR code as ``{"mimetype": "image/png", "data": "<base64>"}``."""
        # WAHA switches to JSON only for exactly "Accept: application/json" (PROTOCOL §3).
        data = self._call(
            "qr_base64",
            session=name,
            params={"format": "image"},
            headers={"Accept": "application/json"},
            timeout=timeout,
            reader=_json_strings("mimetype", "data"),
        )
        return {"mimetype": data["mimetype"], "data": data["data"]}

    def qr_raw(self, *, name: str, timeout: Timeout | None = None) -> str:
        """The raw QR string, for rendering it ourselves."""
        data = self._call(
            "qr_raw",
            session=name,
            params={"format": "raw"},
            timeout=timeout,
            reader=_json_strings("value"),
        )
        return data["value"]

    def request_code(self, *, name: str, phone_number: str, timeout: Timeout | None = None) -> str:
        """Ask for a pairing code (``"ABCD-ABCD"``) to link by phone number instead of QR."""
        # International digits without "+"; "method" stays unset, NOWEB rejects it (PROTOCOL §3).
        data = self._call(
            "request_code",
            session=name,
            json_body={"phoneNumber": phone_digits(phone_number)},
            timeout=timeout,
            reader=_json_strings("code"),
        )
        return data["code"]

    # Sending (PROTOCOL §4)

    def new_message_id(self, *, session: str, timeout: Timeout | None = None) -> str:
        """A fresh bare message id to store before sending (NOWEB/GOWS, PROTOCOL §9.7)."""
        data = self._call(
            "new_message_id", session=session, timeout=timeout, reader=_json_strings("id")
        )
        return data["id"]

    def message_get(
        self, *, session: str, chat_id: str, message_id: str, timeout: Timeout | None = None
    ) -> dict[str, Any] | None:
        """The message WAHA knows under ``message_id``, or ``None``.

        Used to look before resending a message whose send timed out (PROTOCOL §9.7).
        ``WahaLookupUnavailable`` when the session cannot look messages up at all: NOWEB
        without ``config.noweb.store.enabled`` answers 400 "Enable NOWEB store ...", an
        engine without the endpoint 501. No other 400 exists on this path-only GET.
        """
        method, template = ENDPOINTS["message_get"]
        path = template.format(
            session=validate_session_name(session),
            chatId=quote(normalize_chat_id(chat_id), safe="@"),
            messageId=quote(message_id, safe="@_"),
        )
        try:
            found = self._request(
                "message_get", method, self.base_url + path, path, params=None, json_body=None, headers=None,
                timeout=timeout, reader=_json_optional, tolerate=lambda error: isinstance(error, WahaNotFound),
            )
        except WahaRejected as error:
            if type(error) is WahaRejected and error.status_code in (400, 501):
                raise WahaLookupUnavailable(
                    error.status_code, error.body, error.reason, method=error.method, path=error.path
                ) from error
            raise
        return found if isinstance(found, dict) and found else None

    def send_text(
        self,
        *,
        session: str,
        chat_id: str,
        text: str,
        reply_to: str | None = None,
        message_id: str | None = None,
        link_preview: bool = True,
        timeout: Timeout | None = None,
    ) -> SentMessage:
        """Send a text message."""
        body = self._send_body(session, chat_id, reply_to, message_id)
        body["text"] = text
        body["linkPreview"] = bool(link_preview)
        return self._send("send_text", body, message_id, timeout)

    def send_image(
        self,
        *,
        session: str,
        chat_id: str,
        file: Mapping[str, Any],
        caption: str | None = None,
        reply_to: str | None = None,
        message_id: str | None = None,
        timeout: Timeout | None = None,
    ) -> SentMessage:
        """Send an image; ``file`` is ``{mimetype, url}`` or ``{mimetype, data}`` (base64)."""
        return self._send_media(
            "send_image", session, chat_id, file, caption, reply_to, message_id, timeout
        )

    def send_file(
        self,
        *,
        session: str,
        chat_id: str,
        file: Mapping[str, Any],
        caption: str | None = None,
        reply_to: str | None = None,
        message_id: str | None = None,
        timeout: Timeout | None = None,
    ) -> SentMessage:
        """Send a document; set ``file["filename"]`` or WhatsApp shows none (PROTOCOL §9.8)."""
        return self._send_media(
            "send_file", session, chat_id, file, caption, reply_to, message_id, timeout
        )

    def send_video(
        self,
        *,
        session: str,
        chat_id: str,
        file: Mapping[str, Any],
        caption: str | None = None,
        reply_to: str | None = None,
        message_id: str | None = None,
        as_note: bool = False,
        convert: bool = False,
        timeout: Timeout | None = None,
    ) -> SentMessage:
        """Send an mp4 video; ``convert`` has WAHA re-encode other formats with ffmpeg."""
        return self._send_media(
            "send_video",
            session,
            chat_id,
            file,
            caption,
            reply_to,
            message_id,
            timeout,
            extra={"asNote": bool(as_note), "convert": bool(convert)},
        )

    def send_voice(
        self,
        *,
        session: str,
        chat_id: str,
        file: Mapping[str, Any],
        reply_to: str | None = None,
        message_id: str | None = None,
        convert: bool = True,
        timeout: Timeout | None = None,
    ) -> SentMessage:
        """Send a voice note; WhatsApp wants ogg/opus, so ``convert`` defaults to true."""
        return self._send_media(
            "send_voice",
            session,
            chat_id,
            file,
            None,
            reply_to,
            message_id,
            timeout,
            extra={"convert": bool(convert)},
        )

    def send_location(
        self,
        *,
        session: str,
        chat_id: str,
        latitude: float,
        longitude: float,
        title: str | None = None,
        reply_to: str | None = None,
        message_id: str | None = None,
        timeout: Timeout | None = None,
    ) -> SentMessage:
        """Send a location pin."""
        body = self._send_body(session, chat_id, reply_to, message_id)
        body["latitude"] = float(latitude)
        body["longitude"] = float(longitude)
        if title is not None:
            body["title"] = title
        return self._send("send_location", body, message_id, timeout)

    def send_seen(
        self,
        *,
        session: str,
        chat_id: str,
        message_ids: Sequence[str] | None = None,
        participant: str | None = None,
        timeout: Timeout | None = None,
    ) -> None:
        """Mark messages read; without ids WAHA marks the chat's last 7 days read."""
        body = self._send_body(session, chat_id, None, None)
        if message_ids:
            body["messageIds"] = list(message_ids)
        if participant:
            body["participant"] = normalize_chat_id(participant)
        self._call("send_seen", json_body=body, timeout=timeout)

    def start_typing(self, *, session: str, chat_id: str, timeout: Timeout | None = None) -> None:
        """Show "typing..." in the chat (PROTOCOL §8: seen, typing, then send)."""
        self._call(
            "start_typing", json_body=self._send_body(session, chat_id, None, None), timeout=timeout
        )

    def stop_typing(self, *, session: str, chat_id: str, timeout: Timeout | None = None) -> None:
        """Clear the typing indicator."""
        self._call(
            "stop_typing", json_body=self._send_body(session, chat_id, None, None), timeout=timeout
        )

    def check_exists(
        self, *, session: str, phone: str, timeout: Timeout | None = None
    ) -> NumberCheck:
        """Whether a number is on WhatsApp, and the chat id to use for it (PROTOCOL §9.6)."""
        digits = phone_digits(phone)

        def read(response: requests.Response) -> NumberCheck:
            data = _json_object(response)
            exists = data.get("numberExists")
            if not isinstance(exists, bool):
                raise WahaInvalidResponse("check-exists answer lacks numberExists")
            if not exists:
                return NumberCheck(exists=False, chat_id=None)
            chat_id = data.get("chatId")
            if not isinstance(chat_id, str) or not chat_id:
                return NumberCheck(exists=True, chat_id=f"{digits}@c.us")
            try:
                return NumberCheck(exists=True, chat_id=normalize_chat_id(chat_id))
            except InvalidChatId as exc:
                raise WahaInvalidResponse(
                    f"check-exists returned an unusable chatId: {exc}"
                ) from exc

        return self._call(
            "check_exists",
            params={"phone": digits, "session": validate_session_name(session)},
            timeout=timeout,
            reader=read,
        )

    # Media (PROTOCOL §6)

    def media_url(self, url: str) -> str:
        """The URL ``download_media`` would fetch, or ``WahaMediaRefused``.

        The X-Api-Key goes along, so only ``/api/files/...`` on this client's own WAHA is
        allowed. WAHA builds media URLs from ``WAHA_BASE_URL`` (default
        ``http://localhost:3000``), which is often not how we reach it, so the
        ``/api/files/`` part is moved onto ``base_url`` instead of being followed.
        """
        parts = urlsplit(url)
        if parts.scheme and parts.scheme not in ("http", "https"):
            raise WahaMediaRefused("media URL is not http(s)")
        start = parts.path.find(_MEDIA_PREFIX)
        if start < 0:
            raise WahaMediaRefused("media URL is not under /api/files/")
        media_path = parts.path[start:]
        decoded = unquote(media_path)
        segments = decoded.split("/")
        if (
            len(decoded) <= len(_MEDIA_PREFIX)
            or any(segment in (".", "..") for segment in segments)
            or "\\" in decoded
            or decoded.count("/") != media_path.count("/")
        ):
            raise WahaMediaRefused("media URL path leaves /api/files/")
        # The key travels as a header only (PROTOCOL §9.1); drop any copy in the query.
        query = [
            (k, v)
            for k, v in parse_qsl(parts.query, keep_blank_values=True)
            if k.lower() != "x-api-key"
        ]
        resolved = self.base_url + media_path
        return f"{resolved}?{urlencode(query)}" if query else resolved

    def download_media(
        self, *, url: str, max_bytes: int = DEFAULT_MAX_MEDIA_BYTES, timeout: Timeout | None = None
    ) -> MediaFile:
        """Download an inbound media file from WAHA, at most ``max_bytes`` long.

        Fetch it promptly: WAHA deletes local files 180 s after saving by default, and a
        missing file is ``WahaNotFound`` (PROTOCOL §6, §9.9).
        """
        target = self.media_url(url)

        def read(response: requests.Response) -> MediaFile:
            declared = response.headers.get("Content-Length")
            if declared and declared.isdigit() and int(declared) > max_bytes:
                raise WahaMediaTooLarge(
                    f"media is {declared} bytes, over the {max_bytes} byte cap", limit=max_bytes
                )
            chunks: list[bytes] = []
            size = 0
            for chunk in response.iter_content(_CHUNK_BYTES):
                size += len(chunk)
                if size > max_bytes:
                    raise WahaMediaTooLarge(
                        f"media exceeds the {max_bytes} byte cap", limit=max_bytes
                    )
                chunks.append(chunk)
            content_type = response.headers.get("Content-Type") or "application/octet-stream"
            return MediaFile(
                content=b"".join(chunks),
                mimetype=content_type.split(";")[0].strip() or "application/octet-stream",
                filename=_filename_of(response, target),
            )

        return self._request(
            DOWNLOAD_MEDIA,
            "GET",
            target,
            urlsplit(target).path,
            headers={"Accept": "*/*"},
            timeout=timeout,
            stream=True,
            reader=read,
        )

    # Internals

    def _send_body(
        self, session: str, chat_id: str, reply_to: str | None, message_id: str | None
    ) -> dict[str, Any]:
        # WAHA does not strip "+", spaces or dashes (PROTOCOL §4), so normalise before sending.
        body: dict[str, Any] = {
            "session": validate_session_name(session),
            "chatId": normalize_chat_id(chat_id),
        }
        if reply_to:
            body["reply_to"] = reply_to
        if message_id:
            body["id"] = message_id
        return body

    def _send_media(
        self,
        operation: str,
        session: str,
        chat_id: str,
        file: Mapping[str, Any],
        caption: str | None,
        reply_to: str | None,
        message_id: str | None,
        timeout: Timeout | None,
        extra: Mapping[str, Any] | None = None,
    ) -> SentMessage:
        body = self._send_body(session, chat_id, reply_to, message_id)
        body["file"] = _file_payload(file)
        if caption is not None:
            body["caption"] = caption
        body.update(extra or {})
        return self._send(operation, body, message_id, timeout)

    def _send(
        self, operation: str, body: dict[str, Any], message_id: str | None, timeout: Timeout | None
    ) -> SentMessage:
        # Send bodies are engine-specific and sometimes empty (PROTOCOL §4); an unreadable
        # body must not turn a delivered message into a failure.
        data = self._call(operation, json_body=body, timeout=timeout, reader=_json_lenient)
        return normalize_send_response(data, pregenerated_id=message_id)

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


def _file_payload(file: Mapping[str, Any]) -> dict[str, Any]:
    # Send endpoints have no validation pipe: a malformed file becomes an engine 500 that
    # echoes the whole body (PROTOCOL §4), so check the shape here.
    if not isinstance(file, Mapping) or not isinstance(file.get("mimetype"), str):
        raise ValueError("file needs a mimetype")
    has_url, has_data = isinstance(file.get("url"), str), isinstance(file.get("data"), str)
    if has_url == has_data:
        raise ValueError("file needs exactly one of url or data (base64)")
    return dict(file)


def _filename_of(response: requests.Response, url: str) -> str | None:
    match = _CONTENT_DISPOSITION_FILENAME.search(response.headers.get("Content-Disposition", ""))
    if match:
        return unquote(match.group(1)).rsplit("/", 1)[-1] or None
    return unquote(urlsplit(url).path).rsplit("/", 1)[-1] or None


# One client per (server, key, timeouts, engine) and, beneath them, one pooled
# requests.Session per (server, key), so every caller reuses warm connections.
_cache_lock = threading.Lock()
_clients: dict[tuple[Any, ...], WahaClient] = {}
_http_sessions: dict[tuple[str, str], requests.Session] = {}


def client_for(
    base_url: str,
    api_key: str,
    *,
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
    read_timeout: float = DEFAULT_READ_TIMEOUT,
    engine: str | None = None,
) -> WahaClient:
    """The shared client for this WAHA server and key (created once, thread-safely)."""
    normalized = _normalize_base_url(base_url)
    key = (normalized, api_key, connect_timeout, read_timeout, engine.upper() if engine else None)
    client = _clients.get(key)
    if client is not None:
        return client
    with _cache_lock:
        client = _clients.get(key)
        if client is None:
            http = _http_sessions.get((normalized, api_key))
            if http is None:
                http = _http_sessions[(normalized, api_key)] = _new_http_session()
            client = WahaClient(
                normalized,
                api_key,
                connect_timeout=connect_timeout,
                read_timeout=read_timeout,
                engine=engine,
                http_session=http,
            )
            _clients[key] = client
        return client


def clear_client_cache() -> None:
    """Forget cached clients and close their connections (tests, key rotation)."""
    with _cache_lock:
        for http in _http_sessions.values():
            http.close()
        _clients.clear()
        _http_sessions.clear()
