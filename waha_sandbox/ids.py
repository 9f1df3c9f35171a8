"""Identifier helpers: ULIDs, WhatsApp-style message ids and request ids."""

from __future__ import annotations

import os
import random
import time
from itertools import count

_CROCKFORD = "0123456789abcdefghjkmnpqrstvwxyz"
# Every 10-bit value as two Crockford characters, so a ULID takes 13 table lookups.
_PAIRS = [a + b for a in _CROCKFORD for b in _CROCKFORD]
_B36 = "0123456789abcdefghijklmnopqrstuvwxyz"
_uniq_counter = count()


_getrandbits = random.SystemRandom().getrandbits if os.environ.get("WAHA_SANDBOX_SECURE_IDS") else random.getrandbits


def _rand_bytes(n: int) -> bytes:
    """Random bytes for ids; they only need to be unique, not secret."""
    return _getrandbits(n * 8).to_bytes(n, "big")


def now_ms() -> int:
    return int(time.time() * 1000)


def ulid(ts_ms: int | None = None) -> str:
    """Return a 26-character lower-case ULID (48-bit ms time + 80 random bits)."""
    ts = now_ms() if ts_ms is None else ts_ms
    n = ((ts & 0xFFFFFFFFFFFF) << 80) | _getrandbits(80)
    pairs = _PAIRS
    return "".join([pairs[(n >> shift) & 1023] for shift in range(120, -10, -10)])


def event_id(ts_ms: int | None = None) -> str:
    return "evt_" + ulid(ts_ms)


def _b36(n: int) -> str:
    if n == 0:
        return "0"
    out = []
    while n:
        n, r = divmod(n, 36)
        out.append(_B36[r])
    return "".join(reversed(out))


def uniqid() -> str:
    """A short time-based base36 id, similar to the npm ``uniqid`` output."""
    micros = time.time_ns() // 1000
    tail = _b36(next(_uniq_counter) % 1296).rjust(2, "0") + _b36(os.getpid() % 1296).rjust(2, "0")
    return (_b36(micros) + tail)[-15:]


def wa_id() -> str:
    """A random outgoing WhatsApp message id in the ``3EB0...`` form (22 chars)."""
    return "3EB0" + _rand_bytes(9).hex().upper()


def inbound_wa_id() -> str:
    """A random id for a message that "arrived" from another phone (20 chars)."""
    return "3EB0" + _rand_bytes(8).hex().upper()


def ensure_suffix(chat_id: str) -> str:
    """Append ``@c.us`` when the chat id has no ``@`` at all (WAHA does only this)."""
    return chat_id if "@" in chat_id else chat_id + "@c.us"


def to_c_us(jid: str) -> str:
    """Map the engine-internal ``@s.whatsapp.net`` suffix to ``@c.us``."""
    if jid.endswith("@s.whatsapp.net"):
        return jid[: -len("@s.whatsapp.net")] + "@c.us"
    return jid


def to_s_whatsapp(jid: str) -> str:
    """Map ``@c.us`` to the ``@s.whatsapp.net`` form NOWEB/GOWS use internally."""
    if jid.endswith("@c.us"):
        return jid[: -len("@c.us")] + "@s.whatsapp.net"
    return jid


def build_message_id(from_me: bool, chat_id: str, wa: str, participant: str | None = None) -> str:
    """Serialise a message id as ``{fromMe}_{chatId}_{waId}[_{participant}]``."""
    base = f"{'true' if from_me else 'false'}_{chat_id}_{wa}"
    return f"{base}_{participant}" if participant else base


def split_message_id(value: str) -> tuple[bool | None, str | None, str, str | None]:
    """Best-effort inverse of :func:`build_message_id`.

    Returns ``(fromMe, chatId, waId, participant)``; a bare waId gives
    ``(None, None, waId, None)``.
    """
    if value.startswith(("true_", "false_")):
        parts = value.split("_", 3)
        if len(parts) >= 3:
            participant = parts[3] if len(parts) == 4 else None
            return parts[0] == "true", parts[1], parts[2], participant
    return None, None, value, None
