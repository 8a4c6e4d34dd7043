"""Reads of penalties, sanctions, the ledger and the seller record (RULEBOOK §5, §9)."""

from __future__ import annotations

import datetime as dt
import hashlib
import statistics

from django.conf import settings
from django.db import connection
from django.db.models import Count, Q, QuerySet, Sum
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from core import rulebook
from core.cache import keep_counted, kept_for, queue_at_once
from core.calendar import CHINA
from core.models import Event
from core.roles import is_platform_staff
from disputes.models import Case, Complaint, Deadline, Refund
from orders.models import Order, Shop
from orders.selectors import shop_ids_of, shops_of_seller

from .models import ItemAction, LedgerEntry, LedgerMovement, Obligation, Penalty, Sanction

# --- years (R-P10: natural years, China time) ----------------------------------------------------


def natural_year(at: dt.datetime) -> int:
    """The natural year (China time) `at` falls in: 31 Dec 16:00 UTC is already next year (R-P10)."""
    return at.astimezone(CHINA).year


def year_bounds(year: int) -> tuple[dt.datetime, dt.datetime]:
    """[start, end) of natural year `year`, China time."""
    return dt.datetime(year, 1, 1, tzinfo=CHINA), dt.datetime(year + 1, 1, 1, tzinfo=CHINA)


def points_bounds(*, point_class: str, year: int) -> tuple[dt.datetime | None, dt.datetime]:
    """[start, end) of the issue times whose penalties count towards `point_class` points of `year`:
    that year, or everything up to its end (start None) for a class that does not reset (R-P10,
    `YEARLY_RESET_CLASSES`)."""
    start, end = year_bounds(year)
    return (start if point_class in rulebook.resolve(rulebook.YEARLY_RESET_CLASSES) else None), end


def points_window(*, point_class: str, year: int) -> Q:
    """Which penalties count towards `point_class` points of `year` (`points_bounds`), as a filter."""
    start, end = points_bounds(point_class=point_class, year=year)
    return Q(issued_at__lt=end) if start is None else Q(issued_at__gte=start, issued_at__lt=end)


def shop_points(*, shop: Shop, point_class: str, year: int) -> int:
    """Points of the shop's active penalties of `point_class` counted in `year` (R-P10, R-P12)."""
    total = (
        Penalty.objects.filter(shop=shop, point_class=point_class, status=Penalty.Status.ACTIVE)
        .filter(points_window(point_class=point_class, year=year))
        .aggregate(s=Sum("points"))["s"]
    )
    return int(total or 0)


# --- lists ---------------------------------------------------------------------------------------


def penalty_list_for(user) -> QuerySet[Penalty]:
    """Platform staff see every penalty; a seller sees their shops' only; nobody else any."""
    qs = Penalty.objects.all()
    if not user.is_authenticated:
        return qs.none()
    if is_platform_staff(user):
        return qs
    return qs.filter(shop__in=shops_of_seller(user))


def penalty_list(
    *, user, shop: int | None = None, year: int | None = None, active: bool | None = None
) -> QuerySet[Penalty]:
    """GET penalties/: the penalties `user` may see, filtered by shop, natural year (China time), status."""
    qs = penalty_list_for(user).select_related("obligation")
    if shop is not None:
        qs = qs.filter(shop_id=shop)
    if year is not None:
        start, end = year_bounds(year)
        qs = qs.filter(issued_at__gte=start, issued_at__lt=end)
    if active is not None:
        qs = qs.filter(status=Penalty.Status.ACTIVE) if active else qs.exclude(status=Penalty.Status.ACTIVE)
    return qs


def ledger_list_for(user) -> QuerySet[LedgerMovement]:
    """Platform staff see every movement; a party sees the movements of its own accounts.

    A party's movements are found through their entries (R-P13: every movement has one entry on its
    debited account and one on its credited account), whose account is indexed
    (`ledger_entry_account_idx`): a buyer's page reads that buyer's rows, not the whole ledger, which a
    peak day grows by a movement per compensating penalty (#9). The movement's own `debit` and
    `credit` stay unindexed: indexing them would add two index entries to every movement R-T01's
    sweep writes."""
    qs = LedgerMovement.objects.all()
    if not user.is_authenticated:
        return qs.none()
    if is_platform_staff(user):
        return qs
    accounts = [f"buyer:{user.pk}"]
    for shop_id in shop_ids_of(user):
        accounts += [f"shop:{shop_id}", f"frozen:shop:{shop_id}"]
    return qs.filter(pk__in=LedgerEntry.objects.filter(account__in=accounts).values("movement_id"))


def obligation_list_for(user) -> QuerySet[Obligation]:
    """R-P03 obligations: platform staff see all, a seller their shops'."""
    qs = Obligation.objects.select_related("penalty")
    if not user.is_authenticated:
        return qs.none()
    if is_platform_staff(user):
        return qs
    return qs.filter(shop__in=shops_of_seller(user))


def record_shop_for(user, shop_id: int) -> Shop | None:
    """The shop whose record `user` may read: their own (seller), any (agent, arbitrator); else None (404)."""
    if not user.is_authenticated:
        return None
    if is_platform_staff(user):
        return Shop.objects.filter(pk=shop_id).first()
    return shops_of_seller(user).filter(pk=shop_id).first()


# --- items ---------------------------------------------------------------------------------------


def item_state(*, shop: Shop, sku: str) -> str:
    """The listing state of an item (shop + SKU) after penalties: listed, delist or delete (R-P04, R-P05).

    A deleted item stays deleted whatever else happened to it; reverted actions (R-P12) do not count.
    """
    actions = set(
        ItemAction.objects.filter(shop=shop, sku=sku, reverted_at__isnull=True).values_list("action", flat=True)
    )
    for action in (ItemAction.Action.DELETE, ItemAction.Action.DELIST):
        if action in actions:
            return action
    return "listed"


# --- sanctions and the record --------------------------------------------------------------------


def sanctions_active(*, shop: Shop, now: dt.datetime | None = None) -> QuerySet[Sanction]:
    """Sanctions in force at `now`: active and not past their end (the sweep may not have run yet)."""
    now = now or timezone.now()
    return Sanction.objects.filter(shop=shop, status=Sanction.Status.ACTIVE, starts_at__lte=now).filter(
        Q(ends_at__isnull=True) | Q(ends_at__gt=now)
    )


def shop_record(*, shop: Shop, year: int | None = None, now: dt.datetime | None = None) -> dict:
    """GET shops/{id}/record/: points of `year` (default: this natural year, China time) per class,
    the sanctions in force, and the §9 service metrics."""
    now = now or timezone.now()
    year = year or natural_year(now)
    return {
        "shop": shop.pk,
        "year": year,
        "points": {c: shop_points(shop=shop, point_class=c, year=year) for c in Penalty.PointClass.values},
        "sanctions": list(sanctions_active(shop=shop, now=now)),
        "metrics": shop_metrics(shop=shop, now=now),
    }


# --- §9 service metrics ---------------------------------------------------------------------------


def _rate(numerator: int, denominator: int) -> float | None:
    return round(numerator / denominator, 4) if denominator else None


def _per_shop(total: int, shops: int) -> float | None:
    return round(total / shops, 2) if shops else None


def _metric_counts(shops: QuerySet[Shop], since: dt.datetime, until: dt.datetime) -> dict:
    """The raw counts behind the §9 metrics for a set of shops over [since, until) (the response
    times: _response_seconds, _median_response)."""
    shop_ids = shops.values("id")
    orders = Order.objects.filter(shop__in=shop_ids, paid_at__gte=since, paid_at__lt=until).count()
    # 纠纷退款: refunds the platform ruled with the seller responsible.
    disputed = Case.objects.filter(
        shop__in=shop_ids,
        kind=Case.Kind.REFUND,
        status=Case.Status.RULED,
        responsibility="seller",
        ruled_at__gte=since,
        ruled_at__lt=until,
    ).count()
    complaints = Complaint.objects.filter(
        shop__in=shop_ids, complainant=Complaint.Party.BUYER, created_at__gte=since, created_at__lt=until
    ).aggregate(filed=Count("id"), upheld=Count("id", filter=Q(status=Complaint.Status.UPHELD)))
    timeouts = Deadline.objects.filter(
        subject_kind="refund",
        subject_id__in=Refund.objects.filter(shop__in=shop_ids).values("id"),
        rule__in=rulebook.METRICS_SELLER_TIMEOUT_RULES,
        status=Deadline.Status.FIRED,
        fired_by="sweep",
        fired_at__gte=since,
        fired_at__lt=until,
    ).count()
    interventions = Case.objects.filter(shop__in=shop_ids, opened_at__gte=since, opened_at__lt=until).count()
    return {
        "orders": orders,
        "disputed_refunds": disputed,
        "complaints": complaints["filed"],
        "complaints_upheld": complaints["upheld"],
        "refund_timeouts": timeouts,
        "interventions": interventions,
    }


def _first_answers_sql(shops: QuerySet[Shop], since: dt.datetime, until: dt.datetime) -> tuple[str, list]:
    """SQL whose rows are (filed, first answered) for each refund of `shops` filed in [since, until)
    that one of its shop's sellers (the owner or a staff member) has acted on: the first event by one
    of them on it, its response time (RULEBOOK §9).

    Read from the sellers' side (#9): their events since `since` (a shop's few sellers' through the
    events' (actor, at) index), joined to the refunds they answered. Asked per refund instead (a
    subquery on each refund's events), a shop with 16,000 refunds in the window took 0.7 s and its
    category of 800,000 took 10 s on the bench database. No refund has an event before its filing, so
    `at >= since` misses none."""
    shop_sql, shop_params = shops.values("id").query.sql_with_params()
    sql = f"""
        WITH scope AS ({shop_sql}),
        sellers AS (
            SELECT id AS shop_id, owner_id AS user_id FROM {Shop._meta.db_table} WHERE id IN (SELECT id FROM scope)
            UNION
            SELECT shop_id, user_id FROM {Shop.staff.through._meta.db_table} WHERE shop_id IN (SELECT id FROM scope)
        )
        SELECT r.created_at AS filed, MIN(e.at) AS answered
        FROM {Event._meta.db_table} e
        JOIN sellers s ON s.user_id = e.actor_id
        JOIN {Refund._meta.db_table} r ON r.id = e.subject_id AND r.shop_id = s.shop_id
        WHERE e.subject_kind = 'refund' AND e.actor_id IS NOT NULL AND e.at >= %s
          AND r.created_at >= %s AND r.created_at < %s
        GROUP BY r.id, r.created_at"""  # noqa: S608 (tables from the models' metadata; values travel as parameters)
    moment = connection.ops.adapt_datetimefield_value
    return sql, [*shop_params, moment(since), moment(since), moment(until)]


def _response_seconds(shops: QuerySet[Shop], since: dt.datetime, until: dt.datetime) -> list[float]:
    """Each answered refund's response time in seconds (_first_answers_sql)."""
    sql, params = _first_answers_sql(shops, since, until)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    return [(_moment(answered) - _moment(filed)).total_seconds() for filed, answered in rows]


def _moment(value: dt.datetime | str) -> dt.datetime:
    """A timestamp as a cursor returns it: PostgreSQL's datetime, or SQLite's text for an aggregate (the
    quick-start's database), both UTC."""
    if isinstance(value, dt.datetime):
        return value
    parsed = parse_datetime(value)
    if parsed is None:
        raise ValueError(f"not a timestamp: {value!r}")
    return parsed


def _median_response(shops: QuerySet[Shop], since: dt.datetime, until: dt.datetime) -> int | None:
    """The median response time of `shops` in whole seconds, as _median of _response_seconds. On
    PostgreSQL it is taken there (`percentile_cont(0.5)`, the mean of the middle two for an even count,
    as `statistics.median`): a category's 700,000 answers are not carried to Python to be sorted."""
    if connection.vendor != "postgresql":
        return _median(_response_seconds(shops, since, until))
    sql, params = _first_answers_sql(shops, since, until)
    with connection.cursor() as cursor:
        median_sql = f"""SELECT percentile_cont(0.5) WITHIN GROUP
            (ORDER BY EXTRACT(EPOCH FROM answers.answered - answers.filed)::float8) FROM ({sql}) answers"""  # noqa: S608
        cursor.execute(median_sql, params)
        (median,) = cursor.fetchone()
    return None if median is None else round(median)


def shop_metrics(*, shop: Shop, now: dt.datetime | None = None) -> dict:
    """RULEBOOK §9 over the rolling window (decision, 30 days) before `now`, for the shop and for its
    category (all shops with the same `category`: rates pooled, counts per shop, median over all)."""
    now = now or timezone.now()
    days = int(rulebook.resolve(rulebook.METRICS_WINDOW_DAYS))
    since = now - dt.timedelta(days=days)
    own_shop = Shop.objects.filter(pk=shop.pk)
    own = _metric_counts(own_shop, since, now)
    responses = _response_seconds(own_shop, since, now)
    peers = _category_counts(shop.category, days=days, now=now)
    shops_in_category = peers["shops"]

    return {
        "window_days": days,
        "since": since,
        "until": now,
        "category": shop.category,
        "category_shops": shops_in_category,
        "category_as_of": peers["as_of"],
        "orders": own["orders"],
        "dispute_refund_rate": {
            "shop": _rate(own["disputed_refunds"], own["orders"]),
            "category": _rate(peers["disputed_refunds"], peers["orders"]),
            "count": own["disputed_refunds"],
        },
        "complaint_rate": {
            "shop": _rate(own["complaints_upheld"], own["orders"]),
            "category": _rate(peers["complaints_upheld"], peers["orders"]),
            "count": own["complaints_upheld"],
            "filed": own["complaints"],
        },
        "refund_timeout_count": {
            "shop": own["refund_timeouts"],
            "category": _per_shop(peers["refund_timeouts"], shops_in_category),
        },
        "intervention_count": {
            "shop": own["interventions"],
            "category": _per_shop(peers["interventions"], shops_in_category),
        },
        "median_response_seconds": {
            "shop": _median(responses),
            "category": peers["median_response"],
            "count": len(responses),
        },
    }


def _median(values: list[float]) -> int | None:
    return round(statistics.median(values)) if values else None


def metrics_category_cache_seconds() -> float:
    """How long a category's §9 figures are kept (settings.METRICS_CATEGORY_CACHE_SECONDS; 0: never)."""
    return float(getattr(settings, "METRICS_CATEGORY_CACHE_SECONDS", 600))


def _category_figures(category: str, *, days: int, now: dt.datetime) -> dict:
    """The §9 counts of every shop of `category` over the `days` before `now` (without `as_of`)."""
    shops = Shop.objects.filter(category=category)
    since = now - dt.timedelta(days=days)
    return {
        **_metric_counts(shops, since, now),
        "median_response": _median_response(shops, since, now),
        "shops": shops.count(),
    }


def _category_counts(category: str, *, days: int, now: dt.datetime) -> dict:
    """The §9 counts of every shop of `category` over the window before `now`, kept for
    metrics_category_cache_seconds() (core.cache.kept_for): the same for every shop of the category,
    and at a peak's size seconds to count (#9: 3.7-5.6 s a shop's record page on the bench database,
    every view; 2.3-2.6 s since the response times are read from the sellers' events). Once they are
    older, a worker counts them again (penalties.tasks.count_category) while every viewer is answered
    with the older ones. `as_of` is the end of the window they were counted over; the shop's own
    figures are always counted fresh."""

    def later(token: str) -> None:
        from .tasks import count_category

        queue_at_once(count_category, (category, days, now.isoformat(), token))

    return kept_for(**_category_kept(category, days=days, now=now), later=later)


def category_counts_keep(*, category: str, days: int, now: dt.datetime, token: str) -> dict:
    """A worker's count of a category's §9 figures as of `now`, handed over by _category_counts."""
    return keep_counted(**_category_kept(category, days=days, now=now), token=token)


def _category_kept(category: str, *, days: int, now: dt.datetime) -> dict:
    """What core.cache keeps a category's figures by: its key, its period, the count as of `now`."""
    return {
        "key": f"metrics:category:v1:{days}:{hashlib.sha256(category.encode()).hexdigest()[:32]}",
        "seconds": metrics_category_cache_seconds(),
        "now": now,
        "compute": lambda: _category_figures(category, days=days, now=now),
    }
