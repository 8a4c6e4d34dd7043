"""Rows inserted by a statement written once per model and number of rows (#9, bench 4).

`bulk_create` builds its INSERT at every call (on PostgreSQL an UNNEST of one typed array per
column), and for the one to three rows a transition writes that took longer than PostgreSQL takes to
run it. `insert` writes what `bulk_create` writes: every concrete column but the automatic key, each
value through its field's `pre_save(obj, add=True)` and `get_db_prep_save` as the ORM prepares it,
then sets the new keys on the instances. Like `bulk_create`, it sends no signals. PostgreSQL only;
elsewhere, or for instances that carry their own key, it is `bulk_create`.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db import connection, models
from django.db.models import NOT_PROVIDED

_STATEMENTS: dict[tuple[type[models.Model], int], tuple[str, list[models.Field]]] = {}


def _statement(model: type[models.Model], rows: int) -> tuple[str, list[models.Field]] | None:
    key = (model, rows)
    if key not in _STATEMENTS:
        meta = model._meta
        fields = [f for f in meta.concrete_fields if not (f.primary_key and isinstance(f, models.AutoField))]
        if any(f.db_default is not NOT_PROVIDED or getattr(f, "generated", False) for f in fields):
            return None  # values the database computes: bulk_create knows how
        q = connection.ops.quote_name
        row = f"({', '.join(['%s'] * len(fields))})"
        sql = (
            f"INSERT INTO {q(meta.db_table)} ({', '.join(q(str(f.column)) for f in fields)}) "  # noqa: S608
            f"VALUES {', '.join([row] * rows)} RETURNING {q(str(meta.pk.column))}"  # type: ignore[union-attr]
        )
        _STATEMENTS[key] = (sql, fields)
    return _STATEMENTS[key]


def insert[M: models.Model](objs: Sequence[M]) -> list[M]:
    """Insert unsaved instances of one model in one statement; return them with their keys."""
    if not objs:
        return []
    model = type(objs[0])
    statement = None
    if connection.vendor == "postgresql" and all(type(o) is model and o.pk is None for o in objs):
        statement = _statement(model, len(objs))
    if statement is None:
        return model._default_manager.bulk_create(objs)  # type: ignore[attr-defined]
    sql, fields = statement
    params = []
    for obj in objs:
        obj._prepare_related_fields_for_save(operation_name="bulk_create")  # type: ignore[attr-defined]
        params += [f.get_db_prep_save(f.pre_save(obj, True), connection) for f in fields]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        keys = cursor.fetchall()
    for obj, (pk,) in zip(objs, keys, strict=True):
        obj.pk = pk
        obj._state.adding = False
        obj._state.db = connection.alias
    return list(objs)
