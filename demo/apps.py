from django.apps import AppConfig


class DemoConfig(AppConfig):
    """The demo data (``manage.py seed_demo``): above every other app, so it may use them all."""

    name = "demo"
