"""Celery entry points of the messaging pipeline.

Tasks take the tenant's schema name as an argument and enter it themselves:
an ``on_commit`` hook can run after the request's tenant context is gone, and
a task must never run in ``public`` by accident (PITFALLS 12).
"""

from __future__ import annotations

import logging

from celery import shared_task
from django_tenants.utils import schema_context

from messaging.services import dispatch, pacing, sweeper
from messaging.services.kick import DISPATCH_SESSION
from tenants.models import Tenant

logger = logging.getLogger("messaging.tasks")

# Countdowns stay far below the broker's visibility timeout (PITFALLS 13);
# anything longer waits in the database and the sweeper picks it up.
MAX_COUNTDOWN_SECONDS = 60


@shared_task(name=DISPATCH_SESSION, ignore_result=True, acks_late=True)
def dispatch_session(schema_name: str, session_id: str) -> None:
    """Send one session's due messages, then schedule the next run if needed."""
    with schema_context(schema_name):
        pacing.kick_release(session_id)
        result = dispatch.dispatch_session(session_id=session_id)
        if result.again_now:
            _schedule(schema_name, session_id, countdown=0)
        elif result.wait is not None and result.wait <= MAX_COUNTDOWN_SECONDS:
            _schedule(schema_name, session_id, countdown=result.wait)


def _schedule(schema_name: str, session_id: str, *, countdown: float) -> None:
    if pacing.kick_claim(session_id, seconds=int(countdown) + 30):
        dispatch_session.apply_async(args=(schema_name, session_id), countdown=countdown, retry=False)


@shared_task(name="messaging.sweep", ignore_result=True)
def sweep_all() -> None:
    """Every tenant: requeue lost work, settle stuck sends, close finished batches."""
    for tenant in Tenant.objects.filter(is_active=True).only("schema_name", "slug"):
        with schema_context(tenant.schema_name):
            report = sweeper.sweep()
        if any(report.values()):
            logger.info("messaging.swept tenant=%s %s", tenant.slug,
                        " ".join(f"{key}={value}" for key, value in report.items()))


@shared_task(name="messaging.stats_refresh", ignore_result=True)
def stats_refresh_all() -> None:
    """Every tenant: rebuild the daily stats rollup for closed days that changed."""
    from messaging.services.stats import stats_refresh

    for tenant in Tenant.objects.filter(is_active=True).only("schema_name", "slug"):
        with schema_context(tenant.schema_name):
            rebuilt = stats_refresh()
        if rebuilt:
            logger.info("messaging.stats_refreshed tenant=%s days=%s", tenant.slug, rebuilt)


@shared_task(name="messaging.uploads_expire", ignore_result=True)
def uploads_expire_all() -> None:
    """Every tenant: delete expired uploads for sending that no open message needs any more."""
    from messaging.services.uploads import uploads_expire

    for tenant in Tenant.objects.filter(is_active=True).only("schema_name", "slug"):
        with schema_context(tenant.schema_name):
            report = uploads_expire()
        if any(report.values()):
            logger.info("messaging.uploads_expired tenant=%s %s", tenant.slug,
                        " ".join(f"{key}={value}" for key, value in report.items()))
