"""In-memory stores: sent messages, media files, number registry and fault knobs."""

from __future__ import annotations

import asyncio
import mimetypes
from dataclasses import dataclass, field

from .acks import ack_name

# Extensions as the ``mime-types`` npm package (used by WAHA) picks them.
_EXT = {
    "image/jpeg": "jpeg",
    "image/png": "png",
    "image/webp": "webp",
    "image/gif": "gif",
    "audio/ogg": "oga",
    "audio/ogg; codecs=opus": "oga",
    "audio/mpeg": "mpga",
    "audio/mp4": "m4a",
    "video/mp4": "mp4",
    "video/3gpp": "3gp",
    "application/pdf": "pdf",
    "text/plain": "txt",
    "application/zip": "zip",
    "application/octet-stream": "bin",
}


def extension_for(mimetype: str | None) -> str:
    if not mimetype:
        return "bin"
    key = mimetype.lower().strip()
    if key in _EXT:
        return _EXT[key]
    base = key.split(";")[0].strip()
    if base in _EXT:
        return _EXT[base]
    guessed = mimetypes.guess_extension(base)
    return guessed.lstrip(".") if guessed else "bin"


class SentMessage:
    """One message sent through the API (a record for /sandbox/messages)."""

    __slots__ = (
        "ack",
        "caption",
        "chat_id",
        "count",
        "file",
        "id",
        "kind",
        "location",
        "media_url",
        "not_on_whatsapp",
        "participant",
        "reply_to",
        "session",
        "stored",
        "text",
        "timestamp",
        "wa",
    )

    def __init__(self, session: str, wa: str, chat_id: str, msg_id: str, kind: str, timestamp: int):
        self.session = session
        self.wa = wa
        self.chat_id = chat_id
        self.id = msg_id
        self.participant: str | None = None
        self.kind = kind
        self.text: str | None = None
        self.caption: str | None = None
        self.file: dict | None = None
        self.location: dict | None = None
        self.reply_to: str | None = None
        self.timestamp = timestamp
        self.count = 1
        self.ack = 0
        self.not_on_whatsapp = False
        self.media_url: str | None = None
        self.stored = False  # in the engine's message store, so GET .../messages/{id} finds it

    @property
    def is_group(self) -> bool:
        return self.chat_id.endswith("@g.us")

    def as_dict(self) -> dict:
        return {
            "id": self.id,
            "waId": self.wa,
            "session": self.session,
            "chatId": self.chat_id,
            "participant": self.participant,
            "type": self.kind,
            "text": self.text,
            "caption": self.caption,
            "file": self.file,
            # Where a file sent as base64 ``data`` is served (``/api/files/...``, for ``files_lifetime``), so that
            # a test can compare the bytes WAHA received; null for text, location and url files.
            "mediaUrl": self.media_url,
            "location": self.location,
            "replyTo": self.reply_to,
            "timestamp": self.timestamp,
            "count": self.count,
            "duplicate": self.count > 1,
            "ack": self.ack,
            "ackName": ack_name(self.ack),
            "notOnWhatsApp": self.not_on_whatsapp,
        }


class MessageStore:
    """Sent messages keyed by (session, waId); a repeated waId bumps ``count``."""

    def __init__(self, max_messages: int):
        self.max_messages = max_messages
        self._by_key: dict[tuple[str, str], SentMessage] = {}
        self.total_sends = 0

    def record(self, msg: SentMessage) -> tuple[SentMessage, bool]:
        self.total_sends += 1
        key = (msg.session, msg.wa)
        existing = self._by_key.get(key)
        if existing is not None:
            existing.count += 1
            return existing, True
        if len(self._by_key) >= self.max_messages:
            self._by_key.pop(next(iter(self._by_key)))
        self._by_key[key] = msg
        return msg, False

    def find(self, session: str, wa: str) -> SentMessage | None:
        return self._by_key.get((session, wa))

    def list(self, session: str | None = None, chat_id: str | None = None) -> list[SentMessage]:
        return [
            m for m in self._by_key.values()
            if (session is None or m.session == session) and (chat_id is None or m.chat_id == chat_id)
        ]

    def forget_session(self, session: str) -> None:
        for key in [k for k in self._by_key if k[0] == session]:
            del self._by_key[key]

    def clear(self) -> None:
        self._by_key.clear()
        self.total_sends = 0


class FileStore:
    """Media files served under /api/files/{session}/{name}, deleted after a lifetime."""

    def __init__(self) -> None:
        self._files: dict[tuple[str, str], tuple[bytes, str]] = {}
        self._timers: dict[tuple[str, str], asyncio.TimerHandle] = {}

    def put(self, session: str, filename: str, data: bytes, mimetype: str, lifetime: float) -> None:
        key = (session, filename)
        self._files[key] = (data, mimetype)
        old = self._timers.pop(key, None)
        if old:
            old.cancel()
        if lifetime and lifetime > 0:
            loop = asyncio.get_running_loop()
            self._timers[key] = loop.call_later(lifetime, self._expire, key)

    def _expire(self, key: tuple[str, str]) -> None:
        self._files.pop(key, None)
        self._timers.pop(key, None)

    def get(self, session: str, filename: str) -> tuple[bytes, str] | None:
        return self._files.get((session, filename))

    def find_by_name(self, filename: str) -> tuple[bytes, str] | None:
        for (_, name), value in self._files.items():
            if name == filename:
                return value
        return None

    def clear(self) -> None:
        for handle in self._timers.values():
            handle.cancel()
        self._timers.clear()
        self._files.clear()

    def __len__(self) -> int:
        return len(self._files)


@dataclass
class Numbers:
    """Which phone numbers are "on WhatsApp" and their canonical chat ids."""

    missing: set[str] = field(default_factory=set)
    chat_ids: dict[str, str] = field(default_factory=dict)

    def exists(self, digits: str) -> bool:
        return bool(digits) and digits.isdigit() and digits not in self.missing

    def chat_id_for(self, digits: str) -> str:
        return self.chat_ids.get(digits, f"{digits}@c.us")

    def as_dict(self) -> dict:
        return {"notOnWhatsApp": sorted(self.missing), "chatIds": dict(self.chat_ids)}


class Faults:
    """Failure knobs set through /sandbox/faults."""

    FIELDS = ("error_rate", "latency_ms", "hang", "hang_mode", "down", "unhealthy", "error_message")

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.clear()

    def clear(self) -> None:
        self.error_rate = 0.0
        self.latency_ms = 0.0
        self.hang = False
        self.hang_mode = "after_send"
        self.down = False
        self.unhealthy = False
        self.error_message = "Sandbox engine failure (injected by /sandbox/faults)"
        self.release.set()

    def update(self, body: dict) -> list[str]:
        """Apply a partial update; returns a list of validation errors (nothing applied then)."""
        errors = []
        if "error_rate" in body:
            v = body["error_rate"]
            if not isinstance(v, (int, float)) or isinstance(v, bool) or not 0 <= v <= 1:
                errors.append("error_rate must be a number between 0 and 1")
        if "latency_ms" in body:
            v = body["latency_ms"]
            if not isinstance(v, (int, float)) or isinstance(v, bool) or v < 0:
                errors.append("latency_ms must be a non-negative number")
        for flag in ("hang", "down", "unhealthy"):
            if flag in body and not isinstance(body[flag], bool):
                errors.append(f"{flag} must be a boolean")
        if "hang_mode" in body and body["hang_mode"] not in ("after_send", "before_send"):
            errors.append("hang_mode must be 'after_send' or 'before_send'")
        if "error_message" in body and not isinstance(body["error_message"], str):
            errors.append("error_message must be a string")
        if errors:
            return errors
        for name in self.FIELDS:
            if name in body:
                setattr(self, name, body[name])
        if self.hang:
            self.release.clear()
        else:
            self.release.set()
        return []

    def as_dict(self) -> dict:
        return {name: getattr(self, name) for name in self.FIELDS}
