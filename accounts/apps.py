from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Users"

    def ready(self) -> None:
        from accounts import schema_extensions  # noqa: F401  (registers OpenAPI extensions)
