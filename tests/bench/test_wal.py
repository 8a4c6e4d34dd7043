"""bench.wal: reading `pg_waldump` (lines of a real R-T01 sweep's WAL), cpu.Window's WAL position, and a
real reading of the server's WAL where this machine may read it."""

import pytest
from django.db import connection, transaction

from bench import cpu, wal
from core.models import Notification
from tests.factories import UserFactory

# Lines of `pg_waldump` over an R-T01 sweep (2026-12-05, the thirteenth machine); database 22705, and
# one record of another database (22999) that a reading of 22705 leaves out.
DUMP = """\
rmgr: Heap        len (rec/tot):     54/    54, tx:     110621, lsn: 4/28806D78, prev 4/28806D38, desc: LOCK off 1: xid 110621: flags 0x00 LOCK_ONLY EXCL_LOCK KEYS_UPDATED , blkref #0: rel 1663/22705/22923 blk 58673
rmgr: Heap        len (rec/tot):     73/  2097, tx:     110621, lsn: 4/28807418, prev 4/288073E0, desc: UPDATE off 12 xmax 110621 flags 0x02 KEYS_UPDATED ; new off 1 xmax 110621, blkref #0: rel 1663/22705/22923 blk 58734 FPW, blkref #1: rel 1663/22705/22923 blk 58673
rmgr: Heap        len (rec/tot):     76/    76, tx:     110479, lsn: 4/27A12858, prev 4/27A127F8, desc: HOT_UPDATE off 66 xmax 110479 flags 0x20 ; new off 68 xmax 0, blkref #0: rel 1663/22705/22923 blk 0
rmgr: Btree       len (rec/tot):     64/    64, tx:     110621, lsn: 4/28807C50, prev 4/28807418, desc: INSERT_LEAF off 226, blkref #0: rel 1663/22705/22929 blk 15423
rmgr: Btree       len (rec/tot):     72/    72, tx:     110621, lsn: 4/28807CE0, prev 4/28807C90, desc: INSERT_LEAF off 25, blkref #0: rel 1663/22705/23610 blk 6693
rmgr: Btree       len (rec/tot):     64/    64, tx:     110621, lsn: 4/28807E60, prev 4/28807D98, desc: INSERT_LEAF off 228, blkref #0: rel 1663/22705/22929 blk 15423
rmgr: Heap        len (rec/tot):     54/    54, tx:     110622, lsn: 4/28A8D700, prev 4/28A8D6A0, desc: LOCK off 35: xid 110622: flags 0x00 LOCK_ONLY KEYSHR_LOCK , blkref #0: rel 1663/22705/22743 blk 853
rmgr: Heap        len (rec/tot):    213/   213, tx:     110622, lsn: 4/288756C0, prev 4/28875658, desc: INSERT+INIT off 1 flags 0x00, blkref #0: rel 1663/22705/23530 blk 48239
rmgr: Heap        len (rec/tot):    199/   199, tx:     110622, lsn: 4/288757A0, prev 4/288756C0, desc: INSERT off 2 flags 0x00, blkref #0: rel 1663/22705/23530 blk 48239
rmgr: Heap        len (rec/tot):    199/   199, tx:     110623, lsn: 4/288758A0, prev 4/288757A0, desc: INSERT off 3 flags 0x00, blkref #0: rel 1663/22999/23530 blk 48239
rmgr: Transaction len (rec/tot):     34/    34, tx:     110621, lsn: 4/28843368, prev 4/28843320, desc: COMMIT 2026-12-05 18:39:52.534335 UTC
"""  # noqa: E501 (pg_waldump's lines as it prints them)

NAMES = {22923: "disputes_deadline", 22929: "disputes_deadline_pkey", 23610: "deadline_subject_idx"}
NAMES |= {22743: "auth_user", 23530: "core_notification"}


def test_the_records_are_counted_by_kind_and_relation_of_the_database_read():
    anatomy = wal.parse(DUMP, database_oid=22705)
    assert anatomy.count("Btree", ("INSERT_LEAF",)) == {22929: 2, 23610: 1}
    assert anatomy.count("Heap", ("INSERT", "INSERT+INIT")) == {23530: 2}  # the other database's left out
    assert anatomy.count("Heap", ("LOCK:EXCL",)) == {22923: 1}  # FOR UPDATE
    assert anatomy.count("Heap", ("LOCK:KEYSHR",)) == {22743: 1}  # a foreign-key check
    assert anatomy.count("Heap", ("UPDATE",)) == {22923: 1} and anatomy.count("Heap", ("HOT_UPDATE",)) == {22923: 1}
    assert sum(anatomy.fpw.values()) == 1 and anatomy.fpw_bytes == 2097
    assert anatomy.total_bytes == 54 + 2097 + 76 + 64 + 72 + 64 + 54 + 213 + 199 + 34
    assert sum(wal.parse(DUMP).count("Heap", ("INSERT",)).values()) == 2  # no database named: all of them


def test_the_line_gives_each_figure_per_unit_and_names_the_relations():
    line = wal.parse(DUMP, database_oid=22705).line(2, NAMES, unit="firing")
    assert "WAL 1,464 bytes per firing" in line and "per firing: row inserts" in line
    assert "row inserts 1.00, index entries 1.50, updates 0.50 + HOT 0.50" in line
    assert "lock records 1.00 (exclusive 0.50, key share 0.50, other 0.00)" in line
    assert "index entries: disputes_deadline_pkey 1.00, deadline_subject_idx 0.50" in line
    assert "key share (foreign-key checks): auth_user 0.50" in line
    assert "0.50 images" in line


def test_an_entry_that_splits_its_leaf_is_an_index_entry():
    """The insert that fills a leaf is written as the split (SPLIT_L or SPLIT_R), not as INSERT_LEAF."""
    split = (
        "rmgr: Btree       len (rec/tot):   2142/  2142, tx:     110621, lsn: 4/28807F00, prev 4/28807E60, "
        "desc: SPLIT_R level 0, firstrightoff 368, newitemoff 408, postingoff 0, blkref #0: rel 1663/22705/22929 "
        "blk 15423, blkref #1: rel 1663/22705/22929 blk 15500, blkref #2: rel 1663/22705/22929 blk 15424\n"
    )
    anatomy = wal.parse(DUMP + split, database_oid=22705)
    assert anatomy.count("Btree", wal.INDEX_ENTRY_KINDS) == {22929: 3, 23610: 1}
    assert "index entries 2.00" in anatomy.line(2, NAMES)


def test_a_position_is_written_as_postgresql_writes_it():
    assert cpu.lsn_text(4 * 2**32 + 0x158B7600) == "4/158B7600"
    assert cpu.lsn_text(0x918C000) == "0/918C000"


@pytest.mark.django_db(transaction=True)  # committed, so that the records are on disk for pg_waldump
def test_a_window_reads_the_wal_its_own_inserts_wrote():
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL's WAL")
    with pytest.raises(ValueError, match="does not read the WAL"):
        cpu.Window().start().stop().wal_per(1)
    user = UserFactory()
    window = cpu.Window(wal=True).start()
    with transaction.atomic():
        Notification.objects.bulk_create(Notification(user=user, kind="test", title=f"n{i}") for i in range(50))
    window.stop()
    assert window.wal_bytes and window.wal_per(50) > 50  # at least a heap record per row
    if why := wal.available(connection):
        pytest.skip(why)
    anatomy, names = wal.read(connection, *window.wal_range)
    by_name = {names.get(rel): n for rel, n in anatomy.count("Heap", ("INSERT", "INSERT+INIT")).items()}
    # Other tests may write to the server meanwhile, in their own databases: only this one's are read.
    assert by_name == {"core_notification": 50}
    entries = {names.get(rel): n for rel, n in anatomy.count("Btree", wal.INDEX_ENTRY_KINDS).items()}
    assert entries["core_notification_pkey"] == 50  # with the entry that split a leaf, where one did
    assert anatomy.count("Heap", ("LOCK:KEYSHR",))  # the user's foreign key, checked with a key-share lock
