"""python manage.py generate_layout WH AISLES BAYS LEVELS — a rectangular floor of locations."""

from django.core.management.base import BaseCommand, CommandError

from inventory.models import Warehouse
from inventory.services import LayoutSpec, layout_generate


class Command(BaseCommand):
    help = "Creates dock, packing, staging, quarantine and returns locations plus aisles × bays × levels of racking."

    def add_arguments(self, parser):
        parser.add_argument("warehouse", help="warehouse code, e.g. WH1")
        parser.add_argument("aisles", type=int)
        parser.add_argument("bays", type=int)
        parser.add_argument("levels", type=int)
        parser.add_argument("--zone", default="A")
        parser.add_argument("--pick-levels", type=int, default=1, help="levels 1..N are pick faces")
        parser.add_argument("--capacity", type=int, default=200)

    def handle(self, *args, **o):
        warehouse = Warehouse.objects.filter(code=o["warehouse"]).first()
        if warehouse is None:
            raise CommandError(f"No warehouse with code {o['warehouse']!r}.")
        try:
            result = layout_generate(
                warehouse=warehouse,
                spec=LayoutSpec(
                    aisles=o["aisles"],
                    bays=o["bays"],
                    levels=o["levels"],
                    zone=o["zone"],
                    pick_levels=o["pick_levels"],
                    capacity=o["capacity"],
                ),
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"{warehouse.code}: {result.created} locations created, {result.existing} already there "
            f"(floor {result.width_m:.1f} m × {result.depth_m:.1f} m)."
        )
