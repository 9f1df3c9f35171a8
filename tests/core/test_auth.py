"""Login, refresh, logout and profile with tenant-bound JWTs."""

from datetime import timedelta

import jwt
import pytest
from django.contrib.auth.hashers import BCryptSHA256PasswordHasher
from django_tenants.utils import tenant_context
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken

from accounts.roles import Role
from accounts.tokens import TenantAccessToken
from tests.support import TEST_PASSWORD, tokens_for

pytestmark = pytest.mark.security


def login(client, email, password=TEST_PASSWORD):
    return client.post("/auth/login", {"email": email, "password": password}, format="json")


def test_login_returns_token_pair_and_user(acme, make_user, client_for):
    user = make_user(acme, Role.MANAGER)
    response = login(client_for(acme), user.email)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access", "refresh", "user"}
    assert body["user"]["role"] == "MANAGER" and body["user"]["tenant"] == "acme"
    assert "password" not in body["user"]


def test_login_email_is_case_insensitive(acme, make_user, client_for):
    user = make_user(acme, Role.AGENT, email="mixed@acme.test")
    assert login(client_for(acme), "  MIXED@Acme.TEST ").status_code == 200
    assert user.email == "mixed@acme.test"


def test_login_errors_do_not_reveal_whether_email_exists(acme, make_user, client_for):
    user = make_user(acme, Role.AGENT)
    wrong_password = login(client_for(acme), user.email, "Not-The-Password-1")
    unknown_email = login(client_for(acme), "nobody@acme.test")
    assert wrong_password.status_code == unknown_email.status_code == 401
    assert wrong_password.json()["detail"] == unknown_email.json()["detail"]
    assert wrong_password.json()["code"] == "invalid_credentials"


def test_inactive_user_cannot_log_in(acme, make_user, client_for):
    user = make_user(acme, Role.AGENT, is_active=False)
    assert login(client_for(acme), user.email).status_code == 401


def test_tokens_carry_the_tenant_claim(acme, make_user, client_for):
    user = make_user(acme, Role.AGENT)
    body = login(client_for(acme), user.email).json()
    for kind in ("access", "refresh"):
        assert jwt.decode(body[kind], options={"verify_signature": False})["tenant"] == "acme"


def test_token_lifetimes_come_from_settings(acme, make_user):
    user = make_user(acme, Role.AGENT)
    refresh = tokens_for(acme, user)
    access = refresh.access_token
    assert access["exp"] - access["iat"] == 15 * 60
    assert refresh["exp"] - refresh["iat"] == 7 * 24 * 3600


def test_refresh_rotates_and_blacklists_the_old_token(acme, make_user, client_for):
    user = make_user(acme, Role.AGENT)
    old = str(tokens_for(acme, user))
    client = client_for(acme)
    response = client.post("/auth/refresh", {"refresh": old}, format="json")
    assert response.status_code == 200
    assert set(response.json()) == {"access", "refresh"} and response.json()["refresh"] != old
    again = client.post("/auth/refresh", {"refresh": old}, format="json")
    assert again.status_code == 401 and again.json()["code"] == "token_invalid"


def test_logout_blacklists_the_refresh_token(acme, make_user, client_for):
    user = make_user(acme, Role.AGENT)
    refresh = str(tokens_for(acme, user))
    client = client_for(acme)
    assert client.post("/auth/logout", {"refresh": refresh}, format="json").status_code == 204
    assert client.post("/auth/refresh", {"refresh": refresh}, format="json").status_code == 401


def test_profile_shows_role_and_tenant(acme, make_user, client_for):
    user = make_user(acme, Role.AUDITOR)
    body = client_for(acme, user).get("/auth/profile").json()
    assert (body["email"], body["role"], body["tenant"]) == (user.email, "AUDITOR", "acme")


def test_expired_access_token_is_rejected(acme, make_user, client_for):
    user = make_user(acme, Role.AGENT)
    with tenant_context(acme):
        token = TenantAccessToken.for_user(user)
        token.set_exp(lifetime=-timedelta(seconds=1))
    response = client_for(acme).bearer(str(token)).get("/auth/profile")
    assert response.status_code == 401 and response.json()["code"] == "token_invalid"


def test_forged_token_signed_with_another_key_is_rejected(acme, make_user, client_for):
    user = make_user(acme, Role.TENANT_ADMIN)
    payload = jwt.decode(str(tokens_for(acme, user).access_token), options={"verify_signature": False})
    forged = jwt.encode(payload, "attacker-key-" + "x" * 40, algorithm="HS256")
    response = client_for(acme).bearer(forged).get("/auth/profile")
    assert response.status_code == 401 and response.json()["code"] == "token_invalid"


def test_unsigned_token_is_rejected(acme, make_user, client_for):
    user = make_user(acme, Role.TENANT_ADMIN)
    payload = jwt.decode(str(tokens_for(acme, user).access_token), options={"verify_signature": False})
    unsigned = jwt.encode(payload, None, algorithm="none")
    assert client_for(acme).bearer(unsigned).get("/auth/profile").status_code == 401


def test_refresh_token_is_not_accepted_as_access_token(acme, make_user, client_for):
    user = make_user(acme, Role.AGENT)
    response = client_for(acme).bearer(str(tokens_for(acme, user))).get("/auth/profile")
    assert response.status_code == 401


def test_garbage_bearer_is_401_problem(acme, client_for):
    response = client_for(acme).bearer("not-a-jwt").get("/auth/profile")
    assert response.status_code == 401
    assert response["Content-Type"] == "application/problem+json"


def test_deactivated_user_tokens_stop_working_at_once(acme, make_user, client_for):
    admin = make_user(acme, Role.TENANT_ADMIN)
    victim = make_user(acme, Role.AGENT)
    victim_tokens = tokens_for(acme, victim)
    victim_client = client_for(acme).bearer(str(victim_tokens.access_token))
    assert victim_client.get("/auth/profile").status_code == 200

    response = client_for(acme, admin).patch(f"/users/{victim.pk}", {"is_active": False}, format="json")
    assert response.status_code == 200

    assert victim_client.get("/auth/profile").status_code == 401
    refresh = client_for(acme).post("/auth/refresh", {"refresh": str(victim_tokens)}, format="json")
    assert refresh.status_code == 401


def test_refresh_of_deleted_user_is_401_not_500(acme, make_user, client_for):
    user = make_user(acme, Role.AGENT)
    refresh = str(tokens_for(acme, user))
    with tenant_context(acme):
        user.delete()
    response = client_for(acme).post("/auth/refresh", {"refresh": refresh}, format="json")
    assert response.status_code == 401 and response.json()["code"] == "token_invalid"


def test_password_change_ends_refresh_tokens(acme, make_user, client_for):
    admin = make_user(acme, Role.TENANT_ADMIN)
    user = make_user(acme, Role.AGENT)
    refresh = str(tokens_for(acme, user))
    client_for(acme, admin).patch(f"/users/{user.pk}", {"password": "Brand-New-Secret-77"}, format="json")
    assert client_for(acme).post("/auth/refresh", {"refresh": refresh}, format="json").status_code == 401
    with tenant_context(acme):
        assert BlacklistedToken.objects.filter(token__user=user).exists()


def test_password_change_ends_the_access_tokens_issued_before_it(acme, make_user, client_for):
    admin = make_user(acme, Role.TENANT_ADMIN)
    user = make_user(acme, Role.AGENT)
    old_access = client_for(acme, user)
    assert old_access.get("/auth/profile").status_code == 200  # verified and remembered by this process
    changed = client_for(acme, admin).patch(f"/users/{user.pk}", {"password": "Brand-New-Secret-77"}, format="json")
    assert changed.status_code == 200
    response = old_access.get("/auth/profile")
    assert response.status_code == 401 and response.json()["code"] == "token_invalid"


def test_tokens_issued_after_a_password_change_work(acme, make_user, client_for):
    admin = make_user(acme, Role.TENANT_ADMIN)
    user = make_user(acme, Role.AGENT)
    client_for(acme, admin).patch(f"/users/{user.pk}", {"password": "Brand-New-Secret-77"}, format="json")
    login = client_for(acme).post("/auth/login", {"email": user.email, "password": "Brand-New-Secret-77"},
                                  format="json")
    assert login.status_code == 200
    assert client_for(acme).bearer(login.json()["access"]).get("/auth/profile").status_code == 200
    refreshed = client_for(acme).post("/auth/refresh", {"refresh": login.json()["refresh"]}, format="json")
    assert refreshed.status_code == 200


def test_refresh_token_issued_before_a_password_change_is_401_even_if_not_blacklisted(acme, make_user, client_for):
    """The generation claim ends it by itself: the blacklist is bookkeeping, not the guard."""
    admin = make_user(acme, Role.TENANT_ADMIN)
    user = make_user(acme, Role.AGENT)
    refresh = str(tokens_for(acme, user))
    client_for(acme, admin).patch(f"/users/{user.pk}", {"password": "Brand-New-Secret-77"}, format="json")
    with tenant_context(acme):
        BlacklistedToken.objects.all().delete()
    response = client_for(acme).post("/auth/refresh", {"refresh": refresh}, format="json")
    assert response.status_code == 401 and response.json()["code"] == "token_invalid"


def test_reactivation_does_not_revive_tokens_issued_before_the_deactivation(acme, make_user, client_for):
    admin = make_user(acme, Role.TENANT_ADMIN)
    user = make_user(acme, Role.AGENT)
    tokens = tokens_for(acme, user)
    admin_client = client_for(acme, admin)
    assert admin_client.patch(f"/users/{user.pk}", {"is_active": False}, format="json").status_code == 200
    assert admin_client.patch(f"/users/{user.pk}", {"is_active": True}, format="json").status_code == 200
    assert client_for(acme).bearer(str(tokens.access_token)).get("/auth/profile").status_code == 401
    assert client_for(acme).post("/auth/refresh", {"refresh": str(tokens)}, format="json").status_code == 401


def test_deleted_user_access_token_is_401(acme, make_user, client_for):
    admin = make_user(acme, Role.TENANT_ADMIN)
    user = make_user(acme, Role.AGENT)
    old = client_for(acme, user)
    assert old.get("/auth/profile").status_code == 200
    assert client_for(acme, admin).delete(f"/users/{user.pk}").status_code == 204
    assert old.get("/auth/profile").status_code == 401


def test_password_set_in_the_console_ends_the_tokens(acme, make_user, client_for):
    from accounts.admin import PasswordResetForm

    user = make_user(acme, Role.AGENT)
    old = client_for(acme, user)
    assert old.get("/auth/profile").status_code == 200
    with tenant_context(acme):
        form = PasswordResetForm(user, {"password1": "Console-Set-Secret-88", "password2": "Console-Set-Secret-88"})
        assert form.is_valid(), form.errors
        form.save()
    assert old.get("/auth/profile").status_code == 401


def test_logout_leaves_other_refresh_tokens_alive(acme, make_user, client_for):
    user = make_user(acme, Role.AGENT)
    first, second = str(tokens_for(acme, user)), str(tokens_for(acme, user))
    assert client_for(acme).post("/auth/logout", {"refresh": first}, format="json").status_code == 204
    assert client_for(acme).post("/auth/refresh", {"refresh": first}, format="json").status_code == 401
    assert client_for(acme).post("/auth/refresh", {"refresh": second}, format="json").status_code == 200


@pytest.mark.parametrize("password", ["short-Pass-1", "ü" * 60 + "-long-password-over-72-bytes"])
def test_production_hasher_is_bcrypt_sha256_with_12_rounds(settings, password):
    assert settings.PASSWORD_HASHERS[-2] == "django.contrib.auth.hashers.BCryptSHA256PasswordHasher"
    hasher = BCryptSHA256PasswordHasher()
    encoded = hasher.encode(password, hasher.salt())
    assert encoded.startswith("bcrypt_sha256$$2b$12$")
    assert hasher.verify(password, encoded)
