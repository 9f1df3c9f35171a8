"""core.db.backend: ``SET search_path`` only when the database session's path differs."""

from __future__ import annotations

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django_tenants.utils import schema_context, tenant_context

pytestmark = pytest.mark.database


def _sets(captured: CaptureQueriesContext) -> list[str]:
    return [q["sql"] for q in captured.captured_queries if q["sql"].startswith("SET search_path")]


def _current_schema() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_schema()")
        return cursor.fetchone()[0]


def test_same_tenant_again_issues_no_set(acme):
    with tenant_context(acme):
        _current_schema()
    with CaptureQueriesContext(connection) as captured, tenant_context(acme):  # what the next request for acme does
        assert _current_schema() == acme.schema_name
    assert _sets(captured) == []


def test_another_tenant_or_public_sets_the_path(acme, globex):
    with tenant_context(acme):
        _current_schema()
    with CaptureQueriesContext(connection) as captured:
        with tenant_context(globex):
            assert _current_schema() == globex.schema_name
        with schema_context("public"):
            assert _current_schema() == "public"
    assert _sets(captured) == ['SET search_path = "t_globex","public"', 'SET search_path = "public"']


def test_rolled_back_set_is_issued_again(acme, globex):
    """A SET undone by a rollback (here to a savepoint) is not trusted: the next cursor sets the path again."""
    with tenant_context(acme):
        _current_schema()
    with pytest.raises(RuntimeError), transaction.atomic(), tenant_context(globex):
        assert _current_schema() == globex.schema_name
        raise RuntimeError("roll back")
    with CaptureQueriesContext(connection) as captured, tenant_context(globex):
        assert _current_schema() == globex.schema_name
    assert len(_sets(captured)) == 1


def test_a_new_connection_sets_the_path(acme):
    with tenant_context(acme):
        _current_schema()
    assert connection.session_search_path == [acme.schema_name, "public"]
    connection.close()
    assert connection.session_search_path is None
