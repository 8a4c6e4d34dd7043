"""The project's URLs, plus two bare DRF APIViews served by the same process (bench 4):

- `bench/bare/`: the bare endpoint of the issue's target, no query of its own;
- `bench/bare/write/`: the least a refund filing writes, by hand: the order locked, the refund, its
  two clocks, its audit event and the shop owner's notice inserted by one SQL statement, committed
  synchronously. No validation, no hash chain, no ORM: the bound of POST refunds/'s own writes, beside
  the real endpoint (bench 4 in docs/PERFORMANCE.md).
"""

from django.db import connection, transaction
from django.urls import path
from django.utils import timezone
from rest_framework.response import Response
from rest_framework.views import APIView

from config.urls import urlpatterns as project_urlpatterns
from disputes.engine import deadline_fields

# The clocks refund_file starts on a refund filed before shipment (the seller's answer, then arbitration).
CLOCKS = ("R-T02", "R-T09")


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
    SELECT 'refund', r.id, v.rule, v.kind, 'pending', v.started_at, v.due_at, v.amount, v.unit, v.note, now(), 0, '',
           '', '', ''
    FROM r CROSS JOIN (VALUES {clocks}) AS v(rule, kind, started_at, due_at, amount, unit, note)
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
""".format(
    clocks=", ".join(
        f"(%(rule{i})s, %(kind{i})s, %(started_at{i})s::timestamptz, %(due_at{i})s::timestamptz, "
        f"%(duration_amount{i})s, %(duration_unit{i})s, %(note{i})s)"
        for i in range(len(CLOCKS))
    )
)


class BareWriteView(APIView):
    """Same authentication and permission as the API; a refund's rows written by hand (FILE_REFUND_BY_HAND)."""

    def post(self, request):
        now = timezone.now()
        # Each clock's columns as the engine computes them from the rulebook (deadline_fields), named
        # with the clock's index for the statement's VALUES.
        clocks = [deadline_fields(subject_kind="refund", subject_id=0, rule_id=rule, start=now) for rule in CLOCKS]
        columns = {f"{name}{i}": value for i, c in enumerate(clocks) for name, value in c.items()}
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                FILE_REFUND_BY_HAND,
                {
                    "order": int(request.data["order"]),
                    "user": request.user.pk,
                    "reason": str(request.data["reason"]),
                    "amount": str(request.data["amount"]),
                    **columns,
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
