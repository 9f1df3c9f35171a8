"""URLs of a tenant host (or any host with ``X-Tenant``)."""

from django.contrib import admin
from django.urls import include, path, re_path
from django.views.generic import RedirectView

from config import problems
from config.urls_common import urlpatterns as common_patterns

urlpatterns = [
    *common_patterns,
    path("", include("accounts.urls")),
    path("", include("sessions_waha.urls")),
    path("", include("messaging.urls")),
    path("admin", RedirectView.as_view(url="/admin/", permanent=False)),
    path("admin/", admin.site.urls),
    path("", include("webhooks.urls")),
    path("", include("events.urls")),
    # Anything else is a JSON 404, also with DEBUG on.
    re_path(r"^", problems.not_found_view),
]

handler400 = "config.problems.bad_request_view"
handler403 = "config.problems.permission_denied_view"
handler404 = "config.problems.not_found_view"
handler500 = "config.problems.server_error_view"
