from django.apps import AppConfig


class EventsConfig(AppConfig):
    """Event webhooks to tenants: the outbox of events, their endpoints and deliveries."""

    name = "events"
