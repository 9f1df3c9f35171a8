from django.urls import path

from webhooks import api

urlpatterns = [
    path("webhooks/waha", api.WahaWebhookView.as_view(), name="webhook-waha"),
    path("webhooks/health", api.WebhookHealthView.as_view(), name="webhook-health"),
]
