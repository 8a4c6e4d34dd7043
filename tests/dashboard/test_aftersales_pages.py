"""The after-sales pages (issue #10): registrations with one-click filing for a buyer who phoned, carrier
claims walked to paid, agent performance against a small fixture, and R-T19 suspend / resume from the
case page. Permissions, domain errors as messages, query counts."""

import csv
import datetime as dt
import io
import re
from decimal import Decimal

import pytest
import time_machine
from django.utils import timezone

from aftersales.models import LogisticsClaim, Registration, Team
from core.models import Event
from disputes import services
from disputes.models import Case, Complaint, Deadline, Refund
from orders.models import Order
from penalties.models import LedgerMovement
from tests.dashboard.conftest import refund_case
from tests.disputes.helpers import DAY, HOUR, T0, at, make_order
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

NOW = T0 + 4 * DAY  # the order of make_order(..., "received") was signed for at T0 + 2 days
PAGES = ["/registrations/", "/logistics-claims/", "/performance/"]


def _post(client, url, data, when=NOW):
    with time_machine.travel(when, tick=False):
        return client.post(url, data)


def _messages(response) -> str:
    return " ".join(str(m) for m in response.context["messages"]) if response.context else ""


# --- who sees what ----------------------------------------------------------------------------------


def test_pages_render_for_agents_and_arbitrators_and_refuse_everyone_else(cast, browser_client):
    for user in (cast.agent, cast.arbitrator):
        client = browser_client(user)
        for url in PAGES:
            response = client.get(url)
            assert response.status_code == 200, (user.username, url)
        nav = client.get("/queue/" if user == cast.agent else "/arbitration/").content.decode()
        assert all(f'href="{url}"' in nav for url in PAGES)
    for user in (cast.seller, cast.buyer, cast.integration):
        client = browser_client(user)
        for url in PAGES:
            assert client.get(url).status_code == 403, (user.username, url)
        assert 'href="/registrations/"' not in client.get("/").content.decode()
    anonymous = browser_client(None)
    for url in PAGES:
        response = anonymous.get(url)
        assert response.status_code == 302 and "/login/" in response.url
    seller = browser_client(cast.seller)
    assert seller.post("/registrations/new/", {"source": "phone", "type": "inquiry"}).status_code == 403
    assert Registration.objects.count() == 0


def test_pages_are_chinese_by_default_and_english_on_request(cast, browser_client):
    client = browser_client(cast.agent)
    assert "售后登记" in client.get("/registrations/").content.decode()
    client.cookies["django_language"] = "en"
    body = client.get("/registrations/").content.decode()
    assert "After-sales registration" in body and "Phone" in body
    assert "Carrier claims" in client.get("/logistics-claims/").content.decode()
    assert "Agent performance" in client.get("/performance/").content.decode()


# --- registrations (售后登记) ---------------------------------------------------------------------------


def test_one_click_phone_complaint_files_the_complaint_for_the_buyer_and_registers_it(cast, browser_client):
    order = make_order(cast, "received")
    agent = browser_client(cast.agent)
    response = _post(
        agent,
        "/registrations/new/",
        {
            "source": "phone",
            "filing": "complaint",
            "order": order.pk,
            "buyer": "buyer",
            "complaint_type": "harassment",
            "description": "卖家一天打了十次电话",
            "summary": "买家来电:卖家多次电话骚扰",
        },
    )
    assert response.status_code == 302, _messages(response)
    complaint = Complaint.objects.get(order=order)
    assert (complaint.buyer, complaint.created_by, complaint.type) == (cast.buyer, cast.agent, "harassment")
    registration = Registration.objects.get()
    assert (registration.source, registration.type, registration.status) == ("phone", "complaint", "open")
    assert (registration.complaint, registration.buyer, registration.order) == (complaint, cast.buyer, order)
    assert registration.created_by == cast.agent and registration.handler == cast.agent
    page = agent.get(response.url)
    assert f"并为买家提交投诉 {complaint.pk}" in page.content.decode()
    assert f'id="registration-{registration.pk}"' in page.content.decode()
    # The buyer sees it as theirs; the timeline names the agent as who filed it.
    assert [c.pk for c in browser_client(cast.buyer).get("/me/").context["complaints"]] == [complaint.pk]
    filed = Event.objects.get(subject_kind="complaint", subject_id=complaint.pk, action="complaint.filed")
    assert filed.actor == cast.agent
    assert browser_client(cast.other_buyer).get("/me/").context["complaints"] == []


def test_one_click_refund_for_a_buyer_who_phoned(cast, browser_client):
    order = make_order(cast, "received")
    response = _post(
        browser_client(cast.agent),
        "/registrations/new/",
        {
            "source": "phone",
            "filing": "refund",
            "order": order.pk,
            "refund_kind": "return_and_refund",
            "refund_reason": "quality_issue",
            "refund_amount": "120.50",
        },
    )
    assert response.status_code == 302
    refund = Refund.objects.get(order=order)
    assert (refund.buyer, refund.created_by, refund.amount, refund.status) == (
        cast.buyer,
        cast.agent,
        Decimal("120.50"),
        "pending_seller",
    )
    registration = Registration.objects.get(refund=refund)
    assert (registration.type, registration.buyer) == ("return", cast.buyer)


def test_a_refused_filing_is_a_message_and_nothing_is_created(cast, browser_client):
    order = make_order(cast, "received")
    agent = browser_client(cast.agent)
    # The caller is not the order's buyer: the service refuses (RuleViolation), the page says so.
    response = _post(
        agent,
        "/registrations/new/",
        {
            "source": "phone",
            "filing": "complaint",
            "order": order.pk,
            "buyer": "other_buyer",
            "complaint_type": "harassment",
        },
    )
    assert response.status_code == 200
    assert "操作未完成" in _messages(response)
    assert 'value="other_buyer"' in response.content.decode()  # the agent's input is kept
    # Missing fields and a seller's claim type are form errors (400), never a 500.
    response = _post(agent, "/registrations/new/", {"source": "phone", "filing": "complaint"})
    assert response.status_code == 400
    response = _post(
        agent,
        "/registrations/new/",
        {"source": "phone", "filing": "complaint", "order": order.pk, "complaint_type": "malicious_review"},
    )
    assert response.status_code == 400
    response = _post(agent, "/registrations/new/", {"source": "fax", "type": "inquiry", "order": "999999"})
    assert response.status_code == 400
    assert Registration.objects.count() == 0 and Complaint.objects.count() == 0


def test_registration_is_resolved_with_its_result_closed_and_reopened(cast, browser_client):
    agent = browser_client(cast.agent)
    response = _post(agent, "/registrations/new/", {"source": "chat", "type": "inquiry", "summary": "问发货时间"})
    assert response.status_code == 302
    registration = Registration.objects.get()
    url = f"/registrations/{registration.pk}/move/"

    response = agent.post(url, {"action": "resolve", "next": "/registrations/?status=open"}, follow=True)
    assert "操作未完成" in _messages(response)  # a resolution states its result
    assert response.redirect_chain[-1][0] == "/registrations/?status=open"
    registration.refresh_from_db()
    assert registration.status == "open"

    agent.post(url, {"action": "start"})
    agent.post(url, {"action": "resolve", "result": "已告知预计明天发货"})
    registration.refresh_from_db()
    assert (registration.status, registration.result) == ("resolved", "已告知预计明天发货")
    assert registration.resolved_at is not None

    response = agent.post(url, {"action": "close"}, follow=True)  # not from resolved: a message
    assert "操作未完成" in _messages(response)
    agent.post(url, {"action": "reopen"})
    agent.post(url, {"action": "close", "result": "买家未再联系"})
    registration.refresh_from_db()
    assert (registration.status, registration.result) == ("closed", "买家未再联系")
    actions = list(
        Event.objects.filter(subject_kind="registration", subject_id=registration.pk)
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert actions == [
        "registration.created",
        "registration.started",
        "registration.resolved",
        "registration.reopened",
        "registration.closed",
    ]
    # An unknown action, an unknown registration, an outside `next`.
    assert agent.post(url, {"action": "delete"}).status_code == 302
    assert agent.post("/registrations/999999/move/", {"action": "close"}).status_code == 404
    assert agent.post(url, {"action": "reopen", "next": "https://evil.example/"}).url == "/registrations/"
    assert browser_client(cast.seller).post(url, {"action": "reopen"}).status_code == 403


def test_registration_filters(cast, browser_client):
    other = UserFactory(username="agent_b", roles=["agent"])
    with time_machine.travel(NOW, tick=False):
        Registration.objects.create(source="phone", type="quality", handler=cast.agent, created_by=cast.agent)
    with time_machine.travel(NOW + 2 * DAY, tick=False):
        Registration.objects.create(
            source="email", type="inquiry", status="resolved", handler=other, created_by=cast.agent
        )
    ids = dict(Registration.objects.values_list("source", "pk"))
    client = browser_client(cast.agent)

    def shown(query):
        body = client.get(f"/registrations/?{query}").content.decode()
        return {s for s, pk in ids.items() if f'id="registration-{pk}"' in body}

    assert shown("") == {"phone", "email"}
    assert shown("source=email") == {"email"}
    assert shown("status=open") == {"phone"}
    assert shown(f"handler={other.pk}") == {"email"}
    day = timezone.localtime(NOW).date()
    assert shown(f"since={day}&until={day}") == {"phone"}
    assert shown(f"since={day + dt.timedelta(days=1)}") == {"email"}
    assert shown("since=not-a-date&source=bogus") == {"phone", "email"}


# --- carrier claims (报损) ------------------------------------------------------------------------------


def test_carrier_claim_walks_to_paid_and_the_ledger_moves_once(cast, browser_client):
    order = make_order(cast, "shipped")
    agent = browser_client(cast.agent)
    response = agent.post(
        "/logistics-claims/new/", {"order": order.pk, "parcel_state": "damaged", "item": "纯棉T恤", "price": "99.90"}
    )
    assert response.status_code == 302
    claim = LogisticsClaim.objects.get()
    assert (claim.carrier, claim.tracking_number, claim.status) == ("中通", "ZT1", "reported")
    url = f"/logistics-claims/{claim.pk}/move/"

    response = agent.post(url, {"action": "pay"}, follow=True)  # not yet claimed: a message, no money
    assert "操作未完成" in _messages(response)
    agent.post(url, {"action": "submit", "carrier_reference": "ZTO-CLAIM-7"})
    claim.refresh_from_db()
    assert (claim.status, claim.carrier_reference) == ("claimed", "ZTO-CLAIM-7")
    response = agent.post(url, {"action": "pay", "paid_amount": "120.00"}, follow=True)  # above the price
    assert "操作未完成" in _messages(response)
    response = agent.post(url, {"action": "pay", "paid_amount": "80.00"}, follow=True)
    assert response.status_code == 200 and "快递已赔付" in _messages(response)
    claim.refresh_from_db()
    assert (claim.status, claim.paid_amount) == ("paid", Decimal("80.00"))
    response = agent.post(url, {"action": "pay", "paid_amount": "80.00"}, follow=True)  # twice: refused
    assert "操作未完成" in _messages(response)
    movements = LedgerMovement.objects.filter(reason="logistics_claim.paid")
    assert movements.count() == 1
    movement = movements.get()
    assert (movement.debit, movement.credit, movement.amount) == ("carrier:中通", "platform_fund", Decimal("80.00"))
    assert claim.movement_id == movement.pk
    body = response.content.decode()
    assert f"#{movement.pk}" in body and f'id="claim-{claim.pk}" data-status="paid"' in body


def test_carrier_claim_refused_with_a_reason_and_filters(cast, browser_client):
    order = make_order(cast, "shipped")
    agent = browser_client(cast.agent)
    for state in ("lost", "delayed"):
        agent.post(
            "/logistics-claims/new/",
            {"order": order.pk, "parcel_state": state, "item": "羽绒服", "price": "300.00", "carrier": "顺丰"},
        )
    lost = LogisticsClaim.objects.get(parcel_state="lost")
    url = f"/logistics-claims/{lost.pk}/move/"
    agent.post(url, {"action": "submit"})
    response = agent.post(url, {"action": "refuse"}, follow=True)
    assert "操作未完成" in _messages(response)  # a refusal says why
    agent.post(url, {"action": "refuse", "reason": "超过索赔时效"})
    lost.refresh_from_db()
    assert (lost.status, lost.refusal_reason) == ("refused", "超过索赔时效")
    body = agent.get("/logistics-claims/?status=refused").content.decode()
    assert f'id="claim-{lost.pk}"' in body and "claim-" + str(lost.pk + 1) not in body
    body = agent.get("/logistics-claims/?parcel_state=delayed&carrier=顺").content.decode()
    assert f'id="claim-{lost.pk}"' not in body and 'data-status="reported"' in body
    response = agent.post("/logistics-claims/new/", {"order": order.pk, "parcel_state": "lost", "price": "-1"})
    assert response.status_code == 400
    assert agent.post("/logistics-claims/999999/move/", {"action": "submit"}).status_code == 404
    assert browser_client(cast.buyer).post(url, {"action": "submit"}).status_code == 403


# --- agent performance ------------------------------------------------------------------------------

W = T0 + 5 * DAY  # 2026-11-16 10:00 China time, a Monday


@pytest.fixture
def performance_world(cast):
    """One case: opened by the buyer's escalation at W, assigned by the agent at W+30m (the first answer),
    a note by the agent at W+2h, ruled by the arbitrator at W+3h (R-T12 due 5 working days later: inside).

        agent:      handled 1, first response 1800 s (30 分), closed 1 inside → 100.0 %, overdue 0
        arbitrator: handled 1, no first response, closed 1 inside → 100.0 %
        team 华东一组 (agent): the agent's figures
    """
    case = refund_case(cast, when=W)
    at(W + HOUR / 2, services.case_assign, case=case, actor=cast.agent, assignee=cast.agent)
    at(W + 2 * HOUR, services.case_note_add, case=case, actor=cast.agent, body="已联系卖家")
    at(
        W + 3 * HOUR,
        services.case_rule,
        case=Case.objects.get(pk=case.pk),
        actor=cast.arbitrator,
        outcome="seller_wins",
        responsibility="buyer",
    )
    team = Team.objects.create(name="华东一组")
    team.members.add(cast.agent)
    return case, team


def _figures(body: str, row_id: str) -> dict[str, str]:
    row = re.search(rf'<tr id="{row_id}">(.*?)</tr>', body, re.S)
    assert row, row_id
    return {
        name: re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", value)).strip()
        for name, value in re.findall(r'data-figure="(\w+)">(.*?)</td>', row.group(1), re.S)
    }


def test_performance_page_shows_the_figures_of_the_fixture(cast, browser_client, performance_world):
    _case, team = performance_world
    client = browser_client(cast.arbitrator)
    response = client.get("/performance/?since=2026-11-16&until=2026-11-16")
    assert response.status_code == 200
    body = response.content.decode()
    assert _figures(body, f"agent-{cast.agent.pk}") == {
        "cases_handled": "1",
        "median_first_response": "30分 (1 次)",
        "cases_closed": "1",
        "share_inside_sla": "100.0% (1/1)",
        "overdue": "0",
        "reversed_rulings": "0",
    }
    arbitrator = _figures(body, f"agent-{cast.arbitrator.pk}")
    assert (arbitrator["cases_handled"], arbitrator["median_first_response"]) == ("1", "— (0 次)")
    assert _figures(body, f"team-{team.pk}")["median_first_response"] == "30分"
    assert body.count("<svg") == 4 and "<rect" in body

    # The day before: nothing; a team filter: only its members.
    before = client.get("/performance/?since=2026-11-15&until=2026-11-15").content.decode()
    assert _figures(before, f"agent-{cast.agent.pk}")["cases_handled"] == "0"
    only_team = client.get(f"/performance/?since=2026-11-16&until=2026-11-16&team={team.pk}").content.decode()
    assert f'id="agent-{cast.arbitrator.pk}"' not in only_team and f'id="agent-{cast.agent.pk}"' in only_team

    # The CSV link is the API's report for the same period: the same figures.
    link = response.context["csv_url"]
    assert link.startswith("/api/v1/agents/performance/?") and "format=csv" in link
    export = client.get(link)
    assert export.status_code == 200 and export["Content-Type"].startswith("text/csv")
    rows = {r["name"]: r for r in csv.DictReader(io.StringIO(export.content.decode("utf-8-sig")))}
    assert (rows["agent"]["cases_handled"], rows["agent"]["median_first_response_seconds"]) == ("1", "1800")
    assert rows["agent"]["share_inside_sla"] == "1"


def test_an_agent_sees_only_their_own_row(cast, browser_client, performance_world):
    body = browser_client(cast.agent).get("/performance/?since=2026-11-16&until=2026-11-16").content.decode()
    assert f'id="agent-{cast.agent.pk}"' in body and f'id="agent-{cast.arbitrator.pk}"' not in body
    assert 'id="performance-teams"' not in body and 'name="team"' not in body


def test_a_bad_period_is_a_message_not_an_error(cast, browser_client):
    client = browser_client(cast.arbitrator)
    for query in ("since=2026-13-45", "since=2026-11-20&until=2026-11-01", "team=999999", "until=x"):
        response = client.get(f"/performance/?{query}")
        assert response.status_code == 200, query
        assert "时间段无效" in _messages(response), query


# --- R-T19 suspend / resume from the case page ------------------------------------------------------


def test_arbitrator_suspends_and_resumes_the_case_and_its_clocks(cast, browser_client):
    case = refund_case(cast, when=W)
    arbitrator = browser_client(cast.arbitrator)
    running = {d.pk: d.due_at for d in Deadline.objects.filter(status="pending")}
    assert running

    body = arbitrator.get(f"/cases/{case.pk}/").content.decode()
    assert 'id="suspend-button"' in body and 'for="suspension-reason"' in body
    assert 'id="suspend-button"' not in browser_client(cast.agent).get(f"/cases/{case.pk}/").content.decode()

    response = _post(arbitrator, f"/cases/{case.pk}/suspend/", {"reason": ""}, when=W + HOUR)
    assert response.status_code == 302
    assert Case.objects.get(pk=case.pk).suspended_at is None  # a reason is required

    response = _post(arbitrator, f"/cases/{case.pk}/suspend/", {"reason": "公安机关介入"}, when=W + HOUR)
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.suspended_at == W + HOUR
    paused = Deadline.objects.filter(pk__in=running)
    assert all(d.paused_at == W + HOUR for d in paused)
    with time_machine.travel(W + 2 * HOUR, tick=False):
        body = arbitrator.get(f"/cases/{case.pk}/").content.decode()
        agent_body = browser_client(cast.agent).get(f"/cases/{case.pk}/").content.decode()
    assert 'id="suspension-state"' in body and "个时限已暂停" in body and 'id="resume-button"' in body
    assert "deadline-paused" in body
    assert 'id="suspension-state"' in agent_body and 'id="resume-button"' not in agent_body
    event = Event.objects.get(subject_kind="case", subject_id=case.pk, action="case.suspended")
    assert (event.actor, event.data["reason"]) == (cast.arbitrator, "公安机关介入")

    # Suspending twice is a message, not an error; an agent may not.
    response = _post(arbitrator, f"/cases/{case.pk}/suspend/", {"reason": "again"}, when=W + 2 * HOUR)
    with time_machine.travel(W + 2 * HOUR, tick=False):
        assert "操作未完成" in _messages(arbitrator.get(response.url))
    assert browser_client(cast.agent).post(f"/cases/{case.pk}/resume/", {"reason": "x"}).status_code == 403

    # Resumed three hours after it paused: every clock is due three hours later than before.
    response = _post(arbitrator, f"/cases/{case.pk}/resume/", {"reason": "双方协商破裂"}, when=W + 4 * HOUR)
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.suspended_at is None
    for d in Deadline.objects.filter(pk__in=running):
        assert d.paused_at is None and d.status == "pending"
        assert d.due_at == running[d.pk] + 3 * HOUR, d.rule
    with time_machine.travel(W + 4 * HOUR, tick=False):
        body = arbitrator.get(f"/cases/{case.pk}/").content.decode()
    assert 'id="suspend-button"' in body and "deadline-paused" not in body


# --- query counts ------------------------------------------------------------------------------------

N = 120


@pytest.fixture
def many_rows(cast):
    orders = Order.objects.bulk_create(
        Order(shop=cast.shop, buyer=cast.buyer, total_amount=Decimal("99.00"), status="completed") for _ in range(N)
    )
    Registration.objects.bulk_create(
        Registration(
            source="phone",
            type="quality",
            status=["open", "in_progress", "resolved"][i % 3],
            handler=cast.agent if i % 2 else cast.arbitrator,
            created_by=cast.agent,
            order=o,
            buyer=cast.buyer,
            summary="买家来电",
        )
        for i, o in enumerate(orders)
    )
    LogisticsClaim.objects.bulk_create(
        LogisticsClaim(
            order=o,
            carrier="中通",
            tracking_number=f"ZT{i}",
            parcel_state="damaged",
            item="T恤",
            price=Decimal("50.00"),
            status=["reported", "claimed", "refused"][i % 3],
            handler=cast.agent,
            created_by=cast.agent,
        )
        for i, o in enumerate(orders)
    )


@pytest.mark.parametrize(
    "url",
    [
        "/registrations/",
        "/registrations/?status=open&source=phone",
        "/registrations/?page=2",
        "/logistics-claims/",
        "/logistics-claims/?status=claimed&carrier=中",
    ],
)
def test_list_pages_query_count_is_bounded(cast, browser_client, many_rows, url, django_assert_max_num_queries):
    client = browser_client(cast.agent)
    client.get(url)
    with django_assert_max_num_queries(14):
        response = client.get(url)
    assert response.status_code == 200
    body = response.content.decode()
    assert 0 < body.count('data-status="') <= 50


def test_performance_page_query_count_does_not_grow_with_cases(
    cast, browser_client, performance_world, django_assert_max_num_queries
):
    client = browser_client(cast.arbitrator)
    url = "/performance/?since=2026-11-16&until=2026-11-16"
    client.get(url)
    with django_assert_max_num_queries(14):
        assert client.get(url).status_code == 200
