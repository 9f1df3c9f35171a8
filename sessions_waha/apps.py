from django.apps import AppConfig


class SessionsWahaConfig(AppConfig):
    name = "sessions_waha"
    verbose_name = "WhatsApp"
