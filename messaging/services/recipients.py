"""Turning what a client typed into a WhatsApp chat id (WAHA.md §4, §9.5)."""

from __future__ import annotations

from sessions_waha.waha import InvalidChatId, normalize_chat_id


class InvalidRecipient(ValueError):
    """``to`` is not a phone number or chat id; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def recipient_chat_id(to: object) -> str:
    """``+49 (151) 123-45678``, ``4915112345678``, ``…@c.us``, ``…@g.us`` or ``…@lid`` → a chat id."""
    if not isinstance(to, str) or not to.strip():
        raise InvalidRecipient("A recipient is required.")
    try:
        return normalize_chat_id(to.strip())
    except InvalidChatId as exc:
        raise InvalidRecipient(exc.reason) from exc


def is_phone_chat(chat_id: str) -> bool:
    """A person reached by phone number: the kind check-exists can verify."""
    return chat_id.endswith("@c.us")
