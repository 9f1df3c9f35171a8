"""core.db.statements: hot statements are prepared, and reads survive a dropped connection."""

from __future__ import annotations

from contextlib import contextmanager

import psycopg
import pytest
from django.db import DEFAULT_DB_ALIAS, OperationalError, connection, connections

from core.db import statements as db_statements

pytestmark = pytest.mark.database


@pytest.fixture
def separate_connection(db):
    """A second connection to the test database, outside the test's transaction (as in a web process)."""
    wrapper = connections.create_connection(DEFAULT_DB_ALIAS)
    wrapper.ensure_connection()
    try:
        yield wrapper
    finally:
        wrapper.close()


def test_statements_run_with_prepare_are_prepared_on_the_server(separate_connection):
    # Django turns preparing off unless the settings say otherwise (prepare_threshold None); without it
    # every send's statement was parsed and planned again (bench/RESULTS.md, "Accepted sends").
    raw = separate_connection.connection
    assert raw.prepare_threshold is not None
    with psycopg.Cursor(raw) as cursor:
        cursor.execute("SELECT %(value)s::int + 1", {"value": 41}, prepare=True)
        assert cursor.fetchone() == (42,)
        cursor.execute("SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE 'SELECT $1::int + 1'")
        assert cursor.fetchone() == (1,)


def test_django_cursors_still_bind_on_the_client_and_prepare_nothing(separate_connection):
    with separate_connection.cursor() as cursor:
        for _ in range(10):  # past the threshold
            cursor.execute("SELECT %s::int", [7])
        cursor.execute("SELECT count(*) FROM pg_prepared_statements")
        assert cursor.fetchone() == (0,)


def test_the_process_names_its_connections(separate_connection):
    with separate_connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('application_name')")
        assert cursor.fetchone()[0].startswith("waha-gateway")


class FlakyRead:
    """A read that fails ``failures`` times as a dropped connection does, then answers."""

    def __init__(self, failures: int) -> None:
        self.failures, self.calls = failures, 0

    def __call__(self) -> str:
        self.calls += 1
        if self.calls <= self.failures:
            raise OperationalError("server closed the connection unexpectedly")
        return "row"


@contextmanager
def outside_transaction():
    """As in a web process: no transaction open, and closing the connection is recorded, not done (the
    test's own transaction lives on it)."""
    closed: list[bool] = []
    wrapper = connections[DEFAULT_DB_ALIAS]  # the object itself: the proxy would lose the attributes on undo
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(wrapper, "in_atomic_block", False)
        patch.setattr(wrapper, "close", lambda: closed.append(True))
        yield closed


def test_a_read_that_met_a_dropped_connection_runs_again_on_a_new_one(db):
    read = FlakyRead(failures=1)
    with outside_transaction() as closed:
        assert db_statements.read_retrying(read) == "row"
    assert read.calls == 2 and closed == [True]


def test_a_read_fails_when_the_new_connection_fails_too(db):
    read = FlakyRead(failures=2)
    with outside_transaction(), pytest.raises(OperationalError):
        db_statements.read_retrying(read)
    assert read.calls == 2


def test_a_read_inside_a_transaction_is_not_moved_to_a_new_connection(db):
    read = FlakyRead(failures=1)
    with pytest.raises(OperationalError):
        db_statements.read_retrying(read)
    assert read.calls == 1 and connection.connection is not None


def test_binary_results_load_like_the_orms(acme, make_user):
    """Statements read their results in binary: the user they load equals the ORM's, times included."""
    from django_tenants.utils import tenant_context

    from accounts.authentication import user_by_id
    from accounts.models import User

    user = make_user(acme)
    with tenant_context(acme):
        User.objects.filter(pk=user.pk).update(last_login=user.date_joined)
        by_orm = User.objects.get(pk=user.pk)
        by_statement = user_by_id(user.pk)
    for field in User._meta.concrete_fields:
        assert getattr(by_statement, field.attname) == getattr(by_orm, field.attname), field.name
    assert by_statement.last_login.utcoffset().total_seconds() == 0
    assert by_statement.date_joined.isoformat() == by_orm.date_joined.isoformat()


def test_the_statement_cursor_is_kept_per_connection_and_replaced_with_it(separate_connection, monkeypatch):
    database = separate_connection  # outside the test's transaction, as in a web process
    monkeypatch.setattr(db_statements, "connections", {DEFAULT_DB_ALIAS: database})
    assert db_statements.fetch_one("SELECT 1", {}) == (1,)
    kept = database._statement_cursor
    assert db_statements.fetch_one("SELECT 2", {}) == (2,) and database._statement_cursor is kept
    database.close()
    assert db_statements.fetch_one("SELECT 3", {}) == (3,)
    assert database._statement_cursor is not kept
