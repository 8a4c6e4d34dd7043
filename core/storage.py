"""What migrations set on the tables the sweeper writes hardest (issue #9): storage parameters (fill
factors, autovacuum settings), indexes built concurrently, and foreign keys checked per statement.
PostgreSQL only; elsewhere (the quick start's SQLite) the operations do nothing or what Django does."""

from __future__ import annotations

from django.db import NotSupportedError, migrations


def postgresql_only(forwards_sql: str, backwards_sql: str) -> migrations.RunPython:
    """A migration operation that runs `forwards_sql` on PostgreSQL, and `backwards_sql` when unapplied;
    nothing elsewhere (the quick start's SQLite). The statements are the migration's constants."""

    def forwards(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(forwards_sql)

    def backwards(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(backwards_sql)

    return migrations.RunPython(forwards, backwards)


def table_storage(table: str, **parameters: float) -> migrations.RunPython:
    """A migration operation that sets `parameters` on `table` (`ALTER TABLE … SET (…)`) and resets them
    when unapplied. Names and values are the migration's constants, never input."""
    assignments = ", ".join(f"{name} = {value}" for name, value in parameters.items())
    return postgresql_only(
        f"ALTER TABLE {table} SET ({assignments})", f"ALTER TABLE {table} RESET ({', '.join(parameters)})"
    )


def brin_index(name: str, table: str, column: str) -> migrations.RunPython:
    """A migration operation that builds a BRIN index `name` on `table`'s `column`, concurrently (its
    migration says `atomic = False`), and drops it when unapplied. A BRIN index keeps one summary per
    range of pages, not an entry per row: a row appended to the table's end, in a range not yet
    summarized, writes nothing to it; a vacuum summarizes the ranges filled since the last. The quick
    start's SQLite has no BRIN: nothing there. Names are the migration's constants."""
    return postgresql_only(
        f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {name} ON {table} USING brin ({column})",
        f"DROP INDEX CONCURRENTLY IF EXISTS {name}",
    )


class AddIndexConcurrently(migrations.AddIndex):
    """AddIndex that builds the index without blocking the table's writes on PostgreSQL (`CREATE INDEX
    CONCURRENTLY`: on a loaded primary a plain build would hold the sweeper's inserts for as long as it
    reads the table), and as AddIndex elsewhere (the quick start's SQLite). Its migration must say
    `atomic = False`: PostgreSQL builds concurrently only outside a transaction."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        model = to_state.apps.get_model(app_label, self.model_name)
        if not self.allow_migrate_model(schema_editor.connection.alias, model):
            return
        if schema_editor.connection.vendor == "postgresql":
            if schema_editor.connection.in_atomic_block:
                raise NotSupportedError("AddIndexConcurrently needs a migration with atomic = False")
            schema_editor.add_index(model, self.index, concurrently=True)
        else:
            schema_editor.add_index(model, self.index)


# --- foreign keys checked per statement (#9: R-T01's penalties and ledger) ---------------------------


def set_checked_name(table: str, column: str) -> str:
    """The name a set-checked foreign key's triggers and functions start with."""
    return f"{table}_{column}_set_fk"[:58]  # 63 bytes with a suffix


def set_checked_sql(child: str, column: str, parent: str, key: str, own_key: str = "id") -> list[str]:
    """The statements that enforce `child.column` → `parent.key` as a foreign key does, per statement.

    Child side: after each INSERT, and after each UPDATE that changes the column, the distinct keys
    named are locked in the parent (`FOR KEY SHARE`, as PostgreSQL's own check locks them, so that a
    concurrent DELETE of one waits and then fails below), and a key not found raises
    `foreign_key_violation`. Parent side: a DELETE of a row still named raises it, as does any DELETE
    in a transaction above READ COMMITTED (its snapshot could miss a row named by a transaction that
    committed after it began: PostgreSQL's own check rechecks with a fresh snapshot, a trigger cannot),
    and the parent's key may not change. Not guarded: TRUNCATE (an operator's tool; Django's test
    flush truncates every table at once). `own_key` is the child's primary key (an UPDATE's rows are
    paired by it). Names come from the models' metadata, never from input."""
    name = set_checked_name(child, column)
    violation = f'insert or update on table "{child}" violates foreign key "{name}"'
    named = {
        "ins": f"SELECT DISTINCT n.{column} AS k FROM new_rows n WHERE n.{column} IS NOT NULL",  # noqa: S608
        "upd": (
            f"SELECT DISTINCT n.{column} AS k FROM new_rows n LEFT JOIN old_rows o ON o.{own_key} = n.{own_key} "  # noqa: S608
            f"WHERE n.{column} IS NOT NULL AND n.{column} IS DISTINCT FROM o.{column}"
        ),
    }
    statements = [
        f"""CREATE FUNCTION {name}_{event}() RETURNS trigger LANGUAGE plpgsql AS $fn$
DECLARE wanted bigint; found bigint;
BEGIN
    SELECT count(*) INTO wanted FROM ({keys}) AS named;
    IF wanted > 0 THEN
        SELECT count(*) INTO found FROM (
            SELECT 1 FROM {parent} p WHERE p.{key} IN (SELECT k FROM ({keys}) AS named) FOR KEY SHARE OF p
        ) AS locked;
        IF found < wanted THEN
            RAISE EXCEPTION '{violation}' USING ERRCODE = 'foreign_key_violation',
                DETAIL = 'A key of {column} is not present in table "{parent}".', TABLE = '{child}';
        END IF;
    END IF;
    RETURN NULL;
END $fn$"""  # noqa: S608 (names from the models' metadata, as everywhere here)
        for event, keys in named.items()
    ]
    return [
        *statements,
        f"CREATE TRIGGER {name}_ins AFTER INSERT ON {child} REFERENCING NEW TABLE AS new_rows "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {name}_ins()",
        f"CREATE TRIGGER {name}_upd AFTER UPDATE ON {child} REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {name}_upd()",
        f"""CREATE FUNCTION {name}_del() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM old_rows) THEN
        RETURN NULL;
    END IF;
    IF current_setting('transaction_isolation') <> 'read committed' THEN
        RAISE EXCEPTION 'a row of "{parent}" is deleted in READ COMMITTED only (foreign key "{name}")'
            USING ERRCODE = 'foreign_key_violation', TABLE = '{parent}';
    END IF;
    IF EXISTS (SELECT 1 FROM {child} c WHERE c.{column} IN (SELECT o.{key} FROM old_rows o)) THEN
        RAISE EXCEPTION 'update or delete on table "{parent}" violates foreign key "{name}" on table "{child}"'
            USING ERRCODE = 'foreign_key_violation', TABLE = '{parent}';
    END IF;
    RETURN NULL;
END $fn$""",  # noqa: S608
        f"CREATE TRIGGER {name}_del AFTER DELETE ON {parent} REFERENCING OLD TABLE AS old_rows "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {name}_del()",
        f"""CREATE FUNCTION {name}_key() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
    RAISE EXCEPTION 'the key of a row of "{parent}" cannot change (foreign key "{name}")'
        USING ERRCODE = 'foreign_key_violation', TABLE = '{parent}';
END $fn$""",
        f"CREATE TRIGGER {name}_key BEFORE UPDATE OF {key} ON {parent} FOR EACH ROW "
        f"WHEN (OLD.{key} IS DISTINCT FROM NEW.{key}) EXECUTE FUNCTION {name}_key()",
    ]


def set_unchecked_sql(child: str, column: str, parent: str) -> list[str]:
    """What set_checked_sql made, dropped."""
    name = set_checked_name(child, column)
    return [
        f"DROP TRIGGER {name}_ins ON {child}",
        f"DROP TRIGGER {name}_upd ON {child}",
        f"DROP TRIGGER {name}_del ON {parent}",
        f"DROP TRIGGER {name}_key ON {parent}",
        *(f"DROP FUNCTION {name}_{suffix}()" for suffix in ("ins", "upd", "del", "key")),
    ]


class SetCheckedForeignKey(migrations.operations.base.Operation):
    """The foreign key of `model_name.name` (a field with `db_constraint=False`, so that Django makes no
    constraint) enforced per statement on PostgreSQL (set_checked_sql) instead of per row: the
    sweeper writes a batch's penalties and ledger rows in one statement, and PostgreSQL's own check
    costs a trigger event, a fetch of the row and a look-up with its lock for every row and key (#9,
    DECISIONS.md "The sweeper's tables keep their foreign keys"). Elsewhere (the quick start's SQLite)
    it does nothing: there the key is not enforced."""

    reversible = True

    def __init__(self, model_name: str, name: str) -> None:
        self.model_name = model_name
        self.name = name

    def deconstruct(self):
        return self.__class__.__name__, [], {"model_name": self.model_name, "name": self.name}

    def state_forwards(self, app_label, state) -> None:
        pass

    def _names(self, app_label, state) -> tuple[str, str, str, str, str]:
        model = state.apps.get_model(app_label, self.model_name)
        field = model._meta.get_field(self.name)
        if field.db_constraint:
            raise ValueError(f"{self.model_name}.{self.name} keeps its constraint: say db_constraint=False")
        target = field.target_field
        return model._meta.db_table, field.column, target.model._meta.db_table, target.column, model._meta.pk.column

    def database_forwards(self, app_label, schema_editor, from_state, to_state) -> None:
        if schema_editor.connection.vendor == "postgresql":
            for statement in set_checked_sql(*self._names(app_label, to_state)):
                schema_editor.execute(statement)

    def database_backwards(self, app_label, schema_editor, from_state, to_state) -> None:
        if schema_editor.connection.vendor == "postgresql":
            child, column, parent, _, _ = self._names(app_label, from_state)
            for statement in set_unchecked_sql(child, column, parent):
                schema_editor.execute(statement)

    def describe(self) -> str:
        return f"Check {self.model_name}.{self.name}'s foreign key per statement"
