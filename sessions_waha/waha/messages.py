"""The WAHA client's message calls: sending, looking up, seen and typing, number checks, media (WAHA.md §4, §6)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

import requests

from .chat_ids import normalize_chat_id, phone_digits
from .endpoints import DOWNLOAD_MEDIA, ENDPOINTS
from .errors import (
    InvalidChatId,
    WahaInvalidResponse,
    WahaLookupUnavailable,
    WahaMediaRefused,
    WahaMediaTooLarge,
    WahaNotFound,
    WahaRejected,
)
from .models import MediaFile, NumberCheck, SentMessage
from .responses import normalize_send_response
from .transport import (
    _CHUNK_BYTES,
    DEFAULT_MAX_MEDIA_BYTES,
    Timeout,
    Transport,
    _json_lenient,
    _json_object,
    _json_optional,
    _json_strings,
    validate_session_name,
)

_MEDIA_PREFIX = "/api/files/"
_CONTENT_DISPOSITION_FILENAME = re.compile(
    r"filename\*?=(?:UTF-8'')?\"?([^\";]+)\"?", re.IGNORECASE
)


class MessageCalls(Transport):
    """Sending, looking a message up, seen and typing, number checks and inbound media."""

    @property
    def supports_pregenerated_ids(self) -> bool:
        """Whether sends may carry a pre-generated ``message_id`` (NOWEB/GOWS, WAHA.md §9.7)."""
        return self.engine in ("NOWEB", "GOWS")

    # Sending (WAHA.md §4)

    def new_message_id(self, *, session: str, timeout: Timeout | None = None) -> str:
        """A fresh bare message id to store before sending (NOWEB/GOWS, WAHA.md §9.7)."""
        data = self._call(
            "new_message_id", session=session, timeout=timeout, reader=_json_strings("id")
        )
        return data["id"]

    def message_get(
        self, *, session: str, chat_id: str, message_id: str, timeout: Timeout | None = None
    ) -> dict[str, Any] | None:
        """The message WAHA knows under ``message_id``, or ``None``.

        Used to look before resending a message whose send timed out (WAHA.md §9.7).
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
        """Send a document; set ``file["filename"]`` or WhatsApp shows none (WAHA.md §9.8)."""
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
        """Show "typing..." in the chat (WAHA.md §8: seen, typing, then send)."""
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
        """Whether a number is on WhatsApp, and the chat id to use for it (WAHA.md §9.6)."""
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

    # Media (WAHA.md §6)

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
        # The key travels as a header only (WAHA.md §9.1); drop any copy in the query.
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
        missing file is ``WahaNotFound`` (WAHA.md §6, §9.19).
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
        # WAHA does not strip "+", spaces or dashes (WAHA.md §4), so normalise before sending.
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
        # Send bodies are engine-specific and sometimes empty (WAHA.md §4); an unreadable
        # body must not turn a delivered message into a failure.
        data = self._call(operation, json_body=body, timeout=timeout, reader=_json_lenient)
        return normalize_send_response(data, pregenerated_id=message_id)


def _file_payload(file: Mapping[str, Any]) -> dict[str, Any]:
    # Send endpoints have no validation pipe: a malformed file becomes an engine 500 that
    # echoes the whole body (WAHA.md §4), so check the shape here.
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
