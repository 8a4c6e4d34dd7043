from django import forms
from django.utils.translation import gettext_lazy as _

from disputes.services.cases import EVIDENCE_REQUEST_HOURS
from evidence.models import Evidence

from .models import CannedReply

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
