from django import template
from django.utils.translation import gettext as _

from dashboard.deadlines import deadline_view, span_text

register = template.Library()


@register.inclusion_tag("dashboard/partials/deadline.html")
def deadline_badge(deadline, compact=False):
    """A deadline with its countdown (amber under 24 h, red when overdue) and why it is what it is."""
    if deadline is None:
        return {"view": None}
    return {"view": deadline_view(deadline), "compact": compact}


@register.filter
def tr(value):
    """Translate a value known only at run time (choice labels, rule words) through the catalogue."""
    return _(str(value)) if value not in (None, "") else value


@register.filter
def get_item(mapping, key):
    return mapping.get(key) if hasattr(mapping, "get") else None


@register.simple_tag(takes_context=True)
def role_flags(context):
    """What the navigation offers the signed-in user."""
    from core.roles import Role, has_role, is_arbitrator
    from dashboard.access import is_supervisor

    user = context["request"].user
    if not user.is_authenticated:
        return {}
    return {
        "agent": has_role(user, Role.AGENT) or is_arbitrator(user),
        "arbitrator": is_arbitrator(user),
        "seller": has_role(user, Role.SELLER),
        "buyer": has_role(user, Role.BUYER),
        "supervisor": is_supervisor(user),
    }


@register.filter
def pending_only(deadlines):
    """The deadlines still running (or paused), for the lists that show what is due next."""
    return [d for d in deadlines or [] if d.status == "pending"]


@register.filter
def span(seconds):
    """A span in seconds as '1小时 5分' (first response medians); '—' when there is none."""
    if seconds is None or seconds == "":
        return "—"
    seconds = float(seconds)
    if seconds < 60:
        return _("%(n)d秒") % {"n": round(seconds)}
    return span_text(int(seconds))


@register.filter
def percent(share):
    """0.6667 → '66.7%'; '—' when nothing was closed."""
    return "—" if share is None else f"{share * 100:.1f}%"
