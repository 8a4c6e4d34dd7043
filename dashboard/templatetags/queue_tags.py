"""The queue table's repeated markup (issue #9, bench 5): its ~300 <option>s and its 50 rows, written
here as format strings instead of template loops.

Why: at a million cases the page's Python, not its SQL, was most of its time, and most of that was
printing these: a template variable costs a lookup, `localize` and `conditional_escape`, whose
`keep_lazy` wrapper alone costs more than the escaping. Here each value is escaped once by `_html`
(what `conditional_escape` does: a value with `__html__` is already markup, anything else is
`html.escape`d, quotes included) and put in its place with `str.format_map`.

The markup is byte for byte what the template loops printed (tests/dashboard/test_queue_rows.py renders
the old loops beside these and compares); change it here, not in the templates, which only call these.
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from typing import Any

from django import template
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

from dashboard.queue_page import QueueRow

register = template.Library()

OPTION = '<option value="{value}" {selected}>{label}</option>'
PERSON_OPTION = '<option value="{value}">{label}</option>'

ROW = (
    '<tr id="case-row-{pk}">\n'
    '      <td><input type="checkbox" name="case" value="{pk}" form="bulk-assign" aria-label="{select_label}"></td>\n'
    '      <td><a href="{url}">#{pk}</a>{overdue_badge}</td>\n'
    "      <td>{deadline}\n"
    "</td>\n"
    "      <td>{kind_status}</td>\n"
    "      <td>{shop}</td>\n"
    "      <td>{buyer}</td>\n"
    "      <td>{assignee}</td>\n"
    "      <td>{percent}</td>\n"
    "    </tr>"
)
OVERDUE_BADGE = ' <span class="badge badge-red">{label}</span>'
DEADLINE = (
    '<span class="deadline deadline-{state}" data-due="{due_iso}" data-state="{state}">\n'
    '  <strong class="countdown" {countdown}>{text}</strong>\n'
    '  <small>{due_word} <time datetime="{due_iso}">{due_local}</time></small>\n'
    '  <small class="why"><abbr class="rule-id" title="{words}">{rule}</abbr>'
    ' <span class="rule-words">{words}</span></small>\n'
    "</span>"
)
COUNTDOWN = 'data-countdown="{due_iso}"'  # only on the states dashboard.js ticks (queue_page.COUNTING_STATES)
NO_DEADLINE = SafeString('<span class="deadline deadline-none">—</span>')


def _html(value: Any) -> str:
    """`conditional_escape` without its lazy wrapper: markup (`__html__`) as it is, the rest escaped."""
    if hasattr(value, "__html__"):
        return value.__html__()
    return html.escape(str(value))


def _fill(fmt: str, **values: Any) -> SafeString:
    """`format_html` for the loops above: every value escaped by `_html`, nested fragments kept."""
    return SafeString(fmt.format_map({name: _html(value) for name, value in values.items()}))


@register.simple_tag
def select_options(options: Iterable[tuple[str, str, bool]]) -> SafeString:
    """The <option>s of a filter's <select> from `queue_page.options` (value, label, selected)."""
    return SafeString(
        "".join(
            _fill(OPTION, value=value, selected="selected" if selected else "", label=label)
            for value, label, selected in options
        )
    )


@register.simple_tag
def bulk_assign_options(people: Iterable) -> SafeString:
    """The bulk-assign <option>s: one per person (`selectors.Person`: pk, username), none selected."""
    return SafeString("".join(_fill(PERSON_OPTION, value=p.pk, label=p.username) for p in people))


@register.simple_tag
def queue_row(row: QueueRow) -> SafeString:
    """One <tr> of the queue table (templates/dashboard/partials/queue_table.html)."""
    view = row.deadline
    if view is None:
        deadline = NO_DEADLINE
    else:
        deadline = _fill(
            DEADLINE,
            state=view.state,
            due_iso=row.due_iso,
            countdown=_fill(COUNTDOWN, due_iso=row.due_iso) if row.counting else "",
            text=view.text,
            due_word=_("截止"),
            due_local=row.due_local,
            words=view.words,
            rule=view.rule,
        )
    return _fill(
        ROW,
        pk=row.pk,
        select_label=row.select_label,
        url=row.url,
        overdue_badge=_fill(OVERDUE_BADGE, label=_("已超时")) if row.overdue else "",
        deadline=deadline,
        kind_status=row.kind_status,
        shop=row.shop,
        buyer=row.buyer,
        assignee=row.assignee,
        percent=f"{row.percent}%" if row.percent is not None else "—",
    )
