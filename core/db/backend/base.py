"""django-tenants' PostgreSQL backend, without the redundant ``SET search_path``.

django-tenants forgets the connection's search_path whenever a tenant is set
(every request, every ``tenant_context``) and issues ``SET search_path`` again
on the next cursor, even when the database session already has exactly that
path. On a persistent connection (``CONN_MAX_AGE``) serving one tenant, that
is one extra round trip per request, a quarter of a webhook's statements.

This wrapper remembers the path the *database session* has, and skips the
``SET`` when it is already the one wanted. The memory is dropped whenever the
session's path may differ from it: a new or closed connection, a rollback or
a rollback to a savepoint (a ``SET`` is transactional in PostgreSQL), or a
``SET`` that failed.
"""

from __future__ import annotations

from typing import Any

from django_tenants.postgresql_backend import base as tenant_base


class DatabaseWrapper(tenant_base.DatabaseWrapper):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.session_search_path: list[str] | None = None
        super().__init__(*args, **kwargs)

    def _handle_search_path(self, cursor: Any = None) -> None:
        if self._setting_search_path or not self.schema_name:
            super()._handle_search_path(cursor)
            return
        wanted = self._get_cursor_search_paths()
        if self.session_search_path == wanted:
            self.search_path_set_schemas = wanted
            return
        super()._handle_search_path(cursor)
        self.session_search_path = self.search_path_set_schemas

    def get_new_connection(self, conn_params: dict[str, Any]) -> Any:
        self.session_search_path = None
        return super().get_new_connection(conn_params)

    def close(self) -> None:
        self.session_search_path = None
        super().close()

    def rollback(self) -> None:
        self.session_search_path = None
        super().rollback()

    def savepoint_rollback(self, sid: str) -> None:
        try:
            super().savepoint_rollback(sid)
        finally:
            self.session_search_path = None
