"""The bench profile: production settings plus a bare DRF endpoint beside the API (bench/urls.py)."""

from config.settings.base import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
DEBUG = False
CONN_MAX_AGE = 60
