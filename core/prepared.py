"""Server-side prepared statements for the statements every request of a hot path runs (#9, bench 4).

psycopg2 sends each statement as text with its values written in, and PostgreSQL parses, analyses and
plans it again at every execution. For the token's statement (every API request) that was more than
half of the server's work on it, and for a refund's filing about 0.6 ms of its 1.6 ms.
`execute` prepares such a statement once per database session (`PREPARE p_… AS …`, its `%s`
placeholders numbered) and then sends `EXECUTE p_…(values)`.

Planning is what is saved, and PostgreSQL decides when (plan_cache_mode `auto`, its default): the
first five executions are planned for their values, and from then on the statement's generic plan is
used if its estimated cost is below the average of those custom plans. So only statements whose plan
is the same whatever the values go through here: a look-up by key, an INSERT, or a statement that
takes no values at all (it has one plan, the plan of what is written in it). Not the queue page with
values: PostgreSQL turned it generic after five pages in the tests, and a generic plan for a filter on
a rare status, say, could cost far more than the plan the value gets; its first page without filter
values is written without parameters and prepared (disputes/case_queue.py).

Where it is off — another database, `DATABASE_PREPARED_STATEMENTS` false, or connections not kept
between requests (`CONN_MAX_AGE` 0, as behind a transaction pooler such as PgBouncer, where the next
statement may reach another server session: docs/DEPLOY.md) — `execute` is `cursor.execute`.

The first execution in a session sends the PREPARE and the EXECUTE as one query, so a statement is
one query whether or not it was prepared before (the tests count queries). A prepared statement
belongs to the session, not to a transaction: a rollback keeps it. The names prepared are
remembered per driver connection (`connection.connection`): a new connection starts with none.
An EXECUTE that fails for its values (a constraint, a lock, a division by zero) leaves its statement
prepared: the next one runs it again. A first execution that fails leaves it unknown whether the
PREPARE before it stood (a PREPARE outlives the EXECUTE's error), and a session may lose a statement
(DEALLOCATE or DISCARD: "does not exist"; a migration changing a column it returns: "cached plan must
not change result type"): then the next execution prepares it again under a fresh name, at most
`RETRIES` times per statement and session, and after that runs it unprepared.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import connection

RETRIES = 8  # fresh names per statement and session after failed executions; then it runs unprepared
# A statement taking more values runs unprepared: its plan is a small part of its cost, and a session
# would otherwise keep one large statement per row count (a notice to many people, say).
MAX_VALUES = 500

_PLACEHOLDER = re.compile(r"%%|%s|%\(")
# Per statement text: (a name stem from its hash, its text with $1…$n and `%` doubled for psycopg2's
# formatting, the number of values), or None if it runs unprepared (named placeholders, too many values).
_FORMS: dict[str, tuple[str, str, int] | None] = {}
_TEXTS: dict[str, str] = {}  # per name stem, the statement as written (statement_of)


def _form(sql: str) -> tuple[str, str, int] | None:
    """`sql` as a prepared statement: a name stem, its text with the `%s` placeholders numbered ($1,
    $2 …) and ready to pass through psycopg2's formatting (a `%` written `%%`), and the number of
    values. None for named placeholders (`%(name)s`) or more than MAX_VALUES values."""
    if sql in _FORMS:
        return _FORMS[sql]
    count = 0
    named = False

    def number(match: re.Match) -> str:
        nonlocal count, named
        token = match.group()
        if token == "%(":
            named = True
        if token != "%s":
            return token  # "%%" stays "%%": psycopg2 makes it "%" again
        count += 1
        return f"${count}"

    numbered = _PLACEHOLDER.sub(number, sql)
    form = (
        None if named or count > MAX_VALUES else (f"p_{hashlib.sha256(sql.encode()).hexdigest()[:24]}", numbered, count)
    )
    _FORMS[sql] = form
    if form is not None:
        _TEXTS[form[0]] = sql
    return form


_RUN = re.compile(r"^(?:PREPARE p_[0-9a-f]{24}_\d+ AS .*\n; )?EXECUTE (p_[0-9a-f]{24})_\d+\b", re.DOTALL)


def statement_of(query: str) -> str:
    """What a query sent by `execute` runs: for `EXECUTE p_…` (the first time `PREPARE …; EXECUTE …`),
    the statement as its caller wrote it, placeholders and all; any other query as it is. For reading
    captured queries (tests, logs)."""
    match = _RUN.match(query)
    if match is None:
        return query
    return _TEXTS.get(match.group(1), query)


def enabled() -> bool:
    """On for PostgreSQL with connections kept between requests, unless DATABASE_PREPARED_STATEMENTS is false."""
    return (
        connection.vendor == "postgresql"
        and bool(getattr(settings, "DATABASE_PREPARED_STATEMENTS", True))
        and connection.settings_dict.get("CONN_MAX_AGE", 0) != 0
    )


@dataclass
class _Session:
    raw: Any  # the driver's connection these names were prepared in
    prepared: set[str] = field(default_factory=set)
    retries: dict[str, int] = field(default_factory=dict)  # per name stem: fresh names taken after failures


def _session() -> _Session:
    raw = connection.connection
    session = getattr(connection, "_prepared_session", None)
    if session is None or session.raw is not raw:
        session = _Session(raw)
        connection._prepared_session = session  # type: ignore[attr-defined]
    return session


def execute(cursor, sql: str, params: Sequence[Any]) -> None:
    """`cursor.execute(sql, params)` (a Django cursor), through a statement prepared once per session
    where that is on. `sql` takes positional `%s` placeholders; anything else runs as it is."""
    form = _form(sql) if enabled() else None
    if form is None:
        cursor.execute(sql, params)
        return
    stem, numbered, count = form
    if len(params) != count:
        raise ValueError(f"{count} placeholders, {len(params)} values")
    session = _session()
    retries = session.retries.get(stem, 0)
    if retries > RETRIES:
        cursor.execute(sql, params)
        return
    name = f"{stem}_{retries}"
    run = f"EXECUTE {name}({', '.join(['%s'] * count)})" if count else f"EXECUTE {name}"
    first = name not in session.prepared
    if first:
        run = f"PREPARE {name} AS {numbered}\n; {run}"  # on a line of its own: after a `--` comment too
    try:
        cursor.execute(run, list(params))
    except BaseException as exc:
        if first or _lost(exc):  # prepared or not: this name is not used again in this session
            session.prepared.discard(name)
            session.retries[stem] = retries + 1
        raise
    session.prepared.add(name)


# SQLSTATEs of an EXECUTE whose prepared statement the session no longer has, or can no longer run:
# invalid_sql_statement_name ("does not exist"), feature_not_supported ("cached plan must not change
# result type").
_LOST = ("26000", "0A000")


def _lost(exc: BaseException) -> bool:
    """Whether an EXECUTE's error may have been its statement's, not its values'. Django raises its own
    error from the driver's, which carries the SQLSTATE; an error without one (the connection, say)
    counts as lost."""
    code = getattr(exc.__cause__, "pgcode", None) or getattr(exc, "pgcode", None)
    return code is None or code in _LOST
