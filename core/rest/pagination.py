"""Cursor pagination: stable under inserts, constant cost on deep pages."""

from __future__ import annotations

import re
from typing import Any

from rest_framework.exceptions import ValidationError
from rest_framework.pagination import CursorPagination as DRFCursorPagination
from rest_framework.request import Request
from rest_framework.views import APIView

_WHOLE_NUMBER = re.compile(r"[0-9]{1,9}")


class CursorPagination(DRFCursorPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200
    ordering = "-created_at"

    def get_page_size(self, request: Request) -> int:
        """``page_size`` is a whole number from 1 to 200; anything else (empty, 0, 1000, ``null``) is a 400."""
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        size = int(raw) if _WHOLE_NUMBER.fullmatch(raw) else 0
        if not 1 <= size <= self.max_page_size:
            raise ValidationError({self.page_size_query_param: [
                f"Use a whole number from 1 to {self.max_page_size}."]})
        return size

    def get_schema_operation_parameters(self, view: APIView) -> list[dict[str, Any]]:
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"].update(minimum=1, maximum=self.max_page_size, default=self.page_size)
                parameter["description"] = (f"Results per page, from 1 to {self.max_page_size} (default "
                                            f"{self.page_size}); any other value is a 400.")
            elif parameter["name"] == self.cursor_query_param:
                parameter["description"] = "The opaque cursor of a `next` or `previous` link; a bad one is a 404."
        return parameters
