"""The API key format: ``wgk_<8-character id>_<43-character secret>``, and its hash.

- ``wgk_`` makes a leaked key recognisable (secret scanners, log reviews).
- The 8 characters after it are the key's public ``prefix`` id: shown in lists, and how a presented
  key finds its row without scanning every hash.
- The secret is 43 random base-62 characters: 256 bits from ``secrets``.

Only SHA-256 of the whole key is stored. A slow password hash (bcrypt, PBKDF2) exists to make guessing
a human-chosen password expensive; a 256-bit random secret cannot be guessed either way, and a fast
hash keeps checking a key cheaper than verifying a JWT, on every request. The hash is compared in
constant time.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import string

KEY_MARKER = "wgk_"
PREFIX_LENGTH = 8
SECRET_LENGTH = 43  # 43 * log2(62) = 256 bits
_ALPHABET = string.ascii_letters + string.digits
KEY_PATTERN = re.compile(rf"({KEY_MARKER}[A-Za-z0-9]{{{PREFIX_LENGTH}}})_[A-Za-z0-9]{{{SECRET_LENGTH}}}")


def _random(length: int) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


def key_generate() -> tuple[str, str]:
    """A new key and its prefix."""
    prefix = KEY_MARKER + _random(PREFIX_LENGTH)
    return f"{prefix}_{_random(SECRET_LENGTH)}", prefix


def key_prefix(key: str) -> str | None:
    """The prefix of a well-formed key; None for anything else (which then costs no database read)."""
    match = KEY_PATTERN.fullmatch(key)
    return match.group(1) if match else None


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def key_matches(key: str, stored_hash: str) -> bool:
    return hmac.compare_digest(key_hash(key), stored_hash)
