"""The deployment tests read files and start short subprocesses: no database, no Redis."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def _public_schema_and_clean_limits() -> Iterator[None]:
    """Replace the root conftest's autouse fixture, which clears a Redis cache."""
    yield
