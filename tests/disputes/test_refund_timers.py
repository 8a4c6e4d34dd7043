"""Every refund clock one second either side (RULEBOOK §2: R-T02 … R-T09, R-T14 … R-T17)."""

import datetime as dt
from decimal import Decimal

import pytest
import time_machine

from core.errors import DomainError, RuleViolation
from core.models import Notification
from disputes import services
from disputes.models import Complaint, Deadline, Refund
from orders import services as orders
from orders.models import Order
from penalties.services import PLATFORM_FUND, account_balance, account_buyer, account_shop
from tests.disputes.helpers import CHINA, DAY, HOUR, SECOND, T0, at, file_refund, make_order, sweep

pytestmark = pytest.mark.django_db


def _status(refund) -> str:
    refund.refresh_from_db()
    return refund.status


def _not_in_good_standing(cast):
    """A dismissed complaint in the last 90 days: no express refund (R-F06)."""
    order = make_order(cast, "received", paid_at=T0 - 20 * DAY)
    Complaint.objects.create(
        order=order,
        shop=cast.shop,
        buyer=cast.buyer,
        created_by=cast.buyer,
        type="misdescription",
        status="dismissed",
        ruled_at=T0 - 5 * DAY,
    )


def test_r_t02_unshipped_refund_is_executed_after_48h(cast):
    order = make_order(cast, "not_shipped")
    filed = T0 + HOUR
    refund = file_refund(cast, order, at=filed, reason="no_longer_wanted")
    assert refund.stage == "not_shipped"
    due = filed + 48 * HOUR
    sweep(due - SECOND)
    assert _status(refund) == "pending_seller"
    sweep(due + SECOND)
    assert _status(refund) == "refunded"
    assert account_balance(account_buyer(cast.buyer)) == Decimal("200.00")
    assert account_balance(account_shop(cast.shop)) == Decimal("-200.00")
    order.refresh_from_db()
    assert order.status == "closed"  # 退款成功, 交易关闭
    assert Deadline.objects.get(subject_kind="order", subject_id=order.pk, kind="r_t01_ship").status == "cancelled"


def test_r_t03_no_reason_return_is_agreed_after_3_days_with_the_shops_return_address(cast):
    order = make_order(cast, "received")
    filed = T0 + 3 * DAY
    refund = file_refund(cast, order, at=filed, kind="return_and_refund", reason="no_reason_7d")
    due = filed + 3 * DAY
    sweep(due - SECOND)
    assert _status(refund) == "pending_seller"
    sweep(due + SECOND)
    assert _status(refund) == "awaiting_return"
    assert refund.return_address == cast.shop.return_address
    assert Deadline.objects.filter(subject_kind="refund", subject_id=refund.pk, kind="r_t05_buyer_ship_return").exists()
    assert Notification.objects.filter(user=cast.buyer, kind="refund.awaiting_return").exists()


def test_r_t04_other_reasons_are_agreed_after_5_days(cast):
    order = make_order(cast, "received")
    filed = T0 + 3 * DAY
    refund = file_refund(cast, order, at=filed, reason="quality_issue", amount="80.00")
    due = filed + 5 * DAY
    sweep(due - SECOND)
    assert _status(refund) == "pending_seller"
    sweep(due + SECOND)
    assert _status(refund) == "refunded"
    assert refund.refunded_amount == Decimal("80.00")
    order.refresh_from_db()
    assert order.status == "delivered"  # a partial refund leaves the trade open


def test_r_t05_return_not_shipped_in_7_days_closes(cast):
    order = make_order(cast, "received")
    refund = file_refund(cast, order, at=T0 + 3 * DAY, kind="return_and_refund", reason="quality_issue")
    approved = T0 + 4 * DAY
    at(approved, services.refund_approve, refund=refund, actor=cast.seller)
    sweep(approved + 7 * DAY - SECOND)
    assert _status(refund) == "awaiting_return"
    sweep(approved + 7 * DAY + SECOND)
    assert _status(refund) == "closed"
    assert refund.close_reason == "return not shipped in time"


@pytest.mark.parametrize("express", [False, True])
def test_r_t06_seller_silent_for_10_days_refunds_the_buyer(cast, express):
    if not express:
        _not_in_good_standing(cast)
    order = make_order(cast, "received")
    refund = file_refund(cast, order, at=T0 + 3 * DAY, kind="return_and_refund", reason="quality_issue")
    at(T0 + 4 * DAY, services.refund_approve, refund=refund, actor=cast.seller)
    shipped = T0 + 5 * DAY
    at(shipped, services.refund_return_shipment, refund=refund, actor=cast.buyer, carrier="顺丰", tracking_number="SF9")
    refund.refresh_from_db()
    assert refund.express is express
    # R-F06: the platform advances the money at once for a buyer in good standing.
    assert account_balance(account_buyer(cast.buyer)) == (Decimal("200.00") if express else 0)
    sweep(shipped + 10 * DAY - SECOND)
    assert _status(refund) == "return_shipped"
    sweep(shipped + 10 * DAY + SECOND)
    assert _status(refund) == "refunded"
    assert account_balance(account_buyer(cast.buyer)) == Decimal("200.00")
    assert account_balance(account_shop(cast.shop)) == Decimal("-200.00")
    assert account_balance(PLATFORM_FUND) == Decimal("0.00")  # the advance was recovered


def test_r_t07_rejected_return_closes_after_15_days_if_nobody_acts(cast):
    _not_in_good_standing(cast)
    order = make_order(cast, "received")
    refund = file_refund(cast, order, at=T0 + 3 * DAY, kind="return_and_refund", reason="quality_issue")
    at(T0 + 4 * DAY, services.refund_approve, refund=refund, actor=cast.seller)
    at(
        T0 + 5 * DAY,
        services.refund_return_shipment,
        refund=refund,
        actor=cast.buyer,
        carrier="顺丰",
        tracking_number="1",
    )
    rejected = T0 + 6 * DAY
    at(rejected, services.refund_reject_return, refund=refund, actor=cast.seller, reason="收到的是空盒")
    assert _status(refund) == "return_rejected"
    sweep(rejected + 15 * DAY - SECOND)
    assert _status(refund) == "return_rejected"
    sweep(rejected + 15 * DAY + SECOND)
    assert _status(refund) == "closed"


def test_r_t08_refusal_closes_after_15_days_with_a_reminder_3_days_before(cast):
    order = make_order(cast, "received", complete=True)
    refund = file_refund(cast, order, at=T0 + 4 * DAY, reason="quality_issue")
    refused = T0 + 5 * DAY
    at(refused, services.refund_refuse, refund=refund, actor=cast.seller, reason="商品无质量问题")
    assert _status(refund) == "seller_refused"

    def reminders():
        return Notification.objects.filter(user=cast.buyer, kind="refund.closing_soon").count()

    sweep(refused + 12 * DAY - SECOND)
    assert reminders() == 0
    sweep(refused + 12 * DAY + SECOND)
    assert reminders() == 1
    sweep(refused + 15 * DAY - SECOND)
    assert _status(refund) == "seller_refused" and reminders() == 1
    sweep(refused + 15 * DAY + SECOND)
    assert _status(refund) == "closed"


def test_r_t09_intervention_opens_at_once_after_a_refusal(cast):
    order = make_order(cast, "received", complete=True)
    refund = file_refund(cast, order, at=T0 + 4 * DAY, reason="quality_issue")
    at(T0 + 5 * DAY, services.refund_refuse, refund=refund, actor=cast.seller, reason="不同意")
    at(T0 + 5 * DAY + SECOND, services.refund_escalate, refund=refund, actor=cast.buyer)
    assert _status(refund) == "in_arbitration"
    assert refund.case.status == "open"


def test_r_t09_otherwise_the_gate_opens_15_days_after_filing(cast):
    order = make_order(cast, "received", complete=True)
    filed = T0 + 4 * DAY
    refund = file_refund(cast, order, at=filed, reason="quality_issue")
    at(filed + DAY, services.refund_refuse, refund=refund, actor=cast.seller, reason="不同意")
    at(filed + 12 * DAY, services.refund_modify, refund=refund, actor=cast.buyer, amount=Decimal("150.00"))
    assert _status(refund) == "pending_seller"
    with pytest.raises(DomainError) as err:
        at(filed + 15 * DAY - SECOND, services.refund_escalate, refund=refund, actor=cast.buyer)
    assert err.value.code == "intervention_not_open"
    sweep(filed + 15 * DAY + SECOND)  # the gate fires and tells the buyer
    assert Notification.objects.filter(user=cast.buyer, kind="refund.intervention_open").count() == 1
    at(filed + 15 * DAY + SECOND, services.refund_escalate, refund=refund, actor=cast.buyer)
    assert _status(refund) == "in_arbitration"


def test_r_t14_no_reason_window_is_168h_from_the_china_midnight_after_signing(cast):
    paid = dt.datetime(2026, 11, 8, 12, 0, tzinfo=CHINA)
    order = make_order(cast, "shipped", paid_at=paid)
    signed = dt.datetime(2026, 11, 10, 23, 59, 59, tzinfo=CHINA)  # one second before China midnight
    at(signed, orders.order_deliver, order=order, actor=cast.integration, signed_at=signed)
    order.refresh_from_db()
    closes = dt.datetime(2026, 11, 18, 0, 0, tzinfo=CHINA)
    with pytest.raises(RuleViolation) as err:
        file_refund(cast, order, at=closes, kind="return_and_refund", reason="no_reason_7d")
    assert err.value.code == "no_reason_window_closed"
    refund = file_refund(cast, order, at=closes - SECOND, kind="return_and_refund", reason="no_reason_7d")
    assert refund.status == "pending_seller"


def test_r_t14_a_signature_one_second_later_counts_from_the_next_day(cast):
    paid = dt.datetime(2026, 11, 8, 12, 0, tzinfo=CHINA)
    order = make_order(cast, "shipped", paid_at=paid)
    signed = dt.datetime(2026, 11, 11, 0, 0, 0, tzinfo=CHINA)
    at(signed, orders.order_deliver, order=order, actor=cast.integration, signed_at=signed)
    order.refresh_from_db()
    refund = file_refund(
        cast,
        order,
        at=dt.datetime(2026, 11, 18, 23, 59, 59, tzinfo=CHINA),
        kind="return_and_refund",
        reason="no_reason_7d",
    )
    assert refund.status == "pending_seller"


def test_r_t15_after_sales_window_closes_15_days_after_completion(cast):
    order = make_order(cast, "received", complete=True)
    completed = order.completed_at
    with pytest.raises(RuleViolation) as err:
        file_refund(cast, order, at=completed + 15 * DAY + SECOND, reason="quality_issue")
    assert err.value.code == "after_sales_window_closed"
    assert file_refund(cast, order, at=completed + 15 * DAY - SECOND, reason="quality_issue").pk


def test_r_t17_late_shipment_reason_only_72h_after_payment(cast):
    order = make_order(cast, "not_shipped")
    with pytest.raises(RuleViolation) as err:
        file_refund(cast, order, at=T0 + 72 * HOUR - SECOND, reason="late_shipment")
    assert err.value.code == "late_shipment_too_early"
    refund = file_refund(cast, order, at=T0 + 72 * HOUR + SECOND, reason="late_shipment")
    assert refund.reason == "late_shipment"


def test_r_t16_auto_confirm_pauses_while_a_refund_is_open_and_resumes_after(cast):
    order = make_order(cast, "shipped")
    shipped = order.shipped_at
    auto = Deadline.objects.get(subject_kind="order", subject_id=order.pk, kind="r_t16_auto_confirm")
    assert auto.due_at == shipped + 10 * DAY

    filed = shipped + 2 * DAY
    refund = file_refund(cast, order, at=filed, reason="not_delivered", amount="50.00")
    auto.refresh_from_db()
    assert auto.paused_at == filed and auto.remaining == 8 * DAY
    at(shipped + 3 * DAY, services.refund_refuse, refund=refund, actor=cast.seller, reason="物流显示已派送")
    sweep(shipped + 10 * DAY + SECOND)  # would have auto-confirmed without the refund
    order.refresh_from_db()
    assert order.status == "shipped"

    withdrawn = shipped + 12 * DAY
    at(withdrawn, services.refund_withdraw, refund=refund, actor=cast.buyer)
    auto.refresh_from_db()
    assert auto.paused_at is None and auto.due_at == withdrawn + 8 * DAY
    sweep(withdrawn + 8 * DAY - SECOND)
    order.refresh_from_db()
    assert order.status == "shipped"
    sweep(withdrawn + 8 * DAY + SECOND)
    order.refresh_from_db()
    assert order.status == "completed"


def test_r_f01_shipping_cancels_a_refund_filed_before_shipment(cast):
    order = make_order(cast, "not_shipped")
    refund = file_refund(cast, order, at=T0 + HOUR, reason="no_longer_wanted")
    with time_machine.travel(T0 + 2 * HOUR, tick=False):
        orders.order_ship(
            order=order, actor=cast.seller, carrier="中通", tracking_number="Z", picked_up_at=T0 + 2 * HOUR
        )
    assert _status(refund) == "closed" and refund.close_reason == "cancelled_by_shipment"
    assert not Deadline.objects.filter(subject_kind="refund", subject_id=refund.pk, status="pending").exists()
    assert Order.objects.get(pk=order.pk).status == "shipped"


def test_no_pending_deadline_survives_a_terminal_refund(cast):
    order = make_order(cast, "received", complete=True)
    refund = file_refund(cast, order, at=T0 + 4 * DAY, reason="quality_issue")
    at(T0 + 5 * DAY, services.refund_refuse, refund=refund, actor=cast.seller, reason="不同意")
    at(T0 + 6 * DAY, services.refund_withdraw, refund=refund, actor=cast.buyer)
    assert not Deadline.objects.filter(subject_kind="refund", subject_id=refund.pk, status="pending").exists()
    assert Refund.objects.get(pk=refund.pk).status == "closed"
