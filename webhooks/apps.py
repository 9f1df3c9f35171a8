from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "webhooks"

    def ready(self) -> None:
        from core.web.metrics import scrape_time_collector_register
        from webhooks.metrics import PendingEventsCollector

        scrape_time_collector_register(PendingEventsCollector())
