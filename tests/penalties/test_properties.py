"""Property: any sequence of penalties and revocations leaves each class's points equal to the sum of the
active penalties of the year (R-P10, R-P12), the sanctions exactly the thresholds those points reach
(R-P11), and the ledger summing to zero with every compensation either paid or reversed (R-P13)."""

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.db.models import Sum
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core import rulebook
from orders.models import Shop
from penalties import services
from penalties.models import LedgerEntry, Penalty, Sanction
from penalties.selectors import natural_year, shop_points
from penalties.services import account_balance, account_buyer, account_shop
from tests.factories import ShopFactory, UserFactory
from tests.penalties.factories import source_order

CHINA = ZoneInfo("Asia/Shanghai")
START = dt.datetime(2026, 12, 27, 8, 0, tzinfo=CHINA)  # close enough to New Year that some runs cross it

amounts = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("3000.00"), places=2)
issue_ops = st.one_of(
    st.tuples(st.just("plain"), st.sampled_from(["r_p01", "r_p02", "r_p06", "r_p07"]), amounts),
    st.tuples(st.just("breach"), st.sampled_from(["invoice", "after_sales", "gift"]), amounts),
    st.tuples(st.just("misdescription"), st.sampled_from(["serious", "affects_use", "minor"]), st.sampled_from("ab")),
    st.tuples(st.just("counterfeit"), st.sampled_from([None, "normal", "serious"]), st.just("fake")),
)
ops = st.lists(
    st.one_of(
        issue_ops,
        st.tuples(st.just("revoke"), st.integers(min_value=0, max_value=30), st.none()),
        st.tuples(st.just("wait"), st.integers(min_value=1, max_value=120), st.none()),  # hours
    ),
    max_size=14,
)


def _issue(op, shop, buyer, actor):
    kind, arg, extra = op
    order = source_order(shop, buyer=buyer, amount=str(extra) if kind in ("plain", "breach") else "100.00")
    if kind == "plain":
        return services.penalty_issue(
            shop=shop,
            code=arg,
            source=order,
            order=order,
            beneficiary=buyer,
            base_amount=order.total_amount,
            actor=actor,
        )
    if kind == "breach":
        return services.penalty_issue_breach(
            shop=shop, kind=arg, source=order, order=order, beneficiary=buyer, invoice_amount=extra, actor=actor
        )
    if kind == "misdescription":
        return services.penalty_issue_misdescription(shop=shop, sku=extra, severity=arg, source=order, actor=actor)
    return services.penalty_issue_counterfeit(shop=shop, sku=extra, facilitation=arg, source=order, actor=actor)


def _check(shop, buyer, issued, now):
    year = natural_year(now)
    start = dt.datetime(year, 1, 1, tzinfo=CHINA)
    for point_class in ("A", "B"):
        # The record's points are the sum of this year's active penalties (kept apart in Python).
        expected = sum(
            p.points for p in issued if p.status == "active" and p.point_class == point_class and p.issued_at >= start
        )
        assert shop_points(shop=shop, point_class=point_class, year=year) == expected
        # R-P11: the sanctions not lifted are exactly the thresholds those points reach.
        held = set(
            Sanction.objects.filter(shop=shop, point_class=point_class, year=year)
            .exclude(status="lifted")
            .values_list("threshold", flat=True)
        )
        reached = {t for t, _, _ in rulebook.sanction_thresholds(point_class) if t <= expected}
        assert held == reached
    # R-P13: every movement balances, per currency; the shop owes exactly the active compensations.
    for currency, form in (("CNY", "cash"), ("points", "points")):
        total = LedgerEntry.objects.filter(currency=currency).aggregate(s=Sum("amount"))["s"] or Decimal(0)
        assert total == Decimal(0)
        owed = sum(
            (p.compensation_amount for p in issued if p.status == "active" and p.compensation_form == form),
            Decimal("0.00"),
        )
        assert account_balance(account_shop(shop), currency) == -owed
        assert account_balance(account_buyer(buyer), currency) == owed


@pytest.mark.django_db
@settings(max_examples=50, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kind=st.sampled_from([Shop.Kind.MARKETPLACE, Shop.Kind.MALL]), steps=ops)
def test_points_equal_active_penalties_and_the_ledger_balances(cast, kind, steps):
    # Each example has its own shop and buyer, so examples sharing the test's transaction never mix.
    shop = ShopFactory(kind=kind)
    buyer = UserFactory(roles=["buyer"])
    issued: list[Penalty] = []
    now = START
    for step in steps:
        with time_machine.travel(now, tick=False):
            if step[0] == "wait":
                now += dt.timedelta(hours=step[1])
                continue
            if step[0] == "revoke":
                active = [p for p in issued if p.status == "active"]
                if active:
                    target = active[step[1] % len(active)]
                    services.penalty_revoke(penalty=target, actor=cast.arbitrator, reason="property")
                    target.refresh_from_db()
            else:
                penalty = _issue(step, shop, buyer, cast.arbitrator)
                if penalty is not None:  # R-P04 inside its 3-day window deducts nothing
                    issued.append(penalty)
            _check(shop, buyer, issued, now)
        now += dt.timedelta(seconds=1)
