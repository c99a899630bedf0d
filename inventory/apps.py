from django.apps import AppConfig


class InventoryConfig(AppConfig):
    name = "inventory"
    verbose_name = "Catalog and inventory"

    def ready(self) -> None:
        from fulfil import demo, onboarding
        from inventory import demo as inventory_demo
        from inventory.onboarding import STEPS

        for step in STEPS:
            onboarding.register(step)
        demo.register(20, "warehouse and catalog", inventory_demo.load)
