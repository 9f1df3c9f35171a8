"""Races against the live stack, played in a fixed order on committed rows (the e2e tenant).

``pauser`` is a second PostgreSQL session that locks one row to hold whichever
side of a race must go first; ``in_thread`` runs a real writer on its own Django
connection; ``one_blocked_by`` waits on PostgreSQL's own view of who blocks whom
(``pg_blocking_pids``), never on a sleep.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import psycopg
import pytest
from django.db import connection
from django_tenants.utils import schema_context

from tests.e2e_fixtures import E2E_SLUG
from tests.support_processes import wait_until

E2E_SCHEMA = f"t_{E2E_SLUG}"


@pytest.fixture
def e2e_db(e2e, django_db_blocker) -> Iterator[None]:
    """The test process's own connection, on the e2e tenant's committed rows."""
    with django_db_blocker.unblock(), schema_context(E2E_SCHEMA):
        yield


@pytest.fixture
def pauser(e2e_db) -> Iterator[psycopg.Connection]:
    """A second PostgreSQL session in the e2e schema, in a transaction of its own."""
    settings_dict = connection.settings_dict
    other = psycopg.connect(
        host=settings_dict["HOST"], port=settings_dict["PORT"] or 5432, user=settings_dict["USER"],
        dbname=settings_dict["NAME"], autocommit=True,
    )
    other.execute(f'SET search_path TO "{E2E_SCHEMA}", public')
    other.autocommit = False
    try:
        yield other
    finally:
        other.close()


@pytest.fixture
def threads() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(max_workers=2) as pool:
        yield pool


def in_thread(pool: ThreadPoolExecutor, work: Callable[[], Any]) -> Future:
    """``work`` on its own Django connection in the e2e schema (the connection is closed after)."""

    def run() -> Any:
        try:
            with schema_context(E2E_SCHEMA):
                return work()
        finally:
            connection.close()

    return pool.submit(run)


def blocked_backends(pid: int) -> list[int]:
    """The backends waiting for a lock that backend ``pid`` holds."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pid FROM pg_stat_activity WHERE %s = ANY(pg_blocking_pids(pid))", [pid])
        return [row[0] for row in cursor.fetchall()]


def one_blocked_by(pid: int, what: str) -> int:
    """Wait until exactly one backend waits for ``pid``; its pid."""
    assert wait_until(lambda: len(blocked_backends(pid)) == 1, timeout=10), f"{what} never waited"
    (waiting,) = blocked_backends(pid)
    return waiting
