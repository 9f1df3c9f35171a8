from django.apps import AppConfig


class EventsConfig(AppConfig):
    """Event webhooks to tenants: the outbox of events, their endpoints and deliveries."""

    name = "events"
    verbose_name = "Event webhooks"

    def ready(self) -> None:
        from core.web.metrics import scrape_time_collector_register
        from events.metrics import EventDeliveriesCollector

        scrape_time_collector_register(EventDeliveriesCollector())
