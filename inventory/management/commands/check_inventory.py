"""python manage.py check_inventory [--merchant SLUG] — recompute quantities from the ledger; exit 1 on drift."""

from django.core.management.base import BaseCommand, CommandError

from accounts.models import Merchant
from inventory.reconcile import ledger_drift


class Command(BaseCommand):
    help = "Recomputes current stock from the append-only ledger and reports any drift (exit status 1)."

    def add_arguments(self, parser):
        parser.add_argument("--merchant", help="only this merchant (slug)")

    def handle(self, *args, **options):
        merchant_id = None
        if options.get("merchant"):
            merchant = Merchant.objects.filter(slug=options["merchant"]).first()
            if merchant is None:
                raise CommandError(f"No merchant {options['merchant']!r}.")
            merchant_id = merchant.pk
        drifts = ledger_drift(merchant_id=merchant_id)
        if not drifts:
            self.stdout.write(self.style.SUCCESS("No drift: the ledger and the current quantities agree."))
            return
        for d in drifts:
            self.stdout.write(str(d))
        raise CommandError(f"{len(drifts)} quantities drifted from the ledger.", returncode=1)
