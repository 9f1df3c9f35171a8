"""The platform console's tenant overview, filled in by the apps that own the numbers.

A tenant's page (``tenants.admin.TenantAdmin``) shows its users, sessions and today's messages, but ``tenants``
sits below the apps that own sessions and messages and may not import them. Each app's admin module registers a
section with ``tenant_overview_section`` instead; the page calls them inside the tenant's schema. (Quota use would
be one more section, once quotas exist.)
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from django.db import DatabaseError, transaction
from django.utils.safestring import SafeString
from django_tenants.models import TenantMixin
from django_tenants.utils import tenant_context

logger = logging.getLogger("core.console.overview")


@dataclass(frozen=True)
class OverviewSection:
    """One box of the overview: a title and its rows of (label, value)."""

    title: str
    rows: list[tuple[str, str | SafeString]] = field(default_factory=list)
    note: str = ""


SectionBuilder = Callable[[], OverviewSection]
# key → (position on the page, builder); keyed, so importing an admin module twice registers nothing twice.
_sections: dict[str, tuple[int, SectionBuilder]] = {}


def tenant_overview_section(key: str, *, order: int) -> Callable[[SectionBuilder], SectionBuilder]:
    """Register ``builder`` as a section of every tenant's overview; it runs in the tenant's schema."""

    def register(builder: SectionBuilder) -> SectionBuilder:
        _sections[key] = (order, builder)
        return builder

    return register


def tenant_overview(tenant: TenantMixin) -> list[OverviewSection]:
    """The sections of ``tenant``'s overview, in order. A section whose query fails says so and the page still
    opens: platform staff most need it for a tenant whose schema is broken."""
    sections = []
    with tenant_context(tenant):
        for key, (_, builder) in sorted(_sections.items(), key=lambda item: item[1][0]):
            try:
                with transaction.atomic():  # a failed query must not break the request's transaction
                    sections.append(builder())
            except DatabaseError as exc:
                logger.warning(
                    "console.overview_failed tenant=%s section=%s error=%s", tenant.pk, key, type(exc).__name__
                )
                sections.append(OverviewSection(key.capitalize(), note=f"Could not be read ({type(exc).__name__})."))
    return sections
