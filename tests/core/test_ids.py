"""core.db.ids: RFC 9562 version 7 UUIDs, time-ordered across milliseconds."""

from __future__ import annotations

import time
import uuid
from types import SimpleNamespace

from core.db import ids
from core.db.ids import uuid7, uuid7_many


def test_layout_is_version_7_with_the_rfc_variant_and_the_time_in_front():
    before = time.time_ns() // 1_000_000
    value = uuid7()
    after = time.time_ns() // 1_000_000
    assert value.version == 7 and value.variant == uuid.RFC_4122
    assert before <= value.int >> 80 <= after


def test_ids_sort_by_creation_time_and_do_not_repeat(monkeypatch):
    # A clock the test moves (no sleeping for a tick): the batch is made one millisecond after ``first``.
    start_ms = 1_767_225_600_000
    clock_ns = [start_ms * 1_000_000]
    monkeypatch.setattr(ids, "time", SimpleNamespace(time_ns=lambda: clock_ns[0]))
    first = uuid7()
    clock_ns[0] += 1_000_000
    batch = uuid7_many(1000)
    assert first.int >> 80 == start_ms and {item.int >> 80 for item in batch} == {start_ms + 1}
    assert all(first < later for later in batch)
    assert len(set(batch)) == 1000 and {item.version for item in batch} == {7}
