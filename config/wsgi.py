"""WSGI entry point for gunicorn (``config.wsgi:application``)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django_application = get_wsgi_application()

from webhooks.wsgi import webhook_fast_path  # noqa: E402 - imports models: Django must be set up first

# POST /webhooks/waha skips Django's middleware stack (see webhooks/wsgi.py); everything else is Django.
application = webhook_fast_path(django_application)
