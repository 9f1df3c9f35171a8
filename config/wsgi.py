"""WSGI entry point for gunicorn (``config.wsgi:application``)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django_application = get_wsgi_application()

from config.fast_paths import with_fast_paths  # noqa: E402 - imports Django's middleware: Django must be set up first

# POST /webhooks/waha and POST /messages/send are tried outside Django's middleware stack first
# (config/fast_paths.py); everything else is Django.
application = with_fast_paths(django_application)
