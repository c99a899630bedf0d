from django.core.management.base import BaseCommand
from django.db import transaction

from fulfil.demo import DEMO_PASSWORD, loaders, loading


class Command(BaseCommand):
    help = "Load the demo merchants, users, warehouse and data (idempotent)."

    def handle(self, *args, **options):
        with loading():  # no outside service is called while demo data loads
            for _, name, fn in loaders():
                with transaction.atomic():
                    fn()
                self.stdout.write(f"  demo: {name} ✓")
        self.stdout.write(self.style.SUCCESS(f"Demo data loaded. Every demo password: {DEMO_PASSWORD}"))
