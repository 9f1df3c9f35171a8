"""URLs of a tenant host (or any host with ``X-Tenant``)."""

from django.contrib import admin
from django.urls import include, path, re_path
from django.views.generic import RedirectView

from config.urls_common import urlpatterns as common_patterns
from core import problems

urlpatterns = [
    *common_patterns,
    path("", include("accounts.urls")),
    path("", include("sessions_waha.urls")),
    path("", include("apikeys.urls")),
    path("", include("messaging.urls")),
    path("admin", RedirectView.as_view(url="/admin/", permanent=False)),
    path("admin/", admin.site.urls),
    path("", include("webhooks.urls")),
    path("", include("events.urls")),
    # Anything else is a JSON 404, also with DEBUG on.
    re_path(r"^", problems.not_found_view),
]

handler400 = "core.problems.bad_request_view"
handler403 = "core.problems.permission_denied_view"
handler404 = "core.problems.not_found_view"
handler500 = "core.problems.server_error_view"
