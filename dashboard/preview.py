"""The ruling preview: what `disputes.services.case_rule` would do to money and penalties, computed
from the rulebook without writing anything, so the arbitrator sees it before confirming."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from django.utils import timezone
from django.utils.translation import gettext as _

from core import rulebook
from core.money import percent_of
from disputes.models import Case, Complaint, Refund
from penalties.selectors import natural_year, shop_points
from penalties.services import compensation_for

OUTCOMES = ("buyer_wins", "seller_wins", "partial")
RESPONSIBILITIES = ("buyer", "seller", "logistics", "platform")


@dataclass
class RulingPreview:
    outcome: str
    responsibility: str
    refund_amount: Decimal | None
    advance_payment: bool
    money: list[str] = field(default_factory=list)
    penalties: list[str] = field(default_factory=list)
    other: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def parse_amount(value: str | None) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        return Decimal(str(value)).quantize(Decimal("0.01"))
    except (InvalidOperation, ValueError):
        raise ValueError(value)


def _sanctions_crossed(case: Case, point_class: str, points: int) -> list[str]:
    if points <= 0:
        return []
    year = natural_year(timezone.now())
    now_points = shop_points(shop=case.shop, point_class=point_class, year=year)
    crossed = []
    for threshold, kind, days in rulebook.sanction_thresholds(point_class):
        if now_points < threshold <= now_points + points:
            crossed.append(
                _("R-P11:%(c)s 类累计 %(n)d 分,达到 %(t)d 分节点 → %(k)s%(d)s")
                % {
                    "c": point_class,
                    "n": now_points + points,
                    "t": threshold,
                    "k": kind,
                    "d": (_("(%(d)d 天)") % {"d": days}) if days else "",
                }
            )
    return crossed


def _complaint_penalty(case: Case, complaint: Complaint, amount: Decimal | None) -> tuple[list[str], list[str]]:
    """(penalty lines, money lines) of an upheld buyer complaint whose responsibility is the seller's."""
    shop, order = case.shop, case.order
    kind = shop.kind
    t = complaint.type
    lines: list[str] = []
    money: list[str] = []

    def simple(rule_id: str, base: Decimal | None = None) -> None:
        rule = rulebook.PENALTIES[rule_id]
        points = rule.points_for(kind)
        lines.append(
            _("%(r)s %(n)s:扣 %(p)d 分(%(c)s 类)") % {"r": rule_id, "n": rule.name, "p": points, "c": rule.point_class}
        )
        if base is not None:
            value, form = compensation_for(code=rule.code, shop_kind=kind, base=base)
            if value > 0:
                unit = _("元") if form == "cash" else _("平台积分")
                money.append(_("违约金 %(v)s %(u)s 由店铺赔付给买家 (%(r)s)") % {"v": value, "u": unit, "r": rule_id})
        lines.extend(_sanctions_crossed(case, rule.point_class, points))

    if t == Complaint.Type.LATE_SHIPMENT:
        if order.penalties.filter(code="r_p01", status="active").exists():
            lines.append(_("R-P01 已因本订单处罚过,不再重复扣分"))
        else:
            simple("R-P01", order.total_amount)
    elif t == Complaint.Type.OUT_OF_STOCK:
        simple("R-P02", order.total_amount)
    elif complaint.promise_kind:
        simple("R-P03")
        lines.append(
            _("R-P03:卖家仍须履行承诺(%(k)s)")
            % {"k": rulebook.BREACH_OF_PROMISE_KINDS.get(complaint.promise_kind, complaint.promise_kind)}
        )
        if (
            complaint.promise_kind == rulebook.INVOICE_OBLIGATION_KIND
            and kind == rulebook.ShopKind.MALL
            and complaint.invoice_amount
        ):
            comp = rulebook.INVOICE_REFUSAL_MALL
            money.append(
                _("R-P03 商城拒开发票:%(v)s 元赔付给买家")
                % {"v": percent_of(complaint.invoice_amount, comp.percent, minimum=comp.minimum, maximum=comp.maximum)}
            )
    elif t == Complaint.Type.MISDESCRIPTION:
        ladder = rulebook.MISDESCRIPTION_LADDER.get(complaint.severity or "minor", [])
        steps = "; ".join(f"{i + 1}: {p} / {a}" for i, (p, a) in enumerate(ladder))
        lines.append(
            _("R-P04 描述不符(%(s)s):按阶梯扣分并下架/删除商品 %(sku)s —— %(steps)s;同一商品同一情形 3 天内只扣一次")
            % {"s": complaint.severity or "minor", "sku": complaint.sku, "steps": steps}
        )
    elif t == Complaint.Type.COUNTERFEIT:
        simple("R-P05")
        lines.append(_("R-P05:删除商品 %(sku)s") % {"sku": complaint.sku})
    elif t == Complaint.Type.HARASSMENT:
        simple("R-P06")
    elif t == Complaint.Type.LEAK_INFO:
        simple("R-P07")
    elif t == Complaint.Type.NOT_RECEIVED:
        value = amount if amount is not None else order.total_amount
        money.append(_("退款 %(v)s 元给买家(交易成功但未收到货)") % {"v": value})
    return lines, money


def ruling_preview(
    *, case: Case, outcome: str, responsibility: str, refund_amount: Decimal | None, advance_payment: bool
) -> RulingPreview:
    """What ruling `case` this way would do; nothing is written. The service checks everything again."""
    p = RulingPreview(outcome, responsibility, refund_amount, advance_payment)
    if outcome not in OUTCOMES:
        p.errors.append(_("请选择裁决结果"))
    if responsibility not in RESPONSIBILITIES:
        p.errors.append(_("请选择责任方"))
    if case.status == Case.Status.RULED:
        p.errors.append(_("案件已裁决"))
    if case.suspended_at is not None:
        p.errors.append(_("案件已中止 (R-T19),请先恢复"))
    if p.errors:
        return p
    if case.agreement_favours:
        favoured = "seller" if outcome == "seller_wins" else "buyer"
        if favoured != case.agreement_favours:
            p.errors.append(
                _("双方事先约定有利于 %(s)s (R-C03):须勾选“推翻约定”并说明理由") % {"s": case.agreement_favours}
            )
    subject = case.subject
    if isinstance(subject, Refund):
        refund = subject
        if outcome != "seller_wins" and responsibility == "buyer":
            p.errors.append(_("买家负责时买家不能胜诉退款"))
            return p
        if outcome == "seller_wins":
            p.money.append(_("不退款,退款关闭"))
            if refund.express:
                p.money.append(_("极速退款已垫付的 %(v)s 元由买家退回平台基金 (R-F06)") % {"v": refund.amount})
            if advance_payment:
                p.errors.append(_("卖家胜诉时不能先行垫付 (§8)"))
        else:
            requested = refund.amount
            amount = refund_amount if refund_amount is not None else requested
            if outcome == "partial" and (refund_amount is None or not Decimal(0) < refund_amount < requested):
                p.errors.append(_("部分支持须填写大于 0 且小于申请金额 %(v)s 的退款金额") % {"v": requested})
                return p
            if not Decimal(0) < amount <= requested:
                p.errors.append(_("退款金额须大于 0 且不超过申请金额 %(v)s") % {"v": requested})
                return p
            p.refund_amount = amount
            payer = _("店铺") if responsibility == "seller" else _("平台基金")
            if refund.express:
                p.money.append(_("买家已获极速退款 %(v)s 元 (R-F06)") % {"v": refund.amount})
                if responsibility == "seller":
                    p.money.append(_("店铺向平台基金偿还 %(v)s 元") % {"v": amount})
                if refund.amount - amount > 0:
                    p.money.append(_("买家退回多垫付的 %(v)s 元") % {"v": refund.amount - amount})
                if advance_payment:
                    p.errors.append(_("已极速退款,不能再先行垫付 (§8)"))
            elif advance_payment:
                p.money.append(_("平台基金先行垫付 %(v)s 元给买家 (§8)") % {"v": amount})
                if responsibility == "seller":
                    p.money.append(_("同额 %(v)s 元冻结在店铺账户") % {"v": amount})
            else:
                p.money.append(_("%(p)s 退款 %(v)s 元给买家") % {"p": payer, "v": amount})
        p.other.append(_("退款纠纷的裁决不扣店铺分数"))
    else:
        complaint: Complaint = subject  # type: ignore[assignment]
        if advance_payment:
            p.errors.append(_("投诉不适用先行垫付 (§8)"))
        complainant_wins = (outcome != "seller_wins") == (complaint.complainant == Complaint.Party.BUYER)
        if not complainant_wins:
            p.other.append(_("投诉不成立:不处罚"))
        elif complaint.complainant == Complaint.Party.SELLER:
            p.other.append(
                _("卖家维权成立:评价隐藏,买家记录增加一次成立的维权,%(d)d 天内不能使用极速退款")
                % {"d": int(rulebook.resolve(rulebook.SELLER_CLAIM_EXPRESS_BAN_DAYS))}
            )
        elif responsibility != "seller":
            p.other.append(_("投诉成立,但责任不在卖家:不扣分"))
            if complaint.type == Complaint.Type.NOT_RECEIVED:
                _lines, money = _complaint_penalty(case, complaint, refund_amount)
                p.money.extend(money)
        else:
            lines, money = _complaint_penalty(case, complaint, refund_amount)
            p.penalties.extend(lines)
            p.money.extend(money)
    p.other.append(
        _("裁决后 %(d)d 天内双方各可凭新证据申请复核一次 (R-T20)") % {"d": rulebook.TIMERS["R-T20"].duration()}
    )
    return p
