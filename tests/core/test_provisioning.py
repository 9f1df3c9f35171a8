"""provision_tenant and seed_demo."""

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django_tenants.utils import schema_exists, tenant_context

from accounts.models import User
from accounts.roles import Role
from tenants.models import Domain, Tenant

pytestmark = pytest.mark.database

ARGS = dict(name="Initech", admin_email="Boss@Initech.test", admin_password="Initech-Admin-2026")


def provision(**overrides):
    options = {"slug": "initech", "domain": "initech.localhost", **ARGS, **overrides}
    call_command("provision_tenant", **options)


def test_provision_creates_schema_domain_and_first_admin(db):
    provision()
    tenant = Tenant.objects.get(slug="initech")
    assert schema_exists(tenant.schema_name)
    assert Domain.objects.get(domain="initech.localhost").tenant == tenant
    with tenant_context(tenant):
        admin = User.objects.get()
    assert (admin.email, admin.role) == ("boss@initech.test", Role.TENANT_ADMIN)


@pytest.mark.parametrize("overrides, message", [
    ({"slug": "acme", "domain": "new.localhost"}, "slug 'acme' is already taken"),
    ({"slug": "initech", "domain": "acme.localhost"}, "Domain 'acme.localhost' is already used"),
    ({"slug": "Not A Slug"}, "is invalid"),
    ({"domain": "bad_domain!"}, "not a valid hostname"),
    ({"admin_password": "short"}, "too short"),
])
def test_provision_refuses_clearly_and_leaves_nothing(db, overrides, message):
    schemas_before = _schemas()
    with pytest.raises(CommandError, match=message):
        provision(**overrides)
    assert not Tenant.objects.filter(slug="initech").exists()
    assert not Domain.objects.filter(domain__in=["initech.localhost", "new.localhost"]).exists()
    assert _schemas() == schemas_before


def _schemas():
    with connection.cursor() as cursor:
        cursor.execute("SELECT nspname FROM pg_namespace WHERE nspname LIKE 't\\_%%' ORDER BY 1")
        return [row[0] for row in cursor.fetchall()]


def test_provision_exits_non_zero_from_the_shell(db):
    with pytest.raises(CommandError):
        provision(slug="globex", domain="other.localhost")


def test_seed_demo_is_idempotent(db, capsys):
    call_command("seed_demo")
    first = _snapshot()
    call_command("seed_demo")
    assert _snapshot() == first
    output = capsys.readouterr().out
    assert "admin@acme.test" in output and "Acme-Admin-Demo-2026" in output


def _snapshot():
    rows = {"tenants": sorted(Tenant.objects.values_list("slug", flat=True))}
    for tenant in Tenant.objects.all():
        with tenant_context(tenant):
            rows[tenant.slug] = sorted(User.objects.values_list("email", "role", "password"))
    return rows


def test_seed_demo_gives_each_tenant_one_user_per_role(db):
    call_command("seed_demo")
    for slug in ("acme", "globex"):
        with tenant_context(Tenant.objects.get(slug=slug)):
            roles = set(User.objects.filter(email__endswith=f"@{slug}.test").values_list("role", flat=True))
        assert roles == set(Role)
