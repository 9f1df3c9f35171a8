"""Per-client-IP login limit through django-ratelimit's counters.

django-ratelimit's decorators do not fit DRF views (they see DRF's request
or an empty ``request.POST``); this throttle calls its core directly.
"""

from __future__ import annotations

from django.conf import settings
from django_ratelimit.core import get_usage
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle
from rest_framework.views import APIView


class LoginRateThrottle(BaseThrottle):
    group = "auth.login"

    def allow_request(self, request: Request, view: APIView) -> bool:
        usage = get_usage(
            request._request, group=self.group, key="core.web.client_ip.ratelimit_client_ip",
            rate=settings.LOGIN_RATE, method=["POST"], increment=True,
        )
        self._wait = usage["time_left"] if usage else None
        return not (usage and usage["should_limit"])

    def wait(self) -> float | None:
        return self._wait
