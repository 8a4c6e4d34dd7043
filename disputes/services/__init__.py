"""Writes of the disputes app: one service per transition (refunds, cases; complaints as they land)."""

from .cases import *  # noqa: F403
from .complaints import *  # noqa: F403
from .refunds import *  # noqa: F403
