"""API authentication: DRF's token scheme, reading the user's roles in the same statement (#9).

Nearly every API request asks for the caller's roles (core.roles.roles_of); reading them with the
token saves a round trip per request. The token, its user and the checks are DRF's own.
"""

from __future__ import annotations

from django.db import connection
from django.db.models.expressions import RawSQL
from django.utils.translation import gettext_lazy as _
from rest_framework import authentication, exceptions

from .roles import role_names_sql


class TokenAuthentication(authentication.TokenAuthentication):
    def authenticate_credentials(self, key):
        if connection.vendor != "postgresql":
            return super().authenticate_credentials(key)
        model = self.get_model()
        # The names of the token user's groups (the roles), as an array beside the token's row; the
        # SQL comes from the models' metadata, nothing from the request is in it.
        user_id = f'"{model._meta.db_table}"."user_id"'
        roles = RawSQL(f"ARRAY({role_names_sql(user_id)})", [])  # noqa: S611
        try:
            token = model.objects.select_related("user").annotate(role_names=roles).get(key=key)
        except model.DoesNotExist as exc:
            raise exceptions.AuthenticationFailed(_("Invalid token.")) from exc
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        token.user._role_names = set(token.role_names)  # core.roles.roles_of's per-request cache
        return (token.user, token)
