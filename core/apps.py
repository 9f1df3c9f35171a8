from django.apps import AppConfig


class CoreConfig(AppConfig):
    """The runtime code every app builds on (errors, REST building blocks, database, web, console).

    It has no models and imports no app of this project: apps depend on it, never the reverse.
    """

    name = "core"
