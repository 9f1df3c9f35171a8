import pytest
from django_tenants.utils import tenant_context

from accounts.roles import Role
from sessions_waha.services import session_create, session_refresh


@pytest.fixture
def working_session(acme, sandbox, settings):
    """A paired (WORKING) acme session in the sandbox, pacing off."""
    settings.SEND_PACING = "off"
    with tenant_context(acme):
        session = session_create(name="support")
        sandbox.pair(session.waha_name, phone="4915100000000")
        return session_refresh(session=session)


@pytest.fixture
def admin(acme, make_user):
    return make_user(acme, Role.TENANT_ADMIN)


@pytest.fixture
def api(acme, admin, client_for):
    return client_for(acme, admin)
