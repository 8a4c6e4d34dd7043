from django.apps import AppConfig
from django.db.backends.signals import connection_created


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "Core: roles, audit, notifications, calendar, rulebook"

    def ready(self) -> None:
        from .prepared import session_settings

        connection_created.connect(session_settings, dispatch_uid="core.prepared.session_settings")
