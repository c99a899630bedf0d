"""Trigram index for the order list's search (number, external id, customer name, email) on Postgres.
SQLite (``make run``) keeps a plain LIKE scan."""

from django.db import migrations


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    schema_editor.execute(
        "CREATE INDEX IF NOT EXISTS order_search_trgm ON orders_order USING gin (search_text gin_trgm_ops)"
    )


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("DROP INDEX IF EXISTS order_search_trgm")


class Migration(migrations.Migration):
    dependencies = [("orders", "0002_line_product_allocations")]
    operations = [migrations.RunPython(forwards, backwards)]
