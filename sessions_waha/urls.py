from django.urls import path

from sessions_waha import api

urlpatterns = [
    path("waha/sessions", api.SessionListView.as_view(), name="session-list"),
    path("waha/sessions/<uuid:session_id>", api.SessionDetailView.as_view(), name="session-detail"),
    path("waha/sessions/<uuid:session_id>/qr", api.SessionQrView.as_view(), name="session-qr"),
    path("waha/sessions/<uuid:session_id>/stop", api.SessionStopView.as_view(), name="session-stop"),
]
