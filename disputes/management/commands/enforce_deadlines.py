from django.core.management.base import BaseCommand

from disputes import engine


class Command(BaseCommand):
    help = "One sweep: fire every pending deadline due at or before now, print how many fired, exit."

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=None)

    def handle(self, *args, **options):
        fired = engine.enforce_deadlines(batch_size=options["batch_size"])
        self.stdout.write(f"fired {fired} deadline(s)")
