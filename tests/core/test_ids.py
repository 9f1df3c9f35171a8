"""core.db.ids: RFC 9562 version 7 UUIDs, time-ordered across milliseconds."""

from __future__ import annotations

import time
import uuid

from core.db.ids import uuid7, uuid7_many


def test_layout_is_version_7_with_the_rfc_variant_and_the_time_in_front():
    before = time.time_ns() // 1_000_000
    value = uuid7()
    after = time.time_ns() // 1_000_000
    assert value.version == 7 and value.variant == uuid.RFC_4122
    assert before <= value.int >> 80 <= after


def test_ids_sort_by_creation_time_and_do_not_repeat():
    first = uuid7()
    time.sleep(0.002)
    batch = uuid7_many(1000)
    assert all(first < later for later in batch)
    assert len(set(batch)) == 1000 and {item.version for item in batch} == {7}
