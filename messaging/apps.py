from django.apps import AppConfig


class MessagingConfig(AppConfig):
    name = "messaging"

    def ready(self) -> None:
        from core.web.metrics import scrape_time_collector_register
        from messaging.metrics import QueueDepthCollector
        from messaging.services.sending import messages_fail_on_session_deleted
        from sessions_waha.signals import session_deleted

        scrape_time_collector_register(QueueDepthCollector())
        # sessions_waha sits below messaging and never imports it: it signals, messaging reacts.
        session_deleted.connect(messages_fail_on_session_deleted, dispatch_uid="messaging.fail_on_session_deleted")
