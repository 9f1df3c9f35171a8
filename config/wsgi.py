"""WSGI entry point for gunicorn (``config.wsgi:application``).

Every request, the hottest ones included, goes through Django's middleware and DRF's
authentication, permissions and throttles: there is no second request path to keep in step.
"""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
application = get_wsgi_application()
