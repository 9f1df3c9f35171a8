"""core.db.ids: RFC 9562 version 7 UUIDs, time-ordered, standard-library ``uuid.UUID`` objects."""

from __future__ import annotations

import time
import uuid

from core.db.ids import uuid7, uuid7_many


def test_layout_is_version_7_with_the_rfc_variant_and_the_time_in_front():
    before = time.time_ns() // 1_000_000
    value = uuid7()
    after = time.time_ns() // 1_000_000
    assert type(value) is uuid.UUID  # what psycopg adapts and Django's UUIDField takes
    assert value.version == 7 and value.variant == uuid.RFC_4122
    assert before <= value.int >> 80 <= after


def test_ids_sort_by_creation_order_and_do_not_repeat():
    # Many ids fall in one millisecond: they must still increase, within a batch and across calls.
    first = uuid7()
    batch = uuid7_many(10_000)
    last = uuid7()
    assert [first, *batch, last] == sorted({first, *batch, last})
    assert {type(item) for item in batch} == {uuid.UUID} and {item.version for item in batch} == {7}
