"""R-P11 sanctions by accumulated points, R-P12 lifting them, R-P10 the China-time year boundary."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine

from core import rulebook
from core.models import Event, Notification
from disputes.engine import enforce_deadlines
from disputes.models import Deadline
from penalties import services
from penalties.models import Sanction
from penalties.selectors import sanctions_active, shop_points, shop_record
from tests.penalties.factories import issue

CHINA = ZoneInfo("Asia/Shanghai")
T0 = dt.datetime(2026, 5, 20, 9, 30, tzinfo=CHINA)
SECOND = dt.timedelta(seconds=1)

pytestmark = pytest.mark.django_db

# R-P11: every threshold of both classes (B is half of A), with a code of that class (R-P10).
THRESHOLDS = [
    pytest.param(point_class, code, threshold, kind, days, id=f"{point_class}{threshold}-{kind}")
    for point_class, code in (("A", "r_p06"), ("B", "r_p07"))
    for threshold, kind, days in rulebook.sanction_thresholds(point_class)
]


def _at(when, fn, *args, **kwargs):
    with time_machine.travel(when, tick=False):
        return fn(*args, **kwargs)


def _sanctions(shop, point_class, threshold, year=2026):
    return Sanction.objects.filter(shop=shop, point_class=point_class, threshold=threshold, year=year)


def test_thresholds_are_the_rulebook_ones():
    # R-P11 as the rulebook states it; B-class thresholds are half of A's.
    assert [t[0] for t in rulebook.sanction_thresholds("A")] == [12, 24, 36, 48]
    assert [t[0] for t in rulebook.sanction_thresholds("B")] == [6, 12, 18, 24]
    assert rulebook.sanction_thresholds("A")[0][1:] == ("warning_search_demotion", 7)
    assert rulebook.sanction_thresholds("A")[-1][1:] == ("shop_closed_for_review", None)


@pytest.mark.parametrize(("point_class", "code", "threshold", "kind", "days"), THRESHOLDS)
def test_r_p11_threshold_crossed_once_not_again_and_lifted_by_revocation(
    cast, point_class, code, threshold, kind, days
):
    shop = cast.shop
    below = _at(T0, issue, shop, code, points=threshold - 1, actor=cast.arbitrator)
    assert not _sanctions(shop, point_class, threshold).exists()  # one point short: not crossed

    crossing_at = T0 + dt.timedelta(hours=1)
    crossing = _at(crossing_at, issue, shop, code, points=1, actor=cast.arbitrator)
    sanction = _sanctions(shop, point_class, threshold).get()
    assert (sanction.kind, sanction.days, sanction.status, sanction.penalty_id) == (kind, days, "active", crossing.pk)
    assert sanction.starts_at == crossing_at
    if days is None:
        assert sanction.ends_at is None
        assert not Deadline.objects.filter(subject_kind="sanction", subject_id=sanction.pk).exists()
    else:
        assert sanction.ends_at == crossing_at + dt.timedelta(days=days)
        deadline = Deadline.objects.get(subject_kind="sanction", subject_id=sanction.pk)
        assert (deadline.rule, deadline.kind, deadline.due_at) == ("R-P11", "r_p11_sanction_end", sanction.ends_at)
        assert (deadline.duration_amount, deadline.duration_unit) == (days, "days")
    assert Event.objects.filter(subject_kind="sanction", subject_id=sanction.pk, action="sanction.imposed").count() == 1
    assert Notification.objects.filter(user=cast.seller, kind="sanction.imposed", subject_id=sanction.pk).exists()

    # More points the same year: the threshold does not fire again.
    extra = _at(T0 + dt.timedelta(hours=2), issue, shop, code, points=1, actor=cast.arbitrator)
    assert _sanctions(shop, point_class, threshold).count() == 1

    # Revoking a penalty that leaves the points at the threshold keeps the sanction …
    _at(T0 + dt.timedelta(hours=3), services.penalty_revoke, penalty=extra, actor=cast.arbitrator, reason="重复扣分")
    assert _sanctions(shop, point_class, threshold).get().status == "active"

    # … revoking one that takes them under it lifts it (R-P12), with who and why.
    _at(T0 + dt.timedelta(hours=4), services.penalty_revoke, penalty=below, actor=cast.arbitrator, reason="申诉成立")
    sanction.refresh_from_db()
    assert shop_points(shop=shop, point_class=point_class, year=2026) == 1
    assert sanction.status == "lifted"
    assert sanction.lifted_by == cast.arbitrator
    assert f"penalty {below.pk} revoked" in sanction.lift_reason and "申诉成立" in sanction.lift_reason
    assert sanction.lifted_at == T0 + dt.timedelta(hours=4)
    assert not Deadline.objects.filter(subject_kind="sanction", subject_id=sanction.pk, status="pending").exists()
    assert not _at(T0 + dt.timedelta(hours=4), sanctions_active, shop=shop).exists()
    # Every lower threshold the revoked points had reached is lifted too (1 point reaches none).
    assert not Sanction.objects.filter(shop=shop).exclude(status="lifted").exists()


def test_one_penalty_crossing_several_thresholds_records_each(cast):
    # R-P05 counterfeit: 48 B-class points cross every B threshold at once.
    with time_machine.travel(T0, tick=False):
        order = issue(cast.shop, "r_p01").order
        services.penalty_issue_counterfeit(shop=cast.shop, sku="BAG-1", source=order, actor=cast.arbitrator)
    assert sorted(Sanction.objects.filter(shop=cast.shop, point_class="B").values_list("threshold", flat=True)) == [
        6,
        12,
        18,
        24,
    ]
    assert not Sanction.objects.filter(shop=cast.shop, point_class="A").exists()  # classes count apart


def test_a_lifted_sanction_can_be_earned_again(cast):
    big = _at(T0, issue, cast.shop, "r_p06", points=12, actor=cast.arbitrator)
    _at(T0 + SECOND, services.penalty_revoke, penalty=big, actor=cast.arbitrator, reason="撤销")
    _at(T0 + 2 * SECOND, issue, cast.shop, "r_p06", points=12, actor=cast.arbitrator)
    statuses = sorted(_sanctions(cast.shop, "A", 12).values_list("status", flat=True))
    assert statuses == ["active", "lifted"]


def test_other_shops_points_do_not_count(cast):
    _at(T0, issue, cast.shop, "r_p06", points=11)
    _at(T0, issue, cast.stranger_shop, "r_p06", points=11)
    assert not Sanction.objects.exists()


def test_r_p11_sanction_end_is_a_deadline_one_second_either_side(cast):
    _at(T0, issue, cast.shop, "r_p06", points=12, actor=cast.arbitrator)
    sanction = Sanction.objects.get()
    ends_at = T0 + dt.timedelta(days=7)
    assert sanction.ends_at == ends_at

    assert _at(ends_at - SECOND, enforce_deadlines) == 0
    sanction.refresh_from_db()
    assert sanction.status == "active"
    assert [s.pk for s in _at(ends_at - SECOND, sanctions_active, shop=cast.shop)] == [sanction.pk]

    assert _at(ends_at + SECOND, enforce_deadlines) == 1
    sanction.refresh_from_db()
    assert sanction.status == "ended" and sanction.ended_at == ends_at + SECOND
    assert Event.objects.filter(subject_kind="sanction", subject_id=sanction.pk, action="sanction.ended").count() == 1
    assert not _at(ends_at + SECOND, sanctions_active, shop=cast.shop).exists()
    assert _at(ends_at + dt.timedelta(hours=1), enforce_deadlines) == 0  # fired exactly once


def test_r_p11_an_ended_sanction_is_lifted_too_when_no_longer_earned(cast):
    penalty = _at(T0, issue, cast.shop, "r_p06", points=12, actor=cast.arbitrator)
    _at(T0 + dt.timedelta(days=8), enforce_deadlines)
    assert Sanction.objects.get().status == "ended"
    _at(T0 + dt.timedelta(days=9), services.penalty_revoke, penalty=penalty, actor=cast.arbitrator, reason="复核撤销")
    assert Sanction.objects.get().status == "lifted"


# --- R-P10: the natural year, China time ----------------------------------------------------------

NEW_YEAR = dt.datetime(2027, 1, 1, 0, 0, tzinfo=CHINA)  # China midnight ending 31 December 2026 (16:00 UTC)


def test_r_p10_year_boundary_at_china_midnight_on_31_december(cast):
    shop = cast.shop
    # 23:59:59 on the 31st, China time (15:59:59 UTC): 2026's points, crossing its 12.
    _at(NEW_YEAR - dt.timedelta(hours=1), issue, shop, "r_p06", points=6)
    _at(NEW_YEAR - SECOND, issue, shop, "r_p06", points=6)
    _at(NEW_YEAR - SECOND, issue, shop, "r_p07", points=3)
    record = _at(NEW_YEAR - SECOND, shop_record, shop=shop)
    assert (record["year"], record["points"]) == (2026, {"A": 12, "B": 3})
    assert _sanctions(shop, "A", 12, 2026).count() == 1

    # 00:00:01 on the 1st, China time — still 31 December in UTC: class-A points have reset.
    record = _at(NEW_YEAR + SECOND, shop_record, shop=shop)
    assert (record["year"], record["points"]) == (2027, {"A": 0, "B": 0})
    # The 7-day sanction earned in 2026 still runs into 2027.
    assert [s.threshold for s in record["sanctions"]] == [12]
    # 2026 can still be read.
    assert _at(NEW_YEAR + SECOND, shop_record, shop=shop, year=2026)["points"] == {"A": 12, "B": 3}

    # A penalty at 00:00:01 counts in 2027, and 2027's 12 is a new crossing (once per year).
    _at(NEW_YEAR + SECOND, issue, shop, "r_p06", points=12)
    assert _at(NEW_YEAR + 2 * SECOND, shop_record, shop=shop)["points"]["A"] == 12
    assert _sanctions(shop, "A", 12, 2027).count() == 1
    assert not Sanction.objects.filter(shop=shop, threshold=24).exists()  # 2026's 12 + 2027's 12 never add up


def test_r_p10_exactly_midnight_is_the_new_year(cast):
    _at(NEW_YEAR, issue, cast.shop, "r_p06", points=6)
    assert shop_points(shop=cast.shop, point_class="A", year=2027) == 6
    assert shop_points(shop=cast.shop, point_class="A", year=2026) == 0


def test_r_p10_a_class_that_does_not_reset_accumulates(cast, settings):
    # Decision R-P10.yearly_reset_classes: an operator who keeps B-class points across years.
    settings.RULEBOOK_DECISIONS = {"R-P10.yearly_reset_classes": ["A"]}
    _at(NEW_YEAR - SECOND, issue, cast.shop, "r_p07", points=3)
    _at(NEW_YEAR - SECOND, issue, cast.shop, "r_p06", points=3)
    record = _at(NEW_YEAR + SECOND, shop_record, shop=cast.shop)
    assert record["points"] == {"A": 0, "B": 3}
