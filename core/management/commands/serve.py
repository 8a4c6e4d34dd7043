"""The quick-start server: Django's development server plus, when there is no broker, an in-process
deadline sweeper, so the embedded default enforces deadlines too (CONTRACT.md: REDIS_URL unset)."""

import logging
import threading

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import close_old_connections, connection

from disputes.engine import enforce_deadlines

logger = logging.getLogger(__name__)


def sweep_forever(interval: float, stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            close_old_connections()
            fired = enforce_deadlines(time_budget=interval)
            if fired:
                logger.info("in-process sweeper fired %s deadline(s)", fired)
        except Exception:  # logged; the next tick tries again
            logger.exception("in-process sweep failed")
            connection.close()
        stop.wait(interval)


class Command(BaseCommand):
    help = "Serve the app; sweep deadlines in-process when REDIS_URL is unset (or with --sweep)."

    def add_arguments(self, parser):
        parser.add_argument("addrport", nargs="?", default="127.0.0.1:8000")
        parser.add_argument("--sweep", action="store_true", help="sweep in-process even with a broker")

    def handle(self, *args, **options):
        if options["sweep"] or not settings.REDIS_URL:
            interval = float(settings.DEADLINE_SWEEP_INTERVAL_SECONDS)
            stop = threading.Event()
            threading.Thread(target=sweep_forever, args=(interval, stop), daemon=True, name="sweeper").start()
            self.stdout.write(f"deadline sweeper running in-process every {interval:g} s")
        call_command("runserver", options["addrport"], use_reloader=False)
