"""Reading WAHA's answers: engine-specific send responses and the error body shapes."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from .errors import (
    WahaAlreadyExists,
    WahaNotFound,
    WahaRejected,
    WahaSessionNotReady,
    WahaUnauthorized,
)
from .models import SentMessage

__all__ = [
    "build_rejection",
    "extract_message_id",
    "normalize_send_response",
    "parse_error_body",
    "wa_id_of",
]

# How much of an error body survives into exceptions and logs.
MAX_MESSAGE_CHARS = 500
MAX_KEPT_BODY_CHARS = 4096
MAX_5XX_TEXT_CHARS = 200

_DEVICE_SUFFIX = re.compile(r":[0-9]+@")


def wa_id_of(message_id: str) -> str:
    """Return the bare WhatsApp id of ``{fromMe}_{chatId}_{waId}[_{participant}]``.

    Acks and send responses can disagree on the chat or participant part of group ids
    (WAHA.md §4, issue #1464), so correlation also works on this third segment. A value
    without ``_`` is already bare (``new-message-id`` returns bare ids).
    """
    parts = message_id.split("_")
    if len(parts) >= 3 and parts[0] in ("true", "false"):
        return parts[2]
    return message_id


def extract_message_id(body: Any) -> str | None:
    """Find the serialized message id in any known send response shape (WAHA.md §4, §9.7)."""
    if not isinstance(body, dict):
        return None
    identifier = body.get("id")
    if isinstance(identifier, str) and identifier:
        return identifier  # GOWS
    if isinstance(identifier, dict):
        serialized = identifier.get("_serialized")
        if isinstance(serialized, str) and serialized:
            return serialized  # WEBJS
    key = body.get("key")
    if isinstance(key, dict):
        return _id_from_baileys_key(key)  # NOWEB
    return None


def normalize_send_response(body: Any, *, pregenerated_id: str | None = None) -> SentMessage:
    """Build a ``SentMessage`` from a send response, preferring the caller's pre-generated id."""
    serialized = extract_message_id(body)
    raw_status = None
    if isinstance(body, dict):
        for field in ("status", "ackName", "ack"):
            value = body.get(field)
            if isinstance(value, str | int) and not isinstance(value, bool):
                raw_status = value
                break
    message_id: str | None = serialized
    # The caller stored a pre-generated id before sending (WAHA.md §9.7); keep it even when
    # the response carries the same waId in serialized form. Only an engine that ignored
    # the id (WEBJS has no pre-generated ids) makes the response's id win, since acks will
    # carry that one.
    if pregenerated_id and (
        serialized is None or wa_id_of(serialized) == wa_id_of(pregenerated_id)
    ):
        message_id = pregenerated_id
    return SentMessage(
        message_id=message_id,
        wa_id=wa_id_of(message_id) if message_id else None,
        raw_status=raw_status,
        serialized_id=serialized,
    )


def _id_from_baileys_key(key: dict[str, Any]) -> str | None:
    wa_id = key.get("id")
    remote_jid = key.get("remoteJid")
    if not isinstance(wa_id, str) or not wa_id or not isinstance(remote_jid, str) or not remote_jid:
        return None
    from_me = key.get("fromMe")
    from_me_text = "true" if from_me is True or str(from_me).lower() == "true" else "false"
    serialized = f"{from_me_text}_{_to_c_us(remote_jid)}_{wa_id}"
    participant = key.get("participant")
    if isinstance(participant, str) and participant:
        serialized += f"_{_to_c_us(participant)}"
    return serialized


def _to_c_us(jid: str) -> str:
    # WAHA ids use @c.us where Baileys says @s.whatsapp.net (WAHA.md §4, buildMessageId()).
    if jid.endswith("@s.whatsapp.net"):
        jid = _DEVICE_SUFFIX.sub("@", jid)
        return jid[: -len("@s.whatsapp.net")] + "@c.us"
    return jid


def parse_error_body(status_code: int, content: bytes, content_type: str = "") -> tuple[str, Any]:
    """Return ``(message, body)`` for an error answer, dropping echoed requests.

    Two JSON shapes exist (WAHA.md §4, §9.4): WAHA's status wait
    ``{error, session, status, expected}`` without ``statusCode``, and NestJS
    ``{message, error, statusCode}`` where ``message`` may be a list. A 500 comes from
    ``AllExceptionsFilter`` and echoes the whole request (text, base64 media): only
    ``exception.message`` is kept.
    """
    text = content.decode("utf-8", errors="replace") if content else ""
    data: Any = None
    if text.strip():
        try:
            data = json.loads(text)
        except ValueError:
            data = None
    if isinstance(data, dict):
        message = _shorten(_message_of(data), MAX_MESSAGE_CHARS)
        if status_code >= 500:
            if isinstance(data.get("exception"), dict):
                return message, {"statusCode": status_code, "exception": {"message": message}}
            return message, {"statusCode": status_code, "message": message}
        if len(text) > MAX_KEPT_BODY_CHARS:
            kept = {
                k: data[k]
                for k in ("statusCode", "error", "session", "status", "expected")
                if k in data
            }
            kept["message"] = message
            return message, kept
        return message, data
    limit = MAX_5XX_TEXT_CHARS if status_code >= 500 else MAX_MESSAGE_CHARS
    short = _shorten(text.strip(), limit)
    return short, (short or None)


def build_rejection(
    status_code: int,
    content: bytes,
    content_type: str = "",
    *,
    method: str | None = None,
    path: str | None = None,
    redact: Callable[[str], str] = lambda text: text,
) -> WahaRejected:
    """Turn a non-2xx answer into the most specific ``WahaRejected`` subclass."""
    message, body = parse_error_body(status_code, content, content_type)
    message = redact(message)
    body = _redact_values(body, redact)
    common = {"method": method, "path": path}
    if status_code in (401, 403):
        return WahaUnauthorized(status_code, body, message, **common)
    if status_code == 404:
        return WahaNotFound(status_code, body, message, **common)
    if status_code == 422 and isinstance(body, dict):
        if isinstance(body.get("session"), str) and "statusCode" not in body:
            # Status-wait or unknown-session shape: both lack statusCode (WAHA.md §4).
            status = body.get("status")
            expected = body.get("expected")
            return WahaSessionNotReady(
                body["session"],
                status if isinstance(status, str) else None,
                [str(item) for item in expected] if isinstance(expected, list) else [],
                status_code=status_code,
                body=body,
                message=message,
                **common,
            )
        if "already exists" in message:
            return WahaAlreadyExists(status_code, body, message, **common)
    return WahaRejected(status_code, body, message, **common)


def _message_of(data: dict[str, Any]) -> str:
    message = data.get("message")
    if isinstance(message, list):
        return "; ".join(str(item) for item in message)
    if isinstance(message, str) and message:
        return message
    exception = data.get("exception")
    if isinstance(exception, dict) and isinstance(exception.get("message"), str):
        return exception["message"]
    error = data.get("error")
    if isinstance(error, str):
        return error
    if isinstance(error, dict):
        # Missing /api/files file: {"error": {"code", "key", "message", "details"}}.
        parts = [str(error[k]) for k in ("message", "key") if error.get(k)]
        return " ".join(parts[:1]) + (f" ({parts[1]})" if len(parts) > 1 else "")
    return ""


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _redact_values(value: Any, redact: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {key: _redact_values(item, redact) for key, item in value.items()}
    if isinstance(value, list):
        return [_redact_values(item, redact) for item in value]
    return value
