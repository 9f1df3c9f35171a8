"""The Celery app. Tasks run in the schema of the tenant active when sent.

tenant-schemas-celery records the active schema in each task's headers and
re-enters it in the worker, so a task never silently runs in ``public``.
"""

import os

from tenant_schemas_celery.app import CeleryApp

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = CeleryApp("config")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
