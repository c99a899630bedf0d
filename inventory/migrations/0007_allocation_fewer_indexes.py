"""Fewer indexes on ``inventory_allocation`` (issue 3, the allocation benchmark).

Every index of the table gets an entry on each reservation (the INSERT) and another when the allocation is
closed by its release (that UPDATE changes ``status``, a column of the backorder-queue index's predicate, so
it is never HOT and writes a new entry in every index). Eight indexes made fifteen index entries per
reservation-and-release; the release was ~60 % of Postgres's CPU in the benchmark. Dropped:

* ``allocation_reference`` (merchant_id, reference): the unique constraint ``allocation_ref_product_wh``
  (merchant_id, reference, product_id, warehouse_id) starts with the same columns and serves those lookups;
* the FK index on ``merchant_id``: the same unique index leads with it;
* the FK index on ``warehouse_id``: no query filters allocations by warehouse alone (the backorder queue
  index leads with product, warehouse); only deleting a warehouse (PROTECT) would scan;
* the FK index on ``parent_id`` becomes ``allocation_parent``, partial on ``parent_id IS NOT NULL``: only kit
  components have a parent, and every lookup is ``parent_id = …`` / ``IN (…)``, which implies it.

Database side: plain ``DROP INDEX`` (Django's AlterField would drop and re-add — and so re-validate — the FK
constraints); the model state gets the matching ``db_index=False`` fields.
"""

import django.db.models.deletion
from django.db import migrations, models

DROP = [
    "allocation_reference",
    "inventory_allocation_merchant_id_c0d5742d",
    "inventory_allocation_warehouse_id_decb93fa",
    "inventory_allocation_parent_id_eeccfe58",
]
RECREATE = {
    "allocation_reference": 'CREATE INDEX "allocation_reference" ON "inventory_allocation" ("merchant_id", "reference")',
    "inventory_allocation_merchant_id_c0d5742d": 'CREATE INDEX "inventory_allocation_merchant_id_c0d5742d" '
    'ON "inventory_allocation" ("merchant_id")',
    "inventory_allocation_warehouse_id_decb93fa": 'CREATE INDEX "inventory_allocation_warehouse_id_decb93fa" '
    'ON "inventory_allocation" ("warehouse_id")',
    "inventory_allocation_parent_id_eeccfe58": 'CREATE INDEX "inventory_allocation_parent_id_eeccfe58" '
    'ON "inventory_allocation" ("parent_id")',
}


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0004_user_warehouse_codes_strict"),
        ("inventory", "0006_product_photos"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                migrations.RunSQL(f'DROP INDEX IF EXISTS "{name}"', reverse_sql=RECREATE[name])
                for name in DROP
            ],
            state_operations=[
                migrations.RemoveIndex(model_name="allocation", name="allocation_reference"),
                migrations.AlterField(
                    model_name="allocation",
                    name="merchant",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="accounts.merchant",
                    ),
                ),
                migrations.AlterField(
                    model_name="allocation",
                    name="parent",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        null=True,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="children",
                        to="inventory.allocation",
                    ),
                ),
                migrations.AlterField(
                    model_name="allocation",
                    name="warehouse",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="inventory.warehouse",
                    ),
                ),
            ],
        ),
        migrations.AddIndex(
            model_name="allocation",
            index=models.Index(
                condition=models.Q(("parent__isnull", False)), fields=["parent"], name="allocation_parent"
            ),
        ),
    ]
