"""Provisioning: a tenant is a schema, a domain and a first TENANT_ADMIN, or nothing."""

from __future__ import annotations

import logging
import re
import secrets
from dataclasses import dataclass, replace

from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django_tenants.utils import tenant_context

from accounts.models import User
from accounts.roles import Role
from accounts.services import user_create
from core.problems import Conflict, ServiceError
from tenants.models import SLUG_PATTERN, Domain, Tenant, WahaServer, schema_name_for

logger = logging.getLogger("tenants")

_LABEL = r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?"
_DOMAIN_PATTERN = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(\.{_LABEL})*$")


class TenantProvisionError(ServiceError):
    code = "provision_failed"
    title = "Tenant could not be provisioned"


@dataclass(frozen=True)
class TenantSpec:
    slug: str
    name: str
    domain: str
    admin_email: str
    admin_password: str
    # Pin the tenant's sessions to this WAHA server (None: pick from the pool).
    waha_server: WahaServer | None = None


def initial_password() -> str:
    """A password for a new tenant's first admin, shown once to whoever provisions the tenant: 20 random
    URL-safe characters (120 bits), which every password validator accepts."""
    return secrets.token_urlsafe(15)


def _validate(spec: TenantSpec) -> None:
    if not re.match(SLUG_PATTERN, spec.slug):
        raise TenantProvisionError(f"Slug {spec.slug!r} is invalid: use 3-40 lower-case letters, digits and dashes.")
    if not _DOMAIN_PATTERN.match(spec.domain):
        raise TenantProvisionError(f"Domain {spec.domain!r} is not a valid hostname.")
    try:
        validate_email(spec.admin_email)
    except ValidationError as exc:
        raise TenantProvisionError(f"Admin email {spec.admin_email!r} is invalid.") from exc
    try:
        password_validation.validate_password(spec.admin_password, User(email=spec.admin_email))
    except ValidationError as exc:
        raise TenantProvisionError("Admin password rejected: " + " ".join(exc.messages)) from exc
    if Tenant.objects.filter(slug=spec.slug).exists() or Tenant.objects.filter(
        schema_name=schema_name_for(spec.slug)
    ).exists():
        raise Conflict(f"Tenant slug {spec.slug!r} is already taken.")
    if Domain.objects.filter(domain=spec.domain).exists():
        raise Conflict(f"Domain {spec.domain!r} is already used by another tenant.")


def tenant_provision(spec: TenantSpec) -> Tenant:
    """Create the schema, migrate it, add the domain and the first TENANT_ADMIN.

    Any failure removes what was made (schema included), so a retry starts clean.
    """
    spec = replace(spec, slug=spec.slug.strip().lower(), name=spec.name.strip(), domain=spec.domain.strip().lower(),
                   admin_email=spec.admin_email.strip().lower())
    _validate(spec)
    tenant = Tenant(slug=spec.slug, name=spec.name, waha_server=spec.waha_server)
    try:
        tenant.save()  # creates and migrates the schema
        with transaction.atomic():
            Domain.objects.create(domain=spec.domain, tenant=tenant, is_primary=True)
            with tenant_context(tenant):
                user_create(email=spec.admin_email, password=spec.admin_password, role=Role.TENANT_ADMIN)
    except Exception:
        if tenant.pk:
            logger.warning("tenant.provision_rolled_back slug=%s", spec.slug)
            tenant.delete(force_drop=True)
        raise
    logger.info("tenant.provisioned slug=%s schema=%s", tenant.slug, tenant.schema_name)
    return tenant


def tenant_ensure_user(*, tenant: Tenant, email: str, password: str, role: str) -> tuple[User, bool]:
    """Create ``email`` in ``tenant`` unless it exists; never touches an existing user."""
    with tenant_context(tenant):
        existing = User.objects.filter(email__iexact=email).first()
        if existing:
            return existing, False
        return user_create(email=email, password=password, role=role), True
