"""``manage.py seed_demo``: the demo tenants acme and globex, one user per role.

Idempotent: what exists is left as it is, so a second run changes nothing.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand
from django_tenants.utils import tenant_context

from accounts.models import User
from accounts.roles import Role
from core.tenancy import tenant_connection
from sessions_waha.models import Session
from sessions_waha.services import WahaUnavailable, session_create, session_declare, waha_reachable
from tenants.models import Tenant
from tenants.services import TenantSpec, tenant_ensure_user, tenant_provision

DEMO_TENANTS = (("acme", "Acme Corp"), ("globex", "Globex Corporation"))
DEMO_SESSION = "main"
PLATFORM_EMAIL = "platform@example.com"
PLATFORM_PASSWORD = "Platform-Demo-2026"


def demo_password(slug: str, role: str) -> str:
    return f"{slug.capitalize()}-{role.split('_')[-1].capitalize()}-Demo-2026"


def demo_email(slug: str, role: str) -> str:
    return f"{role.split('_')[-1].lower()}@{slug}.test"


class Command(BaseCommand):
    help = "Provision the demo tenants acme and globex with one user per role, and a platform admin."

    def handle(self, *args: Any, **options: Any) -> None:
        tenant_connection().set_schema_to_public()
        if not User.objects.filter(email=PLATFORM_EMAIL).exists():
            User.objects.create_superuser(PLATFORM_EMAIL, PLATFORM_PASSWORD)
        rows = [("public", "platform staff", PLATFORM_EMAIL, PLATFORM_PASSWORD)]
        for slug, name in DEMO_TENANTS:
            tenant = Tenant.objects.filter(slug=slug).first()
            if tenant is None:
                tenant = tenant_provision(TenantSpec(
                    slug, name, f"{slug}.localhost",
                    demo_email(slug, Role.TENANT_ADMIN), demo_password(slug, Role.TENANT_ADMIN),
                ))
                self.stdout.write(f"provisioned tenant {slug}")
            for role in Role:
                tenant_ensure_user(tenant=tenant, email=demo_email(slug, role),
                                   password=demo_password(slug, role), role=role)
                rows.append((slug, role.value, demo_email(slug, role), demo_password(slug, role)))
            self._ensure_demo_session(tenant)
        self.stdout.write("\nDemo logins (tenant, role, email, password):")
        for row in rows:
            self.stdout.write("  {:<8} {:<15} {:<24} {}".format(*row))

    def _ensure_demo_session(self, tenant: Tenant) -> None:
        """Each demo tenant gets a session 'main'; the sandbox pairs it by itself."""
        with tenant_context(tenant):
            if Session.objects.alive().filter(name=DEMO_SESSION).exists():
                return
            try:
                if not waha_reachable():
                    raise WahaUnavailable("WAHA does not answer /ping")
                session = session_create(name=DEMO_SESSION)
                self.stdout.write(f"session {tenant.slug}/{DEMO_SESSION}: {session.status}")
            except WahaUnavailable:
                session_declare(name=DEMO_SESSION)
                self.stdout.write(f"session {tenant.slug}/{DEMO_SESSION}: WAHA not reachable yet; "
                                  "the worker creates it there once it answers")
