"""Platform cases: the queue, R-T12 (working days), R-T13, R-T19, rulings with every effect,
R-C03, review (R-T20), permissions and the export."""

import datetime as dt
import io
import json
import zipfile
from decimal import Decimal

import pytest
import time_machine
from django.core.files.base import ContentFile

from core.errors import DomainError, Forbidden, RuleViolation
from core.models import Event, Notification
from disputes import services
from disputes.models import Case, Complaint, Deadline, Refund
from evidence.models import Evidence
from penalties.models import LedgerEntry, LedgerMovement, Penalty
from penalties.services import PLATFORM_FUND, account_balance, account_buyer, account_frozen, account_shop
from tests.disputes.helpers import CHINA, DAY, HOUR, SECOND, T0, at, file_refund, make_order, sweep

pytestmark = pytest.mark.django_db


def _no_express(cast):
    Complaint.objects.create(
        order=make_order(cast, "received", paid_at=T0 - 40 * DAY),
        shop=cast.shop,
        buyer=cast.buyer,
        created_by=cast.buyer,
        type="harassment",
        status="dismissed",
        ruled_at=T0 - 5 * DAY,
    )


def _refund_case(cast, *, when=T0 + 5 * DAY, amount="200.00", reason="quality_issue") -> Case:
    order = make_order(cast, "received", complete=True)
    refund = file_refund(cast, order, at=T0 + 4 * DAY, reason=reason, amount=amount)
    at(when - HOUR, services.refund_refuse, refund=refund, actor=cast.seller, reason="不同意")
    at(when, services.refund_escalate, refund=refund, actor=cast.buyer)
    return Case.objects.get(refund=refund)


def _complaint_case(cast, *, type="breach_of_promise", when=T0 + 5 * DAY, **extra) -> Case:
    order = make_order(cast, "received", complete=type == "not_received", paid_at=when - 4 * DAY)
    if type == "breach_of_promise":
        extra.setdefault("promise_kind", "invoice")
    complaint = at(when - 2 * HOUR, services.complaint_file, actor=cast.buyer, order=order, type=type, **extra)
    at(when - HOUR, services.complaint_appeal, complaint=complaint, actor=cast.seller, statement="已开票")
    at(when, services.complaint_rebut, complaint=complaint, actor=cast.buyer, statement="没有收到发票")
    return Case.objects.get(complaint=complaint)


def _rule(case, actor, when, **kwargs):
    return at(when, services.case_rule, case=case, actor=actor, **kwargs)


def _ledger_sums_to_zero():
    for currency in ("CNY", "points"):
        total = sum(e.amount for e in LedgerEntry.objects.filter(currency=currency))
        assert total == 0


# --- R-T12 ------------------------------------------------------------------------------------------


def test_r_t12_counts_working_days_across_a_holiday_with_a_make_up_day(cast, api):
    opened = dt.datetime(2026, 9, 29, 10, 0, tzinfo=CHINA)  # Tuesday before National Day
    case = _refund_case(cast, when=opened)
    sla = Deadline.objects.get(subject_kind="case", subject_id=case.pk, kind="r_t12_platform_sla")
    # 30 Sep, (1-7 Oct holiday), 8, 9, 10 (make-up Saturday), 12 Oct.
    assert sla.due_at == dt.datetime(2026, 10, 12, 10, 0, tzinfo=CHINA)
    other = _refund_case(cast, when=opened + HOUR)  # a later case with a later deadline
    sweep(sla.due_at - SECOND)
    case.refresh_from_db()
    assert not case.overdue
    sweep(sla.due_at + SECOND)
    case.refresh_from_db()
    assert case.overdue
    assert Event.objects.filter(subject_kind="case", subject_id=case.pk, action="case.overdue").exists()
    # Overdue cases head the queue.
    ids = [c["id"] for c in api(cast.arbitrator).get("/api/v1/cases/").json()["results"]]
    assert ids.index(case.pk) < ids.index(other.pk)
    assert [c["id"] for c in api(cast.agent).get("/api/v1/cases/?overdue=true").json()["results"]] == [case.pk]


def test_r_t12_skips_a_weekend(cast):
    friday = dt.datetime(2026, 11, 20, 15, 0, tzinfo=CHINA)
    case = _refund_case(cast, when=friday)
    sla = Deadline.objects.get(subject_kind="case", subject_id=case.pk, kind="r_t12_platform_sla")
    assert sla.due_at == dt.datetime(2026, 11, 27, 15, 0, tzinfo=CHINA)


def test_r_t12_gives_7_working_days_when_the_goods_never_arrived(cast):
    case = _complaint_case(cast, type="not_received", when=dt.datetime(2026, 11, 16, 9, 0, tzinfo=CHINA))
    sla = Deadline.objects.get(subject_kind="case", subject_id=case.pk, kind="r_t12_platform_sla")
    assert sla.duration_amount == 7
    assert sla.due_at == dt.datetime(2026, 11, 25, 9, 0, tzinfo=CHINA)


# --- R-T13 ------------------------------------------------------------------------------------------


def test_r_t13_evidence_request_expires_and_the_silence_is_on_the_timeline(cast, api):
    case = _refund_case(cast)
    asked = T0 + 6 * DAY
    with time_machine.travel(asked, tick=False):
        r = api(cast.agent).post(
            f"/api/v1/cases/{case.pk}/request-evidence/",
            {"party": "seller", "note": "请提供发货凭证", "hours": 24},
            format="json",
        )
    assert r.status_code == 201 and r.json()["status"] == "open"
    case.refresh_from_db()
    assert case.status == "awaiting_evidence"
    assert Notification.objects.filter(user=cast.seller, kind="case.evidence_requested").exists()
    sweep(asked + 24 * HOUR - SECOND)
    case.refresh_from_db()
    assert case.status == "awaiting_evidence"
    sweep(asked + 24 * HOUR + SECOND)
    case.refresh_from_db()
    assert case.status == "open"
    event = Event.objects.get(subject_kind="case", subject_id=case.pk, action="case.evidence_not_provided")
    assert event.data["party"] == "seller"


def test_r_t13_hours_outside_24h_to_7_days_are_refused(cast, api):
    case = _refund_case(cast)
    r = api(cast.agent).post(f"/api/v1/cases/{case.pk}/request-evidence/", {"party": "buyer", "hours": 2})
    assert r.status_code == 400 and "hours" in r.json()


def test_r_t13_evidence_received_fulfils_the_request(cast):
    case = _refund_case(cast)
    request = at(T0 + 6 * DAY, services.case_request_evidence, case=case, actor=cast.agent, party="buyer")
    assert request.hours == 72
    at(T0 + 6 * DAY + HOUR, services.case_evidence_received, case=case, party="buyer", actor=cast.buyer)
    request.refresh_from_db()
    case.refresh_from_db()
    assert request.status == "fulfilled" and case.status == "open"
    assert Deadline.objects.get(pk=request.deadline_id).status == "cancelled"


# --- R-T19 ------------------------------------------------------------------------------------------


def test_r_t19_suspension_keeps_every_clock_to_the_second(cast, api):
    case = _complaint_case(cast, when=T0 + 5 * DAY)
    request = at(T0 + 5 * DAY + HOUR, services.case_request_evidence, case=case, actor=cast.agent, party="seller")
    sla = Deadline.objects.get(subject_kind="case", subject_id=case.pk, kind="r_t12_platform_sla")
    before = {
        d.pk: d.due_at for d in Deadline.objects.filter(subject_kind="case", subject_id=case.pk, status="pending")
    }
    suspended = T0 + 5 * DAY + 2 * HOUR + 17 * SECOND
    with time_machine.travel(suspended, tick=False):
        r = api(cast.arbitrator).post(f"/api/v1/cases/{case.pk}/suspend/", {"reason": "公安机关介入"})
    assert r.status_code == 200
    assert api(cast.agent).post(f"/api/v1/cases/{case.pk}/suspend/", {"reason": "x"}).status_code == 403
    sweep(suspended + 20 * DAY)  # nothing of the case fires while suspended
    request.refresh_from_db()
    assert request.status == "open"
    resumed = suspended + 20 * DAY + 5 * SECOND
    with time_machine.travel(resumed, tick=False):
        assert api(cast.arbitrator).post(f"/api/v1/cases/{case.pk}/resume/", {"reason": "协商完毕"}).status_code == 200
    for pk, due in before.items():
        assert Deadline.objects.get(pk=pk).due_at == due + (resumed - suspended)
    assert Deadline.objects.get(subject_kind="case", subject_id=case.pk, kind="r_t19_suspension").status == "cancelled"
    sla.refresh_from_db()
    sweep(sla.due_at - SECOND)
    case.refresh_from_db()
    assert not case.overdue


def test_r_t19_resumes_by_itself_after_30_days(cast):
    case = _refund_case(cast)
    suspended = T0 + 6 * DAY
    at(suspended, services.case_suspend, case=case, actor=cast.arbitrator, reason="双方协商中")
    sweep(suspended + 30 * DAY - SECOND)
    case.refresh_from_db()
    assert case.suspended_at is not None
    sweep(suspended + 30 * DAY + SECOND)
    case.refresh_from_db()
    assert case.suspended_at is None
    assert not Deadline.objects.filter(subject_kind="case", subject_id=case.pk, paused_at__isnull=False).exists()


# --- rulings ----------------------------------------------------------------------------------------


def test_refund_buyer_wins_the_seller_pays(cast, api):
    _no_express(cast)
    case = _refund_case(cast)
    with time_machine.travel(T0 + 7 * DAY, tick=False):
        r = api(cast.arbitrator).post(
            f"/api/v1/cases/{case.pk}/rule/",
            {"outcome": "buyer_wins", "responsibility": "seller", "note": "质量问题属实"},
            format="json",
        )
    assert r.status_code == 200, r.json()
    assert r.json()["status"] == "ruled" and r.json()["outcome"] == "buyer_wins"
    refund = Refund.objects.get(pk=case.refund_id)
    assert refund.status == "refunded" and refund.refunded_amount == Decimal("200.00")
    assert account_balance(account_buyer(cast.buyer)) == Decimal("200.00")
    assert account_balance(account_shop(cast.shop)) == Decimal("-200.00")
    assert {n.user_id for n in Notification.objects.filter(kind="case.ruled")} == {cast.buyer.pk, cast.seller.pk}
    assert Event.objects.filter(subject_kind="case", subject_id=case.pk, action="case.ruled").exists()
    assert Event.objects.filter(subject_kind="refund", subject_id=refund.pk, action="refund.ruled").exists()
    assert Deadline.objects.get(subject_kind="case", subject_id=case.pk, kind="r_t20_ruling_review").status == "pending"
    _ledger_sums_to_zero()


def test_refund_partial_pays_the_named_amount(cast):
    _no_express(cast)
    case = _refund_case(cast)
    with pytest.raises(RuleViolation):
        _rule(case, cast.arbitrator, T0 + 7 * DAY, outcome="partial", responsibility="seller")
    _rule(
        case, cast.arbitrator, T0 + 7 * DAY, outcome="partial", responsibility="seller", refund_amount=Decimal("80.00")
    )
    refund = Refund.objects.get(pk=case.refund_id)
    assert refund.status == "refunded" and refund.refunded_amount == Decimal("80.00")
    assert account_balance(account_buyer(cast.buyer)) == Decimal("80.00")
    assert account_balance(account_shop(cast.shop)) == Decimal("-80.00")


def test_refund_seller_wins_closes_it_and_moves_nothing(cast):
    case = _refund_case(cast)
    _rule(case, cast.arbitrator, T0 + 7 * DAY, outcome="seller_wins", responsibility="buyer")
    assert Refund.objects.get(pk=case.refund_id).status == "closed"
    assert not LedgerMovement.objects.exists()
    assert Notification.objects.filter(user=cast.buyer, kind="case.ruled").exists()


def test_refund_logistics_responsibility_the_platform_pays(cast):
    _no_express(cast)
    case = _refund_case(cast)
    _rule(case, cast.arbitrator, T0 + 7 * DAY, outcome="buyer_wins", responsibility="logistics")
    assert account_balance(account_buyer(cast.buyer)) == Decimal("200.00")
    assert account_balance(PLATFORM_FUND) == Decimal("-200.00")
    assert account_balance(account_shop(cast.shop)) == Decimal("0.00")
    assert not Penalty.objects.exists()


def test_advance_payment_is_frozen_on_the_seller_and_settles_when_final(cast):
    _no_express(cast)
    case = _refund_case(cast)
    ruled = T0 + 7 * DAY
    _rule(case, cast.arbitrator, ruled, outcome="buyer_wins", responsibility="seller", advance_payment=True)
    # §8: the platform pays the buyer at once; the same amount is frozen on the seller.
    assert account_balance(account_buyer(cast.buyer)) == Decimal("200.00")
    assert account_balance(PLATFORM_FUND) == Decimal("-200.00")
    assert account_balance(account_frozen(cast.shop)) == Decimal("200.00")
    assert account_balance(account_shop(cast.shop)) == Decimal("-200.00")
    sweep(ruled + 7 * DAY - SECOND)
    assert account_balance(account_frozen(cast.shop)) == Decimal("200.00")
    sweep(ruled + 7 * DAY + SECOND)  # R-T20: final; the frozen amount settles to the platform
    assert account_balance(account_frozen(cast.shop)) == Decimal("0.00")
    assert account_balance(PLATFORM_FUND) == Decimal("0.00")
    # Money conserved: what the buyer received equals what the seller paid.
    assert account_balance(account_buyer(cast.buyer)) == -account_balance(account_shop(cast.shop))
    _ledger_sums_to_zero()


def test_complaint_buyer_wins_upholds_with_its_penalty(cast):
    case = _complaint_case(cast)
    _rule(case, cast.arbitrator, T0 + 7 * DAY, outcome="buyer_wins", responsibility="seller")
    complaint = Complaint.objects.get(pk=case.complaint_id)
    assert complaint.status == "upheld"
    penalty = Penalty.objects.get(source_kind="complaint", source_id=complaint.pk)
    assert penalty.code == "r_p03" and penalty.points == 6
    case.refresh_from_db()
    assert case.ruling_effects["penalties"] == [penalty.pk]


def test_complaint_seller_wins_dismisses_without_penalty(cast):
    case = _complaint_case(cast)
    _rule(case, cast.arbitrator, T0 + 7 * DAY, outcome="seller_wins", responsibility="buyer")
    assert Complaint.objects.get(pk=case.complaint_id).status == "dismissed"
    assert not Penalty.objects.exists()


def test_not_received_upheld_refunds_the_buyer(cast):
    case = _complaint_case(cast, type="not_received")
    _rule(case, cast.arbitrator, T0 + 7 * DAY, outcome="buyer_wins", responsibility="seller")
    refund = Refund.objects.get(order_id=case.order_id)
    assert refund.status == "refunded" and refund.refunded_amount == Decimal("200.00")
    assert account_balance(account_buyer(cast.buyer)) == Decimal("200.00")


def test_r_c03_a_prior_agreement_is_shown_first_and_followed(cast, api):
    _no_express(cast)
    case = _refund_case(cast)
    r = api(cast.agent).post(
        f"/api/v1/cases/{case.pk}/agreement/",
        {"terms": "拍前约定:定制商品不退不换", "favours": "seller"},
        format="json",
    )
    assert r.status_code == 200
    detail = api(cast.arbitrator).get(f"/api/v1/cases/{case.pk}/").json()
    assert next(iter(detail)) == "prior_agreement" and detail["prior_agreement"]["favours"] == "seller"
    with pytest.raises(DomainError) as err:
        _rule(case, cast.arbitrator, T0 + 7 * DAY, outcome="buyer_wins", responsibility="seller")
    assert err.value.code == "contradicts_prior_agreement"
    _rule(
        case,
        cast.arbitrator,
        T0 + 7 * DAY,
        outcome="buyer_wins",
        responsibility="seller",
        override_agreement=True,
        note="约定无效:商品存在质量问题",
    )
    assert Refund.objects.get(pk=case.refund_id).status == "refunded"


def test_a_ruled_case_cannot_be_ruled_again(cast, api):
    case = _refund_case(cast)
    _rule(case, cast.arbitrator, T0 + 7 * DAY, outcome="seller_wins", responsibility="buyer")
    r = api(cast.arbitrator).post(
        f"/api/v1/cases/{case.pk}/rule/", {"outcome": "buyer_wins", "responsibility": "seller"}
    )
    assert r.status_code == 409 and r.json()["code"] == "invalid_transition"


# --- permissions -------------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["agent", "buyer", "seller", "integration", "stranger_seller"])
def test_only_arbitrators_rule(cast, api, who):
    case = _refund_case(cast)
    r = api(getattr(cast, who)).post(
        f"/api/v1/cases/{case.pk}/rule/", {"outcome": "buyer_wins", "responsibility": "seller"}
    )
    assert r.status_code == 403
    assert Case.objects.get(pk=case.pk).status == "open"


def test_internal_notes_are_never_shown_to_buyer_or_seller(cast, api):
    case = _refund_case(cast)
    secret = "内部备注:卖家疑似刷单,重点核查"
    r = api(cast.agent).post(f"/api/v1/cases/{case.pk}/notes/", {"body": secret}, format="json")
    assert r.status_code == 201
    assert secret in json.dumps(api(cast.arbitrator).get(f"/api/v1/cases/{case.pk}/").json(), ensure_ascii=False)
    for who in (cast.buyer, cast.seller):
        client = api(who)
        for path in (
            f"/api/v1/refunds/{case.refund_id}/",
            f"/api/v1/refunds/{case.refund_id}/timeline/",
            "/api/v1/refunds/",
            "/api/v1/notifications/",
            f"/api/v1/cases/{case.pk}/",
            f"/api/v1/cases/{case.pk}/timeline/",
            "/api/v1/cases/",
        ):
            response = client.get(path)
            assert secret not in response.content.decode(), path
        assert client.get(f"/api/v1/cases/{case.pk}/").status_code == 403


# --- review (R-T20) -----------------------------------------------------------------------------------


def _evidence(cast, case, user, when):
    with time_machine.travel(when, tick=False):
        return Evidence.objects.create(
            file=ContentFile(b"new proof", name="proof.txt"),
            kind="other",
            content_type="text/plain",
            size=9,
            sha256="0" * 64,
            case=case,
            submitted_by=user,
            side="buyer" if user == cast.buyer else "seller",
        )


def test_r_t20_review_by_another_arbitrator_reverses_penalties_and_money(cast, api):
    second = type(cast.arbitrator).objects.create(username="arbitrator2")
    second.groups.add(*cast.arbitrator.groups.all())
    case = _complaint_case(cast, type="out_of_stock")
    ruled = T0 + 7 * DAY
    _rule(case, cast.arbitrator, ruled, outcome="buyer_wins", responsibility="seller")
    penalty = Penalty.objects.get(source_kind="complaint", source_id=case.complaint_id)
    assert penalty.compensation_amount == Decimal("60.00")  # R-P02: 30 % of 200
    old = _evidence(cast, case, cast.seller, ruled - HOUR)
    with time_machine.travel(ruled + DAY, tick=False):
        r = api(cast.seller).post(
            f"/api/v1/cases/{case.pk}/request-review/", {"statement": "有货", "evidence": [old.pk]}, format="json"
        )
    assert r.status_code == 400 and r.json()["code"] == "new_evidence_required"
    new = _evidence(cast, case, cast.seller, ruled + DAY)
    with time_machine.travel(ruled + 7 * DAY - SECOND, tick=False):
        r = api(cast.seller).post(
            f"/api/v1/cases/{case.pk}/request-review/", {"statement": "库存截图", "evidence": [new.pk]}, format="json"
        )
        assert r.status_code == 201, r.json()
        again = api(cast.seller).post(
            f"/api/v1/cases/{case.pk}/request-review/", {"statement": "再次", "evidence": [new.pk]}, format="json"
        )
        assert again.status_code == 409 and again.json()["code"] == "review_already_requested"
        assert (
            api(cast.stranger_seller)
            .post(f"/api/v1/cases/{case.pk}/request-review/", {"statement": "x", "evidence": [new.pk]}, format="json")
            .status_code
            == 404
        )
    review_id = r.json()["id"]
    with pytest.raises(Forbidden):
        at(
            ruled + 8 * DAY,
            services.case_review_decide,
            review=case.reviews.get(),
            actor=cast.arbitrator,
            decision="reversed",
        )
    with time_machine.travel(ruled + 8 * DAY, tick=False):
        r = api(second).post(
            f"/api/v1/cases/{case.pk}/decide-review/",
            {"review": review_id, "decision": "reversed", "note": "新证据成立"},
            format="json",
        )
    assert r.status_code == 200 and r.json()["status"] == "reversed"
    penalty.refresh_from_db()
    assert penalty.status == "revoked"
    assert Complaint.objects.get(pk=case.complaint_id).status == "dismissed"
    case.refresh_from_db()
    assert case.outcome == "seller_wins" and case.status == "ruled"
    assert account_balance(account_buyer(cast.buyer)) == Decimal("0.00")
    assert account_balance(account_shop(cast.shop)) == Decimal("0.00")
    _ledger_sums_to_zero()


def test_r_t20_after_7_days_the_ruling_is_final(cast, api):
    case = _refund_case(cast)
    ruled = T0 + 7 * DAY
    _rule(case, cast.arbitrator, ruled, outcome="seller_wins", responsibility="buyer")
    late = _evidence(cast, case, cast.buyer, ruled + 7 * DAY)
    with time_machine.travel(ruled + 7 * DAY + SECOND, tick=False):
        r = api(cast.buyer).post(
            f"/api/v1/cases/{case.pk}/request-review/", {"statement": "x", "evidence": [late.pk]}, format="json"
        )
    assert r.status_code == 409 and r.json()["code"] == "review_window_closed"


def test_r_t20_a_reversed_seller_win_refunds_the_buyer(cast):
    second = type(cast.arbitrator).objects.create(username="arbitrator2")
    second.groups.add(*cast.arbitrator.groups.all())
    _no_express(cast)
    case = _refund_case(cast)
    ruled = T0 + 7 * DAY
    _rule(case, cast.arbitrator, ruled, outcome="seller_wins", responsibility="buyer")
    new = _evidence(cast, case, cast.buyer, ruled + DAY)
    review = at(
        ruled + DAY, services.case_request_review, case=case, actor=cast.buyer, statement="质检报告", evidence=[new.pk]
    )
    at(ruled + 2 * DAY, services.case_review_decide, review=review, actor=second, decision="reversed")
    refund = Refund.objects.get(pk=case.refund_id)
    assert refund.status == "refunded" and refund.refunded_amount == Decimal("200.00")
    assert account_balance(account_buyer(cast.buyer)) == Decimal("200.00")
    _ledger_sums_to_zero()


# --- queue, detail, export ------------------------------------------------------------------------------


def test_case_assign_and_queue_filters(cast, api):
    case = _refund_case(cast)
    assert api(cast.agent).get("/api/v1/cases/?assignee=none").json()["count"] == 1
    r = api(cast.agent).post(f"/api/v1/cases/{case.pk}/assign/", {"assignee": cast.agent.pk})
    assert r.status_code == 200 and r.json()["status"] == "under_review" and r.json()["assignee"] == cast.agent.pk
    r = api(cast.agent).post(f"/api/v1/cases/{case.pk}/assign/", {"assignee": cast.buyer.pk})
    assert r.status_code == 400
    assert api(cast.agent).get(f"/api/v1/cases/?assignee={cast.agent.pk}").json()["count"] == 1
    assert api(cast.agent).get("/api/v1/cases/?kind=complaint").json()["count"] == 0
    assert api(cast.agent).get(f"/api/v1/cases/?shop={cast.shop.pk}&status=under_review").json()["count"] == 1


def test_case_detail_carries_risk_signals_naming_their_facts(cast, api):
    _no_express(cast)
    case = _complaint_case(cast, type="harassment", contacted_first=False)
    signals = {s["code"]: s for s in api(cast.agent).get(f"/api/v1/cases/{case.pk}/").json()["risk_signals"]}
    assert "complaints_dismissed" in signals and "1 complaint(s)" in signals["complaints_dismissed"]["fact"]
    assert signals["no_prior_contact"]["rule"] == "R-C04"


def test_export_is_one_zip_with_timeline_evidence_and_a_manifest(cast, api, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    case = _refund_case(cast)
    proof = _evidence(cast, case, cast.buyer, T0 + 6 * DAY)
    r = api(cast.agent).get(f"/api/v1/cases/{case.pk}/export/")
    assert r.status_code == 200 and r["Content-Type"] == "application/zip"
    assert "attachment" in r["Content-Disposition"]
    archive = zipfile.ZipFile(io.BytesIO(b"".join(r.streaming_content)))
    names = archive.namelist()
    assert "timeline.json" in names and "manifest.json" in names
    manifest = json.loads(archive.read("manifest.json"))
    files = {f["path"]: f for f in manifest["files"]}
    evidence_path = next(p for p in names if p.startswith(f"evidence/{proof.pk}-"))
    assert archive.read(evidence_path) == b"new proof"
    import hashlib

    assert files[evidence_path]["sha256"] == hashlib.sha256(b"new proof").hexdigest()
    assert files["timeline.json"]["sha256"] == hashlib.sha256(archive.read("timeline.json")).hexdigest()
    actions = [e["action"] for e in json.loads(archive.read("timeline.json"))]
    assert "refund.filed" in actions and "case.opened" in actions
    assert api(cast.buyer).get(f"/api/v1/cases/{case.pk}/export/").status_code == 403


def test_case_queue_query_count_does_not_grow(cast, api, django_assert_max_num_queries):
    client = api(cast.agent)
    _refund_case(cast)
    with django_assert_max_num_queries(10) as few:
        assert client.get("/api/v1/cases/").json()["count"] == 1
    for i in range(6):
        _refund_case(cast, when=T0 + 5 * DAY + i * SECOND)
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert client.get("/api/v1/cases/").json()["count"] == 7


def test_the_queue_count_is_capped_so_millions_of_rows_are_never_counted(cast, api, monkeypatch):
    from core.paginators import CappedCountPaginator

    for i in range(4):
        _refund_case(cast, when=T0 + 5 * DAY + i * SECOND)
    body = api(cast.agent).get("/api/v1/cases/").json()
    assert body["count"] == 4 and body["count_capped"] is False
    monkeypatch.setattr(CappedCountPaginator, "CAP", 3)
    body = api(cast.agent).get("/api/v1/cases/?page_size=2").json()
    assert body["count"] == 3 and body["count_capped"] is True and len(body["results"]) == 2
