"""R-P04: the misdescription ladder per item (shop + SKU) and situation (severity), and its 3-day window."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine

from core import rulebook
from core.errors import RuleViolation
from core.models import Event
from penalties import services
from penalties.models import ItemAction, Penalty
from penalties.selectors import item_state, shop_points
from tests.penalties.factories import source_order

CHINA = ZoneInfo("Asia/Shanghai")
T0 = dt.datetime(2026, 3, 2, 10, 0, tzinfo=CHINA)
SECOND = dt.timedelta(seconds=1)
WINDOW = dt.timedelta(days=rulebook.MISDESCRIPTION_WINDOW_DAYS)

pytestmark = pytest.mark.django_db


def _misdescribed(cast, *, at, severity, sku="DRESS-01", shop=None):
    shop = shop or cast.shop
    with time_machine.travel(at, tick=False):
        order = source_order(shop, sku=sku)
        return services.penalty_issue_misdescription(
            shop=shop, sku=sku, severity=severity, source=order, order=order, actor=cast.arbitrator
        )


@pytest.mark.parametrize(
    ("severity", "expected"),
    [
        # R-P04 serious (material, composition): 12 points and the item deleted, every time.
        ("serious", [(12, "delete"), (12, "delete"), (12, "delete")]),
        # affects_use: 1st delist + 3, 2nd delete + 6 (past the end of the ladder: its last step).
        ("affects_use", [(3, "delist"), (6, "delete"), (6, "delete")]),
        # minor: 1st delist + 0, 2nd delist + 3, 3rd delete + 6.
        ("minor", [(0, "delist"), (3, "delist"), (6, "delete")]),
    ],
)
def test_r_p04_ladder_first_second_third_time(cast, severity, expected):
    at = T0
    total = 0
    for step, (points, action) in enumerate(expected, start=1):
        penalty = _misdescribed(cast, at=at, severity=severity)
        assert penalty is not None
        assert (penalty.points, penalty.item_action, penalty.ladder_step) == (points, action, step)
        assert (penalty.code, penalty.point_class, penalty.sku, penalty.severity) == (
            "r_p04",
            "A",
            "DRESS-01",
            severity,
        )
        item = ItemAction.objects.get(penalty=penalty)
        assert (item.shop_id, item.sku, item.action) == (cast.shop.pk, "DRESS-01", action)
        total += points
        at += WINDOW + SECOND  # just past the window: the next time counts
    assert shop_points(shop=cast.shop, point_class="A", year=2026) == total
    assert item_state(shop=cast.shop, sku="DRESS-01") == expected[-1][1]


@pytest.mark.parametrize("severity", ["serious", "affects_use", "minor"])
def test_r_p04_one_deduction_per_3_days_one_second_either_side(cast, severity):
    first = _misdescribed(cast, at=T0, severity=severity)
    assert first.ladder_step == 1

    # One second before the 3 days are up: nothing is deducted and the time does not count.
    inside = _misdescribed(cast, at=T0 + WINDOW - SECOND, severity=severity)
    assert inside is None
    assert Penalty.objects.filter(shop=cast.shop, code="r_p04").count() == 1
    skipped = Event.objects.get(action="penalty.not_counted")
    assert skipped.data["last_penalty"] == first.pk and skipped.data["rule"] == "R-P04"

    # One second after: it deducts, as the 2nd time (the skipped one was not a time).
    after = _misdescribed(cast, at=T0 + WINDOW + SECOND, severity=severity)
    assert after is not None and after.ladder_step == 2
    assert (
        after.points
        == rulebook.MISDESCRIPTION_LADDER[severity][min(1, len(rulebook.MISDESCRIPTION_LADDER[severity]) - 1)][0]
    )

    # The window restarts from the deduction just made.
    assert _misdescribed(cast, at=T0 + 2 * WINDOW, severity=severity) is None
    third = _misdescribed(cast, at=T0 + 2 * WINDOW + 2 * SECOND, severity=severity)
    assert third is not None and third.ladder_step == 3


def test_r_p04_window_is_per_item_and_situation(cast):
    assert _misdescribed(cast, at=T0, severity="minor", sku="A-1").ladder_step == 1
    # Same moment, another SKU, another situation, another shop: each is its own first time.
    assert _misdescribed(cast, at=T0 + SECOND, severity="minor", sku="B-2").ladder_step == 1
    assert _misdescribed(cast, at=T0 + SECOND, severity="affects_use", sku="A-1").ladder_step == 1
    other = _misdescribed(cast, at=T0 + SECOND, severity="minor", sku="A-1", shop=cast.stranger_shop)
    assert other.ladder_step == 1
    assert _misdescribed(cast, at=T0 + SECOND, severity="minor", sku="A-1") is None


def test_r_p04_a_revoked_time_does_not_count(cast):
    first = _misdescribed(cast, at=T0, severity="affects_use")
    assert item_state(shop=cast.shop, sku="DRESS-01") == "delist"
    with time_machine.travel(T0 + dt.timedelta(hours=1), tick=False):
        services.penalty_revoke(penalty=first, actor=cast.arbitrator, reason="申诉成功:描述无误")
    # R-P12: its item action is reverted and it no longer opens a window nor counts as a time.
    assert item_state(shop=cast.shop, sku="DRESS-01") == "listed"
    again = _misdescribed(cast, at=T0 + dt.timedelta(hours=2), severity="affects_use")
    assert (again.ladder_step, again.points, again.item_action) == (1, 3, "delist")


def test_r_p04_times_count_within_the_natural_year(cast):
    # The 31st of December, then the 4th of January: the window has passed and the year is new.
    dec = dt.datetime(2026, 12, 31, 12, 0, tzinfo=CHINA)
    assert _misdescribed(cast, at=dec, severity="affects_use").ladder_step == 1
    jan = _misdescribed(cast, at=dec + WINDOW + SECOND, severity="affects_use")
    assert (jan.ladder_step, jan.points) == (1, 3)


@pytest.mark.parametrize(("sku", "severity"), [("", "minor"), ("X", "catastrophic"), ("X", "")])
def test_r_p04_refuses_a_missing_item_or_unknown_situation(cast, sku, severity):
    order = source_order(cast.shop)
    with pytest.raises(RuleViolation):
        services.penalty_issue_misdescription(
            shop=cast.shop, sku=sku, severity=severity, source=order, actor=cast.arbitrator
        )
    assert not Penalty.objects.exists()


def test_the_same_item_lookup_reads_the_item_index_which_penalties_without_a_sku_stay_out_of(cast):
    """#9: `penalty_item_idx` holds item penalties only (a SKU named), so the sweeper's R-T01 penalties
    add no entry to it; R-P04's lookups of the same item and situation still read it."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    _misdescribed(cast, at=T0, severity="minor")
    with CaptureQueriesContext(connection) as ctx:
        _misdescribed(cast, at=T0 + WINDOW + SECOND, severity="minor")
    sqls = [q["sql"] for q in ctx.captured_queries]
    lookups = [sql for sql in sqls if 'FROM "penalties_penalty"' in sql and '"sku" =' in sql]
    assert lookups, "R-P04 looks the item up"
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = 'penalty_item_idx'")
        assert "WHERE (NOT ((sku)::text = ''::text))" in cursor.fetchone()[0]
        cursor.execute("SET LOCAL enable_seqscan = off")  # a test's table is small enough to scan
        for sql in lookups:
            cursor.execute(f"EXPLAIN {sql}")
            plan = "\n".join(row[0] for row in cursor.fetchall())
            assert "penalty_item_idx" in plan, plan
