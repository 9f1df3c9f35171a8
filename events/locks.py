"""The one rule that lets an endpoint be deleted while events are being written and delivered.

Django's foreign keys are ``DEFERRABLE INITIALLY DEFERRED``: PostgreSQL checks
them at commit, and takes no lock on the referenced row before then. So a
delivery (or an attempt of one) written while the endpoint is being deleted
would fail one of the two commits: the delete's, if the row committed after the
delete had collected what to cascade (a 500 to the user), or the writer's, if
the delete committed first (a message status change rolled back with its
event).

The rule: a transaction that writes rows under an endpoint (the outbox's
deliveries, the drainer's attempts) holds the endpoint's row ``FOR KEY SHARE``
until it commits, and writes nothing for an endpoint it could not hold (it is
gone). The delete takes the row ``FOR UPDATE`` before it collects. Whichever
comes first, the other waits for its commit: the delete then cascades the
writer's rows too, or the writer finds the endpoint gone and skips it. Writers
never wait for each other (``KEY SHARE`` locks share), only for a delete.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import connection

from core.db.ids import RowId
from events.models import Endpoint

# For a statement that joins the endpoint table as ``e`` (the outbox's fan-out): hold the endpoints it writes
# to. Under READ COMMITTED a row that a delete removed (or a change disabled) meanwhile drops out of the join.
HOLD_ENDPOINT_ROWS_SQL = "FOR KEY SHARE OF e"


def endpoints_hold(*, where_sql: str, params: Sequence[Any]) -> list[RowId]:
    """Hold the endpoints (``e``) that match ``where_sql`` until the transaction ends; their ids, in id order.

    Call inside the transaction that writes their rows.
    """
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT e.id FROM {Endpoint._meta.db_table} e WHERE {where_sql} "  # noqa: S608  # nosec B608
            f"ORDER BY e.id {HOLD_ENDPOINT_ROWS_SQL}",
            list(params),
        )
        return [row[0] for row in cursor.fetchall()]


def endpoint_hold(endpoint_id: RowId) -> bool:
    """Hold one endpoint until the transaction ends; False when it is gone (deleted)."""
    return bool(endpoints_hold(where_sql="e.id = %s", params=[endpoint_id]))
