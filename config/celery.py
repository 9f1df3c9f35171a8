"""The Celery app.

Every task that touches tenant data takes the tenant's schema name as an
argument and enters it explicitly (``schema_context``), or iterates over the
tenants itself; none relies on the schema that happened to be active when it
was sent. That is why a plain Celery app is used: header-based schema
switching (tenant-schemas-celery) runs tasks sent from ``public`` in
``public`` and an ``on_commit`` hook may fire after the tenant context is
gone (PITFALLS 12); explicit arguments have neither problem.
"""

import os
from typing import Any

from celery import Celery
from celery.signals import worker_init, worker_ready

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("config")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_ready.connect
def _reconcile_sessions_at_start(sender: Any, **kwargs: Any) -> None:
    """Sessions seeded while WAHA was down become real as soon as a worker runs (the main worker: the events
    worker, ``-Q events``, leaves it to that one)."""
    consumed = set(getattr(sender.app.amqp.queues, "consume_from", None) or {})
    if consumed and sender.app.conf.task_default_queue not in consumed:
        return
    sender.app.send_task("sessions_waha.reconcile_all")


@worker_init.connect
def _serve_worker_metrics(**kwargs: Any) -> None:
    """With ``WORKER_METRICS_PORT`` set, the worker serves its own metrics (``core.web.metrics``)."""
    port = os.environ.get("WORKER_METRICS_PORT", "")
    if port:
        from core.web.metrics import worker_metrics_serve

        worker_metrics_serve(port=int(port))
