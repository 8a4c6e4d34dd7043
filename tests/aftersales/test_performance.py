"""Agent performance (RULEBOOK §10) from the audit events, against a hand-computed fixture.

The fixture: cases whose events are written with core.services.event_record at chosen times, and
their R-T12 deadline rows with chosen due times. Period P = March 2026, China time.

    agent A (cast.agent, team 华东一组), agent G (team 华东一组), arbitrator R (cast.arbitrator, team 仲裁组),
    arbitrator R2 (team 仲裁组); B = 2026-03-02 09:00 +08:00

    c1  opened B (buyer) · assigned to A by A B+30m · note A B+2h · ruled R B+1d (due B+5d: inside)
        · review upheld by R2 B+3d
    c2  opened B+1d · note G +1h · evidence requested A +2h · overdue B+8d (unassigned) · ruled R B+9d
        (due B+8d: outside)
    c3  opened B+2d · assigned to A by R +2h · overdue B+10d (assignee A)
    c4  opened 10 Feb · note A +1h · ruled R 12 Feb (due 17 Feb: inside) · review asked by the buyer
        5 Mar · reversed by R2 6 Mar
    c5  opened 31 Mar 23:00 · assigned by A at 1 Apr 00:00 (= until: outside P)
    c6  opened 28 Feb 23:59:59 · note G at 1 Mar 00:00:00 (= since: inside P, 1 s)
    c7  opened B+3d · note A +10m · ruled R B+4d (due B+4d, to the second: inside)
    c8  opened B+4d · note A +1h30m

    A:  handled c1 c2 c7 c8 = 4; first responses c1 1800, c7 600, c8 5400 → median 1800;
        closed c1 (in) c2 (out) c7 (in) → 2/3 = 0.6667; overdue c2 (acted, unassigned) c3 (assignee) = 2
    G:  handled c2 c6 = 2; first responses 3600, 1 → median 1800.5; closed c2 (out) → 0/1; overdue c2 = 1
    R:  handled c1 c2 c3 c7 = 4; first response c3 7200; closed c1 c2 c7 → 2/3; overdue 0; reversed c4 = 1
    R2: handled c1 c4 = 2; no first response; no closed case (acted on c1 after its ruling); nothing else
    华东一组: handled 5; first responses [1, 600, 1800, 3600, 5400] → 1800; closed 3, inside 2; overdue 2
    仲裁组: handled 5; first response 7200; closed 3, inside 2; overdue 0; reversed 1
"""

import csv
import datetime as dt
import io

import pytest

from aftersales.models import Team
from core.services import event_record
from disputes import services as disputes
from disputes.models import Case, Complaint, Deadline
from tests.disputes.helpers import CHINA, DAY, HOUR, T0, at, file_refund, make_order
from tests.factories import OrderFactory, UserFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/agents/performance/"
B = dt.datetime(2026, 3, 2, 9, 0, tzinfo=CHINA)
MINUTE = dt.timedelta(minutes=1)
MARCH = {"since": "2026-03-01", "until": "2026-03-31"}  # a date `until` runs to the end of that day


@pytest.fixture
def world(cast):
    g = UserFactory(username="agent_g", roles=["agent"])
    r2 = UserFactory(username="arbitrator_2", roles=["arbitrator"])
    a, r, buyer = cast.agent, cast.arbitrator, cast.buyer
    east = Team.objects.create(name="华东一组")
    east.members.add(a, g, buyer)  # a non-staff member is ignored
    arb = Team.objects.create(name="仲裁组")
    arb.members.add(r, r2)
    order = OrderFactory(shop=cast.shop, buyer=buyer, created_at=B - 60 * DAY)

    def case(opened: dt.datetime, due: dt.datetime, events: list[tuple]) -> Case:
        complaint = Complaint.objects.create(
            order=order, shop=cast.shop, buyer=buyer, created_by=buyer, type="harassment", status="in_arbitration"
        )
        c = Case.objects.create(kind="complaint", complaint=complaint, order=order, shop=cast.shop, buyer=buyer)
        Deadline.objects.create(
            subject_kind="case", subject_id=c.pk, rule="R-T12", kind="r_t12_platform_sla", started_at=opened,
            due_at=due, duration_amount=5, duration_unit="working_days",
        )  # fmt: skip
        event_record(subject=c, action="case.opened", actor=buyer, at=opened, to_status="open")
        for when, action, actor, data in events:
            event_record(subject=c, action=action, actor=actor, at=when, data=data)
        return c

    case(
        B,
        B + 5 * DAY,
        [
            (B + 30 * MINUTE, "case.assigned", a, {"assignee": a.pk}),
            (B + 2 * HOUR, "case.note_added", a, {}),
            (B + DAY, "case.ruled", r, {"outcome": "buyer_wins"}),
            (B + 3 * DAY, "case.review_decided", r2, {"decision": "upheld"}),
        ],
    )
    case(
        B + DAY,
        B + 8 * DAY,
        [
            (B + DAY + HOUR, "case.note_added", g, {}),
            (B + DAY + 2 * HOUR, "case.evidence_requested", a, {"party": "seller"}),
            (B + 8 * DAY, "case.overdue", None, {"rule": "R-T12"}),
            (B + 9 * DAY, "case.ruled", r, {"outcome": "seller_wins"}),
        ],
    )
    case(
        B + 2 * DAY,
        B + 10 * DAY,
        [
            (B + 2 * DAY + 2 * HOUR, "case.assigned", r, {"assignee": a.pk}),
            (B + 10 * DAY, "case.overdue", None, {"rule": "R-T12"}),
        ],
    )
    feb10 = dt.datetime(2026, 2, 10, 10, 0, tzinfo=CHINA)
    case(
        feb10,
        dt.datetime(2026, 2, 17, 10, 0, tzinfo=CHINA),
        [
            (feb10 + HOUR, "case.note_added", a, {}),
            (feb10 + 2 * DAY, "case.ruled", r, {"outcome": "buyer_wins"}),
            (dt.datetime(2026, 3, 5, 10, 0, tzinfo=CHINA), "case.review_requested", buyer, {"party": "buyer"}),
            (dt.datetime(2026, 3, 6, 10, 0, tzinfo=CHINA), "case.review_decided", r2, {"decision": "reversed"}),
        ],
    )
    case(
        dt.datetime(2026, 3, 31, 23, 0, tzinfo=CHINA),
        dt.datetime(2026, 4, 8, 23, 0, tzinfo=CHINA),
        [(dt.datetime(2026, 4, 1, 0, 0, tzinfo=CHINA), "case.assigned", a, {"assignee": a.pk})],
    )
    case(
        dt.datetime(2026, 2, 28, 23, 59, 59, tzinfo=CHINA),
        dt.datetime(2026, 3, 9, 23, 59, 59, tzinfo=CHINA),
        [(dt.datetime(2026, 3, 1, 0, 0, tzinfo=CHINA), "case.note_added", g, {})],
    )
    case(
        B + 3 * DAY,
        B + 4 * DAY,  # ruled at its due time, to the second: still inside
        [(B + 3 * DAY + 10 * MINUTE, "case.note_added", a, {}), (B + 4 * DAY, "case.ruled", r, {})],
    )
    case(B + 4 * DAY, B + 9 * DAY, [(B + 4 * DAY + 90 * MINUTE, "case.note_added", a, {})])
    return {"A": a, "G": g, "R": r, "R2": r2, "east": east, "arb": arb}


def _figures(row):
    return {k: v for k, v in row.items() if k not in ("agent", "username", "teams", "team", "name", "members")}


def _f(handled, responses, median, closed, inside, share, overdue, reversed_):
    return {
        "cases_handled": handled,
        "first_responses": responses,
        "median_first_response_seconds": median,
        "cases_closed": closed,
        "closed_inside_sla": inside,
        "share_inside_sla": share,
        "overdue": overdue,
        "reversed_rulings": reversed_,
    }


EXPECTED = {
    "agent": _f(4, 3, 1800, 3, 2, 0.6667, 2, 0),
    "agent_g": _f(2, 2, 1800.5, 1, 0, 0.0, 1, 0),
    "arbitrator": _f(4, 1, 7200, 3, 2, 0.6667, 0, 1),
    "arbitrator_2": _f(2, 0, None, 0, 0, None, 0, 0),
}


def test_figures_match_the_hand_computed_fixture(world, api):
    response = api(world["R"]).get(URL, MARCH)
    assert response.status_code == 200, response.data
    body = response.data
    assert body["since"] == "2026-03-01T00:00:00+08:00" and body["until"] == "2026-04-01T00:00:00+08:00"
    rows = {row["username"]: row for row in body["agents"]}
    assert set(rows) == set(EXPECTED)  # platform staff only: the buyer who acted is nobody's agent
    for username, expected in EXPECTED.items():
        assert _figures(rows[username]) == expected, username
    assert rows["agent"]["teams"] == ["华东一组"] and rows["arbitrator"]["teams"] == ["仲裁组"]
    teams = {row["name"]: row for row in body["teams"]}
    assert _figures(teams["华东一组"]) == _f(5, 5, 1800, 3, 2, 0.6667, 2, 0)
    assert _figures(teams["仲裁组"]) == _f(5, 1, 7200, 3, 2, 0.6667, 0, 1)
    assert teams["华东一组"]["members"] == 2


def test_another_period_gives_other_figures(world, api):
    february = api(world["R"]).get(URL, {"since": "2026-02-01", "until": "2026-03-01T00:00:00+08:00"}).data
    rows = {row["username"]: row for row in february["agents"]}
    # c4 (first response A 3600 s, ruled by R inside its SLA) and c6's opening; G's note at 1 Mar is outside.
    assert _figures(rows["agent"]) == _f(1, 1, 3600, 1, 1, 1.0, 0, 0)
    assert _figures(rows["arbitrator"]) == _f(1, 0, None, 1, 1, 1.0, 0, 0)
    assert _figures(rows["agent_g"]) == _f(0, 0, None, 0, 0, None, 0, 0)
    # April holds only A's assignment of c5 at 00:00 on the 1st.
    april = api(world["R"]).get(URL, {"since": "2026-04-01", "until": "2026-04-30"}).data
    rows = {row["username"]: row for row in april["agents"]}
    assert _figures(rows["agent"]) == _f(1, 1, 3600, 0, 0, None, 0, 0)


def test_an_agent_sees_only_their_own_row(world, api):
    body = api(world["A"]).get(URL, MARCH).data
    assert [row["username"] for row in body["agents"]] == ["agent"]
    assert _figures(body["agents"][0]) == EXPECTED["agent"]
    assert body["teams"] == []


def test_team_filter(world, api):
    body = api(world["R"]).get(URL, {**MARCH, "team": world["east"].pk}).data
    assert [row["username"] for row in body["agents"]] == ["agent", "agent_g"]
    assert [row["name"] for row in body["teams"]] == ["华东一组"] and body["team"] == world["east"].pk


def test_csv_export_for_supervisors(world, api):
    client = api(world["R"])
    for response in (
        client.get(URL, {**MARCH, "format": "csv"}),
        client.get(URL, MARCH, HTTP_ACCEPT="text/csv"),
    ):
        assert response.status_code == 200
        assert response["Content-Type"].startswith("text/csv")
        assert response["Content-Disposition"] == 'attachment; filename="agent-performance-2026-03-01-2026-04-01.csv"'
        text = response.content.decode("utf-8-sig")
        rows = list(csv.DictReader(io.StringIO(text)))
        by_name = {row["name"]: row for row in rows}
        assert [r["scope"] for r in rows] == ["agent"] * 4 + ["team"] * 2
        assert by_name["agent"]["median_first_response_seconds"] == "1800"
        assert by_name["agent"]["share_inside_sla"] == "0.6667"
        assert by_name["agent_g"]["median_first_response_seconds"] == "1800.5"
        assert by_name["arbitrator_2"]["share_inside_sla"] == ""
        assert by_name["仲裁组"]["reversed_rulings"] == "1"
        assert by_name["agent"]["teams"] == "华东一组"


@pytest.mark.parametrize(
    "params",
    [
        {"since": "2026-04-01", "until": "2026-03-01"},
        {"since": "2026-03-01", "until": "2026-03-01T00:00:00+08:00"},
        {"since": "yesterday"},
        {"until": "2026-13-01"},
        {"until": "9999-12-31"},
        {"since": "0001-01-01"},
        {"team": "abc"},
        {"team": "999999"},
        {"team": "99999999999999999999999"},
        {"since": "2026-03-01T25:00:00+08:00"},
        {"since": "2026-03-01\x00"},
        {"until": "２０２６-03-01"},
    ],
)
def test_bad_queries_are_400_json_even_when_csv_was_asked(world, api, params):
    for extra in ({}, {"format": "csv"}):
        response = api(world["R"]).get(URL, {**params, **extra})
        assert response.status_code == 400, (params, response.content)
        assert response["Content-Type"].startswith("application/json")
        assert response.json()["code"] == "invalid"


def test_only_platform_staff_see_performance(world, cast, api):
    for user in (cast.buyer, cast.seller, cast.integration):
        assert api(user).get(URL).status_code == 403
        assert api(user).get(URL, {"format": "csv"}).status_code == 403
    assert api().get(URL).status_code == 401


def test_default_period_is_the_last_30_days(world, api):
    import time_machine

    with time_machine.travel(dt.datetime(2026, 3, 12, 0, 0, tzinfo=CHINA), tick=False):
        body = api(world["R"]).get(URL).data
    assert body["since"] == "2026-02-10T00:00:00+08:00" and body["until"] == "2026-03-12T00:00:00+08:00"
    rows = {row["username"]: row for row in body["agents"]}
    # c4 (10 Feb 10:00, A's response at 11:00) is inside; c2's overdue (10 Mar) too, c3's (12 Mar) not yet.
    assert rows["agent"]["first_responses"] == 4 and rows["agent"]["overdue"] == 1


def test_real_case_actions_are_counted(cast, api):
    """Through the disputes services: escalation opens the case, the agent's assignment answers it,
    the arbitrator's ruling closes it inside R-T12."""
    order = make_order(cast, "received", complete=True)
    refund = file_refund(cast, order, at=T0 + 4 * DAY, reason="quality_issue")
    opened = T0 + 5 * DAY
    at(opened - HOUR, disputes.refund_refuse, refund=refund, actor=cast.seller, reason="不同意")
    at(opened, disputes.refund_escalate, refund=refund, actor=cast.buyer)
    case = Case.objects.get(refund=refund)
    at(opened + 25 * MINUTE, disputes.case_assign, case=case, actor=cast.agent, assignee=cast.agent)
    at(
        opened + DAY,
        disputes.case_rule,
        case=case,
        actor=cast.arbitrator,
        outcome="buyer_wins",
        responsibility="seller",
        note="卖家未能举证",
    )
    body = api(cast.arbitrator).get(URL, {"since": "2026-11-01", "until": "2026-11-30"}).data
    rows = {row["username"]: row for row in body["agents"]}
    assert _figures(rows["agent"]) == _f(1, 1, 1500, 1, 1, 1.0, 0, 0)
    assert _figures(rows["arbitrator"]) == _f(1, 0, None, 1, 1, 1.0, 0, 0)
