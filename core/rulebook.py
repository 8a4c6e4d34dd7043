"""The rulebook as data: every timer, window, percentage, cap and point value of RULEBOOK.md.

The deadline engine, the services, the API, the dashboard and the docs read this module; a rule
change is a one-line change here. Values the rulebook marks **decision** are `Decision`s: their
default lives here and an operator overrides it in settings (`RULEBOOK_DECISIONS`, JSON keyed by
`Decision.key`) without a release.

Each deadline row copies the duration it was computed with, so a change here never moves a clock
that is already running.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any

from django.conf import settings


@dataclass(frozen=True)
class Decision:
    """A value the rulebook leaves to us: a default here, overridable in settings."""

    key: str
    default: Any

    def value(self) -> Any:
        return getattr(settings, "RULEBOOK_DECISIONS", {}).get(self.key, self.default)


def resolve(value: Any) -> Any:
    """The value in force: a Decision is read from settings, anything else is itself."""
    return value.value() if isinstance(value, Decision) else value


class Calendar(StrEnum):
    HOURS = "hours"
    DAYS = "days"
    WORKING_DAYS = "working_days"
    # R-T14: from 00:00 (China time) of the day after the start, counted in days.
    DAYS_FROM_NEXT_CHINA_MIDNIGHT = "days_from_next_china_midnight"


@dataclass(frozen=True)
class Timer:
    id: str  # "R-T01"
    name: str  # "ship" -> deadline kind "r_t01_ship"
    starts: str
    amount: int | Decision
    calendar: Calendar
    on_timeout: str
    source: str
    words: str  # the rule's own words (Chinese seed), shown next to every deadline
    # Dotted path of the timeout action `f(deadline) -> None`; None for a gate that only opens.
    action: str | None = None
    # Durations that differ by situation, e.g. R-T12 for `not_received`.
    variants: dict[str, int | Decision] = field(default_factory=dict)
    # A reminder sent this long (same calendar) before the timeout, e.g. R-T08.
    reminder_before: int | Decision | None = None
    # Dotted path of a set-based `f(deadlines, subjects) -> {deadline_id: outcome or None}` firing many
    # due rows of this rule in one transaction (disputes.engine); None falls back to `action` per row.
    batch_action: str | None = None

    @property
    def kind(self) -> str:
        return f"{self.id.lower().replace('-', '_')}_{self.name}"

    def duration(self, variant: str | None = None) -> int:
        if variant is not None and variant in self.variants:
            return int(resolve(self.variants[variant]))
        return int(resolve(self.amount))

    @property
    def is_decision(self) -> bool:
        return isinstance(self.amount, Decision)


# ---------------------------------------------------------------------------------------------
# §2 Timers
# ---------------------------------------------------------------------------------------------

TIMERS: dict[str, Timer] = {
    t.id: t
    for t in [
        Timer(
            "R-T01",
            "ship",
            starts="order paid",
            amount=72,
            calendar=Calendar.HOURS,
            on_timeout="late-shipment violation: penalty R-P01 and compensation to the buyer",
            source="003, 000",
            words="买家付款后72小时内发货(预售按约定时间,闪电发货等承诺从其约定;定制商品除外)",
            action="orders.services.order_ship_timeout",
            batch_action="disputes.batch.order_ship_timeout_batch",
        ),
        Timer(
            "R-T02",
            "unshipped_refund",
            starts="refund filed before shipment",
            amount=Decision("R-T02.hours", 48),
            calendar=Calendar.HOURS,
            on_timeout="auto-agreed: refund executed",
            source="003",
            words="未发货退款只能同意退款,或者发货冲掉退款",
            action="disputes.services.refunds.refund_answer_timeout",
        ),
        Timer(
            "R-T03",
            "seller_answer_no_reason",
            starts="return/refund filed with reason no_reason_7d",
            amount=3,
            calendar=Calendar.DAYS,
            on_timeout="auto-agreed (refund_only: refunded; return: awaiting_return)",
            source="003",
            words="七天无理由退换货申请,卖家3天内未处理的,系统自动达成退款协议",
            action="disputes.services.refunds.refund_answer_timeout",
        ),
        Timer(
            "R-T04",
            "seller_answer",
            starts="refund filed after shipment, other reasons",
            amount=5,
            calendar=Calendar.DAYS,
            on_timeout="auto-agreed, as R-T03",
            source="003",
            words="买家申请退款后,卖家5天内未处理的,系统自动达成退款协议",
            action="disputes.services.refunds.refund_answer_timeout",
        ),
        Timer(
            "R-T05",
            "buyer_ship_return",
            starts="seller agreed a return",
            amount=Decision("R-T05.days", 7),
            calendar=Calendar.DAYS,
            on_timeout="refund closed (buyer did not return)",
            source="decision",
            words="卖家同意退货后,买家须在规定时间内退货,逾期退款关闭",
            action="disputes.services.refunds.refund_return_not_shipped_timeout",
        ),
        Timer(
            "R-T06",
            "confirm_return",
            starts="buyer entered the return shipment",
            amount=10,
            calendar=Calendar.DAYS,
            on_timeout="auto-refunded",
            source="003",
            words="买家退货后,卖家10天内未确认收货的,系统自动退款给买家",
            action="disputes.services.refunds.refund_confirm_return_timeout",
        ),
        Timer(
            "R-T07",
            "after_return_rejected",
            starts="seller rejected the return",
            amount=15,
            calendar=Calendar.DAYS,
            on_timeout="refund closed if neither side acted",
            source="003",
            words="卖家拒绝确认收货后15天内双方均未处理的,退款关闭",
            action="disputes.services.refunds.refund_after_sales_timeout",
        ),
        Timer(
            "R-T08",
            "buyer_after_refusal",
            starts="seller refused the request",
            amount=15,
            calendar=Calendar.DAYS,
            on_timeout="refund closed",
            source="003",
            words="请买家在15天内修改退款协议,如果在这期间内不修改,本退款申请将自动关闭;关闭前三天站内信提醒",
            action="disputes.services.refunds.refund_after_sales_timeout",
            reminder_before=3,
        ),
        Timer(
            "R-T09",
            "intervention_opens",
            starts="refund filed",
            amount=15,
            calendar=Calendar.DAYS,
            on_timeout="gate: the buyer may ask the platform to intervene (at once if the seller refused)",
            source="003",
            words="退款申请15天后,才可以要求淘宝客服介入处理",
            action="disputes.services.refunds.refund_intervention_gate",
            batch_action="disputes.batch.refund_intervention_gate_batch",
        ),
        Timer(
            "R-T10",
            "appeal",
            starts="complaint filed",
            amount=24,
            calendar=Calendar.HOURS,
            on_timeout="complaint upheld automatically; penalty applied",
            source="003",
            words="需要在24小时内进行申诉,否则自动判定为买方胜",
            action="disputes.services.complaints.complaint_appeal_timeout",
        ),
        Timer(
            "R-T11",
            "rebuttal",
            starts="seller appealed",
            amount=Decision("R-T11.hours", 72),
            calendar=Calendar.HOURS,
            on_timeout="case goes to arbitration without the rebuttal",
            source="003",
            words="申诉后,顾客也同样会反驳",
            action="disputes.services.complaints.complaint_rebuttal_timeout",
        ),
        Timer(
            "R-T12",
            "platform_sla",
            starts="case enters arbitration",
            amount=5,
            calendar=Calendar.WORKING_DAYS,
            on_timeout="case flagged overdue, escalated to the head of the arbitrator queue",
            source="002",
            words="平台介入后5个工作日内处理完毕(交易成功但未收到货:7个工作日)",
            variants={"not_received": 7},
            action="disputes.services.cases.case_sla_timeout",
        ),
        Timer(
            "R-T13",
            "evidence_request",
            starts="agent asks a party for evidence",
            amount=Decision("R-T13.hours", 72),
            calendar=Calendar.HOURS,
            on_timeout="case proceeds without it; the silence is on the timeline",
            source="000, 002",
            words="客服要求举证后,当事方须在规定时间内提交凭证,逾期视为放弃举证",
            action="disputes.services.cases.case_evidence_request_timeout",
        ),
        Timer(
            "R-T14",
            "no_reason_window",
            starts="goods signed for",
            amount=7,
            calendar=Calendar.DAYS_FROM_NEXT_CHINA_MIDNIGHT,
            on_timeout="no_reason_7d refused after it",
            source="003",
            words="七天无理由退货:自签收次日零时起计算7天(168小时)",
        ),
        Timer(
            "R-T15",
            "after_sales_window",
            starts="order completed",
            amount=15,
            calendar=Calendar.DAYS,
            on_timeout="refunds and complaints on the order refused after it",
            source="002, 003",
            words="交易成功后15天内可申请售后或投诉",
        ),
        Timer(
            "R-T16",
            "auto_confirm",
            starts="order shipped",
            amount=Decision("R-T16.days", 10),
            calendar=Calendar.DAYS,
            on_timeout="order completed (交易成功)",
            source="002",
            words="卖家发货后买家未确认收货的,系统到期自动确认收货;退款期间暂停,卖家可延长交易时间",
            action="orders.services.order_auto_confirm",
            batch_action="disputes.batch.order_auto_confirm_batch",
        ),
        Timer(
            "R-T17",
            "late_shipment_gate",
            starts="order paid",
            amount=72,
            calendar=Calendar.HOURS,
            on_timeout="gate: reason late_shipment accepted after it",
            source="003",
            words="延迟发货退款:付款72小时后方可申请",
        ),
        Timer(
            "R-T18",
            "unpaid_promise_window",
            starts="order created (awaiting payment or closed unpaid)",
            amount=15,
            calendar=Calendar.DAYS,
            on_timeout="breach-of-promise complaint on an unpaid order refused after it",
            source="002",
            words="未付款订单的违背承诺投诉,须在订单创建后15天内提出",
        ),
        Timer(
            "R-T19",
            "suspension",
            starts="an arbitrator suspends a case",
            amount=Decision("R-T19.days", 30),
            calendar=Calendar.DAYS,
            on_timeout="clocks resume with the time they had left",
            source="Taobao dispute rules Arts. 82-83",
            words="因司法、行政机关介入或双方协商等原因,平台可中止处理(STOP_TIMEOUT),期满恢复",
            action="disputes.services.cases.case_suspension_timeout",
        ),
        Timer(
            "R-T20",
            "ruling_review",
            starts="a case is ruled",
            amount=Decision("R-T20.days", 7),
            calendar=Calendar.DAYS,
            on_timeout="the ruling is final",
            source="JD dispute rules",
            words="处理结果作出后7个自然日内,当事方可提供新证据申请复核一次",
            action="disputes.services.cases.case_review_window_timeout",
        ),
        Timer(
            "R-T21",
            "replacement_shipment",
            starts="seller confirmed the goods of an exchange",
            amount=Decision("R-T21.hours", 72),
            calendar=Calendar.HOURS,
            on_timeout="late-shipment violation, as R-T01",
            source="decision",
            words="换货:卖家确认收到退回商品后须在规定时间内发出新商品",
            action="disputes.services.refunds.refund_replacement_timeout",
        ),
        Timer(
            "R-T22",
            "seller_claim_window",
            starts="order completed, or the review was posted",
            amount=15,
            calendar=Calendar.DAYS,
            on_timeout="the seller's claim is refused after it",
            source="002",
            words="恶意评价维权:交易成功或评价后0-15天内提出",
        ),
    ]
}

# R-P11: a sanction's end is a deadline like any other. Not a §2 timer: it is keyed by the rule that
# sets the sanctions, so its deadline kind is `r_p11_sanction_end`; the duration is the sanction's
# own (SANCTIONS_A), recorded on the deadline row when it is scheduled.
TIMERS["R-P11"] = Timer(
    "R-P11",
    "sanction_end",
    starts="a shop crossed a points threshold (sanction starts)",
    amount=0,  # per sanction: its days in SANCTIONS_A, passed when scheduled
    calendar=Calendar.DAYS,
    on_timeout="the sanction ends",
    source="decision (Taobao practice)",
    words="扣分累计达到节点:警告并搜索降权7天、限制发布商品7天/14天、店铺监管",
    action="penalties.services.sanction_end",
)

TIMERS_BY_KIND: dict[str, Timer] = {t.kind: t for t in TIMERS.values()}

# R-T01 exemptions: custom-made items (on the item) and these categories (decision).
SHIP_EXEMPT_CATEGORIES = Decision("R-T01.exempt_categories", ["virtual", "fresh_custom"])


def timer(rule_id: str) -> Timer:
    return TIMERS[rule_id]


# ---------------------------------------------------------------------------------------------
# §5 Penalties and compensation
# ---------------------------------------------------------------------------------------------


class ShopKind(StrEnum):
    MARKETPLACE = "marketplace"
    MALL = "mall"


@dataclass(frozen=True)
class Compensation:
    """Compensation (违约金) to the buyer: a percentage of a base, floored and capped."""

    percent: Decimal
    form: str  # "cash" | "points"
    minimum: Decimal | None = None
    maximum: Decimal | None = None
    base: str = "amount_paid"  # or "invoice_amount"


@dataclass(frozen=True)
class PenaltyRule:
    id: str  # "R-P01"
    name: str
    point_class: str  # "A" | "B" (R-P10)
    points: dict[str, int | Decision]  # by shop kind
    compensation: dict[str, Compensation] = field(default_factory=dict)  # by shop kind
    other: str = ""
    source: str = ""

    @property
    def code(self) -> str:
        return self.id.lower().replace("-", "_")

    def points_for(self, shop_kind: str) -> int:
        return int(resolve(self.points.get(shop_kind, 0)))

    def compensation_for(self, shop_kind: str) -> Compensation | None:
        return self.compensation.get(shop_kind)


PENALTIES: dict[str, PenaltyRule] = {
    p.id: p
    for p in [
        PenaltyRule(
            "R-P01",
            "late_shipment",
            point_class="A",
            points={ShopKind.MARKETPLACE: 3, ShopKind.MALL: 0},
            compensation={
                ShopKind.MARKETPLACE: Compensation(
                    Decimal("5"), "cash", minimum=Decimal("1.00"), maximum=Decimal("30.00")
                ),
                ShopKind.MALL: Compensation(Decimal("30"), "points", maximum=Decimal("500.00")),
            },
            source="003",
        ),
        PenaltyRule(
            "R-P02",
            "out_of_stock",
            point_class="A",
            points={
                ShopKind.MARKETPLACE: Decision("R-P02.points", 3),
                ShopKind.MALL: Decision("R-P02.points", 3),
            },
            compensation={kind: Compensation(Decimal("30"), "cash", maximum=Decimal("500.00")) for kind in ShopKind},
            source="003",
        ),
        PenaltyRule(
            "R-P03",
            "breach_of_promise",
            point_class="A",
            points={ShopKind.MARKETPLACE: 6, ShopKind.MALL: 6},
            compensation={},
            other=(
                "the seller must still perform (refund, invoice …); invoice refusal on mall: 30 % of the invoice amount"
            ),
            source="003, 000",
        ),
        PenaltyRule(
            "R-P04",
            "misdescription",
            point_class="A",
            points={},  # by ladder: MISDESCRIPTION_LADDER
            other="item delisted or deleted by the ladder; at most one deduction per item and situation per 3 days",
            source="003",
        ),
        PenaltyRule(
            "R-P05",
            "counterfeit",
            point_class="B",
            points={ShopKind.MARKETPLACE: 48, ShopKind.MALL: 48},
            other="item deleted; facilitating counterfeit 2, serious 12",
            source="003",
        ),
        PenaltyRule(
            "R-P06",
            "harassment",
            point_class="A",
            points={
                ShopKind.MARKETPLACE: Decision("R-P06.points", 6),
                ShopKind.MALL: Decision("R-P06.points", 6),
            },
            source="000, 002",
        ),
        PenaltyRule(
            "R-P07",
            "leak_info",
            point_class="B",
            points={
                ShopKind.MARKETPLACE: Decision("R-P07.points", 6),
                ShopKind.MALL: Decision("R-P07.points", 6),
            },
            source="000",
        ),
    ]
}

PENALTIES_BY_CODE: dict[str, PenaltyRule] = {p.code: p for p in PENALTIES.values()}

# R-P03: invoice refusal on a mall shop costs 30 % of the invoice amount.
INVOICE_REFUSAL_MALL = Compensation(Decimal("30"), "cash", base="invoice_amount")

# R-P04: (points, item action) for the 1st, 2nd, 3rd … time, per severity; past the end, the last.
MISDESCRIPTION_LADDER: dict[str, list[tuple[int, str]]] = {
    "serious": [(12, "delete")],
    "affects_use": [(3, "delist"), (6, "delete")],
    "minor": [(0, "delist"), (3, "delist"), (6, "delete")],
}
MISDESCRIPTION_WINDOW_DAYS = 3

# R-P05: facilitating counterfeit.
COUNTERFEIT_FACILITATION_POINTS = {"normal": 2, "serious": 12}

# R-P11 sanctions per class (decision, following Taobao practice): (points, kind, days or None).
SANCTIONS_A = Decision(
    "R-P11.thresholds_A",
    [
        (12, "warning_search_demotion", 7),
        (24, "listing_restriction", 7),
        (36, "listing_restriction", 14),
        (48, "shop_closed_for_review", None),
    ],
)


def sanction_thresholds(point_class: str) -> list[tuple[int, str, int | None]]:
    """R-P11: B-class thresholds are half of the A-class ones."""
    thresholds = [(int(p), str(k), d) for p, k, d in resolve(SANCTIONS_A)]
    if point_class == "A":
        return thresholds
    return [(points // 2, kind, days) for points, kind, days in thresholds]


# R-P10: the classes whose points reset at the start of each natural year (China time). The rulebook
# names class A; CONTRACT's shop record counts "points of active penalties this natural year" for both
# classes, as Taobao does, so B resets too by default (decision).
YEARLY_RESET_CLASSES = Decision("R-P10.yearly_reset_classes", ["A", "B"])

# R-P03: the kinds of promise a seller can breach (违背承诺: 售后, 7天无理由, 发票, 支付宝, 站外交易,
# 货到付款, 活动 …), and the other R-P03 conduct; each leaves an obligation the seller must still perform.
BREACH_OF_PROMISE_KINDS: dict[str, str] = {
    "after_sales": "履行售后服务承诺",
    "no_reason_7d": "履行七天无理由退换货",
    "invoice": "开具发票",
    "alipay": "使用支付宝交易",
    "off_platform": "不引导站外交易",
    "cash_on_delivery": "履行货到付款",
    "promotion": "履行活动承诺",
    "shipping_fee": "履行运费承诺",
    "gift": "履行赠品承诺",
    # Other R-P03 conduct: after-sales refused, fake shipment, price raise.
    "after_sales_refused": "履行售后服务",
    "fake_shipment": "真实发货",
    "price_raise": "按原价发货",
}
# R-P03 on a mall shop: refusing an invoice costs INVOICE_REFUSAL_MALL of the invoice amount.
INVOICE_OBLIGATION_KIND = "invoice"

# R-P04 situations (the complaint's severity) and the item actions of the ladder.
MISDESCRIPTION_SEVERITIES = tuple(MISDESCRIPTION_LADDER)
# R-P05: a counterfeit item is deleted (facilitation leaves the item alone).
COUNTERFEIT_ITEM_ACTION = "delete"

# §9 refund timeout count (超时): the refund clocks that run out against the seller when swept.
METRICS_SELLER_TIMEOUT_RULES = ("R-T02", "R-T03", "R-T04", "R-T06")


# ---------------------------------------------------------------------------------------------
# Other decisions
# ---------------------------------------------------------------------------------------------

# Mall compensation "as platform points": how many platform points one yuan is worth.
PLATFORM_POINTS_PER_YUAN = Decision("points_per_yuan", 100)

# §8 / R-F06 express refund: a buyer in good standing has no dismissed complaint and a refund rate
# under this share over the window.
EXPRESS_REFUND_MAX_REFUND_RATE = Decision("R-F06.max_refund_rate", Decimal("0.20"))
EXPRESS_REFUND_WINDOW_DAYS = Decision("R-F06.window_days", 90)
# §4 seller claims: an upheld claim withdraws express refund for this long.
SELLER_CLAIM_EXPRESS_BAN_DAYS = Decision("seller_claim.express_ban_days", 90)
# §9 service metrics window.
METRICS_WINDOW_DAYS = Decision("metrics.window_days", 30)
# R-C06 risk signal look-back.
RISK_LOOKBACK_DAYS = Decision("R-C06.lookback_days", 90)


# ---------------------------------------------------------------------------------------------
# §3 Refunds
# ---------------------------------------------------------------------------------------------

# Refund reasons by the order's stage (003).
REFUND_REASONS_BY_STAGE: dict[str, tuple[str, ...]] = {
    "not_shipped": ("out_of_stock", "late_shipment", "ordered_by_mistake", "no_longer_wanted"),
    "shipped": (
        "no_longer_wanted",
        "rejected_damaged",
        "empty_parcel",
        "late_shipment",
        "not_delivered",
        "no_tracking",
    ),
    "received": (
        "no_reason_7d",
        "shipping_fee",
        "spoiled",
        "quality_issue",
        "size_mismatch",
        "date_mismatch",
        "label_mismatch",
        "missing_items",
        "wrong_item",
        "damaged",
        "counterfeit",
        "late_shipment",
        "invoice_issue",
    ),
}
ALL_REFUND_REASONS: tuple[str, ...] = tuple(dict.fromkeys(r for rs in REFUND_REASONS_BY_STAGE.values() for r in rs))

# Which refund kinds each stage allows: nothing can be returned before it was shipped.
REFUND_KINDS_BY_STAGE: dict[str, tuple[str, ...]] = {
    "not_shipped": ("refund_only",),
    "shipped": ("refund_only", "return_and_refund"),
    "received": ("refund_only", "return_and_refund", "exchange"),
}

# R-F03: a refund with this reason refused this many times goes to arbitration by itself.
AUTO_ARBITRATION_REASON = "quality_issue"
AUTO_ARBITRATION_REFUSALS = 2

# R-F02: reasons the seller cannot refuse before the order completes (售中).
UNREFUSABLE_BEFORE_COMPLETION = ("no_reason_7d",)

# §6 Who pays the return freight. Reasons that are the seller's fault (quality, wrong item,
# misdescription, logistics damage on the seller's side, the parcel never arriving).
SELLER_FAULT_REASONS = (
    "quality_issue",
    "wrong_item",
    "damaged",
    "spoiled",
    "counterfeit",
    "missing_items",
    "size_mismatch",
    "date_mismatch",
    "label_mismatch",
    "invoice_issue",
    "shipping_fee",
    "rejected_damaged",
    "empty_parcel",
    "not_delivered",
    "no_tracking",
    "late_shipment",
    "out_of_stock",
)
# Reasons that are the buyer's own choice.
BUYER_FAULT_REASONS = ("no_reason_7d", "no_longer_wanted", "ordered_by_mistake")
