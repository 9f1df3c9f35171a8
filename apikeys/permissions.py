"""Role rule for the API keys endpoints: admins manage, auditors read, and no key manages keys."""

from accounts.permissions import RolePermission
from accounts.roles import API_KEY_READERS, API_KEY_WRITERS


class ApiKeysAccess(RolePermission):
    read_roles = API_KEY_READERS
    write_roles = API_KEY_WRITERS
    api_keys = False
