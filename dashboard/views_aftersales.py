"""Dashboard pages of the after-sales app (RULEBOOK §10, issue #10): registrations (售后登记) with one-step
filing for a buyer who phoned, carrier claims (报损) and agent performance. Thin: each write is one
`aftersales.services` call, each read an `aftersales` selector; domain errors are messages."""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from aftersales import services
from aftersales.models import LogisticsClaim, Registration, Team
from aftersales.selectors import agent_performance, logistics_claim_list, registration_list
from aftersales.serializers import PerformanceQuerySerializer
from core.roles import is_arbitrator

from . import selectors
from .access import staff_required
from .charts import bar_chart
from .forms import LogisticsClaimForm, LogisticsClaimMoveForm, RegistrationForm, RegistrationMoveForm
from .views import _attempt, safe_back

PAGE_SIZE = 50


def _back(request: HttpRequest, fallback: str) -> HttpResponse:
    """Back to the list the button was pressed on (its filters kept); only a path of this site."""
    return safe_back(request, fallback)


def _errors(form) -> str:
    return "; ".join(
        f"{form.fields[k].label if k in form.fields else ''} {m}".strip() for k, ms in form.errors.items() for m in ms
    )


def _page(request: HttpRequest, qs) -> dict[str, Any]:
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    params = request.GET.copy()
    params.pop("page", None)
    return {"page": page, "rows": list(page.object_list), "params": request.GET, "querystring": params.urlencode()}


# --- registrations (售后登记) --------------------------------------------------------------------------


def _registrations_page(request: HttpRequest, form: RegistrationForm, status: int = 200) -> HttpResponse:
    context = _page(request, selectors.registration_page(request.user, params=request.GET))
    context.update(
        form=form,
        sources=Registration.Source.choices,
        types=Registration.Type.choices,
        statuses=Registration.Status.choices,
        people=selectors.platform_people_choices(),
    )
    return render(request, "dashboard/registrations.html", context, status=status)


@staff_required
def registrations(request: HttpRequest) -> HttpResponse:
    """The list with its filters and the form to register any contact."""
    return _registrations_page(request, RegistrationForm(user=request.user, initial={"source": "phone"}))


@staff_required
@require_POST
def registration_new(request: HttpRequest) -> HttpResponse:
    """Register a contact; with `filing` the refund or complaint is filed for the buyer in the same step."""
    form = RegistrationForm(request.POST, user=request.user)
    if not form.is_valid():
        messages.error(request, _("请检查登记表单:%(e)s") % {"e": _errors(form)})
        return _registrations_page(request, form, status=400)
    data = form.cleaned_data
    common: dict[str, Any] = {
        "actor": request.user,
        "source": data["source"],
        "type": data["type"],
        "handler": data["handler"],
        "summary": data["summary"],
    }
    if data["filing"] == "refund":
        ok, registration = _attempt(
            request,
            services.registration_file_refund,
            **common,
            order=data["order"],
            buyer=data["buyer"] or data["order"].buyer,
            kind=data["refund_kind"],
            reason=data["refund_reason"],
            amount=data["refund_amount"],
            description=data["description"],
        )
    elif data["filing"] == "complaint":
        ok, registration = _attempt(
            request,
            services.registration_file_complaint,
            **common,
            order=data["order"],
            buyer=data["buyer"] or data["order"].buyer,
            complaint_type=data["complaint_type"],
            severity=data["complaint_severity"],
            description=data["description"],
        )
    else:
        ok, registration = _attempt(
            request,
            services.registration_create,
            **common,
            result=data["result"],
            order=data["order"],
            refund=data["refund"],
            complaint=data["complaint"],
            buyer=data["buyer"],
        )
    if not ok:
        return _registrations_page(request, form, status=200)
    if registration.refund_id and data["filing"]:
        messages.success(
            request, _("已登记 %(id)d,并为买家提交退款 %(r)d") % {"id": registration.pk, "r": registration.refund_id}
        )
    elif registration.complaint_id and data["filing"]:
        messages.success(
            request,
            _("已登记 %(id)d,并为买家提交投诉 %(c)d") % {"id": registration.pk, "c": registration.complaint_id},
        )
    else:
        messages.success(request, _("已登记 %(id)d") % {"id": registration.pk})
    return redirect("dashboard:registrations")


REGISTRATION_MOVES = {
    "start": services.registration_start,
    "resolve": services.registration_resolve,
    "close": services.registration_close,
    "reopen": services.registration_reopen,
}


@staff_required
@require_POST
def registration_move(request: HttpRequest, pk: int) -> HttpResponse:
    """start, resolve (with its result), close, reopen: one service each."""
    registration = get_object_or_404(registration_list(user=request.user), pk=pk)
    form = RegistrationMoveForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("未知操作"))
        return _back(request, "dashboard:registrations")
    action, result = form.cleaned_data["action"], form.cleaned_data["result"].strip()
    kwargs: dict[str, Any] = {"registration": registration, "actor": request.user}
    if action in ("resolve", "close") and result:
        kwargs["result"] = result
    ok, moved = _attempt(request, REGISTRATION_MOVES[action], **kwargs)
    if ok:
        messages.success(request, _("登记 %(id)d:%(s)s") % {"id": moved.pk, "s": _(moved.get_status_display())})
    return _back(request, "dashboard:registrations")


# --- carrier claims (报损) ---------------------------------------------------------------------------


def _claims_page(request: HttpRequest, form: LogisticsClaimForm, status: int = 200) -> HttpResponse:
    context = _page(request, selectors.logistics_claim_page(request.user, params=request.GET))
    context.update(
        form=form,
        statuses=LogisticsClaim.Status.choices,
        parcel_states=LogisticsClaim.ParcelState.choices,
        people=selectors.platform_people_choices(),
    )
    return render(request, "dashboard/logistics_claims.html", context, status=status)


@staff_required
def logistics_claims(request: HttpRequest) -> HttpResponse:
    """The claims with their filters, a form to report one, and each claim's next moves as buttons."""
    return _claims_page(request, LogisticsClaimForm())


@staff_required
@require_POST
def logistics_claim_new(request: HttpRequest) -> HttpResponse:
    form = LogisticsClaimForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("请检查报损表单:%(e)s") % {"e": _errors(form)})
        return _claims_page(request, form, status=400)
    ok, claim = _attempt(request, services.logistics_claim_report, actor=request.user, **form.cleaned_data)
    if not ok:
        return _claims_page(request, form)
    messages.success(request, _("已登记报损 %(id)d") % {"id": claim.pk})
    return redirect("dashboard:logistics_claims")


@staff_required
@require_POST
def logistics_claim_move(request: HttpRequest, pk: int) -> HttpResponse:
    """reported → claimed → paid (the ledger movement, once) | refused: one service each."""
    claim = get_object_or_404(logistics_claim_list(user=request.user), pk=pk)
    form = LogisticsClaimMoveForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("操作未完成:%(detail)s") % {"detail": _errors(form)})
        return _back(request, "dashboard:logistics_claims")
    data = form.cleaned_data
    if data["action"] == "submit":
        ok, moved = _attempt(
            request,
            services.logistics_claim_submit,
            claim=claim,
            actor=request.user,
            carrier_reference=data["carrier_reference"].strip(),
        )
    elif data["action"] == "pay":
        ok, moved = _attempt(
            request, services.logistics_claim_pay, claim=claim, actor=request.user, paid_amount=data["paid_amount"]
        )
    else:
        ok, moved = _attempt(
            request, services.logistics_claim_refuse, claim=claim, actor=request.user, reason=data["reason"].strip()
        )
    if ok:
        messages.success(request, _("报损 %(id)d:%(s)s") % {"id": moved.pk, "s": _(moved.get_status_display())})
    return _back(request, "dashboard:logistics_claims")


# --- agent performance ------------------------------------------------------------------------------


def _period(request: HttpRequest) -> tuple[dict[str, str], dict[str, Any]]:
    """The period as the form shows it (whole China days, the last 30 by default) and as the API's own
    query serializer parses it, so the page, the CSV link and GET agents/performance/ agree."""
    today = timezone.localdate()
    shown = {
        "since": request.GET.get("since") or (today - dt.timedelta(days=29)).isoformat(),
        "until": request.GET.get("until") or today.isoformat(),
        "team": request.GET.get("team", ""),
    }
    query = QueryDict(mutable=True)
    query.update({k: v for k, v in shown.items() if v})
    serializer = PerformanceQuerySerializer(data=query)
    if serializer.is_valid():
        return shown, dict(serializer.validated_data)
    problems = "; ".join(f"{k}: {' '.join(str(m) for m in ms)}" for k, ms in serializer.errors.items())
    messages.error(request, _("时间段无效,已显示最近 30 天:%(e)s") % {"e": problems})
    shown = {"since": (today - dt.timedelta(days=29)).isoformat(), "until": today.isoformat(), "team": ""}
    fallback = PerformanceQuerySerializer(data={"since": shown["since"], "until": shown["until"]})
    fallback.is_valid(raise_exception=True)
    return shown, dict(fallback.validated_data)


def _minutes(seconds: float | None) -> float:
    return round(seconds / 60, 1) if seconds is not None else 0


@staff_required
def performance(request: HttpRequest) -> HttpResponse:
    """Per agent and team over a period (aftersales.selectors.agent_performance: arbitrators see everyone
    and the teams, an agent their own row); bar charts drawn on the server; the CSV is the API's."""
    shown, query = _period(request)
    report = agent_performance(viewer=request.user, **query)
    names = [row["username"] for row in report.agents]
    charts = []
    if report.agents:
        charts = [
            bar_chart(
                [(n, [r["cases_handled"], r["cases_closed"]]) for n, r in zip(names, report.agents, strict=True)],
                title=_("处理案件 / 结案"),
                height=200,
            ),
            bar_chart(
                [
                    (n, [round((r["share_inside_sla"] or 0) * 100, 1)])
                    for n, r in zip(names, report.agents, strict=True)
                ],
                title=_("SLA 内结案率(百分比,R-T12)"),
                height=200,
            ),
            bar_chart(
                [
                    (n, [_minutes(r["median_first_response_seconds"])])
                    for n, r in zip(names, report.agents, strict=True)
                ],
                title=_("首次响应中位数(分钟)"),
                height=200,
            ),
            bar_chart(
                [(n, [r["overdue"], r["reversed_rulings"]]) for n, r in zip(names, report.agents, strict=True)],
                title=_("超时 / 复核改判"),
                height=200,
            ),
        ]
    csv_query = {k: v for k, v in shown.items() if v}
    csv_query["format"] = "csv"
    return render(
        request,
        "dashboard/performance.html",
        {
            "report": report,
            "shown": shown,
            "charts": charts,
            "teams": list(Team.objects.order_by("name")) if is_arbitrator(request.user) else [],
            "supervisor": is_arbitrator(request.user),
            "csv_url": reverse("agent-performance") + "?" + urlencode(csv_query),
        },
    )
