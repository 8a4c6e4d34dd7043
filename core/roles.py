"""The five roles of CONTRACT.md "Who is who", as Django auth groups."""

import functools

from django.contrib.auth import get_user_model
from django.db import connection, models

from . import prepared


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
        with connection.cursor() as cursor:
            prepared.execute(cursor, role_names_sql("%s"), [user.pk])
            cached = {name for (name,) in cursor.fetchall()}
        user._role_names = cached
    return cached


@functools.cache
def role_names_sql(user_id: str) -> str:
    """`user.groups.values_list("name")` written out for the user whose id is the SQL `user_id` (a
    placeholder, or a column of an outer query): every API request asks it, and the ORM took longer to
    build the join than the database to answer it (#9). Table names from the models."""
    from django.contrib.auth.models import Group

    through = get_user_model().groups.through._meta.db_table  # type: ignore[attr-defined]
    sql = "SELECT g.name FROM {groups} g JOIN {through} ug ON ug.group_id = g.id WHERE ug.user_id = {user_id}"
    return sql.format(groups=Group._meta.db_table, through=through, user_id=user_id)


def has_role(user, *roles: str) -> bool:
    if getattr(user, "is_superuser", False):
        return True
    return bool(roles_of(user) & set(roles))


def is_platform_staff(user) -> bool:
    """Agents and arbitrators see everything; superusers are arbitrators too (RULEBOOK §1)."""
    return has_role(user, Role.AGENT, Role.ARBITRATOR)


def is_arbitrator(user) -> bool:
    return has_role(user, Role.ARBITRATOR)


def platform_staff(*roles: str) -> models.QuerySet:
    """The active users holding one of `roles` (agents and arbitrators if none are named), and every
    active superuser (RULEBOOK §1: a superuser arbitrates): whom a case is assigned to, whose events
    are the platform's answer.

    Found from the other side: the memberships of those groups and the superusers
    (`auth_user_superuser_idx`, core 0011, partial), then each user by key. The groups' ids are read
    first (a query on the five groups): with them written out, PostgreSQL knows from its statistics
    that the agents' group has a handful of members where the buyers' has millions, and reads the
    memberships by their group index; joined by name it assumed the average group and read them all.
    What this replaces, a join of every user with their groups filtered and made DISTINCT, read all of
    `auth_user` (106,023 rows on the bench database; a marketplace's buyers are users too): about
    45 ms a call there, this 0.1 ms of PostgreSQL (#9). The groups are read when this is called: a
    form or serializer field declared with it must call it per use (aftersales.serializers,
    dashboard.forms)."""
    from django.contrib.auth.models import Group

    User = get_user_model()
    groups = list(Group.objects.filter(name__in=roles or (Role.AGENT, Role.ARBITRATOR)).values_list("id", flat=True))
    members = User.groups.through.objects.filter(group_id__in=groups).values("user_id")  # type: ignore[attr-defined]
    superusers = User.objects.filter(is_superuser=True).values("id")
    return User.objects.filter(pk__in=members.union(superusers), is_active=True)
