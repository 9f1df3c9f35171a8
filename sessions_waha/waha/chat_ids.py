"""Turning user-typed recipients into WAHA chat ids.

WAHA only appends ``@c.us`` when there is no ``@``; it does not strip ``+``, spaces or
dashes, so ``+1 213-213-2131`` would go to a chat that does not exist (WAHA.md §4). We
normalise here, before any request, and refuse what cannot be a one-to-one chat, a group
or a ``@lid`` reply target (WAHA.md §9.5).
"""

from __future__ import annotations

import re

from .errors import InvalidChatId

__all__ = ["InvalidChatId", "normalize_chat_id", "phone_digits"]

# E.164 allows at most 15 digits; below 7 no country has subscriber numbers.
MIN_PHONE_DIGITS = 7
MAX_PHONE_DIGITS = 15

_PHONE_INPUT = re.compile(r"^\+?[0-9 ().\-]+$")
_DIGITS = re.compile(r"^[0-9]+$")
# Groups are ``<digits>`` today and ``<creator>-<timestamp>`` for old groups.
_GROUP_LOCAL = re.compile(r"^[0-9]+(-[0-9]+)?$")
# NOWEB/GOWS jids may carry a device suffix (``15550001111:5@s.whatsapp.net``).
_DEVICE_SUFFIX = re.compile(r":[0-9]+$")

_REFUSED_SUFFIXES = {
    "newsletter": "channels (@newsletter) cannot be messaged through this service",
    "broadcast": "status and broadcast lists (@broadcast) cannot be messaged through this service",
}


def normalize_chat_id(value: str) -> str:
    """Return the WAHA chat id for a phone number or chat id, or raise ``InvalidChatId``."""
    if not isinstance(value, str):
        raise InvalidChatId(f"chat id must be a string, not {type(value).__name__}")
    text = value.strip()
    if not text:
        raise InvalidChatId("chat id is empty")
    if "@" in text:
        return _normalize_jid(text)
    return f"{_phone_number_digits(text)}@c.us"


def phone_digits(chat_id: str) -> str:
    """Return the international digits of a person's number (for ``check-exists``)."""
    normalized = normalize_chat_id(chat_id)
    local, _, suffix = normalized.partition("@")
    if suffix != "c.us":
        raise InvalidChatId(f"@{suffix} ids have no phone number")
    return local


def _normalize_jid(text: str) -> str:
    local, _, suffix = text.partition("@")
    suffix = suffix.lower()
    if "@" in suffix:
        raise InvalidChatId("chat id has more than one @")
    if not local:
        raise InvalidChatId("chat id has nothing before the @")
    if suffix in _REFUSED_SUFFIXES:
        raise InvalidChatId(_REFUSED_SUFFIXES[suffix])
    if suffix in ("c.us", "s.whatsapp.net"):
        if suffix == "s.whatsapp.net":
            # The internal NOWEB/GOWS form of the same user (WAHA.md §4).
            local = _DEVICE_SUFFIX.sub("", local)
        if not _DIGITS.match(local):
            raise InvalidChatId(f"@{suffix} ids must be digits only before the @")
        return f"{_check_phone_digits(local)}@c.us"
    if suffix == "g.us":
        if not _GROUP_LOCAL.match(local):
            raise InvalidChatId("group ids must look like 120363012345678901@g.us or 123-456@g.us")
        return f"{local}@g.us"
    if suffix == "lid":
        if not _DIGITS.match(local):
            raise InvalidChatId("@lid ids must be digits only before the @")
        return f"{local}@lid"
    raise InvalidChatId(f"unsupported chat id suffix @{suffix}")


def _phone_number_digits(text: str) -> str:
    if not _PHONE_INPUT.match(text):
        raise InvalidChatId(
            "phone numbers may contain only digits, one leading +, spaces, dashes, dots"
            " and brackets"
        )
    digits = re.sub(r"[^0-9]", "", text)
    if digits.startswith("00"):
        # International call prefix used in Europe and elsewhere, same meaning as "+".
        digits = digits[2:]
    return _check_phone_digits(digits)


def _check_phone_digits(digits: str) -> str:
    if not digits:
        raise InvalidChatId("phone number has no digits")
    if digits.startswith("0"):
        # E.164 country codes never start with 0; this is a national number that WhatsApp
        # would route to the wrong country.
        raise InvalidChatId("phone number starts with 0: include the country code")
    if not MIN_PHONE_DIGITS <= len(digits) <= MAX_PHONE_DIGITS:
        raise InvalidChatId(
            f"phone number has {len(digits)} digits;"
            f" E.164 numbers have {MIN_PHONE_DIGITS} to {MAX_PHONE_DIGITS}"
        )
    return digits
