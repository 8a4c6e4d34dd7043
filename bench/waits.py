"""What the sweepers' PostgreSQL backends wait for while they work, and how often the WAL buffers were
found full (a tool for work on bench 1: where a sweep leaves the cores idle).

    .venv/bin/python -m bench.profile R-T01 50000 --workers 2 --clean --waits

From `start()` to `stop()` a thread samples `pg_stat_activity` every 5 ms over a connection of its own:
each active client backend of the database but its own, counted under its wait event (`CPU` when it
waits for nothing: running, or runnable and waiting for a core). `pg_stat_wal` is read at both ends:
the WAL records, page images, bytes, the times a backend found the WAL buffers full and had to write
WAL out itself, and the WAL writes and syncs. The server's counters are the whole server's, so other
databases' work counts too. The sampler is not free: alternated on the twenty-fourth machine, a
two-worker R-T01 sweep of 50,000 ran at 8,169–8,381/s beside it and 8,783–8,868/s without it (5–7 %).
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field

INTERVAL = 0.005
# After the last sample, before pg_stat_wal is read again: a backend reports its WAL counters when it goes
# idle (at most once a second) and when it exits, and the sweepers' backends are exiting as it stops.
SETTLE = 0.5

_ACTIVE = """
SELECT coalesce(wait_event_type || ':' || wait_event, 'CPU') FROM pg_stat_activity
 WHERE datname = current_database() AND backend_type = 'client backend' AND state = 'active'
   AND pid <> pg_backend_pid()
"""
WAL_COUNTERS = ("wal_records", "wal_fpi", "wal_bytes", "wal_buffers_full", "wal_write", "wal_sync")
_WAL = f"SELECT {', '.join(f'{name}::bigint' for name in WAL_COUNTERS)} FROM pg_stat_wal"


@dataclass
class Waits:
    events: Counter = field(default_factory=Counter)  # wait event (or CPU) -> samples
    wal: dict[str, int] = field(default_factory=dict)  # pg_stat_wal's counters over the window

    @property
    def samples(self) -> int:
        return sum(self.events.values())

    def share(self, event: str) -> float:
        return self.events[event] / self.samples if self.samples else 0.0

    def line(self, units: int = 0, unit: str = "firing") -> str:
        events = ", ".join(f"{event} {n / self.samples:.1%}" for event, n in self.events.most_common(8))
        text = f"waits, share of {self.samples:,} backend samples: {events or 'none'}"
        if self.samples:  # rows, tables, transactions, a relation's extension: whether sweepers block each other
            locks = sum(n for event, n in self.events.items() if event.startswith("Lock:"))
            text += f"; heavyweight locks (Lock:*) {locks / self.samples:.1%} in all"
        if self.wal:
            full = self.wal["wal_buffers_full"]
            text += (
                f" | pg_stat_wal over the sweep: the WAL buffers found full {full:,} times"
                + (f" (once every {units / full:.1f} {unit}s)" if units and full else "")
                + f", {self.wal['wal_write']:,} writes, {self.wal['wal_sync']:,} syncs, "
                f"{self.wal['wal_fpi']:,} page images, {self.wal['wal_bytes']:,} bytes"
            )
        return text


def _read_wal(cursor) -> dict[str, int] | None:
    from django.db import ProgrammingError

    try:
        cursor.execute(_WAL)
    except ProgrammingError:  # pg_stat_wal is PostgreSQL 14's: an older server's sweep has no counters
        return None
    return dict(zip(WAL_COUNTERS, cursor.fetchone(), strict=True))


class Sampler:
    """Samples from `start()` to `stop()`; `waits` holds what it saw. `alias`: the database whose
    backends are sampled, through a connection of the sampler's own thread."""

    def __init__(self, alias: str = "default") -> None:
        self.alias = alias
        self.waits = Waits()
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> Sampler:
        self._thread = threading.Thread(target=self._run, name="bench-waits", daemon=True)
        self._thread.start()
        self._ready.wait(10)
        return self

    def stop(self) -> Sampler:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
        return self

    def _run(self) -> None:
        from django.db import connections

        conn = connections.create_connection(self.alias)  # this thread's own: not the caller's, not shared
        try:
            with conn.cursor() as c:
                before = _read_wal(c)
                self._ready.set()
                while not self._stop.is_set():
                    c.execute(_ACTIVE)
                    self.waits.events.update(event for (event,) in c.fetchall())
                    time.sleep(INTERVAL)
                time.sleep(SETTLE)
                after = _read_wal(c)
                if before and after:
                    self.waits.wal = {name: after[name] - before[name] for name in WAL_COUNTERS}
        finally:
            self._ready.set()
            conn.close()
