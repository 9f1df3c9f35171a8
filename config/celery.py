"""The Celery app. Tasks run in the schema of the tenant active when sent.

tenant-schemas-celery records the active schema in each task's headers and
re-enters it in the worker, so a task never silently runs in ``public``.
"""

import os

from celery.signals import worker_ready
from tenant_schemas_celery.app import CeleryApp

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = CeleryApp("config")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_ready.connect
def _reconcile_sessions_at_start(sender, **kwargs) -> None:
    """Sessions seeded while WAHA was down become real as soon as a worker runs."""
    sender.app.send_task("sessions_waha.reconcile_all")
