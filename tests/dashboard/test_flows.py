"""The dashboard's actions go through the services: assign, escalate, request evidence, notes, review,
seller answers with evidence, ruling preview then ruling; domain errors are messages, not 500s."""

import io
from decimal import Decimal

import pytest
import time_machine
from PIL import Image

from dashboard.deadlines import deadline_view
from dashboard.models import CannedReply
from dashboard.preview import ruling_preview
from disputes import services
from disputes.models import Case, CaseNote, Deadline, EvidenceRequest, Refund
from evidence.models import Evidence
from tests.dashboard.conftest import refund_case
from tests.disputes.helpers import DAY, HOUR, SECOND, T0, file_refund, make_order

pytestmark = pytest.mark.django_db


def png(name="photo.png"):
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 30, 30)).save(buffer, format="PNG")
    buffer.name = name
    buffer.seek(0)
    return buffer


def test_agent_assigns_escalates_requests_evidence_and_notes(cast, browser_client):
    case = refund_case(cast)
    client = browser_client(cast.agent)
    response = client.post(f"/cases/{case.pk}/assign/", {"assignee": "me"}, follow=True)
    assert "案件已分配给 agent" in response.content.decode()
    case.refresh_from_db()
    assert case.assignee == cast.agent and case.status == Case.Status.UNDER_REVIEW

    response = client.post(
        f"/cases/{case.pk}/request-evidence/", {"party": "seller", "hours": 48, "note": "请提供发货凭证"}, follow=True
    )
    assert "已要求卖家在 48 小时内举证" in response.content.decode()
    request = EvidenceRequest.objects.get(case=case)
    assert request.hours == 48 and request.party == "seller"
    case.refresh_from_db()
    assert case.status == Case.Status.AWAITING_EVIDENCE
    body = response.content.decode()
    assert "R-T13" in body and "客服要求举证后" in body  # the deadline says why

    client.post(f"/cases/{case.pk}/notes/", {"body": "买家情绪激动,已电话安抚"})
    assert CaseNote.objects.get(case=case).body == "买家情绪激动,已电话安抚"
    # An internal note never reaches the seller's page.
    assert "买家情绪激动" not in browser_client(cast.seller).get(f"/seller/refunds/{case.refund_id}/").content.decode()

    response = client.post(f"/cases/{case.pk}/escalate/", {"arbitrator": cast.arbitrator.pk, "reason": "金额较大"})
    case.refresh_from_db()
    assert case.assignee == cast.arbitrator
    assert CaseNote.objects.filter(case=case, body__contains="金额较大").exists()


def test_bad_request_is_a_message_not_a_500(cast, browser_client):
    case = refund_case(cast)
    client = browser_client(cast.agent)
    response = client.post(f"/cases/{case.pk}/request-evidence/", {"party": "seller", "hours": 500}, follow=True)
    assert response.status_code == 200
    assert "请检查举证要求" in response.content.decode()
    # A domain error from a service: ruling a suspended case.
    services.case_suspend(case=case, actor=cast.arbitrator, reason="警方介入")
    response = browser_client(cast.arbitrator).post(
        f"/cases/{case.pk}/rule/",
        {"outcome": "buyer_wins", "responsibility": "seller", "action": "confirm"},
        follow=True,
    )
    assert response.status_code == 200
    assert "操作未完成" in response.content.decode()
    case.refresh_from_db()
    assert case.status != Case.Status.RULED


def test_bulk_assign_from_the_queue(cast, browser_client):
    cases = [refund_case(cast, when=T0 + 5 * DAY + i * HOUR) for i in range(3)]
    client = browser_client(cast.agent)
    response = client.post(
        "/queue/assign/", {"case": [c.pk for c in cases[:2]], "assignee": cast.arbitrator.pk}, follow=True
    )
    assert "已分配 2 个案件给 arbitrator" in response.content.decode()
    assert [Case.objects.get(pk=c.pk).assignee_id for c in cases] == [cast.arbitrator.pk, cast.arbitrator.pk, None]
    mine = browser_client(cast.arbitrator).get("/queue/?view=mine").content.decode()
    assert f"#{cases[0].pk}<" in mine and f"#{cases[2].pk}<" not in mine
    unassigned = client.get("/queue/?view=unassigned").content.decode()
    assert f"#{cases[2].pk}<" in unassigned and f"#{cases[0].pk}<" not in unassigned


def test_queue_is_nearest_deadline_first_and_htmx_gets_the_table(cast, browser_client):
    late = refund_case(cast, when=T0 + 6 * DAY)
    early = refund_case(cast, when=T0 + 5 * DAY)
    client = browser_client(cast.agent)
    with time_machine.travel(T0 + 6 * DAY + HOUR, tick=False):
        body = client.get("/queue/").content.decode()
        assert body.index(f"case-row-{early.pk}") < body.index(f"case-row-{late.pk}")
        partial = client.get("/queue/?kind=refund", HTTP_HX_REQUEST="true").content.decode()
    assert partial.lstrip().startswith('<div id="queue-table">') and "<html" not in partial


def test_countdown_is_amber_under_24_hours_and_red_when_overdue(cast):
    case = refund_case(cast)
    sla = Deadline.objects.get(subject_kind="case", subject_id=case.pk, kind="r_t12_platform_sla")
    assert deadline_view(sla, now=sla.due_at - 24 * HOUR - SECOND).state == "ok"
    assert deadline_view(sla, now=sla.due_at - 24 * HOUR + SECOND).state == "amber"
    assert deadline_view(sla, now=sla.due_at - SECOND).state == "amber"
    red = deadline_view(sla, now=sla.due_at + SECOND)
    assert red.state == "red" and red.text.startswith("已超时")
    assert red.rule == "R-T12" and "5个工作日" in red.words


def test_case_page_shows_why_every_deadline_is_what_it_is(cast, browser_client):
    case = refund_case(cast)
    with time_machine.travel(T0 + 5 * DAY + HOUR, tick=False):
        body = browser_client(cast.agent).get(f"/cases/{case.pk}/").content.decode()
    assert "R-T12" in body and "平台介入后5个工作日内处理完毕" in body
    assert 'data-countdown="' in body and "deadline-ok" in body


def test_evidence_review_from_the_gallery(cast, browser_client):
    case = refund_case(cast)
    with time_machine.travel(T0 + 5 * DAY + HOUR, tick=False):
        from evidence.services import evidence_submit

        item = evidence_submit(file=png(), kind="photo", actor=cast.buyer, subject=case.refund)
    client = browser_client(cast.agent)
    body = client.get(f"/cases/{case.pk}/").content.decode()
    assert f"/api/v1/evidence/{item.pk}/thumbnail/" in body
    assert client.get(f"/api/v1/evidence/{item.pk}/thumbnail/").status_code == 200
    client.post(
        f"/evidence/{item.pk}/review/", {"verdict": "accepted", "note": "照片清晰", "next": f"/cases/{case.pk}/"}
    )
    item.refresh_from_db()
    assert item.verdict == Evidence.Verdict.ACCEPTED and item.reviewed_by == cast.agent
    # A party cannot review.
    assert browser_client(cast.seller).post(f"/evidence/{item.pk}/review/", {"verdict": "rejected"}).status_code == 403


def test_seller_approves_with_a_photo_and_refuses_with_a_reason(cast, browser_client):
    order = make_order(cast, "received", complete=True)
    refund = file_refund(cast, order, at=T0 + 4 * DAY, amount="80.00")
    client = browser_client(cast.seller)
    inbox = client.get("/seller/").content.decode()
    assert f"refund-row-{refund.pk}" in inbox and "R-T04" in inbox
    response = client.post(
        f"/seller/refunds/{refund.pk}/",
        {"action": "approve", "evidence_file": png(), "evidence_kind": "photo"},
        follow=True,
    )
    assert response.status_code == 200
    refund.refresh_from_db()
    assert refund.status == Refund.Status.REFUNDED
    assert Evidence.objects.filter(refund=refund, kind="photo", submitted_by=cast.seller).count() == 1
    assert "退款成功" in response.content.decode()
    # Approving again is an invalid transition: shown, not raised.
    response = client.post(f"/seller/refunds/{refund.pk}/", {"action": "approve"}, follow=True)
    assert "操作未完成" in response.content.decode()


def test_seller_refusal_needs_a_reason_and_a_bad_upload_is_refused(cast, browser_client):
    order = make_order(cast, "received", complete=True)
    refund = file_refund(cast, order, at=T0 + 4 * DAY)
    client = browser_client(cast.seller)
    assert (
        "请填写理由" in client.post(f"/seller/refunds/{refund.pk}/", {"action": "refuse"}, follow=True).content.decode()
    )
    bad = io.BytesIO(b"<html><script>alert(1)</script></html>")
    bad.name = "x.html"
    response = client.post(
        f"/seller/refunds/{refund.pk}/",
        {"action": "refuse", "reason": "商品完好", "evidence_file": bad, "evidence_kind": "photo"},
        follow=True,
    )
    assert "操作未完成" in response.content.decode()
    refund.refresh_from_db()
    assert refund.status == Refund.Status.PENDING_SELLER


def test_ruling_preview_writes_nothing_then_confirm_rules(cast, browser_client):
    case = refund_case(cast, amount="150.00")
    client = browser_client(cast.arbitrator)
    form = {"outcome": "partial", "responsibility": "seller", "refund_amount": "60.00", "note": "部分支持"}
    response = client.post(f"/cases/{case.pk}/rule/", {**form, "action": "preview"})
    body = response.content.decode()
    assert "裁决影响预览" in body and "店铺 退款 60.00 元给买家" in body
    case.refresh_from_db()
    assert case.status != Case.Status.RULED
    response = client.post(f"/cases/{case.pk}/rule/", {**form, "action": "confirm"}, follow=True)
    case.refresh_from_db()
    assert case.status == Case.Status.RULED and case.refund_amount == Decimal("60.00")
    assert "已裁决" in response.content.decode()


def test_preview_of_an_upheld_late_shipment_complaint_names_points_and_compensation(cast):
    order = make_order(cast, "received", amount="300.00")
    with time_machine.travel(T0 + 3 * DAY, tick=False):
        complaint = services.complaint_file(
            actor=cast.buyer, order=order, type="breach_of_promise", promise_kind="invoice"
        )
        services.complaint_appeal(complaint=complaint, actor=cast.seller, statement="已开票")
        services.complaint_rebut(complaint=complaint, actor=cast.buyer, statement="没有")
    case = Case.objects.get(complaint=complaint)
    preview = ruling_preview(
        case=case, outcome="buyer_wins", responsibility="seller", refund_amount=None, advance_payment=False
    )
    assert preview.ok
    assert any("R-P03" in line and "6" in line for line in preview.penalties)
    dismissed = ruling_preview(
        case=case, outcome="seller_wins", responsibility="buyer", refund_amount=None, advance_payment=False
    )
    assert dismissed.penalties == [] and any("不处罚" in o for o in dismissed.other)
    bad = ruling_preview(
        case=case, outcome="buyer_wins", responsibility="seller", refund_amount=None, advance_payment=True
    )
    assert not bad.ok


def test_canned_replies_are_seeded_and_supervisors_edit_them(cast, browser_client):
    assert set(CannedReply.objects.values_list("situation", flat=True)) == set(CannedReply.Situation.values)
    reply = CannedReply.objects.get(situation="quality")
    assert reply.body.startswith("亲") and "道歉" in reply.body
    assert browser_client(cast.agent).get("/replies/").status_code == 403
    client = browser_client(cast.arbitrator)
    client.post(
        f"/replies/{reply.pk}/",
        {"situation": "quality", "title": reply.title, "body": "亲,新的话术", "position": 0, "active": "on"},
    )
    reply.refresh_from_db()
    assert reply.body == "亲,新的话术" and reply.updated_by == cast.arbitrator
    case = refund_case(cast)
    body = browser_client(cast.agent).get(f"/cases/{case.pk}/").content.decode()
    assert 'data-insert-reply="亲,新的话术"' in body


def test_overview_draws_svg_charts(cast, browser_client):
    case = refund_case(cast)
    services.case_rule(case=case, actor=cast.arbitrator, outcome="seller_wins", responsibility="buyer")
    body = browser_client(cast.agent).get("/overview/").content.decode()
    assert body.count("<svg") == 3 and "<rect" in body
    assert 'id="median-resolution"' in body


def test_seller_record_shows_points_sanctions_and_metrics(cast, browser_client):
    body = browser_client(cast.seller).get("/seller/record/").content.decode()
    assert cast.shop.name in body and "纠纷退款率" in body
    assert cast.stranger_shop.name not in body
    assert browser_client(cast.seller).get(f"/shops/{cast.stranger_shop.pk}/record/").status_code == 404
