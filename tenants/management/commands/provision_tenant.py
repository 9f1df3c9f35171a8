"""``manage.py provision_tenant``: create a tenant with its domain and first admin."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from core.problems import ServiceError
from tenants.services import TenantSpec, tenant_provision


class Command(BaseCommand):
    help = "Create a tenant (schema, migrations, domain, first TENANT_ADMIN). Leaves nothing behind on failure."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--slug", required=True)
        parser.add_argument("--name", required=True)
        parser.add_argument("--domain", required=True)
        parser.add_argument("--admin-email", required=True)
        parser.add_argument("--admin-password", required=True)

    def handle(self, *args: Any, **options: Any) -> None:
        spec = TenantSpec(options["slug"], options["name"], options["domain"], options["admin_email"],
                          options["admin_password"])
        try:
            tenant = tenant_provision(spec)
        except ServiceError as exc:
            detail = exc.detail
            if exc.errors:
                detail += " " + " ".join(msg for msgs in exc.errors.values() for msg in msgs)
            raise CommandError(detail) from exc
        self.stdout.write(self.style.SUCCESS(
            f"Tenant {tenant.slug} ready: schema {tenant.schema_name}, domain {spec.domain}, admin {spec.admin_email}"
        ))
