"""Users API: validation, duplicates, last-admin protection, deactivation."""

import pytest
from django_tenants.utils import tenant_context

from accounts.models import User
from accounts.roles import Role
from tests.support import TEST_PASSWORD


def new_user(**overrides):
    return {"email": "new.person@acme.test", "password": "Sturdy-Passphrase-42", "role": "AGENT", **overrides}


def test_create_user_returns_201_without_password(admin_client, acme):
    response = admin_client.post("/users", new_user(first_name="Ana"), format="json")
    assert response.status_code == 201
    body = response.json()
    assert body["email"] == "new.person@acme.test" and body["role"] == "AGENT" and body["first_name"] == "Ana"
    assert not {"password", "password_hash"} & set(body)
    with tenant_context(acme):
        assert User.objects.get(email="new.person@acme.test").password.startswith(("bcrypt", "md5"))


def test_duplicate_email_in_any_case_is_409(admin_client):
    assert admin_client.post("/users", new_user(), format="json").status_code == 201
    response = admin_client.post("/users", new_user(email="NEW.Person@ACME.test"), format="json")
    assert response.status_code == 409 and response.json()["code"] == "conflict"


@pytest.mark.parametrize(
    "password, reason",
    [
        ("short", "too short"),
        ("password1234", "too common"),
        ("48151623424815", "entirely numeric"),
    ],
)
def test_weak_password_is_400_with_reasons(admin_client, password, reason):
    response = admin_client.post("/users", new_user(password=password), format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"
    assert any(reason in message for message in response.json()["errors"]["password"])


@pytest.mark.parametrize(
    "body, field",
    [
        ({"password": "Sturdy-Passphrase-42", "role": "AGENT"}, "email"),
        (new_user(email="not-an-email"), "email"),
        (new_user(role="OWNER"), "role"),
        ({"email": "x@acme.test", "role": "AGENT"}, "password"),
    ],
)
def test_invalid_fields_are_named(admin_client, body, field):
    response = admin_client.post("/users", body, format="json")
    assert response.status_code == 400 and field in response.json()["errors"]


def test_list_is_cursor_paginated(admin_client, acme, make_user):
    for _ in range(3):
        make_user(acme, Role.AGENT)
    first = admin_client.get("/users?page_size=2").json()
    assert len(first["results"]) == 2 and first["next"] and first["previous"] is None
    second = admin_client.get(first["next"]).json()
    assert {u["id"] for u in first["results"]}.isdisjoint({u["id"] for u in second["results"]})


def test_patch_changes_role_and_names(admin_client, acme, make_user):
    user = make_user(acme, Role.AGENT)
    response = admin_client.patch(f"/users/{user.pk}", {"role": "MANAGER", "last_name": "Lee"}, format="json")
    assert response.status_code == 200
    assert (response.json()["role"], response.json()["last_name"]) == ("MANAGER", "Lee")


def test_put_can_change_password(admin_client, acme, make_user, client_for):
    user = make_user(acme, Role.AGENT)
    response = admin_client.put(f"/users/{user.pk}", {"password": "Another-Strong-Pass-7"}, format="json")
    assert response.status_code == 200
    login = client_for(acme).post(
        "/auth/login", {"email": user.email, "password": "Another-Strong-Pass-7"}, format="json"
    )
    assert login.status_code == 200


def test_email_change_to_a_taken_one_is_409(admin_client, acme, make_user):
    first, second = make_user(acme, Role.AGENT), make_user(acme, Role.AGENT)
    response = admin_client.patch(f"/users/{second.pk}", {"email": first.email.upper()}, format="json")
    assert response.status_code == 409


def test_delete_deactivates_and_user_cannot_log_in(admin_client, acme, make_user, client_for):
    user = make_user(acme, Role.AGENT)
    assert admin_client.delete(f"/users/{user.pk}").status_code == 204
    assert admin_client.get(f"/users/{user.pk}").json()["is_active"] is False
    login = client_for(acme).post("/auth/login", {"email": user.email, "password": TEST_PASSWORD}, format="json")
    assert login.status_code == 401


@pytest.mark.parametrize("change", [{"role": "MANAGER"}, {"is_active": False}], ids=["demote", "deactivate"])
def test_last_active_admin_cannot_be_demoted_or_deactivated(acme, make_user, client_for, change):
    admin = make_user(acme, Role.TENANT_ADMIN)
    client = client_for(acme, admin)
    response = client.patch(f"/users/{admin.pk}", change, format="json")
    assert response.status_code == 409 and response.json()["code"] == "conflict"


def test_last_active_admin_cannot_be_deleted(acme, make_user, client_for):
    admin = make_user(acme, Role.TENANT_ADMIN)
    make_user(acme, Role.TENANT_ADMIN, is_active=False)
    assert client_for(acme, admin).delete(f"/users/{admin.pk}").status_code == 409


def test_an_admin_can_be_demoted_while_another_remains(acme, make_user, client_for):
    admin, other = make_user(acme, Role.TENANT_ADMIN), make_user(acme, Role.TENANT_ADMIN)
    assert client_for(acme, admin).patch(f"/users/{other.pk}", {"role": "AUDITOR"}, format="json").status_code == 200


def test_non_uuid_id_is_404(admin_client):
    assert admin_client.get("/users/123").status_code == 404
