from datetime import UTC, datetime

from django.db import migrations

from billing.pricing import STANDARD_CARD_V1  # frozen: version 1 is never edited; new prices are new versions


def create(apps, schema_editor):
    RateCard = apps.get_model("billing", "RateCard")
    RateCardVersion = apps.get_model("billing", "RateCardVersion")
    InvoiceCounter = apps.get_model("billing", "InvoiceCounter")
    card, _ = RateCard.objects.get_or_create(kind="standard", defaults={"name": "Standard"})
    if not RateCardVersion.objects.filter(card=card).exists():
        RateCardVersion.objects.create(
            card=card,
            version=1,
            effective_from=datetime(2024, 1, 1, tzinfo=UTC),
            data=STANDARD_CARD_V1,
            notes="Published standard rates",
        )
    InvoiceCounter.objects.get_or_create(operator="fulfil")


class Migration(migrations.Migration):
    dependencies = [("billing", "0001_initial")]
    operations = [migrations.RunPython(create, migrations.RunPython.noop)]
