"""API authentication: DRF's token scheme, reading the user's roles in the same statement (#9).

Nearly every API request asks for the caller's roles (core.roles.roles_of); reading them with the
token saves a round trip per request. The token, its user and the checks are DRF's own.
"""

from __future__ import annotations

from django.contrib.auth.models import Group
from django.db import connection
from django.db.models.expressions import RawSQL
from django.utils.translation import gettext_lazy as _
from rest_framework import authentication, exceptions


class TokenAuthentication(authentication.TokenAuthentication):
    def authenticate_credentials(self, key):
        if connection.vendor != "postgresql":
            return super().authenticate_credentials(key)
        model = self.get_model()
        through = Group.user_set.through._meta.db_table  # auth_user_groups
        # The names of the token user's groups (the roles), as an array beside the token's row.
        # Table names come from the models' metadata; nothing from the request is in this SQL.
        sql = (
            f"ARRAY(SELECT g.name FROM {Group._meta.db_table} g JOIN {through} ug ON ug.group_id = g.id "  # noqa: S608
            f'WHERE ug.user_id = "{model._meta.db_table}"."user_id")'
        )
        roles = RawSQL(sql, [])  # noqa: S611
        try:
            token = model.objects.select_related("user").annotate(role_names=roles).get(key=key)
        except model.DoesNotExist as exc:
            raise exceptions.AuthenticationFailed(_("Invalid token.")) from exc
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        token.user._role_names = set(token.role_names)  # core.roles.roles_of's per-request cache
        return (token.user, token)
