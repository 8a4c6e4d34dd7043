"""The browser dashboard: thin views over the disputes, evidence and penalties services and the same
scoping selectors as the API. A domain error is a message on the page, never a 500; another party's
object is a 404."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST
from rest_framework.exceptions import APIException

from core.errors import DomainError
from core.roles import is_arbitrator
from disputes import services
from disputes.models import Case, Complaint
from disputes.selectors import buyer_risk_signals, complaint_list_for, deadlines_of, refund_list_for
from evidence import services as evidence_services
from evidence.models import Evidence
from evidence.selectors import evidence_checklist, evidence_list_for, evidence_of
from orders.models import Shop
from orders.selectors import is_seller_of
from penalties.selectors import record_shop_for, shop_record

from . import queue_page, selectors
from .access import (
    arbitrator_required,
    home_url_name,
    is_supervisor,
    seller_required,
    signed_in,
    staff_required,
    supervisor_required,
)
from .charts import bar_chart
from .deadlines import attach_case_deadlines, attach_next_deadline, nearest, suspension_of
from .forms import (
    EVIDENCE_KIND_CHOICES,
    CannedReplyForm,
    EvidenceRequestForm,
    NoteForm,
    RulingForm,
    SuspensionForm,
)
from .models import CannedReply
from .preview import ruling_preview

QUEUE_PAGE_SIZE = queue_page.QUEUE_PAGE_SIZE
INBOX_PAGE_SIZE = QUEUE_PAGE_SIZE  # the seller's inbox: rows per page of refunds, of complaints


def safe_back(request, fallback: str):
    """Back to the page the button was on, only when `next` is a path of this site (no open redirect)."""
    from django.utils.http import url_has_allowed_host_and_scheme

    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = ""
    return redirect(target or reverse(fallback))


def _attempt(request: HttpRequest, fn: Callable[..., Any], /, **kwargs: Any) -> tuple[bool, Any]:
    """Call one service; a domain error (or a refused upload) becomes an error message on the page."""
    try:
        return True, fn(**kwargs)
    except DomainError as exc:
        messages.error(request, _("操作未完成:%(detail)s") % {"detail": exc.detail})
    except APIException as exc:
        messages.error(request, _("操作未完成:%(detail)s") % {"detail": exc.detail})
    except ValidationError as exc:
        messages.error(request, _("操作未完成:%(detail)s") % {"detail": "; ".join(exc.messages)})
    return False, None


# --- sign-in and homes ------------------------------------------------------------------------------


class LoginView(auth_views.LoginView):
    template_name = "dashboard/login.html"
    redirect_authenticated_user = True

    def get_default_redirect_url(self):
        return reverse("dashboard:home")


def home(request: HttpRequest) -> HttpResponseBase:
    """`/`: the sign-in form, or the signed-in user's role home (CONTRACT.md "Browser")."""
    if not request.user.is_authenticated:
        return LoginView.as_view()(request)
    return redirect(home_url_name(request.user))


@signed_in
def no_role(request: HttpRequest) -> HttpResponse:
    return render(request, "dashboard/no_role.html")


@signed_in
def buyer_home(request: HttpRequest) -> HttpResponse:
    refunds = list(refund_list_for(request.user).filter(buyer=request.user).order_by("-created_at")[:50])
    complaints = list(complaint_list_for(request.user).filter(buyer=request.user).order_by("-created_at")[:50])
    attach_next_deadline(refunds)
    attach_next_deadline(complaints)
    return render(request, "dashboard/buyer_home.html", {"refunds": refunds, "complaints": complaints})


# --- the agent's queue ------------------------------------------------------------------------------


def _queue_context(request: HttpRequest, *, awaiting_ruling: bool = False, table_only: bool = False) -> dict[str, Any]:
    """What the queue page shows (dashboard/queue.py); `table_only` for htmx, which swaps only the table."""
    user, params = request.user, request.GET
    qs = selectors.case_queue(user, params=params, awaiting_ruling=awaiting_ruling)
    # The queue may hold millions of rows: count at most 10,000 of them (shown as "≥ 10000").
    page = queue_page.QueuePaginator(
        queue_page.page_queryset(qs),
        QUEUE_PAGE_SIZE,
        cache_key=queue_page.count_cache_key(user, params, awaiting_ruling=awaiting_ruling),
        cache_seconds=queue_page.count_cache_seconds(),
    ).get_page(params.get("page"))
    rest = params.copy()
    rest.pop("page", None)
    context: dict[str, Any] = {
        "page": page,
        "rows": queue_page.queue_rows(list(page.object_list)),
        "view": params.get("view", "all"),
        "params": params,
        "querystring": rest.urlencode(),
    }
    if table_only:
        return context
    people = selectors.platform_people_choices()
    context.update(
        saved_views=[
            ("all", _("全部未结")),
            ("mine", _("我的")),
            ("overdue", _("已超时")),
            ("awaiting_evidence", _("等待举证")),
            ("unassigned", _("未分配")),
        ],
        status_options=queue_page.options(queue_page.translated(Case.Status.choices), params.get("status", "")),
        kind_options=queue_page.options(queue_page.translated(Case.Kind.choices), params.get("kind", "")),
        people=people,
        people_options=queue_page.options(people, params.get("assignee", "")),
        shop_options=queue_page.options(selectors.shop_choices(), params.get("shop", "")),
    )
    return context


@staff_required
def queue(request: HttpRequest) -> HttpResponse:
    """Nearest deadline first (overdue at the head), saved views, filters, bulk assign."""
    if request.htmx:  # type: ignore[attr-defined]
        return render(request, "dashboard/partials/queue_table.html", _queue_context(request, table_only=True))
    return render(request, "dashboard/queue.html", _queue_context(request))


@staff_required
@require_POST
def queue_assign(request: HttpRequest) -> HttpResponse:
    """Bulk assign: each selected case through `case_assign`; the ones refused are named."""
    ids = [int(i) for i in request.POST.getlist("case") if i.isdigit()]
    assignee_id = request.POST.get("assignee", "")
    assignee = selectors.platform_people().filter(pk=int(assignee_id)).first() if assignee_id.isdigit() else None
    if assignee is None:
        messages.error(request, _("请选择要分配给的客服或仲裁员"))
    elif not ids:
        messages.error(request, _("请先勾选案件"))
    else:
        done = 0
        for case in selectors.case_queue(request.user, params={"status": "any"}).filter(pk__in=ids):
            ok, _result = _attempt(request, services.case_assign, case=case, actor=request.user, assignee=assignee)
            done += ok
        messages.success(request, _("已分配 %(n)d 个案件给 %(u)s") % {"n": done, "u": assignee.username})
    return safe_back(request, "dashboard:queue")


# --- the case page ----------------------------------------------------------------------------------


def _case_or_404(request: HttpRequest, pk: int) -> Case:
    case = selectors.case_page(request.user, pk)
    if case is None:
        raise Http404
    return case


def _case_context(request: HttpRequest, case: Case, **extra: Any) -> dict[str, Any]:
    attach_case_deadlines([case])
    evidence = list(evidence_of(case).order_by("submitted_at", "id"))
    replies = list(CannedReply.objects.filter(active=True))
    by_situation: dict[str, list[CannedReply]] = {}
    for reply in replies:
        by_situation.setdefault(reply.get_situation_display(), []).append(reply)
    context = {
        "case": case,
        "subject": case.subject,
        "order": case.order,
        "deadlines": case._all_deadlines,  # type: ignore[attr-defined]
        "order_deadlines": deadlines_of(case.order),
        "timeline": selectors.timeline_of(case),
        "evidence": evidence,
        "checklist": evidence_checklist(case, items=evidence),
        "risk_signals": buyer_risk_signals(case=case),
        "replies": by_situation,
        "people": selectors.platform_people_choices(),
        "arbitrators": list(selectors.arbitrators()),
        "request_form": EvidenceRequestForm(),
        "note_form": NoteForm(),
        "ruling_form": RulingForm(),
        "can_rule": is_arbitrator(request.user) and case.status != Case.Status.RULED,
        "is_arbitrator": is_arbitrator(request.user),
        "suspension": suspension_of(case),
    }
    context.update(extra)
    return context


@staff_required
def case_detail(request: HttpRequest, pk: int) -> HttpResponse:
    case = _case_or_404(request, pk)
    return render(request, "dashboard/case.html", _case_context(request, case))


@staff_required
@require_POST
def case_assign(request: HttpRequest, pk: int) -> HttpResponse:
    case = _case_or_404(request, pk)
    value = request.POST.get("assignee", "")
    assignee = (
        request.user
        if value == "me"
        else (selectors.platform_people().filter(pk=int(value)).first() if value.isdigit() else None)
    )
    if assignee is None:
        messages.error(request, _("请选择要分配给的客服或仲裁员"))
    else:
        ok, _result = _attempt(request, services.case_assign, case=case, actor=request.user, assignee=assignee)
        if ok:
            messages.success(request, _("案件已分配给 %(u)s") % {"u": assignee.username})
    return redirect("dashboard:case", pk=case.pk)


@staff_required
@require_POST
def case_escalate(request: HttpRequest, pk: int) -> HttpResponse:
    """Escalate = hand the case to an arbitrator (case_assign), with the reason as an internal note."""
    case = _case_or_404(request, pk)
    value = request.POST.get("arbitrator", "")
    arbitrator = selectors.arbitrators().filter(pk=int(value)).first() if value.isdigit() else None
    if arbitrator is None:
        messages.error(request, _("请选择仲裁员"))
        return redirect("dashboard:case", pk=case.pk)
    ok, _result = _attempt(request, services.case_assign, case=case, actor=request.user, assignee=arbitrator)
    if ok:
        reason = request.POST.get("reason", "").strip()
        body = _("升级至仲裁员 %(u)s") % {"u": arbitrator.username} + (f":{reason}" if reason else "")
        _attempt(request, services.case_note_add, case=case, actor=request.user, body=body)
        messages.success(request, _("已升级给仲裁员 %(u)s") % {"u": arbitrator.username})
    return redirect("dashboard:case", pk=case.pk)


@staff_required
@require_POST
def case_note(request: HttpRequest, pk: int) -> HttpResponse:
    case = _case_or_404(request, pk)
    form = NoteForm(request.POST)
    if form.is_valid():
        ok, _result = _attempt(
            request, services.case_note_add, case=case, actor=request.user, body=form.cleaned_data["body"]
        )
        if ok:
            messages.success(request, _("已添加内部备注"))
    else:
        messages.error(request, _("备注不能为空"))
    return redirect("dashboard:case", pk=case.pk)


@staff_required
@require_POST
def case_request_evidence(request: HttpRequest, pk: int) -> HttpResponse:
    case = _case_or_404(request, pk)
    form = EvidenceRequestForm(request.POST)
    if not form.is_valid():
        messages.error(
            request, _("请检查举证要求:%(e)s") % {"e": "; ".join(str(m) for ms in form.errors.values() for m in ms)}
        )
        return redirect("dashboard:case", pk=case.pk)
    ok, _result = _attempt(request, services.case_request_evidence, case=case, actor=request.user, **form.cleaned_data)
    if ok:
        party = dict(EvidenceRequestForm.base_fields["party"].choices)[form.cleaned_data["party"]]  # type: ignore[attr-defined]
        messages.success(request, _("已要求%(p)s在 %(h)d 小时内举证") % {"p": party, "h": form.cleaned_data["hours"]})
    return redirect("dashboard:case", pk=case.pk)


@staff_required
@require_POST
def evidence_review(request: HttpRequest, pk: int) -> HttpResponse:
    evidence = get_object_or_404(evidence_list_for(request.user), pk=pk)
    ok, _result = _attempt(
        request,
        evidence_services.evidence_review,
        evidence=evidence,
        actor=request.user,
        verdict=request.POST.get("verdict", ""),
        note=request.POST.get("note", ""),
    )
    if ok:
        messages.success(request, _("凭证 %(id)d 已审核") % {"id": evidence.pk})
    return safe_back(request, "dashboard:home")


@arbitrator_required
@require_POST
def case_suspend(request: HttpRequest, pk: int) -> HttpResponse:
    """R-T19: the arbitrator suspends the case; every clock of the case and its subject pauses."""
    return _suspension(request, pk, services.case_suspend, _("案件 %(id)d 已中止,所有时限已暂停 (R-T19)"))


@arbitrator_required
@require_POST
def case_resume(request: HttpRequest, pk: int) -> HttpResponse:
    """R-T19: the clocks run again with the time they had left."""
    return _suspension(request, pk, services.case_resume, _("案件 %(id)d 已恢复,时限按剩余时间继续计时"))


def _suspension(request: HttpRequest, pk: int, fn: Callable[..., Any], done: str) -> HttpResponse:
    case = _case_or_404(request, pk)
    form = SuspensionForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("请填写理由"))
        return redirect("dashboard:case", pk=case.pk)
    ok, _result = _attempt(request, fn, case=case, actor=request.user, reason=form.cleaned_data["reason"].strip())
    if ok:
        messages.success(request, done % {"id": case.pk})
    return redirect("dashboard:case", pk=case.pk)


# --- the arbitrator ---------------------------------------------------------------------------------


@arbitrator_required
def arbitration(request: HttpRequest) -> HttpResponse:
    """Cases awaiting a ruling (nearest deadline first) and review requests (R-T20)."""
    if request.htmx:  # type: ignore[attr-defined]
        context = _queue_context(request, awaiting_ruling=True, table_only=True)
        return render(request, "dashboard/partials/queue_table.html", context)
    context = _queue_context(request, awaiting_ruling=True)
    context["reviews"] = list(selectors.pending_reviews(request.user))
    context["arbitration"] = True
    return render(request, "dashboard/arbitration.html", context)


@arbitrator_required
@require_POST
def case_rule(request: HttpRequest, pk: int) -> HttpResponse:
    """`action=preview` shows the money and penalty effects (nothing written); `action=confirm` rules."""
    case = _case_or_404(request, pk)
    form = RulingForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("请检查裁决表单"))
        return render(request, "dashboard/case.html", _case_context(request, case, ruling_form=form), status=400)
    data = form.cleaned_data
    amount: Decimal | None = data["refund_amount"]
    preview = ruling_preview(
        case=case,
        outcome=data["outcome"],
        responsibility=data["responsibility"],
        refund_amount=amount,
        advance_payment=data["advance_payment"],
    )
    if request.POST.get("action") != "confirm":
        template = "dashboard/partials/ruling_preview.html" if request.htmx else "dashboard/case.html"  # type: ignore[attr-defined]
        return render(request, template, _case_context(request, case, ruling_form=form, preview=preview))
    ok, _result = _attempt(
        request,
        services.case_rule,
        case=case,
        actor=request.user,
        outcome=data["outcome"],
        responsibility=data["responsibility"],
        note=data["note"],
        refund_amount=amount,
        advance_payment=data["advance_payment"],
        override_agreement=data["override_agreement"],
    )
    if ok:
        messages.success(request, _("案件 %(id)d 已裁决") % {"id": case.pk})
    return redirect("dashboard:case", pk=case.pk)


@arbitrator_required
@require_POST
def review_decide(request: HttpRequest, pk: int) -> HttpResponse:
    review = get_object_or_404(selectors.pending_reviews(request.user), pk=pk)
    ok, _result = _attempt(
        request,
        services.case_review_decide,
        review=review,
        actor=request.user,
        decision=request.POST.get("decision", ""),
        note=request.POST.get("note", ""),
    )
    if ok:
        messages.success(request, _("复核申请 %(id)d 已处理") % {"id": review.pk})
    return redirect("dashboard:arbitration")


# --- the seller -------------------------------------------------------------------------------------


@seller_required
def seller_inbox(request: HttpRequest) -> HttpResponse:
    """What waits for the seller, most urgent first: a page of refunds and a page of complaints, each
    paged on its own (`refunds_page`, `complaints_page`) and counted up to the queues' cap (#9: a shop
    on a peak day has thousands open, and the inbox read and drew them all)."""
    context: dict[str, Any] = {}
    for name, rows in (
        ("refunds", selectors.seller_refunds(request.user)),
        ("complaints", selectors.seller_complaints(request.user)),
    ):
        param = f"{name}_page"
        page = selectors.inbox_page(rows, request.GET.get(param), per_page=INBOX_PAGE_SIZE)
        attach_next_deadline(list(page.object_list))  # the same instances: the page's rows get theirs
        others = request.GET.copy()
        others.pop(param, None)
        context[name] = page
        context[f"{name}_pager"] = {"page": page, "param": param, "querystring": others.urlencode()}
    return render(request, "dashboard/seller_inbox.html", context)


def _upload(request: HttpRequest, subject) -> tuple[bool, list[int]]:
    """Store each uploaded file as evidence on `subject` (evidence_submit); False if one was refused."""
    ids: list[int] = []
    kind = request.POST.get("evidence_kind") or Evidence.Kind.PHOTO
    for file in request.FILES.getlist("evidence_file"):
        ok, evidence = _attempt(
            request,
            evidence_services.evidence_submit,
            file=file,
            kind=kind,
            actor=request.user,
            subject=subject,
            description=request.POST.get("evidence_description", ""),
        )
        if not ok:
            return False, ids
        ids.append(evidence.pk)
    return True, ids


def _seller_page_context(subject) -> dict[str, Any]:
    deadlines = deadlines_of(subject)
    return {
        "subject": subject,
        "deadlines": deadlines,
        "next_deadline": nearest(deadlines),
        "evidence": list(evidence_of(subject).order_by("submitted_at", "id")),
        "timeline": selectors.subject_timeline(subject),
        "evidence_kinds": EVIDENCE_KIND_CHOICES,
    }


REFUND_ACTIONS: dict[str, Callable[..., Any]] = {
    "approve": services.refund_approve,
    "refuse": services.refund_refuse,
    "confirm_return": services.refund_confirm_return,
    "reject_return": services.refund_reject_return,
    "escalate": services.refund_escalate,
}


@seller_required
def seller_refund(request: HttpRequest, pk: int) -> HttpResponse:
    """One refund of the seller's shop: approve, refuse, confirm or reject the return, escalate; each
    may carry uploaded evidence, stored first through evidence_submit."""
    refund = get_object_or_404(refund_list_for(request.user).select_related("shop__owner"), pk=pk)
    if not (request.user.is_superuser or is_seller_of(request.user, refund.shop)):
        raise PermissionDenied
    if request.method == "POST":
        action = request.POST.get("action", "")
        if action not in REFUND_ACTIONS:
            messages.error(request, _("未知操作"))
            return redirect("dashboard:seller_refund", pk=refund.pk)
        uploaded, ids = _upload(request, refund)
        if uploaded:
            kwargs: dict[str, Any] = {"refund": refund, "actor": request.user}
            if action == "approve":
                kwargs["return_address"] = request.POST.get("return_address", "").strip() or refund.shop.return_address
            elif action in ("refuse", "reject_return"):
                reason = request.POST.get("reason", "").strip()
                if not reason:
                    messages.error(request, _("请填写理由"))
                    return redirect("dashboard:seller_refund", pk=refund.pk)
                kwargs.update(reason=reason, evidence=ids)
            elif action == "escalate":
                kwargs["reason"] = request.POST.get("reason", "").strip()
            ok, _result = _attempt(request, REFUND_ACTIONS[action], **kwargs)
            if ok:
                refund.refresh_from_db()
                messages.success(
                    request,
                    _("退款 %(id)d 已更新:%(s)s") % {"id": refund.pk, "s": _(refund.get_status_display())},
                )
        return redirect("dashboard:seller_refund", pk=refund.pk)
    return render(request, "dashboard/seller_refund.html", {"refund": refund, **_seller_page_context(refund)})


@seller_required
def seller_complaint(request: HttpRequest, pk: int) -> HttpResponse:
    """A complaint against the shop (appeal within R-T10) or the shop's own claim (rebut within R-T11)."""
    complaint = get_object_or_404(complaint_list_for(request.user).select_related("shop__owner"), pk=pk)
    if not (request.user.is_superuser or is_seller_of(request.user, complaint.shop)):
        raise PermissionDenied
    if request.method == "POST":
        action = request.POST.get("action", "")
        statement = request.POST.get("statement", "").strip()
        if action not in ("appeal", "rebut") or not statement:
            messages.error(request, _("请填写申诉或反驳内容"))
            return redirect("dashboard:seller_complaint", pk=complaint.pk)
        uploaded, ids = _upload(request, complaint)
        if uploaded:
            fn = services.complaint_appeal if action == "appeal" else services.complaint_rebut
            ok, _result = _attempt(
                request, fn, complaint=complaint, actor=request.user, statement=statement, evidence=ids
            )
            if ok:
                messages.success(request, _("已提交"))
        return redirect("dashboard:seller_complaint", pk=complaint.pk)
    return render(
        request,
        "dashboard/seller_complaint.html",
        {
            "complaint": complaint,
            "can_appeal": complaint.status == Complaint.Status.AWAITING_APPEAL
            and complaint.complainant == Complaint.Party.BUYER,
            "can_rebut": complaint.status == Complaint.Status.AWAITING_REBUTTAL
            and complaint.complainant == Complaint.Party.SELLER,
            **_seller_page_context(complaint),
        },
    )


def _record_context(shop: Shop) -> dict[str, Any]:
    record = shop_record(shop=shop)
    return {"shop": shop, "record": record, "penalties": list(selectors.shop_penalties(shop, year=record["year"]))}


@seller_required
def seller_record(request: HttpRequest) -> HttpResponse:
    """The penalty record of each of the seller's shops: points, sanctions, §9 metrics."""
    records = [_record_context(shop) for shop in selectors.record_shops_for(request.user)]
    return render(request, "dashboard/record.html", {"records": records})


@signed_in
def shop_record_page(request: HttpRequest, pk: int) -> HttpResponse:
    shop = record_shop_for(request.user, pk)
    if shop is None:
        raise Http404
    return render(request, "dashboard/record.html", {"records": [_record_context(shop)]})


# --- overview ---------------------------------------------------------------------------------------


@staff_required
def overview(request: HttpRequest) -> HttpResponse:
    data = selectors.overview()
    per_day = bar_chart(
        [(d.strftime("%m-%d"), [opened, closed]) for d, opened, closed in data["per_day"]],
        title=_("每日新开 / 结案"),
    )
    timeouts = bar_chart([(rule, [n]) for rule, n in data["timeouts"]], title=_("按规则统计的超时"), height=200)
    points = bar_chart([(name, [p]) for name, p in data["points"]], title=_("各店铺本年扣分"), height=200)
    return render(
        request,
        "dashboard/overview.html",
        {"data": data, "per_day": per_day, "timeouts": timeouts, "points": points},
    )


# --- canned replies (话术) ---------------------------------------------------------------------------


@supervisor_required
def replies(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    """Supervisors (arbitrators and staff users) edit the canned replies; agents use them."""
    instance = get_object_or_404(CannedReply, pk=pk) if pk else None
    form = CannedReplyForm(request.POST or None, instance=instance)
    if request.method == "POST" and form.is_valid():
        reply = form.save(commit=False)
        reply.updated_by = request.user
        reply.updated_at = timezone.now()
        reply.save()
        messages.success(request, _("话术已保存"))
        return redirect("dashboard:replies")
    return render(
        request,
        "dashboard/replies.html",
        {"form": form, "instance": instance, "replies": CannedReply.objects.all(), "supervisor": is_supervisor},
    )
