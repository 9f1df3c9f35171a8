"""Time-ordered UUIDs (version 7, RFC 9562 §5.7) for rows inserted in bulk.

A random (version 4) primary key sends each insert to a random leaf of the
primary-key index: a 10,000-message bulk touched thousands of index pages, and
after each checkpoint PostgreSQL writes every touched page in full to the WAL
before the commit can return. Version 7 ids start with the time in
milliseconds, so new rows land on the rightmost pages. They are still UUIDs
(clients see no difference) and still unguessable (74 random bits).
Python 3.14 has ``uuid.uuid7``; this is the same layout for 3.11.
"""

from __future__ import annotations

import os
import time
import uuid
from typing import TypeAlias

# A row's primary key as a URL or a form gives it (str) or as the database returns it (UUID);
# the ORM takes either.
RowId: TypeAlias = uuid.UUID | str


def _uuid7_from(milliseconds: int, random_bytes: bytes) -> uuid.UUID:
    """48-bit Unix time in ms, version 7, 12 + 62 random bits, RFC 4122 variant."""
    value = (milliseconds & 0xFFFF_FFFF_FFFF) << 80 | int.from_bytes(random_bytes, "big")
    value = (value & ~(0xF << 76)) | (0x7 << 76)  # version 7
    value = (value & ~(0x3 << 62)) | (0x2 << 62)  # variant 10
    return uuid.UUID(int=value)


def uuid7() -> uuid.UUID:
    return _uuid7_from(time.time_ns() // 1_000_000, os.urandom(10))


def uuid7_many(count: int) -> list[uuid.UUID]:
    """``count`` ids from one read of the system's random source (a bulk needs 20,000 of them)."""
    milliseconds = time.time_ns() // 1_000_000
    pool = os.urandom(10 * count)
    return [_uuid7_from(milliseconds, pool[index:index + 10]) for index in range(0, 10 * count, 10)]
