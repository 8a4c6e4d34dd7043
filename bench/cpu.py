"""The machine's CPU over a bench's measured window (issue #9: "where a target is missed, what limits it").

Every bench here runs its load, its server and PostgreSQL on the one machine, so a rate is bound by
one of two things: the cores (every process together busy all the time) or waiting (a commit's WAL
flush, a lock). `Window` reads /proc/stat around the window: the share of the cores that was busy,
and the busy CPU per unit of work (a firing, a request) of all processes together. On a machine whose
cores were busy throughout, `cores * 1e6 / µs per unit` is the rate's ceiling, whoever the work
belongs to; pgbench, bound by the flush, leaves them largely idle.

    w = cpu.Window().start()
    ...                             # the measured work
    w.stop()
    w.share, w.per(fired)           # 0.97 of the cores busy, 482 µs of CPU per firing

`Window(wal=True)` also reads the server's WAL position (`pg_current_wal_lsn()`, through Django's
connection) at both ends: the bytes of WAL the window wrote, per unit with `w.wal_per(fired)`. The
position is the whole server's, so it counts what every database on it wrote (pgbench's included),
checkpoints' full-page images too: what a replica must receive and an archive keep.

`Backend` reads the CPU of the PostgreSQL backend serving one connection (the server's share of the
work the in-process tools, `bench.profile` and `bench.profile_api`, send through it).
"""

from __future__ import annotations

import os
import time


def _busy_and_total() -> tuple[float, float]:
    """Seconds of CPU the whole machine has spent busy, and in all, since boot (all cores)."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    # user nice system idle iowait irq softirq steal (guest and guest_nice are inside user and nice)
    total = sum(fields[:8])
    idle = fields[3] + fields[4]
    tick = os.sysconf("SC_CLK_TCK")
    return (total - idle) / tick, total / tick


def lsn_text(position: int) -> str:
    """A WAL position (bytes) as PostgreSQL writes it: 17541330432 -> "4/158B7600"."""
    return f"{position >> 32:X}/{position & 0xFFFFFFFF:X}"


def wal_position() -> int:
    """The server's current WAL position in bytes (Django's default connection)."""
    from django.db import connection

    with connection.cursor() as c:
        c.execute("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint")
        return int(c.fetchone()[0])


class Window:
    """Busy CPU of the whole machine between `start()` and `stop()` (and, `wal`, the WAL written)."""

    def __init__(self, *, wal: bool = False) -> None:
        self.busy = self.total = self.wall = 0.0
        self.wal = wal
        self.wal_range = (0, 0)

    def start(self) -> Window:
        if self.wal:
            self._wal = wal_position()
        self._busy, self._total = _busy_and_total()
        self._wall = time.perf_counter()
        return self

    def stop(self) -> Window:
        busy, total = _busy_and_total()
        self.busy, self.total = busy - self._busy, total - self._total
        self.wall = time.perf_counter() - self._wall
        if self.wal:
            self.wal_range = (self._wal, wal_position())
        return self

    @property
    def wal_bytes(self) -> int | None:
        """The bytes of WAL the window wrote (None: a window that does not read the WAL)."""
        return self.wal_range[1] - self.wal_range[0] if self.wal else None

    @property
    def wal_lsns(self) -> str:
        """The window's WAL as `pg_waldump -s A -e B` takes it: "4/158B7600 4/263252F8"."""
        return " ".join(lsn_text(n) for n in self.wal_range)

    @property
    def share(self) -> float:
        """The share of the machine's cores that was busy (0-1)."""
        return self.busy / self.total if self.total else 0.0

    def per(self, units: float) -> float:
        """Busy CPU in µs per unit of work."""
        return self.busy / units * 1e6 if units else 0.0

    def wal_per(self, units: float) -> float:
        """Bytes of WAL per unit of work (a window made with `wal=True`)."""
        if self.wal_bytes is None:
            raise ValueError("this window does not read the WAL (Window(wal=True))")
        return self.wal_bytes / units if units else 0.0


def process_times(pid: int) -> tuple[float, float]:
    """Seconds of CPU process `pid` of this machine has spent since it started: in user mode, and in
    the kernel on its behalf (system calls: a commit's flush, the socket)."""
    with open(f"/proc/{pid}/stat") as f:
        # After the command name's closing parenthesis: the state (field 3), ..., utime (14), stime (15).
        fields = f.read().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick


class Backend:
    """The CPU spent by the PostgreSQL backend of a Django connection between `start()` and `stop()`
    (the server on this machine; its process read from /proc). The WAL writer's and other server
    processes' work is not in it; a commit's flush, done by the backend, is mostly waiting."""

    def __init__(self, connection) -> None:
        self.connection = connection
        self.cpu = self.system = 0.0  # seconds: all of it, and the kernel's part

    def _pid(self) -> int:
        with self.connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            return int(cursor.fetchone()[0])

    def start(self) -> Backend:
        self._pid_at_start = self._pid()
        self._times = process_times(self._pid_at_start)
        return self

    def stop(self) -> Backend:
        pid = self._pid()
        if pid != self._pid_at_start:
            raise RuntimeError("the connection was reopened in the window: its backend's CPU cannot be read")
        user, system = (now - then for now, then in zip(process_times(pid), self._times, strict=True))
        self.cpu, self.system = user + system, system
        return self
