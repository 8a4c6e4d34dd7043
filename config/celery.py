"""Celery application: a broker for short tasks and the beat that drives the deadline sweep.

Deadlines are rows swept by `disputes.tasks.enforce_deadlines`; no task here is ever queued with a
long ETA or countdown (a Redis broker redelivers those and keeps them in worker memory).
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("disputes_platform")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
