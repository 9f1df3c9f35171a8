from django.urls import path

from messaging import api, api_media, api_uploads

urlpatterns = [
    path("messages", api.MessageListView.as_view(), name="message-list"),
    path("messages/send", api.SendView.as_view(), name="message-send"),
    path("messages/bulk", api.BulkView.as_view(), name="message-bulk"),
    path("messages/stats", api.StatsView.as_view(), name="message-stats"),
    path("messages/batches/<uuid:batch_id>", api.BatchView.as_view(), name="batch-detail"),
    path("messages/<uuid:message_id>", api.MessageDetailView.as_view(), name="message-detail"),
    path("messages/<uuid:message_id>/retry", api.MessageRetryView.as_view(), name="message-retry"),
    path("messages/<uuid:message_id>/media", api_media.MessageMediaView.as_view(), name="message-media"),
    path("media", api_uploads.MediaUploadView.as_view(), name="media-upload"),
    path("conversations", api.ConversationListView.as_view(), name="conversation-list"),
    path("conversations/<uuid:conversation_id>", api.ConversationDetailView.as_view(), name="conversation-detail"),
]
