"""Admin console: who may enter on which host, and what they may do there."""

import pytest
from django_tenants.utils import tenant_context

from accounts.models import User
from accounts.roles import Role
from tests.support import TEST_PASSWORD, TenantClient


def admin_login(host, email, password=TEST_PASSWORD):
    client = TenantClient(host)
    client.post("/admin/login/", {"username": email, "password": password})
    return client


@pytest.mark.parametrize("role, may_enter", [
    (Role.TENANT_ADMIN, True), (Role.AUDITOR, True), (Role.MANAGER, False), (Role.AGENT, False),
])
def test_console_entry_by_role_on_tenant_host(acme, make_user, role, may_enter):
    user = make_user(acme, role)
    response = admin_login("acme.localhost", user.email).get("/admin/")
    assert response.status_code == (200 if may_enter else 302)


def test_tenant_admin_manages_users(acme, make_user):
    admin = make_user(acme, Role.TENANT_ADMIN)
    target = make_user(acme, Role.AGENT)
    client = admin_login("acme.localhost", admin.email)
    page = client.get(f"/admin/accounts/user/{target.pk}/change/")
    assert page.status_code == 200 and b'name="role"' in page.content
    response = client.post(f"/admin/accounts/user/{target.pk}/change/", {
        "email": target.email, "first_name": "", "last_name": "", "role": "MANAGER", "is_active": "",
    })
    assert response.status_code == 302, response.content[:2000]
    with tenant_context(acme):
        target.refresh_from_db()
    assert (target.role, target.is_active) == ("MANAGER", False)


def test_tenant_admin_resets_a_password(acme, make_user, client_for):
    admin, target = make_user(acme, Role.TENANT_ADMIN), make_user(acme, Role.AGENT)
    client = admin_login("acme.localhost", admin.email)
    response = client.post(f"/admin/accounts/user/{target.pk}/password/", {
        "password1": "Reset-By-Admin-2026", "password2": "Reset-By-Admin-2026",
    })
    assert response.status_code == 302
    login = client_for(acme).post("/auth/login", {"email": target.email, "password": "Reset-By-Admin-2026"},
                                  format="json")
    assert login.status_code == 200


def test_admin_cannot_deactivate_the_last_tenant_admin_in_the_console(acme, make_user):
    admin = make_user(acme, Role.TENANT_ADMIN)
    client = admin_login("acme.localhost", admin.email)
    response = client.post(f"/admin/accounts/user/{admin.pk}/change/", {
        "email": admin.email, "first_name": "", "last_name": "", "role": "AGENT", "is_active": "on",
    })
    assert response.status_code == 200 and b"at least one active TENANT_ADMIN" in response.content


def test_auditor_sees_users_read_only(acme, make_user):
    auditor, target = make_user(acme, Role.AUDITOR), make_user(acme, Role.AGENT)
    client = admin_login("acme.localhost", auditor.email)
    assert client.get("/admin/accounts/user/").status_code == 200
    page = client.get(f"/admin/accounts/user/{target.pk}/change/")
    assert page.status_code == 200 and b'name="role"' not in page.content
    response = client.post(f"/admin/accounts/user/{target.pk}/change/", {"email": target.email, "role": "AUDITOR"})
    assert response.status_code == 403
    assert client.get("/admin/accounts/user/add/").status_code == 403
    assert client.post(f"/admin/accounts/user/{target.pk}/delete/", {"post": "yes"}).status_code == 403


def test_tenant_console_hides_platform_models(acme, make_user):
    admin = make_user(acme, Role.TENANT_ADMIN)
    client = admin_login("acme.localhost", admin.email)
    assert b"/admin/tenants/" not in client.get("/admin/").content
    assert client.get("/admin/tenants/tenant/").status_code == 403


def test_platform_staff_enter_public_admin_and_see_tenants(db):
    User.objects.create_superuser("root@platform.test", TEST_PASSWORD)
    client = admin_login("localhost", "root@platform.test")
    index = client.get("/admin/")
    assert index.status_code == 200 and b"/admin/tenants/tenant/" in index.content
    assert b"acme" in client.get("/admin/tenants/tenant/").content


def test_tenant_users_cannot_enter_public_admin(acme, make_user):
    admin = make_user(acme, Role.TENANT_ADMIN)
    assert admin_login("localhost", admin.email).get("/admin/").status_code == 302


def test_non_staff_public_user_cannot_enter_public_admin(db):
    User.objects.create_user("plain@platform.test", TEST_PASSWORD)
    assert admin_login("localhost", "plain@platform.test").get("/admin/").status_code == 302


def test_console_password_reset_ends_refresh_tokens(acme, make_user, client_for):
    from tests.support import tokens_for

    admin, target = make_user(acme, Role.TENANT_ADMIN), make_user(acme, Role.AGENT)
    refresh = str(tokens_for(acme, target))
    admin_login("acme.localhost", admin.email).post(f"/admin/accounts/user/{target.pk}/password/", {
        "password1": "Reset-By-Admin-2026", "password2": "Reset-By-Admin-2026",
    })
    assert client_for(acme).post("/auth/refresh", {"refresh": refresh}, format="json").status_code == 401


def test_console_offers_no_bulk_delete_of_users(acme, make_user):
    client = admin_login("acme.localhost", make_user(acme, Role.TENANT_ADMIN).email)
    assert b"delete_selected" not in client.get("/admin/accounts/user/").content
