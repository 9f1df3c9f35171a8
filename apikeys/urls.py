from django.urls import path

from apikeys import api

urlpatterns = [
    path("api-keys", api.ApiKeyListView.as_view(), name="api-key-list"),
    path("api-keys/<uuid:api_key_id>", api.ApiKeyDetailView.as_view(), name="api-key-detail"),
]
