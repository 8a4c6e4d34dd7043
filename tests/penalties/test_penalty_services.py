"""R-P01…R-P07 as data, R-P05 counterfeit, R-P03 breach of promise and its obligation, R-P13 the ledger."""

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine

from core import rulebook
from core.errors import InvalidTransition, RuleViolation
from core.models import Event
from orders.models import Shop
from penalties import services
from penalties.models import LedgerEntry, LedgerMovement, Obligation, Penalty
from penalties.selectors import item_state
from penalties.services import account_balance, account_buyer, account_shop
from tests.factories import ShopFactory
from tests.penalties.factories import source_order

CHINA = ZoneInfo("Asia/Shanghai")
T0 = dt.datetime(2026, 6, 18, 20, 0, tzinfo=CHINA)  # 618

pytestmark = pytest.mark.django_db


def test_the_catalogue_is_data_with_point_classes():
    # R-P01…R-P07 with their classes (R-P10): counterfeit and leaking data are B, the rest A.
    assert list(rulebook.PENALTIES) == [f"R-P0{i}" for i in range(1, 8)]
    classes = {rule.id: rule.point_class for rule in rulebook.PENALTIES.values()}
    assert classes == {
        "R-P01": "A",
        "R-P02": "A",
        "R-P03": "A",
        "R-P04": "A",
        "R-P05": "B",
        "R-P06": "A",
        "R-P07": "B",
    }
    assert rulebook.PENALTIES["R-P05"].points_for("marketplace") == 48
    assert rulebook.COUNTERFEIT_FACILITATION_POINTS == {"normal": 2, "serious": 12}
    assert rulebook.PENALTIES["R-P03"].points_for("mall") == 6


@pytest.mark.parametrize(("code", "points", "point_class"), [("r_p06", 6, "A"), ("r_p07", 6, "B")])
def test_decision_points_and_classes(cast, code, points, point_class):
    order = source_order(cast.shop)
    penalty = services.penalty_issue(shop=cast.shop, code=code, source=order, actor=cast.arbitrator)
    assert (penalty.points, penalty.point_class, penalty.code) == (points, point_class, code)
    event = Event.objects.get(subject_kind="penalty", subject_id=penalty.pk, action="penalty.issued")
    assert event.actor == cast.arbitrator and event.data["rule"] == code.upper().replace("_", "-")


def test_decision_points_follow_the_setting(cast, settings):
    settings.RULEBOOK_DECISIONS = {"R-P06.points": 4}
    order = source_order(cast.shop)
    assert services.penalty_issue(shop=cast.shop, code="r_p06", source=order, actor=None).points == 4


@pytest.mark.parametrize("code", ["r_p03", "r_p04", "r_p05"])
def test_rules_with_consequences_need_their_own_service(cast, code):
    order = source_order(cast.shop)
    with pytest.raises(ValueError, match="penalty_issue_"):
        services.penalty_issue(shop=cast.shop, code=code, source=order, actor=None)
    assert not Penalty.objects.exists()


# --- R-P05 ---------------------------------------------------------------------------------------


def test_r_p05_counterfeit_48_b_points_and_item_deleted(cast):
    order = source_order(cast.shop, sku="BAG-LV")
    penalty = services.penalty_issue_counterfeit(
        shop=cast.shop, sku="BAG-LV", source=order, order=order, actor=cast.arbitrator
    )
    assert (penalty.points, penalty.point_class, penalty.item_action) == (48, "B", "delete")
    assert item_state(shop=cast.shop, sku="BAG-LV") == "delete"
    assert item_state(shop=cast.shop, sku="OTHER") == "listed"
    services.penalty_revoke(penalty=penalty, actor=cast.arbitrator, reason="鉴定为正品")
    assert item_state(shop=cast.shop, sku="BAG-LV") == "listed"


@pytest.mark.parametrize(("level", "points"), [("normal", 2), ("serious", 12)])
def test_r_p05_facilitation(cast, level, points):
    order = source_order(cast.shop)
    penalty = services.penalty_issue_counterfeit(shop=cast.shop, facilitation=level, source=order, actor=None)
    assert (penalty.points, penalty.point_class, penalty.severity, penalty.item_action) == (
        points,
        "B",
        f"facilitation_{level}",
        "",
    )


@pytest.mark.parametrize(("sku", "facilitation"), [("", None), ("X", "extreme")])
def test_r_p05_refuses_bad_input(cast, sku, facilitation):
    order = source_order(cast.shop)
    with pytest.raises(RuleViolation):
        services.penalty_issue_counterfeit(shop=cast.shop, sku=sku, facilitation=facilitation, source=order, actor=None)


# --- R-P03 ---------------------------------------------------------------------------------------


def test_r_p03_breach_leaves_an_open_obligation_until_performed(cast):
    order = source_order(cast.shop, buyer=cast.buyer)
    with time_machine.travel(T0, tick=False):
        penalty = services.penalty_issue_breach(
            shop=cast.shop, kind="no_reason_7d", source=order, order=order, actor=cast.arbitrator
        )
    assert (penalty.points, penalty.point_class, penalty.severity) == (6, "A", "no_reason_7d")
    obligation = penalty.obligation
    assert (obligation.status, obligation.kind, obligation.order) == ("open", "no_reason_7d", order)
    assert obligation.description == rulebook.BREACH_OF_PROMISE_KINDS["no_reason_7d"]

    # Still open a month later: nothing closes it but its performance.
    with time_machine.travel(T0 + dt.timedelta(days=30), tick=False):
        obligation.refresh_from_db()
        assert obligation.status == "open"
        services.obligation_perform(obligation=obligation, actor=cast.agent, note="已退货退款")
    obligation.refresh_from_db()
    assert (obligation.status, obligation.performed_by, obligation.performed_at) == (
        "performed",
        cast.agent,
        T0 + dt.timedelta(days=30),
    )
    with pytest.raises(InvalidTransition):
        services.obligation_perform(obligation=obligation, actor=cast.agent)
    assert Event.objects.filter(subject_kind="obligation", action="obligation.performed").count() == 1


def test_r_p03_revoked_breach_cancels_its_obligation(cast):
    order = source_order(cast.shop)
    penalty = services.penalty_issue_breach(shop=cast.shop, kind="gift", source=order, actor=cast.arbitrator)
    services.penalty_revoke(penalty=penalty, actor=cast.arbitrator, reason="赠品已送达")
    assert Obligation.objects.get(penalty=penalty).status == "cancelled"


@pytest.mark.parametrize(
    ("kind", "shop_kind", "compensation"),
    [
        ("invoice", Shop.Kind.MALL, Decimal("60.00")),  # R-P03: mall invoice refusal, 30 % of 200.00
        ("invoice", Shop.Kind.MARKETPLACE, Decimal("0.00")),  # only on mall
        ("after_sales", Shop.Kind.MALL, Decimal("0.00")),  # only the invoice case pays
    ],
)
def test_r_p03_invoice_refusal_on_mall_pays_30_percent_of_the_invoice(cast, kind, shop_kind, compensation):
    shop = ShopFactory(kind=shop_kind, owner=cast.seller)
    order = source_order(shop, buyer=cast.buyer)
    penalty = services.penalty_issue_breach(
        shop=shop,
        kind=kind,
        source=order,
        order=order,
        beneficiary=cast.buyer,
        invoice_amount=Decimal("200.00"),
        actor=cast.arbitrator,
    )
    assert penalty.compensation_amount == compensation
    assert penalty.compensation_form == "cash"
    assert account_balance(account_buyer(cast.buyer)) == compensation
    assert account_balance(account_shop(shop)) == -compensation
    assert LedgerMovement.objects.filter(penalty=penalty).count() == (1 if compensation else 0)


def test_r_p03_unknown_kind_is_refused(cast):
    order = source_order(cast.shop)
    with pytest.raises(RuleViolation):
        services.penalty_issue_breach(shop=cast.shop, kind="vague", source=order, actor=None)


# --- R-P01 / R-P02 compensation through the ledger (R-P13) -----------------------------------------


@pytest.mark.parametrize(
    ("code", "shop_kind", "amount", "compensation", "currency"),
    [
        ("r_p01", Shop.Kind.MARKETPLACE, "100.00", Decimal("5.00"), "CNY"),
        ("r_p01", Shop.Kind.MALL, "100.00", Decimal("3000.00"), "points"),  # 30 % = ¥30 as 3000 points
        ("r_p02", Shop.Kind.MARKETPLACE, "100.00", Decimal("30.00"), "CNY"),
        ("r_p02", Shop.Kind.MALL, "3000.00", Decimal("500.00"), "CNY"),  # capped at ¥500
    ],
)
def test_compensation_moves_through_the_ledger_and_back(cast, code, shop_kind, amount, compensation, currency):
    shop = ShopFactory(kind=shop_kind)
    order = source_order(shop, buyer=cast.buyer, amount=amount)
    penalty = services.penalty_issue(
        shop=shop,
        code=code,
        source=order,
        order=order,
        beneficiary=cast.buyer,
        base_amount=order.total_amount,
        actor=None,
    )
    assert account_balance(account_buyer(cast.buyer), currency) == compensation
    other = "CNY" if currency == "points" else "points"
    assert account_balance(account_buyer(cast.buyer), other) == Decimal("0.00")  # separate currencies
    services.penalty_revoke(penalty=penalty, actor=cast.arbitrator, reason="误判")
    assert account_balance(account_buyer(cast.buyer), currency) == Decimal("0.00")
    assert account_balance(account_shop(shop), currency) == Decimal("0.00")
    reasons = list(LedgerMovement.objects.filter(penalty=penalty).values_list("reason", flat=True))
    assert reasons == [f"compensation.{code}", "compensation.reversed"]
    for cur in ("CNY", "points"):
        total = sum(LedgerEntry.objects.filter(currency=cur).values_list("amount", flat=True), Decimal(0))
        assert total == Decimal("0.00")


def test_revoke_records_who_and_why_and_refuses_twice(cast):
    order = source_order(cast.shop)
    penalty = services.penalty_issue(shop=cast.shop, code="r_p06", source=order, actor=None)
    with time_machine.travel(T0, tick=False):
        services.penalty_revoke(penalty=penalty, actor=cast.arbitrator, reason="证据不足")
    penalty.refresh_from_db()
    assert (penalty.status, penalty.revoked_by, penalty.revoke_reason, penalty.revoked_at) == (
        "revoked",
        cast.arbitrator,
        "证据不足",
        T0,
    )
    event = Event.objects.get(subject_kind="penalty", subject_id=penalty.pk, action="penalty.revoked")
    assert event.actor == cast.arbitrator and event.data["points_returned"] == 6
    with pytest.raises(InvalidTransition):
        services.penalty_revoke(penalty=penalty, actor=cast.arbitrator, reason="again")
