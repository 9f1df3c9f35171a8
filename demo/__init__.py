"""The demo data: ``manage.py seed_demo``."""
