from django.apps import AppConfig


class WarehouseConfig(AppConfig):
    name = "warehouse"
    verbose_name = "Warehouse outbound"

    def ready(self) -> None:
        from fulfil import celery, demo
        from warehouse import demo as warehouse_demo

        demo.register(50, "warehouse box catalog", warehouse_demo.load)
        celery.add_periodic("warehouse-waves-before-cutoff", "warehouse.tasks.waves_before_cutoff", 300.0)
