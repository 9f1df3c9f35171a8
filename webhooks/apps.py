from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    name = "webhooks"

    def ready(self) -> None:
        from core.web.metrics import scrape_time_collector_register
        from messaging.console_hooks import message_events_lister_register
        from webhooks.metrics import PendingEventsCollector
        from webhooks.selectors import console_event_links

        scrape_time_collector_register(PendingEventsCollector())
        message_events_lister_register(console_event_links)
