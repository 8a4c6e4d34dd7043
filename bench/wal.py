"""What a sweep writes to the WAL, record by record (a tool for work on bench 1; needs `pg_waldump` and
the right to read the server's `pg_wal`, as the superuser on the machine that runs PostgreSQL).

    .venv/bin/python -m bench.profile R-T01 20000 --workers 2 --clean --wal

Every change PostgreSQL makes is a WAL record: a row inserted or updated (`Heap`), an index entry
(`Btree`), a row lock (`Heap LOCK`: `FOR UPDATE` writes an exclusive lock, a foreign-key check a
key-share lock, and an update whose new version goes to another page first locks the old one), and, on
the first change of a page after a checkpoint, that page's full image (FPW). `pg_waldump` lists the
records between two positions (`cpu.Window(wal=True)` takes them around the sweep); this
module counts them per unit of work, by kind and by relation of the bench's database, so that an index
entry, a lock or a row version can be traced to the table and index that cost it. The positions are the
whole server's: another database's records are left out by its oid, anything else running on the server
in the window (a checkpoint's own records) is counted.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from bench.cpu import lsn_text

_RECORD = re.compile(r"^rmgr: (\w+)\s+len \(rec/tot\):\s*\d+/\s*(\d+),.*?desc: ([\w+]+)(.*)$")
_BLOCK = re.compile(r"blkref #\d+: rel (\d+)/(\d+)/(\d+) (?:fork \w+ )?blk \d+( FPW)?")
# The B-tree records that add an entry: an entry that fills its leaf is written with the split (SPLIT_L,
# SPLIT_R) instead of INSERT_LEAF. An inner page's split counts too: one per hundreds of leaf splits.
INDEX_ENTRY_KINDS = ("INSERT_LEAF", "INSERT_POST", "SPLIT_L", "SPLIT_R")


@dataclass
class Anatomy:
    """Records and full-page images of a window's WAL by (rmgr, kind, relfilenode), and its bytes."""

    records: Counter = field(default_factory=Counter)
    fpw: Counter = field(default_factory=Counter)  # full-page images, by the record's relation
    total_bytes: int = 0
    fpw_bytes: int = 0  # an estimate: the records that carry an image, whole

    def add(self, rmgr: str, kind: str, rel: int | None, size: int, images: int) -> None:
        key = (rmgr, kind, rel)
        self.records[key] += 1
        self.total_bytes += size
        if images:
            self.fpw[key] += images
            self.fpw_bytes += size

    def count(self, rmgr: str, kinds: tuple[str, ...]) -> Counter:
        """{relfilenode: records} of the given rmgr and kinds."""
        out: Counter = Counter()
        for (r, kind, rel), n in self.records.items():
            if r == rmgr and kind in kinds:
                out[rel] += n
        return out

    def line(self, units: int, names: dict[int, str], unit: str = "unit") -> str:
        """One line, per `unit` of work: bytes, images, inserts, index entries, updates, locks by table."""

        def per(counter: Counter, top: int = 8) -> str:
            return ", ".join(
                f"{names.get(rel, rel)} {n / units:.2f}" for rel, n in counter.most_common(top) if n / units >= 0.005
            )

        inserts = self.count("Heap", ("INSERT", "INSERT+INIT", "MULTI_INSERT", "MULTI_INSERT+INIT"))
        index = self.count("Btree", INDEX_ENTRY_KINDS)
        updates = self.count("Heap", ("UPDATE", "UPDATE+INIT"))
        hot = self.count("Heap", ("HOT_UPDATE", "HOT_UPDATE+INIT"))
        locks_x = self.count("Heap", ("LOCK:EXCL",))
        locks_k = self.count("Heap", ("LOCK:KEYSHR",))
        locks_o = self.count("Heap", ("LOCK",))

        def s(counter: Counter) -> float:
            return sum(counter.values()) / units

        return (
            f"WAL {self.total_bytes / units:,.0f} bytes per {unit}, {self.fpw_bytes / max(self.total_bytes, 1):.0%} "
            f"of them in records with a full-page image ({sum(self.fpw.values()) / units:.2f} images) | "
            f"per {unit}: row inserts {s(inserts):.2f}, index entries {s(index):.2f}, updates {s(updates):.2f} "
            f"+ HOT {s(hot):.2f}, lock records {s(locks_x) + s(locks_k) + s(locks_o):.2f} "
            f"(exclusive {s(locks_x):.2f}, key share {s(locks_k):.2f}, other {s(locks_o):.2f}) | "
            f"index entries: {per(index, 40)} | row inserts: {per(inserts)} | updates: {per(updates)}; "
            f"HOT: {per(hot)} | exclusive (FOR UPDATE, and an update moving its row to another page): "
            f"{per(locks_x)} | key share (foreign-key checks): {per(locks_k)}"
            + (f" | other locks: {per(locks_o)}" if locks_o else "")
        )


def parse(text: str, database_oid: int | None = None) -> Anatomy:
    """`pg_waldump` output (its text) as an Anatomy. With `database_oid`, records whose first block is
    in another database are left out; records with no block (commits, checkpoints) are kept."""
    anatomy = Anatomy()
    for line in text.splitlines():
        m = _RECORD.match(line)
        if not m:
            continue
        rmgr, size, kind, rest = m.group(1), int(m.group(2)), m.group(3), m.group(4)
        blocks = _BLOCK.findall(rest)
        if blocks and database_oid is not None and int(blocks[0][1]) != database_oid:
            continue
        if rmgr == "Heap" and kind == "LOCK":
            kind = "LOCK:EXCL" if "EXCL_LOCK" in rest else "LOCK:KEYSHR" if "KEYSHR_LOCK" in rest else "LOCK"
        rel = int(blocks[0][2]) if blocks else None
        anatomy.add(rmgr, kind, rel, size, sum(1 for b in blocks if b[3]))
    return anatomy


def waldump(major: int | None = None) -> str | None:
    """A pg_waldump that reads the server's WAL: the server's major version's (Debian's layout,
    /usr/lib/postgresql/15/bin), else the one on PATH."""
    if major is not None and (candidate := Path(f"/usr/lib/postgresql/{major}/bin/pg_waldump")).exists():
        return str(candidate)
    return shutil.which("pg_waldump")


def _major(connection) -> int:
    return connection.pg_version // 10000


def available(connection) -> str | None:
    """None if this machine can read the server's WAL, else why not."""
    if waldump(_major(connection)) is None:
        return "pg_waldump is not installed"
    from django.db import DatabaseError

    try:
        wal_dir = _wal_dir(connection)
    except DatabaseError as exc:  # not allowed to read the setting
        return f"cannot read the server's data_directory ({exc})"
    try:
        if any(wal_dir.iterdir()):
            return None
    except OSError:
        pass
    return f"cannot read {wal_dir} (run on the database's machine, as its owner or root)"


def _wal_dir(connection) -> Path:
    with connection.cursor() as c:
        c.execute("SHOW data_directory")
        return Path(c.fetchone()[0]) / "pg_wal"


def read(connection, start: int, end: int) -> tuple[Anatomy, dict[int, str]]:
    """The WAL between two positions (bytes, as cpu.Window reads them) of the connection's database,
    and the names of its relations by relfilenode."""
    with connection.cursor() as c:
        for _ in range(50):  # the window's last records on disk (the WAL writer flushes within 200 ms)
            c.execute("SELECT pg_wal_lsn_diff(pg_current_wal_flush_lsn(), '0/0')::bigint")
            if c.fetchone()[0] >= end:
                break
            time.sleep(0.1)
        c.execute("SELECT oid FROM pg_database WHERE datname = current_database()")
        oid = c.fetchone()[0]
        c.execute("SELECT pg_relation_filenode(oid::regclass), relname FROM pg_class WHERE relkind IN ('r', 'i', 'p')")
        names = {int(node): name for node, name in c.fetchall() if node is not None}
    dump = waldump(_major(connection)) or "pg_waldump"
    out = subprocess.run(
        [dump, "-p", str(_wal_dir(connection)), "-s", lsn_text(start), "-e", lsn_text(end)],
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0 and not out.stdout:
        raise RuntimeError(f"pg_waldump failed: {out.stderr.strip()[:300]}")
    return parse(out.stdout, oid), names
