"""API authentication: DRF's token scheme, reading the user's roles in the same statement (#9).

Nearly every API request asks for the caller's roles (core.roles.roles_of); reading them with the
token saves a round trip per request. The token, its user and the checks are DRF's own; on PostgreSQL
the statement is written out (`_TokenSQL`), since the ORM spent longer building it than the database
answering it, on every request.
"""

from __future__ import annotations

import functools

from django.contrib.auth import get_user_model
from django.db import connection
from django.utils.translation import gettext_lazy as _
from rest_framework import authentication, exceptions

from . import prepared
from .roles import role_names_sql


class _TokenSQL:
    """The token with its user and the user's role names, one statement; every column of the token and
    of the user in the models' order, so that `from_db` builds the instances
    `Token.objects.select_related("user").get(key=…)` would (tests/core/test_token_auth.py compares
    them). Names from the models' metadata; nothing from the request is in the SQL."""

    def __init__(self, token_model) -> None:
        user_model = get_user_model()
        q = connection.ops.quote_name
        self.token_model, self.user_model = token_model, user_model
        key_field = token_model._meta.get_field("key")
        self.key_length = key_field.max_length  # None: no limit
        self.token_fields = [f.attname for f in token_model._meta.concrete_fields]
        self.user_fields = [f.attname for f in user_model._meta.concrete_fields]
        columns = [f"t.{q(str(f.column))}" for f in token_model._meta.concrete_fields]
        columns += [f"u.{q(str(f.column))}" for f in user_model._meta.concrete_fields]
        self.user_field = token_model._meta.get_field("user")
        user_fk = str(self.user_field.column)
        self.sql = (
            f"SELECT {', '.join(columns)}, ARRAY({role_names_sql(f't.{q(user_fk)}')}) "  # noqa: S608
            f"FROM {q(token_model._meta.db_table)} t JOIN {q(user_model._meta.db_table)} u "
            f"ON u.{q(str(user_model._meta.pk.column))} = t.{q(user_fk)} WHERE t.{q(str(key_field.column))} = %s"
        )

    def read(self, key: str):
        """(token, its user with `_role_names` set), or None for an unknown key."""
        with connection.cursor() as cursor:
            prepared.execute(cursor, self.sql, [key])
            row = cursor.fetchone()
        if row is None:
            return None
        n, m = len(self.token_fields), len(self.user_fields)
        token = self.token_model.from_db(connection.alias, self.token_fields, row[:n])
        user = self.user_model.from_db(connection.alias, self.user_fields, row[n : n + m])
        field = self.user_field
        field.set_cached_value(token, user)
        if field.one_to_one:  # as select_related sets it: user.auth_token
            field.remote_field.set_cached_value(user, token)
        user._role_names = set(row[n + m])  # type: ignore[attr-defined]  # core.roles.roles_of's per-request cache
        return token, user


@functools.cache
def _token_sql(token_model) -> _TokenSQL:
    """The statement of `token_model`, built once per model."""
    return _TokenSQL(token_model)


class TokenAuthentication(authentication.TokenAuthentication):
    def authenticate_credentials(self, key):
        if connection.vendor != "postgresql":
            return super().authenticate_credentials(key)
        model = self.get_model()
        statement = _token_sql(model)
        # A key the column cannot hold (too long, or a NUL, which PostgreSQL's text refuses) is no token.
        limit = statement.key_length
        found = statement.read(key) if (limit is None or len(key) <= limit) and "\x00" not in key else None
        if found is None:
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        token, user = found
        if not user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        return (user, token)
