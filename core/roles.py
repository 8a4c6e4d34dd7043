"""The five roles of CONTRACT.md "Who is who", as Django auth groups."""

from django.db import models


class Role(models.TextChoices):
    BUYER = "buyer"
    SELLER = "seller"
    AGENT = "agent"
    ARBITRATOR = "arbitrator"
    INTEGRATION = "integration"


def roles_of(user) -> set[str]:
    """The role names of `user`, cached on the user object for the request."""
    if not getattr(user, "is_authenticated", False):
        return set()
    cached = getattr(user, "_role_names", None)
    if cached is None:
        cached = set(user.groups.values_list("name", flat=True))
        user._role_names = cached
    return cached


def has_role(user, *roles: str) -> bool:
    if getattr(user, "is_superuser", False):
        return True
    return bool(roles_of(user) & set(roles))


def is_platform_staff(user) -> bool:
    """Agents and arbitrators see everything; superusers are arbitrators too (RULEBOOK §1)."""
    return has_role(user, Role.AGENT, Role.ARBITRATOR)


def is_arbitrator(user) -> bool:
    return has_role(user, Role.ARBITRATOR)
