from django.urls import path

from events import api

urlpatterns = [
    path("webhooks/endpoints", api.EndpointListView.as_view(), name="webhook-endpoint-list"),
    path("webhooks/endpoints/<uuid:endpoint_id>", api.EndpointDetailView.as_view(), name="webhook-endpoint-detail"),
    path(
        "webhooks/endpoints/<uuid:endpoint_id>/rotate-secret",
        api.EndpointRotateSecretView.as_view(),
        name="webhook-endpoint-rotate-secret",
    ),
    path("webhooks/endpoints/<uuid:endpoint_id>/test", api.EndpointTestView.as_view(), name="webhook-endpoint-test"),
    path(
        "webhooks/endpoints/<uuid:endpoint_id>/deliveries",
        api.EndpointDeliveriesView.as_view(),
        name="webhook-endpoint-deliveries",
    ),
    path(
        "webhooks/endpoints/<uuid:endpoint_id>/replay", api.EndpointReplayView.as_view(), name="webhook-endpoint-replay"
    ),
    path("webhooks/deliveries/<uuid:delivery_id>", api.DeliveryDetailView.as_view(), name="webhook-delivery-detail"),
    path(
        "webhooks/deliveries/<uuid:delivery_id>/replay",
        api.DeliveryReplayView.as_view(),
        name="webhook-delivery-replay",
    ),
]
