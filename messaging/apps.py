from django.apps import AppConfig


class MessagingConfig(AppConfig):
    name = "messaging"

    def ready(self) -> None:
        from core.web.metrics import scrape_time_collector_register
        from events.render import message_renderer_register
        from messaging.event_data import message_events_render
        from messaging.metrics import QueueDepthCollector
        from messaging.services.sending import messages_fail_on_session_deleted
        from sessions_waha.signals import session_deleted

        scrape_time_collector_register(QueueDepthCollector())
        # events sits below messaging: it renders message events with what messaging registers here.
        message_renderer_register(message_events_render)
        # sessions_waha sits below messaging and never imports it: it signals, messaging reacts.
        session_deleted.connect(messages_fail_on_session_deleted, dispatch_uid="messaging.fail_on_session_deleted")
