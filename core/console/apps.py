from django.contrib.admin.apps import AdminConfig


class ConsoleAdminConfig(AdminConfig):
    """django.contrib.admin with the console site (role-based entry)."""

    default_site = "core.console.site.ConsoleAdminSite"
