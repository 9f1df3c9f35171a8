"""URLs of the public host: probes, docs, WAHA webhooks and the platform admin only."""

from django.contrib import admin
from django.urls import include, path, re_path
from django.views.generic import RedirectView

from config.urls_common import urlpatterns as common_patterns
from core import problems

urlpatterns = [
    *common_patterns,
    path("admin", RedirectView.as_view(url="/admin/", permanent=False)),
    path("admin/", admin.site.urls),
    path("", include("webhooks.urls")),
    re_path(r"^", problems.not_found_view),
]

handler400 = "core.problems.bad_request_view"
handler403 = "core.problems.permission_denied_view"
handler404 = "core.problems.not_found_view"
handler500 = "core.problems.server_error_view"
