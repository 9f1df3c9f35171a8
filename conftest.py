"""Test setup shared by every suite: tenant schemas, users, API clients.

The two test tenants (acme, globex) and their schemas are created once per
run, right after pytest-django builds the test database; each test then runs
inside a transaction that is rolled back, so tenants persist and rows do not.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from django.core.cache import caches
from django.db import connection
from django_tenants.utils import tenant_context

from accounts.models import User
from accounts.roles import Role
from tests.support import TEST_PASSWORD, TEST_TENANTS, TenantClient, tokens_for

pytest_plugins = ["tests.sandbox_fixtures", "tests.e2e_fixtures", "tests.e2e_races"]


def _drop_leftover_schemas() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT nspname FROM pg_namespace WHERE nspname LIKE 't\\_%%'")
        for (schema,) in cursor.fetchall():
            cursor.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    from django.test.utils import setup_databases, teardown_databases

    from tenants.models import Domain, Tenant

    with django_db_blocker.unblock():
        # pytest-django creates the test database only when a selected test asks
        # for ``db``; a run of end-to-end tests alone (real processes, no
        # rolled-back transaction) must never touch the development database.
        own_setup = None
        if not connection.settings_dict["NAME"].startswith("test_"):
            own_setup = setup_databases(verbosity=0, interactive=False, aliases={"default"})
        connection.set_schema_to_public()
        _drop_leftover_schemas()
        for slug, domain in TEST_TENANTS.items():
            tenant = Tenant(slug=slug, name=slug.capitalize())
            tenant.save()
            Domain.objects.create(domain=domain, tenant=tenant, is_primary=True)
    yield
    if own_setup is not None:
        with django_db_blocker.unblock():
            teardown_databases(own_setup, verbosity=0)


@pytest.fixture(autouse=True)
def _public_schema_and_clean_limits() -> Iterator[None]:
    caches["ratelimit"].clear()
    connection.set_schema_to_public()
    yield
    connection.set_schema_to_public()


@pytest.fixture
def acme(db):
    from tenants.models import Tenant

    return Tenant.objects.get(slug="acme")


@pytest.fixture
def globex(db):
    from tenants.models import Tenant

    return Tenant.objects.get(slug="globex")


@pytest.fixture
def make_user(db) -> Callable[..., User]:
    """Create a user in a tenant: ``make_user(acme, Role.AGENT)``."""
    counter = iter(range(1, 10_000))

    def _make(
        tenant, role: str = Role.AGENT, *, email: str | None = None, password: str = TEST_PASSWORD, **fields
    ) -> User:
        with tenant_context(tenant):
            email = email or f"{role.lower()}{next(counter)}@{tenant.slug}.test"
            return User.objects.create_user(email, password, role=role, **fields)

    return _make


@pytest.fixture
def client_for(db) -> Callable[..., TenantClient]:
    """``client_for(acme, user)`` → a client on acme's host, authenticated as ``user``."""

    def _client(tenant=None, user: User | None = None, *, via_header: bool = False) -> TenantClient:
        if tenant is None:
            return TenantClient()
        client = (
            TenantClient("localhost", HTTP_X_TENANT=tenant.slug)
            if via_header
            else TenantClient(TEST_TENANTS[tenant.slug])
        )
        if user is not None:
            client.bearer(str(tokens_for(tenant, user).access_token))
        return client

    return _client


@pytest.fixture
def public_client(db) -> TenantClient:
    return TenantClient()


@pytest.fixture
def admin(acme, make_user) -> User:
    """A tenant admin of acme."""
    return make_user(acme, Role.TENANT_ADMIN)


@pytest.fixture
def admin_client(acme, admin, client_for) -> TenantClient:
    """An API client on acme's host, signed in as ``admin``."""
    return client_for(acme, admin)


@pytest.fixture
def api(admin_client) -> TenantClient:
    """``admin_client`` under the name the messaging and sessions tests use (the sandbox tests' ``api`` is
    their own: a client of the sandbox)."""
    return admin_client
