"""Reads: registrations, carrier claims, and agent performance computed from the audit events.

Agent performance has no bookkeeping of its own: every figure is read from core.Event rows on cases
(subject_kind "case") and the cases' R-T12 deadline rows. The definitions are in docs/DECISIONS.md.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import QuerySet

from core.models import Event
from core.roles import is_arbitrator, is_platform_staff, platform_staff
from disputes.models import Deadline

from .models import LogisticsClaim, Registration, Team

User = get_user_model()


def registration_list(*, user, **filters: Any) -> QuerySet[Registration]:
    """Registrations, for platform staff only; `filters` are exact field lookups (source, status, …)."""
    qs = Registration.objects.select_related("handler", "created_by")
    if not is_platform_staff(user):
        return qs.none()
    return qs.filter(**{k: v for k, v in filters.items() if v is not None})


def logistics_claim_list(*, user, **filters: Any) -> QuerySet[LogisticsClaim]:
    """Carrier claims, for platform staff only."""
    qs = LogisticsClaim.objects.select_related("handler", "created_by")
    if not is_platform_staff(user):
        return qs.none()
    return qs.filter(**{k: v for k, v in filters.items() if v is not None})


# --- agent performance ------------------------------------------------------------------------------

R_T12 = "R-T12"


@dataclass
class _Tally:
    """One agent's (or one team's) cases, by case id, so a team's figures are unions, not sums."""

    handled: set[int] = field(default_factory=set)
    first_responses: dict[int, float] = field(default_factory=dict)  # case → seconds
    closed: dict[int, bool] = field(default_factory=dict)  # case → ruled inside its R-T12 deadline
    overdue: set[int] = field(default_factory=set)
    reversed: set[int] = field(default_factory=set)  # ids of the case.review_decided events

    def merge(self, other: _Tally) -> None:
        self.handled |= other.handled
        self.first_responses.update(other.first_responses)
        self.closed.update(other.closed)
        self.overdue |= other.overdue
        self.reversed |= other.reversed

    def figures(self) -> dict[str, Any]:
        seconds = sorted(self.first_responses.values())
        median = statistics.median(seconds) if seconds else None
        inside = sum(1 for ok in self.closed.values() if ok)
        return {
            "cases_handled": len(self.handled),
            "first_responses": len(seconds),
            "median_first_response_seconds": (
                int(median) if median is not None and float(median).is_integer() else median
            ),
            "cases_closed": len(self.closed),
            "closed_inside_sla": inside,
            "share_inside_sla": round(inside / len(self.closed), 4) if self.closed else None,
            "overdue": len(self.overdue),
            "reversed_rulings": len(self.reversed),
        }


@dataclass(frozen=True)
class _Ev:
    id: int
    at: dt.datetime
    actor_id: int | None
    action: str
    data: dict


def _tally_case(
    case_id: int,
    events: list[_Ev],
    due_at: dt.datetime | None,
    staff: set[int],
    since: dt.datetime,
    until: dt.datetime,
    tallies: dict[int, _Tally],
) -> None:
    """Credit one case's events (oldest first, all before `until`) to the staff who earned them."""

    def inside(ev: _Ev) -> bool:
        return since <= ev.at < until

    opened_index = next((i for i, ev in enumerate(events) if ev.action == "case.opened"), None)
    ruled_index = next((i for i, ev in enumerate(events) if ev.action == "case.ruled"), None)
    ruling_by: int | None = None  # whose ruling is in force: the last ruling or reversal
    assignee: int | None = None
    for i, ev in enumerate(events):
        if ev.actor_id is not None and ev.actor_id in staff and inside(ev):
            tallies[ev.actor_id].handled.add(case_id)
        if ev.action == "case.assigned":
            assignee = ev.data.get("assignee")
        elif ev.action == "case.overdue" and inside(ev):
            # The case's holder when it ran out: its assignee, or everyone of the platform who had acted on it.
            holders = (
                {assignee}
                if assignee is not None
                else {e.actor_id for e in events[:i] if e.actor_id is not None and e.actor_id in staff}
            )
            for holder in holders & staff:
                tallies[holder].overdue.add(case_id)
        elif ev.action == "case.review_decided" and ev.data.get("decision") == "reversed":
            if inside(ev) and ruling_by is not None and ruling_by in staff:
                tallies[ruling_by].reversed.add(ev.id)
            ruling_by = ev.actor_id
        if ev.action == "case.ruled":
            ruling_by = ev.actor_id
    if opened_index is not None:
        opened = events[opened_index]
        first = next((e for e in events[opened_index + 1 :] if e.actor_id is not None and e.actor_id in staff), None)
        if first is not None and inside(first):
            tallies[first.actor_id].first_responses[case_id] = (first.at - opened.at).total_seconds()  # type: ignore[index]
    if ruled_index is not None and inside(events[ruled_index]):
        ruled = events[ruled_index]
        if due_at is not None:
            ok = ruled.at <= due_at
        else:  # no R-T12 row (never expected): inside unless it went overdue first
            ok = not any(e.action == "case.overdue" for e in events[:ruled_index])
        for actor_id in {e.actor_id for e in events[: ruled_index + 1] if e.actor_id is not None} & staff:
            tallies[actor_id].closed[case_id] = ok


@dataclass
class PerformanceReport:
    since: dt.datetime
    until: dt.datetime
    team_id: int | None
    agents: list[dict[str, Any]]
    teams: list[dict[str, Any]]


def agent_performance(*, viewer, since: dt.datetime, until: dt.datetime, team: Team | None = None) -> PerformanceReport:
    """Per agent (and per team) over [since, until): cases handled, median first response, share closed
    inside the R-T12 SLA, overdue cases, rulings reversed on review. An agent sees only their own row;
    arbitrators see everyone and the teams."""
    staff_qs = platform_staff()  # whose events count as the platform's answer
    staff = set(staff_qs.values_list("pk", flat=True))
    active_cases = (
        Event.objects.filter(subject_kind="case", at__gte=since, at__lt=until).values("subject_id").distinct()
    )
    by_case: dict[int, list[_Ev]] = defaultdict(list)
    for row in (
        Event.objects.filter(subject_kind="case", subject_id__in=active_cases, at__lt=until)
        .order_by("subject_id", "at", "id")
        .values_list("subject_id", "id", "at", "actor_id", "action", "data")
    ):
        by_case[row[0]].append(_Ev(row[1], row[2], row[3], row[4], row[5] if isinstance(row[5], dict) else {}))
    due: dict[int, dt.datetime] = {}
    for case_id, due_at in (
        Deadline.objects.filter(subject_kind="case", subject_id__in=active_cases, rule=R_T12)
        .order_by("-id")
        .values_list("subject_id", "due_at")
    ):
        due[case_id] = due_at  # ordered newest first: the oldest row wins
    tallies: dict[int, _Tally] = defaultdict(_Tally)
    for case_id, events in by_case.items():
        _tally_case(case_id, events, due.get(case_id), staff, since, until, tallies)

    memberships: dict[int, list[str]] = defaultdict(list)
    teams = list(Team.objects.prefetch_related("members").order_by("name"))
    for t in teams:
        for member in t.members.all():
            memberships[member.pk].append(t.name)
    people = staff_qs.order_by("username")
    if team is not None:
        people = people.filter(aftersales_teams=team)
    if not is_arbitrator(viewer):
        people = people.filter(pk=viewer.pk)
    agents = [
        {
            "agent": user.pk,
            "username": user.username,
            "teams": memberships.get(user.pk, []),
            **tallies[user.pk].figures(),
        }
        for user in people
    ]
    team_rows = []
    if is_arbitrator(viewer):
        for t in teams:
            if team is not None and t.pk != team.pk:
                continue
            total = _Tally()
            member_ids = [m.pk for m in t.members.all() if m.pk in staff]
            for member_id in member_ids:
                total.merge(tallies[member_id])
            team_rows.append({"team": t.pk, "name": t.name, "members": len(member_ids), **total.figures()})
    return PerformanceReport(
        since=since, until=until, team_id=team.pk if team else None, agents=agents, teams=team_rows
    )
