from decimal import Decimal
from typing import Any

from django import forms
from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _

from aftersales.models import LogisticsClaim, Registration
from core import rulebook
from core.roles import Role
from disputes.models import Complaint, Refund
from disputes.selectors import complaint_list_for, refund_list_for
from disputes.services.cases import EVIDENCE_REQUEST_HOURS
from evidence.models import Evidence
from orders.models import Order

from .models import CannedReply
from .selectors import platform_people

PARTY_CHOICES = [("buyer", _("买家")), ("seller", _("卖家"))]
OUTCOME_CHOICES = [("buyer_wins", _("支持买家")), ("partial", _("部分支持买家")), ("seller_wins", _("支持卖家"))]
RESPONSIBILITY_CHOICES = [
    ("seller", _("卖家")),
    ("buyer", _("买家")),
    ("logistics", _("物流")),
    ("platform", _("平台")),
]


class _Form(forms.Form):
    """Forms that share a page get ids of their own (`<prefix>_<field>`), so every label points at its
    own control."""

    id_prefix = "f"

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("auto_id", f"{self.id_prefix}_%s")
        super().__init__(*args, **kwargs)


class EvidenceRequestForm(_Form):
    id_prefix = "request"
    party = forms.ChoiceField(label=_("向谁要求举证"), choices=PARTY_CHOICES)
    hours = forms.IntegerField(
        label=_("举证时限(小时,R-T13)"),
        min_value=EVIDENCE_REQUEST_HOURS[0],
        max_value=EVIDENCE_REQUEST_HOURS[1],
        initial=72,
    )
    note = forms.CharField(
        label=_("给当事方的说明"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "data-reply-target": "1"}),
    )


class NoteForm(_Form):
    id_prefix = "note"
    body = forms.CharField(
        label=_("内部备注(买卖双方不可见)"), widget=forms.Textarea(attrs={"rows": 3, "data-reply-target": "1"})
    )


class RulingForm(_Form):
    id_prefix = "ruling"
    outcome = forms.ChoiceField(label=_("裁决结果"), choices=OUTCOME_CHOICES)
    responsibility = forms.ChoiceField(label=_("责任方"), choices=RESPONSIBILITY_CHOICES)
    refund_amount = forms.DecimalField(
        label=_("退款金额(元,可选)"), required=False, min_value=0, max_digits=12, decimal_places=2
    )
    advance_payment = forms.BooleanField(label=_("平台先行垫付 (§8)"), required=False)
    override_agreement = forms.BooleanField(label=_("推翻双方事先约定 (R-C03)"), required=False)
    note = forms.CharField(label=_("裁决说明"), required=False, widget=forms.Textarea(attrs={"rows": 3}))


class CannedReplyForm(forms.ModelForm):
    class Meta:
        model = CannedReply
        fields = ["situation", "title", "body", "position", "active"]
        labels = {
            "situation": _("场景"),
            "title": _("标题"),
            "body": _("话术内容"),
            "position": _("排序"),
            "active": _("启用"),
        }
        widgets = {"body": forms.Textarea(attrs={"rows": 6})}


EVIDENCE_KIND_CHOICES = Evidence.Kind.choices


# --- after-sales: registrations (售后登记), carrier claims (报损), suspension (R-T19) ---------------------

# The refund reasons of core.rulebook, as the agent reads them on the phone (codes stay the values).
REFUND_REASON_LABELS = {
    "out_of_stock": _("缺货"),
    "late_shipment": _("未按约定时间发货"),
    "ordered_by_mistake": _("拍错 / 多拍"),
    "no_longer_wanted": _("不想要了"),
    "rejected_damaged": _("拒收(包裹破损)"),
    "empty_parcel": _("空包裹"),
    "not_delivered": _("未收到货"),
    "no_tracking": _("快递无跟踪记录"),
    "no_reason_7d": _("七天无理由"),
    "shipping_fee": _("运费补差"),
    "spoiled": _("商品变质"),
    "quality_issue": _("质量问题"),
    "size_mismatch": _("尺码 / 规格不符"),
    "date_mismatch": _("生产日期 / 保质期不符"),
    "label_mismatch": _("标签 / 吊牌不符"),
    "missing_items": _("少件 / 漏发"),
    "wrong_item": _("发错货"),
    "damaged": _("商品破损"),
    "counterfeit": _("假冒品牌"),
    "invoice_issue": _("发票问题"),
}
FILING_CHOICES = [
    ("", _("只登记")),
    ("refund", _("同时为买家提交退款")),
    ("complaint", _("同时为买家提交投诉")),
]


def _choices(choices, blank: str | None = None) -> list[tuple[str, Any]]:
    """Model choices whose Chinese labels go through the catalogue (they are listed in labels.py)."""
    out: list[tuple[str, Any]] = [("", blank)] if blank is not None else []
    return out + [(value, _(label)) for value, label in choices]


class _StaffChoiceField(forms.ModelChoiceField):
    """An agent, arbitrator or superuser, the staff read when the form is made (core.roles.platform_staff
    reads the groups when called: not when this module is imported)."""

    def __init__(self, **kwargs):
        super().__init__(queryset=get_user_model().objects.none(), **kwargs)

    def __deepcopy__(self, memo):  # every form gets a copy of its class's fields
        field = super().__deepcopy__(memo)
        field.queryset = platform_people()
        return field


class RegistrationForm(_Form):
    """A contact to register; with `filing`, the refund or complaint is filed for the buyer in the same step
    (aftersales.services.registration_file_refund / registration_file_complaint)."""

    id_prefix = "reg"
    source = forms.ChoiceField(label=_("来源"), choices=_choices(Registration.Source.choices))
    filing = forms.ChoiceField(
        label=_("一键创建"), choices=FILING_CHOICES, required=False, widget=forms.RadioSelect, initial=""
    )
    type = forms.ChoiceField(
        label=_("登记类型(一键创建时可不填)"), choices=_choices(Registration.Type.choices, "—"), required=False
    )
    handler = _StaffChoiceField(label=_("处理人(默认自己)"), required=False, empty_label=_("我自己"))
    order = forms.ModelChoiceField(
        label=_("订单号"), queryset=Order.objects.all(), required=False, widget=forms.NumberInput
    )
    buyer = forms.CharField(label=_("买家用户名(核对来电人,可选)"), required=False, max_length=150)
    refund = forms.ModelChoiceField(
        label=_("关联退款号"), queryset=Refund.objects.all(), required=False, widget=forms.NumberInput
    )
    complaint = forms.ModelChoiceField(
        label=_("关联投诉号"), queryset=Complaint.objects.all(), required=False, widget=forms.NumberInput
    )
    summary = forms.CharField(
        label=_("来电 / 咨询内容"), required=False, max_length=5000, widget=forms.Textarea(attrs={"rows": 2})
    )
    result = forms.CharField(
        label=_("处理结果"), required=False, max_length=5000, widget=forms.Textarea(attrs={"rows": 2})
    )
    refund_kind = forms.ChoiceField(label=_("退款类型"), choices=_choices(Refund.Kind.choices, "—"), required=False)
    refund_reason = forms.ChoiceField(
        label=_("退款原因"),
        choices=[("", "—"), *((r, REFUND_REASON_LABELS.get(r, r)) for r in rulebook.ALL_REFUND_REASONS)],
        required=False,
    )
    refund_amount = forms.DecimalField(
        label=_("退款金额(元)"), required=False, min_value=Decimal("0.00"), max_digits=12, decimal_places=2
    )
    complaint_type = forms.ChoiceField(
        label=_("投诉类型"),
        choices=_choices(
            [(c, label) for c, label in Complaint.Type.choices if c not in Complaint.SELLER_CLAIM_TYPES], "—"
        ),
        required=False,
    )
    complaint_severity = forms.ChoiceField(
        label=_("严重程度"), choices=_choices(Complaint.Severity.choices, "—"), required=False
    )
    description = forms.CharField(
        label=_("买家描述(提交给卖家与平台)"),
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        if user is not None:  # only what the agent may see (everything, for platform staff)
            self.fields["refund"].queryset = refund_list_for(user)  # type: ignore[attr-defined]
            self.fields["complaint"].queryset = complaint_list_for(user)  # type: ignore[attr-defined]

    def clean_buyer(self):
        username = self.cleaned_data["buyer"].strip()
        if not username:
            return None
        buyer = get_user_model().objects.filter(username=username, groups__name=Role.BUYER).first()
        if buyer is None:
            raise forms.ValidationError(_("没有这个买家"))
        return buyer

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        filing = data.get("filing") or ""
        required: list[str] = []
        if filing:
            required = ["order"]
            required += ["refund_kind", "refund_reason", "refund_amount"] if filing == "refund" else ["complaint_type"]
            for name in ("refund", "complaint"):
                if data.get(name):
                    self.add_error(name, _("一键创建时不能再关联已有的退款或投诉"))
        else:
            required = ["type"]
        for name in required:
            if data.get(name) in (None, ""):
                self.add_error(name, _("此项必填"))
        return data


class RegistrationMoveForm(forms.Form):
    action = forms.ChoiceField(choices=[(a, a) for a in ("start", "resolve", "close", "reopen")])
    result = forms.CharField(required=False, max_length=5000)


class LogisticsClaimForm(_Form):
    id_prefix = "claim"
    order = forms.ModelChoiceField(label=_("订单号"), queryset=Order.objects.all(), widget=forms.NumberInput)
    parcel_state = forms.ChoiceField(label=_("包裹状态"), choices=_choices(LogisticsClaim.ParcelState.choices))
    item = forms.CharField(label=_("商品"), max_length=200)
    price = forms.DecimalField(label=_("索赔金额(元)"), min_value=Decimal("0.01"), max_digits=12, decimal_places=2)
    carrier = forms.CharField(label=_("快递公司(默认取订单发货)"), required=False, max_length=32)
    tracking_number = forms.CharField(label=_("运单号(默认取订单发货)"), required=False, max_length=60)
    handler = _StaffChoiceField(label=_("处理人(默认自己)"), required=False, empty_label=_("我自己"))
    note = forms.CharField(label=_("备注"), required=False, max_length=5000, widget=forms.Textarea(attrs={"rows": 2}))


class LogisticsClaimMoveForm(forms.Form):
    action = forms.ChoiceField(choices=[(a, a) for a in ("submit", "pay", "refuse")])
    carrier_reference = forms.CharField(required=False, max_length=80)
    paid_amount = forms.DecimalField(required=False, min_value=Decimal("0.01"), max_digits=12, decimal_places=2)
    reason = forms.CharField(required=False, max_length=5000)


class SuspensionForm(forms.Form):
    reason = forms.CharField(max_length=2000)
