"""A sweeper process for the chaos test: `python -m tests.security.chaos_worker <n>`.

Sweeps (disputes.engine.deadlines_sweep_batch) until no R-T01 deadline is pending, surviving a lost
database connection the way a Celery worker's next beat tick would: close it and sweep again.
Prints one line per batch so the test can see it working (and kill it mid-batch).
"""

import os
import sys
import time

import django


def main(n: int) -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
    django.setup()
    from django.conf import settings
    from django.db import DatabaseError, connection
    from django.utils import timezone

    from disputes.engine import deadlines_sweep_batch
    from disputes.models import Deadline

    settings.DATABASES["default"]["OPTIONS"]["application_name"] = f"chaos-{n}"
    batch = int(os.environ.get("CHAOS_BATCH", "200"))
    deadline = time.monotonic() + float(os.environ.get("CHAOS_WORKER_TIMEOUT", "240"))
    fired = errors = 0
    while time.monotonic() < deadline:
        try:
            result = deadlines_sweep_batch(now=timezone.now(), batch_size=batch)
            fired += result.fired
            print(f"worker {n} pid {os.getpid()} claimed {result.claimed} fired {result.fired}", flush=True)
            if result.claimed == 0:
                if not Deadline.objects.filter(rule="R-T01", status=Deadline.Status.PENDING).exists():
                    break
                time.sleep(0.5)  # leased by someone (maybe dead): wait for the lease to run out
        except DatabaseError as exc:  # e.g. pg_terminate_backend: the next sweep starts afresh
            errors += 1
            print(f"worker {n} database error: {str(exc).strip()[:200]}", flush=True)
            connection.close()
            time.sleep(0.2)
    print(f"worker {n} done fired {fired} errors {errors}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1])))
