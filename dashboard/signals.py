"""Drop the queue's cached choice lists (dashboard.selectors) as soon as what they list changes: a user
saved or deleted (a sign-in, which only writes `last_login`, changes nothing listed), a group
membership added or removed, a group renamed, a shop saved or deleted. Bulk writes send no signal:
the lists then catch up within CHOICES_CACHE_SECONDS."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db.models.signals import m2m_changed, post_delete, post_save

from orders.models import Shop

from .selectors import forget_choices


def _user_changed(sender, instance=None, update_fields=None, **kwargs) -> None:
    if update_fields is not None and set(update_fields) <= {"last_login", "password"}:
        return
    forget_choices(people=True)


def _people_changed(sender, action="", **kwargs) -> None:
    if action in ("post_add", "post_remove", "post_clear"):
        forget_choices(people=True)


def _shop_changed(sender, **kwargs) -> None:
    forget_choices(shops=True)


def connect() -> None:
    User = get_user_model()
    for signal in (post_save, post_delete):
        signal.connect(_user_changed, sender=User, dispatch_uid="dashboard.people.user")
        signal.connect(_user_changed, sender=Group, dispatch_uid="dashboard.people.group")
        signal.connect(_shop_changed, sender=Shop, dispatch_uid="dashboard.shops")
    m2m_changed.connect(_people_changed, sender=User.groups.through, dispatch_uid="dashboard.people.groups")
