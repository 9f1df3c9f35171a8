"""Time-ordered UUIDs (version 7, RFC 9562 §5.7) for rows inserted in bulk.

A random (version 4) primary key sends each insert to a random leaf of the
primary-key index: a 10,000-message bulk touched thousands of index pages, and
after each checkpoint PostgreSQL writes every touched page in full to the WAL
before the commit can return. Version 7 ids start with the time in
milliseconds, so new rows land on the rightmost pages. They are still UUIDs
(clients see no difference).

Python 3.14 has ``uuid.uuid7``; on 3.11 they come from ``uuid-utils`` (Rust's ``uuid`` crate). Its ``compat``
module returns the standard library's ``uuid.UUID`` (what psycopg and Django take), and the ids of a process
strictly increase, within a millisecond too: after the time come a 42-bit counter, started at random each
millisecond, and 32 random bits (RFC 9562 §6.2, method 2). An id is not a secret: every lookup checks who asks.
It is faster than the hand-written version it replaced (bench/RESULTS.md, "Per-request caches and ids").
"""

from __future__ import annotations

import uuid
from typing import TypeAlias

from uuid_utils import compat

__all__ = ["RowId", "uuid7", "uuid7_many"]

# A row's primary key as a URL or a form gives it (str) or as the database returns it (UUID);
# the ORM takes either.
RowId: TypeAlias = uuid.UUID | str


def uuid7() -> uuid.UUID:
    """A new id (a function of this module: the models' ``default`` and their migrations name it)."""
    return compat.uuid7()


def uuid7_many(count: int) -> list[uuid.UUID]:
    """``count`` new ids in increasing order (a bulk needs 20,000 of them)."""
    new = compat.uuid7
    return [new() for _ in range(count)]
