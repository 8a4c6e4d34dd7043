"""The PostgreSQL server's configuration the benches run on, as their first lines show it (#9).

    .venv/bin/python -m bench.server      # the settings that matter to the benches, as the server has them

The benches take the server as they find it (this machine's: the packaged configuration, autovacuum
off); what a figure was taken on is printed with it. docs/PERFORMANCE.md ("The machine") says what
changing `shared_buffers` did and did not change, docs/DEPLOY.md what `wal_buffers` does.
"""

from __future__ import annotations

import os

# What a bench's first lines show of the server.
SHOWN = (
    "server_version",
    "shared_buffers",
    "wal_buffers",  # 4 MB (1/32 of 128 MB) leaves two R-T01 sweepers' cores idle: docs/DEPLOY.md
    "max_wal_size",
    "checkpoint_timeout",
    "synchronous_commit",
    "autovacuum",
)


def shown(cursor) -> str:
    """The settings of SHOWN as the server has them now, for a bench's first lines."""
    cursor.execute("SELECT name, current_setting(name) FROM unnest(%s::text[]) AS name", [list(SHOWN)])
    values = dict(cursor.fetchall())
    version = values.pop("server_version").split()[0]
    return f"PostgreSQL {version}: " + ", ".join(f"{name} {value}" for name, value in values.items())


if __name__ == "__main__":
    import psycopg2

    with psycopg2.connect(os.environ.get("BENCH_SERVER_URL", "postgres://postgres@127.0.0.1:5432/postgres")) as c:
        print(shown(c.cursor()))
