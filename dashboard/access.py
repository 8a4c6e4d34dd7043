"""Who lands where, and who may do what in the dashboard (CONTRACT.md "Browser", "Who is who")."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied

from core.roles import Role, has_role, is_arbitrator, is_platform_staff


def is_supervisor(user) -> bool:
    """Supervisors edit the canned replies (RULEBOOK §10): arbitrators (superusers included) and
    Django staff users (`is_staff`, the operators who may use the admin)."""
    return bool(getattr(user, "is_staff", False)) or is_arbitrator(user)


def home_url_name(user) -> str:
    """Each role's home: arbitrators on cases awaiting a ruling, agents on the queue, sellers on their
    open refunds and complaints, buyers on their own requests."""
    if is_arbitrator(user):
        return "dashboard:arbitration"
    if has_role(user, Role.AGENT):
        return "dashboard:queue"
    if has_role(user, Role.SELLER):
        return "dashboard:seller_inbox"
    if has_role(user, Role.BUYER):
        return "dashboard:buyer_home"
    return "dashboard:no_role"


def _requires(check: Callable[[object], bool]):
    def decorator(view):
        @login_required(login_url="dashboard:login")
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if not check(request.user):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


staff_required = _requires(is_platform_staff)
arbitrator_required = _requires(is_arbitrator)
seller_required = _requires(lambda user: has_role(user, Role.SELLER))
supervisor_required = _requires(is_supervisor)
signed_in = login_required(login_url="dashboard:login")
