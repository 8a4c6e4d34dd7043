"""Rows written without the ORM's per-row work (#9): the ways the hot paths insert.

- `insert(objs)`: a few model instances (a transition's one to three rows) by an INSERT written once
  per model and number of rows (bench 4).
- `Writes`: several such INSERTs (and other writes that return rows, like an audit event with its
  chain head) sent to PostgreSQL as one statement of data-modifying CTEs (a refund's filing, bench 4).
- `insert_rows(model, rows)`: a batch's hundreds or thousands of rows, as plain dicts, by
  `COPY … FROM STDIN` (the sweeper's batches, bench 1).
- `insert_select_sql(model, values, source)`: the SQL of an `INSERT … SELECT` whose rows a query makes,
  for a batch written by one statement of several such inserts (R-T01 and R-T16 in disputes.batch), its
  values passed as arrays (`array_literal`).

Why `insert`: `bulk_create` builds its INSERT at every call (on PostgreSQL an UNNEST of one typed array per
column), and for the one to three rows a transition writes that took longer than PostgreSQL takes to
run it. `insert` writes what `bulk_create` writes: every concrete column but the automatic key, each
value through its field's `pre_save(obj, add=True)` and `get_db_prep_save` as the ORM prepares it (a
str, int or bool that Django's own field would send unchanged is sent as it is, without the calls),
then sets the new keys on the instances. Like `bulk_create`, it sends no signals. Instances that all
carry their own key (drawn from the table's sequence beforehand, as `refund_file` does) are written with
it. PostgreSQL only; elsewhere it is `bulk_create`.
"""

from __future__ import annotations

import functools
import io
import json
import re
from collections.abc import Callable, Sequence
from decimal import Decimal
from operator import itemgetter
from typing import Any

from django.db import connection, models
from django.db.models import NOT_PROVIDED

from core import prepared

# Per field of a statement, in order: the field, its attribute's name and its plain type (`_plain`).
_Fields = list[tuple[models.Field, str, type | None]]
_STATEMENTS: dict[tuple[type[models.Model], int, bool], tuple[str, _Fields] | None] = {}


def _statement(model: type[models.Model], rows: int, keyed: bool) -> tuple[str, _Fields] | None:
    """The INSERT of `rows` rows of `model` (with their keys when `keyed`) and the fields whose values
    it takes, in order; None where the database computes a value (bulk_create knows how)."""
    key = (model, rows, keyed)
    if key not in _STATEMENTS:
        meta = model._meta
        auto = [f for f in meta.concrete_fields if f.primary_key and isinstance(f, models.AutoField)]
        fields = [f for f in meta.concrete_fields if keyed or f not in auto]
        if any(f.db_default is not NOT_PROVIDED or getattr(f, "generated", False) for f in fields):
            _STATEMENTS[key] = None
        else:
            q = connection.ops.quote_name
            row = f"({', '.join(['%s'] * len(fields))})"
            _STATEMENTS[key] = (
                f"INSERT INTO {q(meta.db_table)} ({', '.join(q(str(f.column)) for f in fields)}) "  # noqa: S608
                f"VALUES {', '.join([row] * rows)} RETURNING {q(str(meta.pk.column))}",  # type: ignore[union-attr]
                [(f, f.attname, _plain(f)) for f in fields],
            )
    return _STATEMENTS[key]


def next_key_sql(model: type[models.Model]) -> str:
    """The SQL expression that draws the next key of `model`'s table from its sequence (PostgreSQL):
    for a batch's ids (`insert_rows`, disputes.batch) or a row's id drawn before it is written
    (`refund_file`). The sequence is looked up by an uncorrelated subquery, which PostgreSQL runs once
    per statement (an InitPlan), not once per row drawn (asked per row, the look-up cost more than
    the draw). Names from the model's metadata only."""
    table, column = model._meta.db_table, model._meta.pk.column  # type: ignore[union-attr]
    return f"nextval((SELECT pg_get_serial_sequence('{table}', '{column}')::regclass))"


# Django's own fields whose value, of exactly the type named, the ORM sends as it is (its pre_save reads the
# attribute; get_db_prep_save hands back the same value: str stays str, an int the same int, a bool the
# same bool, None None). `_plain` confirms it for each field with the database's own operations before
# relying on it (a backend that wraps integers, psycopg 3's, is left to the ORM).
_PLAIN_TYPES: dict[type[models.Field], type] = {
    models.CharField: str,
    models.TextField: str,
    models.SlugField: str,
    models.EmailField: str,
    models.URLField: str,
    models.IntegerField: int,
    models.BigIntegerField: int,
    models.SmallIntegerField: int,
    models.PositiveIntegerField: int,
    models.PositiveBigIntegerField: int,
    models.PositiveSmallIntegerField: int,
    models.AutoField: int,
    models.BigAutoField: int,
    models.BooleanField: bool,
}
_PLAIN_SAMPLES: dict[type, tuple[Any, ...]] = {str: ("", "Ab 二 %s", "0"), int: (0, 7, 2**40), bool: (True, False)}
_PLAIN: dict[models.Field, type | None] = {}
_ABSENT = object()  # an attribute not in the instance's __dict__ (deferred): read through its field


def _plain(field: models.Field) -> type | None:
    """The type whose values `field` sends to the database unchanged (None if it changes or may change
    them: then they go through pre_save and get_db_prep_save). Foreign keys take their target's."""
    if field in _PLAIN:
        return _PLAIN[field]
    target = field.target_field if type(field) in (models.ForeignKey, models.OneToOneField) else field  # type: ignore[attr-defined]
    kind = _PLAIN_TYPES.get(type(target))
    if kind is not None:
        try:
            for value in (None, *_PLAIN_SAMPLES[kind]):
                prepared = field.get_db_prep_save(value, connection)
                if type(prepared) is not type(value) or prepared != value:
                    kind = None
                    break
        except (TypeError, ValueError):  # a sample the field refuses: not plain
            kind = None
    _PLAIN[field] = kind
    return kind


def _insert_statement(objs: Sequence[models.Model]) -> tuple[str, list[Any]] | None:
    """`insert`'s statement for `objs` and its parameters; None where it is bulk_create's work. A value
    of a plain type (`_plain`) is taken as it is; any other through its field's pre_save and
    get_db_prep_save, as the ORM prepares it."""
    model = type(objs[0])
    if connection.vendor != "postgresql" or any(type(o) is not model for o in objs):
        return None
    keyed = objs[0].pk is not None
    if any((o.pk is not None) != keyed for o in objs):
        return None
    statement = _statement(model, len(objs), keyed)
    if statement is None:
        return None
    sql, fields = statement
    params: list[Any] = []
    append = params.append
    for obj in objs:
        obj._prepare_related_fields_for_save(operation_name="bulk_create")  # type: ignore[attr-defined]
        values = obj.__dict__
        for f, attname, kind in fields:
            value = values.get(attname, _ABSENT) if kind is not None else _ABSENT
            if value is None or (value is not _ABSENT and type(value) is kind):
                append(value)
            else:
                append(f.get_db_prep_save(f.pre_save(obj, True), connection))
    return sql, params


def _written(objs: Sequence[models.Model], keys: Sequence[Sequence[Any]]) -> None:
    for obj, (pk,) in zip(objs, keys, strict=True):
        obj.pk = pk
        obj._state.adding = False
        obj._state.db = connection.alias


def insert[M: models.Model](objs: Sequence[M]) -> list[M]:
    """Insert unsaved instances of one model in one statement; return them with their keys."""
    if not objs:
        return []
    statement = _insert_statement(objs)
    if statement is None:
        return type(objs[0])._default_manager.bulk_create(objs)  # type: ignore[attr-defined]
    with connection.cursor() as cursor:
        prepared.execute(cursor, *statement)
        _written(objs, cursor.fetchall())
    return list(objs)


class Writes:
    """Writes queued and sent to PostgreSQL as **one** statement of data-modifying CTEs when `run`
    (or the `with` block) ends — the round trips and Django's work around each statement are what a
    small transition spends most on (#9, bench 4: a refund's filing, its two clocks, its audit event
    and its notifications in one statement instead of four).

    Every part runs on the statement's one snapshot and none sees another's rows, so a part may not
    depend on another's effects: a row a later part names (a subject's id) must carry its key before
    it is queued (drawn from the sequence beforehand), and one statement may advance a chain head
    once only (`claim`). Constraints are checked as for separate statements (Django's foreign keys
    at the commit); an error in any part writes nothing. Run it inside the caller's transaction.
    Each part's rows come back in the order its RETURNING gives them, as `bulk_create` relies on.
    The parts' statements are templates (`str.format`): no literal braces in them.

    Elsewhere than on PostgreSQL nothing is queued (`queued` is False): `insert` writes at once
    (bulk_create), and a writer with a part of its own (core.chain.event_append) writes it its own way."""

    def __init__(self) -> None:
        self.queued = connection.vendor == "postgresql"
        self._parts: list[tuple[list[str], list[Any], Callable[[list[tuple]], None]]] = []
        self._claimed: set[Any] = set()

    def __enter__(self) -> Writes:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.run()

    def claim(self, key: Any) -> None:
        """Take `key` (a chain head, say) for this statement; a second claim is a programming error."""
        if key in self._claimed:
            raise ValueError(f"{key!r} is written twice in one statement: its second write would not see the first")
        self._claimed.add(key)

    def add(self, ctes: Sequence[str], params: Sequence[Any], done: Callable[[list[tuple]], None]) -> None:
        """Queue a part: `ctes`, statements each of which may name the ones before it as `{0}`, `{1}`, …
        (all but the last become CTEs of their own), positional parameters for all of them in order,
        and `done`, called with the rows the last one returns."""
        self._parts.append((list(ctes), list(params), done))

    def insert[M: models.Model](self, objs: Sequence[M]) -> list[M]:
        """`insert(objs)` as a part (written at once where nothing is queued); the keys are set on the
        instances when the statement runs."""
        if not objs:
            return []
        statement = _insert_statement(objs) if self.queued else None
        if statement is None:
            return insert(objs)
        sql, params = statement
        self.add([sql], params, lambda keys: _written(objs, keys))
        return list(objs)

    def run(self) -> None:
        parts, self._parts, self._claimed = self._parts, [], set()
        if not parts:
            return
        named: list[tuple[str, str]] = []  # (name, statement) of every part's statements, in order
        finals: list[str] = []  # each part's last statement's name
        params: list[Any] = []
        for i, (statements, part_params, _) in enumerate(parts):
            names = [f"w{i}_{j}" for j in range(len(statements))]
            named += [(name, sql.format(*names)) for name, sql in zip(names, statements, strict=True)]
            finals.append(names[-1])
            params += part_params
        ctes = [f"{name} AS ({sql})" for name, sql in named]
        if len(parts) == 1:  # one part: its last statement is the statement, its rows as they are
            sql = (f"WITH {', '.join(ctes[:-1])} " if len(ctes) > 1 else "") + named[-1][1]
        else:  # each part's rows as JSON (keys in RETURNING's order), tagged with the part
            # The statements are the callers' constants; the names are ours; values travel as parameters.
            tagged = [f"SELECT {i}, row_to_json({name})::text FROM {name}" for i, name in enumerate(finals)]  # noqa: S608
            sql = f"WITH {', '.join(ctes)} " + " UNION ALL ".join(tagged)
        with connection.cursor() as cursor:
            prepared.execute(cursor, sql, params)
            rows = cursor.fetchall()
        if len(parts) == 1:
            parts[0][2](rows)
            return
        by_part: list[list[tuple]] = [[] for _ in parts]
        for i, row in rows:
            by_part[i].append(tuple(json.loads(row).values()))
        for (_, _, done), returned in zip(parts, by_part, strict=True):
            done(returned)


_COLUMNS: dict[type, list[tuple[str, str, Any]]] = {}


def _copy_escape(text: str) -> str:
    """COPY's text format: a backslash, tab, newline or carriage return inside a value is escaped."""
    if "\\" in text or "\t" in text or "\n" in text or "\r" in text:
        return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return text


def _columns(model) -> list[tuple[str, str, Any]]:
    """(column, SQL type, default) of every column but the id, computed once per model."""
    if model not in _COLUMNS:
        cols = [
            (f.column, f.db_type(connection), f.default if f.has_default() else None)
            for f in model._meta.concrete_fields
            if not f.primary_key
        ]
        _COLUMNS[model] = cols
    return _COLUMNS[model]


class JSONText(str):
    """A jsonb column's value already serialised (insert_rows writes it as it is)."""


_NULL = "\\N"
_NEEDS_ESCAPE = re.compile(r"[\\\t\n\r]").search


def _copy_column(sql_type: str, values: list) -> list[str]:
    """A column's values in COPY's text format (None is \\N), a whole column at a time: no function
    call per value where a builtin does (digits, text needing no escape), and each distinct timestamp
    formatted once (a batch's rows share their `at`)."""
    if sql_type.startswith(("integer", "bigint", "smallint", "numeric")):
        return [_NULL if v is None else str(v) for v in values]  # digits, a sign, a point
    if sql_type.startswith(("timestamp", "date")):
        texts = {v: v.isoformat() for v in set(values) if v is not None}
        return [_NULL if v is None else texts[v] for v in values]
    if sql_type == "boolean":
        return [_NULL if v is None else ("t" if v else "f") for v in values]
    if sql_type == "jsonb":
        values = [v if v is None or type(v) is JSONText else json.dumps(v, ensure_ascii=False) for v in values]
    elif sql_type == "interval":
        return [_NULL if v is None else f"{v.total_seconds()} seconds" for v in values]
    else:
        values = [v if v is None or type(v) is str else str(v) for v in values]
    # Escaped once per distinct value: kinds, actions and labels repeat down a batch.
    texts = {v: (_copy_escape(v) if _NEEDS_ESCAPE(v) else v) for v in set(values) if v is not None}
    return [_NULL if v is None else texts[v] for v in values]


def _copy_from(cursor, sql: str, data: io.StringIO) -> None:
    """Run `COPY … FROM STDIN` through Django's cursor as any statement is run: seen by the execute
    wrappers and, when queries are logged (tests, DEBUG), by the query log."""

    def executor(sql, params, many, context):
        with connection.wrap_database_errors:
            cursor.cursor.copy_expert(sql, params)

    context = {"connection": connection, "cursor": cursor}
    for wrapper in reversed(connection.execute_wrappers):
        executor = functools.partial(wrapper, executor)
    debug_sql = getattr(cursor, "debug_sql", None)
    if debug_sql is None:
        executor(sql, data, False, context)
        return
    with debug_sql(sql):
        executor(sql, data, False, context)


def insert_rows(model, rows: Sequence[dict[str, Any]], *, ids: bool = True) -> list[int]:
    """INSERT many rows of `model` (dicts of column -> value; a missing column takes the field's
    default) without building a model instance per row: their ids are drawn from the table's
    sequence (one statement), then the rows go in with `COPY … FROM STDIN` (one more). Returns the
    ids in the order of `rows`; with `ids=False` the table numbers the rows itself (the COPY alone)
    and nothing is returned. Foreign keys, checks and unique constraints hold as for any insert."""
    if not rows:
        return []
    cols = _columns(model)
    defaults = {c: (d() if callable(d) else d) for c, _, d in cols}
    table = model._meta.db_table
    names = [c for c, _, _ in cols]
    columns: list[list[str]] = []
    with connection.cursor() as cursor:
        pks: list[int] = []
        if ids:
            cursor.execute(f"SELECT {next_key_sql(model)} AS id FROM generate_series(1, %s) ORDER BY 1", [len(rows)])  # noqa: S608
            pks = [r[0] for r in cursor.fetchall()]
            names = ["id", *names]
            columns.append([str(pk) for pk in pks])
        for column, sql_type, _ in cols:
            try:  # every row names the column: read at C speed
                values = list(map(itemgetter(column), rows))
            except KeyError:
                default = defaults[column]
                values = [row.get(column, default) for row in rows]
            columns.append(_copy_column(sql_type, values))
        data = io.StringIO("\n".join(map("\t".join, zip(*columns, strict=True))) + "\n")
        # Table and columns come from the model's metadata, never from input; values travel as data.
        _copy_from(cursor, f"COPY {table} ({', '.join(names)}) FROM STDIN", data)
    return pks


def _default_literal(field: models.Field) -> str:
    """A column's default as a SQL literal, for set-based inserts that do not name it (a plain value:
    text, a number, a boolean or NULL; anything else must be named by the caller)."""
    value = field.get_default() if field.has_default() else None
    if value is None:
        if not field.null:
            raise ValueError(f"{field.model.__name__}.{field.name} has no default: name it")
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | Decimal):
        return str(value)
    if isinstance(value, str):  # the statement runs with parameters: a literal % is written %%
        return "'" + value.replace("'", "''").replace("%", "%%") + "'"
    raise ValueError(f"{field.model.__name__}.{field.name}'s default {value!r} is not a plain value: name it")


def insert_select_sql(model: type[models.Model], values: dict[str, str], source: str, returning: str = "") -> str:
    """`INSERT INTO <table> (<every concrete column>) SELECT <expression>, … <source>`: a set-based
    insert whose rows come from a query (disputes.batch writes R-T01's rows so). `values` maps columns
    to SQL expressions over `source` (a FROM clause and what follows); a column it does not name takes
    its field's default, as bulk_create would write it, so a new field with a plain default needs no
    change to the statements built here. Names come from the model's metadata only."""
    meta = model._meta
    fields = [f for f in meta.concrete_fields if f.column in values or not f.primary_key]
    unknown = set(values) - {f.column for f in fields}
    if unknown:
        raise ValueError(f"{meta.db_table} has no column {', '.join(sorted(unknown))}")
    q = connection.ops.quote_name
    columns = ", ".join(q(str(f.column)) for f in fields)
    exprs = ", ".join(values[f.column] if f.column in values else _default_literal(f) for f in fields)
    sql = f"INSERT INTO {q(meta.db_table)} ({columns}) SELECT {exprs} {source}"
    return f"{sql} RETURNING {returning}" if returning else sql


def array_literal(values: Sequence[int | str | None]) -> str:
    """PostgreSQL's text form of an array (`{1,2}`, `{"a","b\\"c"}`), to be passed as one parameter and
    cast in the statement (`%(ids)s::bigint[]`): a batch's columns and the ids it locks and marks cost
    psycopg2 and PostgreSQL far less so than as lists, which psycopg2 writes as `ARRAY[…]` of one literal
    per value (5.3 → 1.2 ms per R-T01 batch of 500 for its columns; a list of 500 ids 1.1 ms of the
    process's CPU against 0.14). Integers as they are; every string quoted, backslashes and double
    quotes escaped; None is NULL."""
    return (
        "{"
        + ",".join(
            "NULL"
            if v is None
            else str(v)
            if type(v) is int
            else '"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"'
            for v in values
        )
        + "}"
    )
