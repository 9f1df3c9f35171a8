from accounts.roles import Role


def test_tenant_user_can_read_profile_on_own_host(acme, make_user, client_for):
    user = make_user(acme, Role.MANAGER)
    response = client_for(acme, user).get("/auth/profile")
    assert response.status_code == 200
    assert response.json()["tenant"] == "acme"
