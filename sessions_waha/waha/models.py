"""Plain values the client returns (no Django, no requests objects)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SentMessage:
    """Result of a send.

    ``message_id`` is what to store and correlate on: the pre-generated id when the caller
    passed one, else the serialized id (``true_<chat>_<waId>``) found in the response, else
    ``None`` (some WEBJS builds answer with an empty body, WAHA.md §4). ``wa_id`` is the
    bare WhatsApp id inside it, the part acks agree on even for groups (WAHA.md §9.7).
    ``serialized_id`` is the full id read from the response, when there was one.
    ``raw_status`` is the engine's own delivery field (NOWEB ``status`` like ``"PENDING"``,
    or WEBJS ``ackName``/``ack``), informational only.
    """

    message_id: str | None
    wa_id: str | None
    raw_status: str | int | None = None
    serialized_id: str | None = None


@dataclass(frozen=True, slots=True)
class NumberCheck:
    """Answer of ``check-exists``: send to ``chat_id``, not the typed number (WAHA.md §9.6)."""

    exists: bool
    chat_id: str | None


@dataclass(frozen=True, slots=True)
class MediaFile:
    """A media file downloaded from WAHA's ``/api/files/`` (WAHA.md §6)."""

    content: bytes
    mimetype: str
    filename: str | None

    def __repr__(self) -> str:
        # Keep megabytes of binary out of logs and test failure output.
        return (
            f"MediaFile(mimetype={self.mimetype!r}, filename={self.filename!r},"
            f" size={len(self.content)})"
        )
