"""Read-only helpers of the dashboard: the queue's filters and saved views, the seller's inbox, the
case page's bundle, the overview's numbers. Every read starts from the API's scoping selectors."""

from __future__ import annotations

import datetime as dt
import statistics
from typing import NamedTuple
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.cache import cache
from django.core.paginator import Page
from django.db.models import Count, OuterRef, Prefetch, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from aftersales.models import LogisticsClaim, Registration
from aftersales.selectors import logistics_claim_list, registration_list
from core.cache import keep_counted, kept_for, queue_at_once
from core.models import Event
from core.paginators import CappedCountPaginator
from core.roles import Role, platform_staff
from disputes.models import Case, CaseNote, CaseReview, Complaint, Deadline, EvidenceRequest, Refund
from disputes.selectors import case_list_for, complaint_list_for, refund_list_for
from orders.models import Shop
from orders.selectors import shops_of_seller
from penalties.models import Penalty
from penalties.selectors import natural_year, year_bounds

CHINA = ZoneInfo("Asia/Shanghai")
SAVED_VIEWS = ("all", "mine", "overdue", "awaiting_evidence", "unassigned")


# Short-lived caches of the queue's choice lists (docs/DECISIONS.md "The queue page at size"): a minute,
# dropped at once when a user, a group membership or a shop changes (dashboard/signals.py).
CHOICES_CACHE_SECONDS = 60
PEOPLE_CACHE_KEY = "dashboard:people:v1"
SHOPS_CACHE_KEY = "dashboard:shop_choices:v1"
SHOP_CHOICES = 200


class Person(NamedTuple):
    """An assignable person as the selects read it (`p.pk`, `p.username`)."""

    pk: int
    username: str


class ShopChoice(NamedTuple):
    pk: int
    name: str


def platform_people() -> QuerySet:
    """Agents and arbitrators, the people a case can be assigned to (core.roles.platform_staff: not a
    join with DISTINCT, which with millions of buyers and sellers in auth_user sorted them all)."""
    return platform_staff().order_by("username")


def platform_people_choices() -> list[Person]:
    """`platform_people()` as (pk, username) pairs, from the cache when it has them."""
    rows = cache.get(PEOPLE_CACHE_KEY)
    if rows is None:
        rows = [Person(pk, username) for pk, username in platform_people().values_list("pk", "username")]
        cache.set(PEOPLE_CACHE_KEY, rows, CHOICES_CACHE_SECONDS)
    return rows


def shop_choices() -> list[ShopChoice]:
    """The queue's shop filter: the first 200 shops by name, from the cache when it has them."""
    rows = cache.get(SHOPS_CACHE_KEY)
    if rows is None:
        rows = [ShopChoice(*row) for row in Shop.objects.order_by("name").values_list("id", "name")[:SHOP_CHOICES]]
        cache.set(SHOPS_CACHE_KEY, rows, CHOICES_CACHE_SECONDS)
    return rows


def forget_choices(*, people: bool = False, shops: bool = False) -> None:
    keys = [k for k, on in ((PEOPLE_CACHE_KEY, people), (SHOPS_CACHE_KEY, shops)) if on]
    if keys:
        cache.delete_many(keys)


def arbitrators() -> QuerySet:
    return platform_staff(Role.ARBITRATOR).order_by("username")


def case_queue(user, *, params, awaiting_ruling: bool = False) -> QuerySet[Case]:
    """The queue as the API orders it (overdue first, then nearest deadline), with the saved view
    (`view`: mine, overdue, awaiting_evidence, unassigned) and the filters of GET cases/."""
    qs = case_list_for(user).select_related("order", "evidence_status")
    status = params.get("status", "")
    if status in Case.Status.values:
        qs = qs.filter(status=status)
    elif not status:
        qs = qs.exclude(status=Case.Status.RULED)
    view = params.get("view", "all")
    if view == "mine":
        qs = qs.filter(assignee=user)
    elif view == "overdue":
        # `overdue` is never null: written as two ranges of the queue's index (overdue DESC, next_due_at),
        # so PostgreSQL reads them instead of every row (same rows as `overdue OR next_due_at < now`).
        qs = qs.filter(Q(overdue=True) | Q(overdue=False, next_due_at__lt=timezone.now()))
    elif view == "awaiting_evidence":
        qs = qs.filter(status=Case.Status.AWAITING_EVIDENCE)
    elif view == "unassigned":
        qs = qs.filter(assignee__isnull=True)
    if params.get("kind") in Case.Kind.values:
        qs = qs.filter(kind=params["kind"])
    shop = params.get("shop", "")
    if shop.isdigit():
        qs = qs.filter(shop_id=int(shop))
    assignee = params.get("assignee", "")
    if assignee.isdigit():
        qs = qs.filter(assignee_id=int(assignee))
    q = params.get("q", "").strip()
    if q.isdigit():
        qs = qs.filter(Q(pk=int(q)) | Q(order_id=int(q)))
    elif q:
        qs = qs.filter(_shop_search(q))
    if awaiting_ruling:
        qs = qs.exclude(status=Case.Status.RULED)
    return qs.order_by("-overdue", "next_due_at", "id")


SEARCH_SHOPS_MAX = 5000


def _shop_search(q: str) -> Q:
    """Cases of the shops whose name contains `q`. The shops are looked up first, so PostgreSQL plans the
    queue with the real list of shops: a join on the name made it guess two shops and read the queue of
    a million cases through them (seconds) when the words matched none or thousands. Past 1,000 shops the
    join stays (the matches are then dense in the queue's order and found at once)."""
    ids = list(Shop.objects.filter(name__icontains=q).values_list("id", flat=True)[: SEARCH_SHOPS_MAX + 1])
    return Q(shop__name__icontains=q) if len(ids) > SEARCH_SHOPS_MAX else Q(shop_id__in=ids)


def case_page(user, pk: int) -> Case | None:
    """One case with what its page shows, in a fixed number of queries; None (404) if not visible."""
    return (
        case_list_for(user)
        .select_related(
            "order",
            "order__shop",
            "shop__owner",
            "refund__order",
            "complaint__order",
            "ruled_by",
            "evidence_status",
        )
        .prefetch_related(
            "order__items",
            Prefetch("notes", queryset=CaseNote.objects.select_related("author")),
            Prefetch("evidence_requests", queryset=EvidenceRequest.objects.select_related("deadline", "requested_by")),
            Prefetch("reviews", queryset=CaseReview.objects.select_related("requested_by", "decided_by")),
        )
        .filter(pk=pk)
        .first()
    )


def timeline_of(case: Case) -> list[Event]:
    """Every event of the case and of its refund or complaint, oldest first (staff see all)."""
    subject_kind = "refund" if case.refund_id else "complaint"
    subject_id = case.refund_id or case.complaint_id
    return list(
        Event.objects.filter(
            Q(subject_kind="case", subject_id=case.pk) | Q(subject_kind=subject_kind, subject_id=subject_id)
        ).order_by("at", "id")
    )


# --- the seller's inbox ---------------------------------------------------------------------------

SELLER_REFUND_STATES = (
    Refund.Status.PENDING_SELLER,
    Refund.Status.RETURN_SHIPPED,
    Refund.Status.RETURN_REJECTED,
)


def most_urgent_first(qs: QuerySet) -> QuerySet:
    """The ids of `qs` in the inbox's order: by the due time of each row's nearest clock (its running
    pending deadline due first, else a paused one: deadlines.first_due), a row without one by its
    filing time; then by filing. Each row's clocks are read through `deadline_subject_idx`."""
    kind = qs.model._meta.model_name

    def first(*, paused: bool) -> Subquery:
        clocks = Deadline.objects.filter(
            subject_kind=kind, subject_id=OuterRef("pk"), status=Deadline.Status.PENDING, paused_at__isnull=not paused
        )
        return Subquery(clocks.order_by("due_at", "id").values("due_at")[:1])

    due = Coalesce(first(paused=False), first(paused=True), "created_at")
    return qs.order_by().annotate(inbox_due=due).order_by("inbox_due", "created_at", "id").values_list("pk", flat=True)


def inbox_page(qs: QuerySet, number, *, per_page: int) -> Page:
    """Page `number` of `qs` most urgent first, counted up to the queues' cap: PostgreSQL orders the
    ids alone (no row joined to its order and buyer before the sort), then the page's rows are read
    by key with `qs`'s joins (#9: a shop on a peak day has thousands of refunds open, and the inbox
    read and drew them all)."""
    paginator = CappedCountPaginator(most_urgent_first(qs), per_page)
    paginator.count = qs.order_by()[: paginator.CAP + 1].count()  # counted without the clocks
    page = paginator.get_page(number)
    ids = list(page.object_list)
    rows = qs.in_bulk(ids)
    page.object_list = [rows[pk] for pk in ids if pk in rows]
    return page


def seller_refunds(user) -> QuerySet[Refund]:
    """The refunds of the seller's shops that wait for the seller (answer, confirm the return, escalate)."""
    return refund_list_for(user).filter(shop__in=shops_of_seller(user), status__in=SELLER_REFUND_STATES)


def seller_complaints(user) -> QuerySet[Complaint]:
    """Complaints the seller must answer: a buyer's complaint awaiting the appeal, or the seller's own
    claim awaiting the rebuttal."""
    return (
        complaint_list_for(user)
        .filter(shop__in=shops_of_seller(user))
        .filter(
            Q(status=Complaint.Status.AWAITING_APPEAL, complainant=Complaint.Party.BUYER)
            | Q(status=Complaint.Status.AWAITING_REBUTTAL, complainant=Complaint.Party.SELLER)
        )
    )


def subject_timeline(subject) -> list[Event]:
    """A refund's or complaint's events for its parties: internal case notes are never among them."""
    return list(
        Event.objects.filter(subject_kind=subject._meta.model_name, subject_id=subject.pk)
        .exclude(action="case.note_added")
        .order_by("at", "id")
    )


def record_shops_for(user) -> QuerySet[Shop]:
    return shops_of_seller(user).order_by("id")


def shop_penalties(shop: Shop, *, year: int | None = None) -> QuerySet[Penalty]:
    year = year or natural_year(timezone.now())
    start, end = year_bounds(year)
    return Penalty.objects.filter(shop=shop, issued_at__gte=start, issued_at__lt=end).order_by("-issued_at", "-id")


def pending_reviews(user) -> QuerySet[CaseReview]:
    """Review requests (R-T20) waiting for an arbitrator other than the one who ruled."""
    return (
        CaseReview.objects.filter(status=CaseReview.Status.PENDING, case__in=case_list_for(user))
        .exclude(case__ruled_by=user)
        .select_related("case", "case__shop", "requested_by")
        .order_by("created_at", "id")
    )


# --- the overview ---------------------------------------------------------------------------------


def _per_day(qs: QuerySet, field: str, since: dt.datetime) -> dict[dt.date, int]:
    rows = (
        qs.filter(**{f"{field}__gte": since})
        .annotate(day=TruncDate(field, tzinfo=CHINA))
        .values("day")
        .annotate(n=Count("id"))
    )
    return {r["day"]: r["n"] for r in rows}


def overview_cache_seconds() -> float:
    """How long the overview's numbers are kept (settings.DASHBOARD_OVERVIEW_CACHE_SECONDS; 0: never)."""
    return float(getattr(settings, "DASHBOARD_OVERVIEW_CACHE_SECONDS", 60))


def overview(*, days: int = 30, now: dt.datetime | None = None) -> dict:
    """The overview page's numbers (overview_counts), the same for every agent, kept for
    overview_cache_seconds() (core.cache.kept_for; `as_of` says when they were counted): counted at a
    peak's size they read the whole month's cases and fired deadlines (#9: 1.5-1.8 s per view of the
    bench database). Once they are older, a worker counts them again (dashboard.tasks.count_overview)
    while every agent is answered with the older ones."""
    now = now or timezone.now()

    def later(token: str) -> None:
        from .tasks import count_overview

        queue_at_once(count_overview, (days, now.isoformat(), token))

    return kept_for(**_overview_kept(days=days, now=now), later=later)


def overview_keep(*, days: int, now: dt.datetime, token: str) -> dict:
    """A worker's count of the overview's numbers as of `now`, handed over by overview()."""
    return keep_counted(**_overview_kept(days=days, now=now), token=token)


def _overview_kept(*, days: int, now: dt.datetime) -> dict:
    """What core.cache keeps the overview's numbers by: their key, their period, the count as of `now`."""
    return {
        "key": f"dashboard:overview:v1:{days}",
        "seconds": overview_cache_seconds(),
        "now": now,
        "compute": lambda: overview_counts(days=days, now=now),
    }


def overview_counts(*, days: int, now: dt.datetime) -> dict:
    """The numbers of the overview page: cases opened and closed per day, timeouts by rule, points by
    shop this natural year, and the median time from opening to ruling."""
    today = timezone.localtime(now, CHINA).date()
    first = today - dt.timedelta(days=days - 1)
    since = dt.datetime.combine(first, dt.time(0), tzinfo=CHINA)
    opened = _per_day(Case.objects.all(), "opened_at", since)
    closed = _per_day(Case.objects.filter(status=Case.Status.RULED), "ruled_at", since)
    per_day = [
        (
            first + dt.timedelta(days=i),
            opened.get(first + dt.timedelta(days=i), 0),
            closed.get(first + dt.timedelta(days=i), 0),
        )
        for i in range(days)
    ]
    timeouts = list(
        Deadline.objects.filter(status=Deadline.Status.FIRED, fired_at__gte=since)
        .values("rule")
        .annotate(n=Count("id"))
        .order_by("-n", "rule")
    )
    start, end = year_bounds(natural_year(now))
    points = list(
        Penalty.objects.filter(status=Penalty.Status.ACTIVE, issued_at__gte=start, issued_at__lt=end)
        .values("shop__name")
        .annotate(p=Sum("points"))
        .filter(p__gt=0)
        .order_by("-p", "shop__name")[:15]
    )
    spans = [
        (ruled - opened_at).total_seconds() / 3600
        for opened_at, ruled in Case.objects.filter(
            status=Case.Status.RULED, ruled_at__gte=since, ruled_at__isnull=False
        ).values_list("opened_at", "ruled_at")
        if ruled is not None
    ]
    median_hours = round(statistics.median(spans), 1) if spans else None
    return {
        "days": days,
        "per_day": per_day,
        "timeouts": [(r["rule"], r["n"]) for r in timeouts],
        "points": [(r["shop__name"], r["p"]) for r in points],
        "median_hours": median_hours,
        "ruled_count": len(spans),
    }


# --- after-sales (售后登记, 报损) -------------------------------------------------------------------------


def _day(value: str, *, end: bool = False) -> dt.datetime | None:
    """A `YYYY-MM-DD` filter as China time: its 00:00, or the next day's 00:00 for an `until`."""
    try:
        day = dt.date.fromisoformat(value.strip())
    except (ValueError, AttributeError):
        return None
    return dt.datetime.combine(day + dt.timedelta(days=1 if end else 0), dt.time(), tzinfo=CHINA)


def registration_page(user, *, params) -> QuerySet[Registration]:
    """The registration list with its filters (source, type, status, handler, created from / to a day),
    newest first, everything a row shows in one query."""
    filters: dict[str, object] = {}
    for name, choices in (
        ("source", Registration.Source.values),
        ("type", Registration.Type.values),
        ("status", Registration.Status.values),
    ):
        if params.get(name) in choices:
            filters[name] = params[name]
    handler = params.get("handler", "")
    if handler.isdigit():
        filters["handler_id"] = int(handler)
    since, until = _day(params.get("since", "")), _day(params.get("until", ""), end=True)
    if since is not None:
        filters["created_at__gte"] = since
    if until is not None:
        filters["created_at__lt"] = until
    return (
        registration_list(user=user, **filters)
        .select_related("buyer", "order", "refund", "complaint")
        .order_by("-created_at", "-id")
    )


def logistics_claim_page(user, *, params) -> QuerySet[LogisticsClaim]:
    """Carrier claims with their filters (status, parcel state, carrier, handler), newest report first."""
    filters: dict[str, object] = {}
    if params.get("status") in LogisticsClaim.Status.values:
        filters["status"] = params["status"]
    if params.get("parcel_state") in LogisticsClaim.ParcelState.values:
        filters["parcel_state"] = params["parcel_state"]
    handler = params.get("handler", "")
    if handler.isdigit():
        filters["handler_id"] = int(handler)
    carrier = params.get("carrier", "").strip()
    if carrier:
        filters["carrier__icontains"] = carrier
    return logistics_claim_list(user=user, **filters).select_related("order").order_by("-reported_at", "-id")


def carriers() -> list[str]:
    return list(LogisticsClaim.objects.order_by("carrier").values_list("carrier", flat=True).distinct()[:100])
