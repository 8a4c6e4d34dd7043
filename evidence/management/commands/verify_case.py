"""`manage.py verify_case <id>` / `manage.py verify_case --all`: re-hash the timeline's event chains and
the evidence files, print the first break (of each chain) and exit 1 when anything does not hold."""

from django.core.management.base import BaseCommand, CommandError

from disputes.models import Case
from evidence.integrity import case_verify, verify_all


class Command(BaseCommand):
    help = "Verify a case's hash-chained timeline and evidence files (or everything with --all)."

    def add_arguments(self, parser):
        parser.add_argument("case_id", nargs="?", type=int, help="the case to verify")
        parser.add_argument("--all", action="store_true", help="verify every chain and every evidence file")

    def handle(self, *args, **options):
        if options["all"] == (options["case_id"] is not None):
            raise CommandError("give a case id, or --all")
        if options["all"]:
            label, breaks = "all chains and evidence", list(verify_all())
        else:
            case = Case.objects.filter(pk=options["case_id"]).first()
            if case is None:
                raise CommandError(f"case {options['case_id']} not found")
            label, breaks = f"case {case.pk}", case_verify(case)
        if not breaks:
            self.stdout.write(f"OK {label}: every event and evidence file matches its hash")
            return
        for found in breaks:
            self.stdout.write(f"BROKEN {found}")
        raise CommandError(f"{label}: {len(breaks)} break(s); first: {breaks[0]}", returncode=2)
