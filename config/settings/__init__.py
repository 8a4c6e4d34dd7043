"""`DJANGO_SETTINGS_MODULE=config.settings` loads the base settings, read from the environment."""

from .base import *  # noqa: F403
