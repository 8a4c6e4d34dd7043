"""The queue's rows read as dicts and tuples (issue #9, bench 5) show what the model-instance code showed:
the same deadline (own or the refund's or complaint's, running before paused, fired ones never), the
same countdown, colour and rule words, the same assignee, shop, buyer and evidence completeness. The
rows and <option>s printed by dashboard/templatetags/queue_tags.py are the template loops' bytes, and
every text in them is escaped."""

import datetime as dt

import pytest
from django.template import engines
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from dashboard import queue_page, selectors
from dashboard.deadlines import deadline_view, nearest
from dashboard.templatetags.queue_tags import bulk_assign_options, select_options
from disputes.models import Case, Complaint, Deadline
from evidence.models import EvidenceStatus
from orders.models import Order
from tests.dashboard.conftest import bulk_cases
from tests.factories import ShopFactory, UserFactory

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 12, 1, 4, 0, tzinfo=dt.UTC)
HOUR = dt.timedelta(hours=1)
# What the instance code read of a case (its `.only()`).
FIELDS_BEFORE = (
    "id",
    "kind",
    "status",
    "overdue",
    "next_due_at",
    "refund",
    "complaint",
    "shop__name",
    "buyer__username",
    "assignee__username",
    "evidence_status__percent",
)


def old_rows(cases_qs, now):
    """The rows as the code before the change computed them, kept here as the reference: Case instances
    with their related objects, every pending Deadline as an instance, `deadline_view` and `nearest`."""
    cases = list(
        cases_qs.select_related(None)
        .select_related("shop", "buyer", "assignee", "evidence_status")
        .only(*FIELDS_BEFORE)
    )
    pending = list(Deadline.objects.filter(status=Deadline.Status.PENDING))
    kinds = dict(queue_page.translated(Case.Kind.choices))
    statuses = dict(queue_page.translated(Case.Status.choices))
    rows = []
    for case in cases:
        own = [d for d in pending if d.subject_kind == "case" and d.subject_id == case.pk]
        if case.refund_id:
            own += [d for d in pending if d.subject_kind == "refund" and d.subject_id == case.refund_id]
        elif case.complaint_id:
            own += [d for d in pending if d.subject_kind == "complaint" and d.subject_id == case.complaint_id]
        deadline = nearest(own)
        view = deadline_view(deadline, now) if deadline is not None else None
        evidence = getattr(case, "evidence_status", None)
        rows.append(
            {
                "pk": case.pk,
                "url": reverse("dashboard:case", args=[case.pk]),
                "select_label": _("选择案件 %(id)s") % {"id": case.pk},
                "overdue": case.overdue,
                "deadline": (view.rule, view.words, view.due_at, view.state, view.text) if view else None,
                "counting": view is not None and view.state in queue_page.COUNTING_STATES,
                "due_iso": view.due_at.isoformat() if view else "",
                "due_local": timezone.localtime(view.due_at).strftime("%Y-%m-%d %H:%M") if view else "",
                "kind_status": f"{kinds[case.kind]} · {statuses[case.status]}",
                "shop": case.shop.name,
                "buyer": case.buyer.username,
                "assignee": case.assignee.username if case.assignee else "—",
                "percent": evidence.percent if evidence is not None else None,
            }
        )
    return rows


def as_dict(row):
    d = row.deadline
    return {
        "pk": row.pk,
        "url": row.url,
        "select_label": row.select_label,
        "overdue": row.overdue,
        "deadline": (d.rule, d.words, d.due_at, d.state, d.text) if d else None,
        "counting": row.counting,
        "due_iso": row.due_iso,
        "due_local": row.due_local,
        "kind_status": row.kind_status,
        "shop": row.shop,
        "buyer": row.buyer,
        "assignee": row.assignee,
        "percent": row.percent,
    }


def deadline(subject_kind, subject_id, rule, due_at, **extra):
    return Deadline(
        subject_kind=subject_kind,
        subject_id=subject_id,
        rule=rule,
        kind=rule.lower(),
        started_at=NOW - 10 * HOUR,
        due_at=due_at,
        duration_amount=1,
        duration_unit="days",
        **extra,
    )


@pytest.fixture
def varied_cases(cast):
    """One case for each way a row can look."""
    cases = bulk_cases(cast, 7, assignee_every=2)
    own, theirs, _none, paused, both, fired, overdue = cases
    order = Order.objects.create(shop=cast.shop, buyer=cast.buyer, total_amount="5.00", status="completed")
    complaint = Complaint.objects.create(
        order=order, shop=cast.shop, buyer=cast.buyer, created_by=cast.buyer, type="misdescription"
    )
    complaint_case = Case.objects.create(
        kind="complaint", complaint=complaint, order=order, shop=cast.shop, buyer=cast.buyer, status="under_review"
    )
    Case.objects.filter(pk=overdue.pk).update(overdue=True, status="awaiting_evidence")
    Deadline.objects.bulk_create(
        [
            deadline("case", own.pk, "R-T12", NOW + 30 * HOUR),  # ok
            deadline("refund", own.refund_id, "R-T09", NOW + 40 * HOUR),  # later: not shown
            deadline("refund", theirs.refund_id, "R-T09", NOW + 2 * HOUR),  # amber, the refund's
            deadline("case", paused.pk, "R-T12", NOW - HOUR, paused_at=NOW - 5 * HOUR, remaining=26 * HOUR),
            deadline("case", both.pk, "R-T12", NOW + 50 * HOUR),  # runs: shown before the paused one
            deadline("refund", both.refund_id, "R-T09", NOW + HOUR, paused_at=NOW, remaining=HOUR),
            deadline("case", fired.pk, "R-T12", NOW - 3 * HOUR, status="fired"),  # never shown
            deadline("case", fired.pk, "R-T19", NOW - 2 * HOUR),  # red
            deadline("case", overdue.pk, "R-T99", NOW - 20 * HOUR),  # no such rule: no words
            deadline("complaint", complaint.pk, "R-C05", NOW + 3 * HOUR),
        ]
    )
    EvidenceStatus.objects.create(case=own, required=4, present=1, percent=25, complete=False)
    EvidenceStatus.objects.create(case=paused, required=0, present=0, percent=100)
    return [*cases, complaint_case]


def test_rows_show_what_the_instance_code_showed(cast, varied_cases):
    qs = selectors.case_queue(cast.agent, params={"status": "any"})
    new = [as_dict(r) for r in queue_page.queue_rows(list(queue_page.page_queryset(qs)), now=NOW)]
    assert new == old_rows(qs, NOW)
    by_pk = {r["pk"]: r for r in new}
    own, theirs, none, paused, both, fired, overdue, complaint_case = varied_cases
    # The reference itself must have seen every kind of row, or the comparison proves little.
    assert by_pk[own.pk]["deadline"][0] == "R-T12" and by_pk[own.pk]["percent"] == 25
    assert by_pk[theirs.pk]["deadline"][3] == "amber" and by_pk[theirs.pk]["percent"] is None
    assert by_pk[none.pk]["deadline"] is None and by_pk[none.pk]["due_iso"] == ""
    assert by_pk[paused.pk]["deadline"][3] == "paused" and not by_pk[paused.pk]["counting"]
    assert "1天 2小时" in by_pk[paused.pk]["deadline"][4]  # what it had left, not its due time
    assert by_pk[both.pk]["deadline"][:1] == ("R-T12",) and by_pk[both.pk]["deadline"][3] == "ok"
    assert by_pk[fired.pk]["deadline"][:1] == ("R-T19",) and by_pk[fired.pk]["deadline"][3] == "red"
    assert by_pk[overdue.pk]["overdue"] and by_pk[overdue.pk]["deadline"][1] == ""
    assert by_pk[complaint_case.pk]["deadline"][0] == "R-C05"
    assert by_pk[complaint_case.pk]["kind_status"] == "投诉 · 审核中"
    assert {r["assignee"] for r in new} == {"agent", "—"}


def test_a_page_of_rows_is_two_queries(cast, varied_cases, django_assert_num_queries):
    """The page (cases with their shop, buyer, assignee and evidence status joined) and its deadlines."""
    qs = selectors.case_queue(cast.agent, params={})
    with django_assert_num_queries(2):
        rows = queue_page.queue_rows(list(queue_page.page_queryset(qs)[:50]), now=NOW)
    assert len(rows) == 8


def test_no_rows_no_deadline_query(django_assert_num_queries):
    with django_assert_num_queries(0):
        assert queue_page.queue_rows([], now=NOW) == []


# The template loops that queue_tags.py replaced, verbatim (templates before issue #9's rendering change).
OLD_TBODY = """{% load i18n %}{% translate "截止" as due_word %}  <tbody>
  {% for row in rows %}
    <tr id="case-row-{{ row.pk }}">
      <td><input type="checkbox" name="case" value="{{ row.pk }}" form="bulk-assign" aria-label="{{ row.select_label }}"></td>
      <td><a href="{{ row.url }}">#{{ row.pk }}</a>{% if row.overdue %} <span class="badge badge-red">{% translate "已超时" %}</span>{% endif %}</td>
      <td>{% with view=row.deadline %}{% if view %}<span class="deadline deadline-{{ view.state }}" data-due="{{ row.due_iso }}" data-state="{{ view.state }}">
  <strong class="countdown" {% if row.counting %}data-countdown="{{ row.due_iso }}"{% endif %}>{{ view.text }}</strong>
  <small>{{ due_word }} <time datetime="{{ row.due_iso }}">{{ row.due_local }}</time></small>
  <small class="why"><abbr class="rule-id" title="{{ view.words }}">{{ view.rule }}</abbr> <span class="rule-words">{{ view.words }}</span></small>
</span>{% else %}<span class="deadline deadline-none">—</span>{% endif %}{% endwith %}
</td>
      <td>{{ row.kind_status }}</td>
      <td>{{ row.shop }}</td>
      <td>{{ row.buyer }}</td>
      <td>{{ row.assignee }}</td>
      <td>{% if row.percent is not None %}{{ row.percent }}%{% else %}—{% endif %}</td>
    </tr>
  {% empty %}
    <tr><td colspan="8">{% translate "没有符合条件的案件" %}</td></tr>
  {% endfor %}
  </tbody>"""  # noqa: E501 (verbatim)
OLD_OPTIONS = (
    "{% for value, label, selected in options %}"
    '<option value="{{ value }}" {% if selected %}selected{% endif %}>{{ label }}</option>{% endfor %}'
)
OLD_PEOPLE = '{% for p in people %}<option value="{{ p.pk }}">{{ p.username }}</option>{% endfor %}'
NASTY = """<script>alert("x")</script> & 'Co'"""
NASTY_ESCAPED = "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#x27;Co&#x27;"


def old(source, **context):
    return engines["django"].from_string(source).render(context)


def tbody_of(body):
    return body[body.index("  <tbody>") : body.index("</tbody>") + len("</tbody>")]


@pytest.fixture
def nasty_names(cast, varied_cases):
    """The shop, the buyer and the assignee of the varied cases named with markup and quotes."""
    cast.shop.name = NASTY
    cast.shop.save(update_fields=["name"])
    for user, suffix in ((cast.buyer, "b"), (cast.agent, "a")):
        user.username = f'{NASTY}"{suffix}'
        user.save(update_fields=["username"])
    selectors.forget_choices(people=True, shops=True)
    return varied_cases


def test_table_rows_print_what_the_template_loop_printed(cast, nasty_names, browser_client, now_travel):
    with now_travel(NOW):
        body = browser_client(cast.agent).get("/queue/?status=any", HTTP_HX_REQUEST="true").content.decode()
        qs = selectors.case_queue(cast.agent, params={"status": "any"})
        rows = queue_page.queue_rows(list(queue_page.page_queryset(qs)), now=NOW)
    assert len(rows) == 8 and body.count('name="case" value=') == 8
    assert tbody_of(body) == old(OLD_TBODY, rows=rows)
    empty = browser_client(cast.agent).get("/queue/?shop=999999", HTTP_HX_REQUEST="true").content.decode()
    assert tbody_of(empty) == old(OLD_TBODY, rows=[]) and "没有符合条件的案件" in empty


def test_every_text_in_the_queue_page_is_escaped(cast, nasty_names, browser_client):
    body = browser_client(cast.agent).get("/queue/?status=any").content.decode()
    assert "<script>alert" not in body and 'alert("x")' not in body
    shop_cells = body.count(f"<td>{NASTY_ESCAPED}</td>")
    assert shop_cells == 8  # every row's shop
    assert body.count(f"<td>{NASTY_ESCAPED}&quot;b</td>") == 8  # every row's buyer
    assert body.count(f"<td>{NASTY_ESCAPED}&quot;a</td>") == 4  # the agent's rows (every other bulk case)
    assert f"{NASTY_ESCAPED}</option>" in body  # the shop filter
    assert body.count(f"{NASTY_ESCAPED}&quot;a</option>") == 2  # the assignee filter and bulk assign


def test_options_print_what_the_template_loop_printed():
    options = [
        ("1", NASTY, False),
        ("2", "普通的店", True),
        ('3"', gettext_lazy("全部"), False),
        ("4", mark_safe("<b>已是标记</b>"), False),  # markup stays markup, as in the template
    ]
    printed = select_options(options)
    assert printed == old(OLD_OPTIONS, options=options)
    assert NASTY_ESCAPED in printed and '<option value="2" selected>' in printed and "<b>已是标记</b>" in printed
    people = [selectors.Person(7, NASTY), selectors.Person(8, "agent")]
    assert bulk_assign_options(people) == old(OLD_PEOPLE, people=people)
    assert bulk_assign_options([]) == "" and select_options([]) == ""


def test_filters_and_bulk_assign_list_every_person_and_shop(cast, browser_client):
    """The option lists come from the tags now: still every shop (up to 200) and every platform person."""
    for i in range(3):
        ShopFactory(owner=cast.seller, name=f"店{i}")
    UserFactory(username="second_agent", roles=["agent"])
    selectors.forget_choices(people=True, shops=True)
    body = browser_client(cast.agent).get("/queue/?shop=" + str(cast.shop.pk)).content.decode()
    for shop in selectors.shop_choices():
        selected = "selected" if shop.pk == cast.shop.pk else ""
        assert f'<option value="{shop.pk}" {selected}>{shop.name}</option>' in body
    for person in selectors.platform_people_choices():
        assert body.count(f">{person.username}</option>") == 2
        assert f'<option value="{person.pk}">{person.username}</option>' in body
