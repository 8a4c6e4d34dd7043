"""The project's URLs, plus two bare DRF APIViews served by the same process (bench 4):

- `bench/bare/`: the bare endpoint of the issue's target, no query of its own;
- `bench/bare/write/`: the least a refund filing writes, by hand: the order locked, the refund, its
  two clocks, its audit event and the shop owner's notice inserted by one SQL statement, committed
  synchronously. No validation, no hash chain, no ORM: the bound of POST refunds/'s own writes, beside
  the real endpoint (bench 4 in docs/PERFORMANCE.md).
"""

from django.db import connection, transaction
from django.urls import path
from rest_framework.response import Response
from rest_framework.views import APIView

from config.urls import urlpatterns as project_urlpatterns


class BareView(APIView):
    """Same authentication and permission as the API (token, IsAuthenticated); no query of its own."""

    def get(self, request):
        return Response({"ok": True, "user": request.user.pk})


FILE_REFUND_BY_HAND = """
WITH o AS (
    SELECT id, shop_id, buyer_id FROM orders_order WHERE id = %(order)s AND buyer_id = %(user)s FOR UPDATE
), r AS (
    INSERT INTO disputes_refund (kind, reason, stage, amount, description, status, refusal_count, refusal_reason,
        return_address, return_carrier, return_tracking_number, return_rejection_reason, express, refunded_amount,
        close_reason, created_at, updated_at, buyer_id, created_by_id, order_id, shop_id)
    SELECT 'refund_only', %(reason)s, 'not_shipped', %(amount)s, '', 'pending_seller', 0, '', '', '', '', '', false,
           0, '', now(), now(), o.buyer_id, %(user)s, o.id, o.shop_id
    FROM o RETURNING id, shop_id
), d AS (
    INSERT INTO disputes_deadline (subject_kind, subject_id, rule, kind, status, started_at, due_at, duration_amount,
        duration_unit, note, created_at, attempts, last_error, fired_by, outcome, cancel_reason)
    SELECT 'refund', r.id, v.rule, v.kind, 'pending', now(), now() + v.span, v.amount, v.unit, '', now(), 0, '', '',
           '', ''
    FROM r CROSS JOIN (VALUES ('R-T02', 'r_t02_unshipped_refund', interval '48 hours', 48, 'hours'),
                              ('R-T09', 'r_t09_arbitration', interval '15 days', 15, 'days'))
         AS v(rule, kind, span, amount, unit)
), e AS (
    INSERT INTO core_event (at, actor_label, action, subject_kind, subject_id, from_status, to_status, data, actor_id,
                            prev_hash, hash)
    SELECT now(), '', 'refund.filed', 'refund', r.id, '', 'pending_seller',
           jsonb_build_object('reason', %(reason)s, 'amount', %(amount)s::text), %(user)s, '', '' FROM r
), n AS (
    INSERT INTO core_notification (kind, title, body, subject_kind, subject_id, created_at, user_id)
    SELECT 'refund.filed', '有新的退款申请', %(reason)s, 'refund', r.id, now(), s.owner_id
    FROM r JOIN orders_shop s ON s.id = r.shop_id
)
SELECT id FROM r
"""


class BareWriteView(APIView):
    """Same authentication and permission as the API; a refund's rows written by hand (FILE_REFUND_BY_HAND)."""

    def post(self, request):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                FILE_REFUND_BY_HAND,
                {
                    "order": int(request.data["order"]),
                    "user": request.user.pk,
                    "reason": str(request.data["reason"]),
                    "amount": str(request.data["amount"]),
                },
            )
            row = cursor.fetchone()
        if row is None:
            return Response({"detail": "not your order"}, status=404)
        return Response({"id": row[0], "order": int(request.data["order"])}, status=201)


urlpatterns = [
    path("bench/bare/", BareView.as_view()),
    path("bench/bare/write/", BareWriteView.as_view()),
    *project_urlpatterns,
]
